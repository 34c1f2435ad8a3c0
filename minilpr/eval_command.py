"""``minilpr eval``: measure a trained model on data from disk.

::

    minilpr eval recognizer --data ../shared/data/real/lprnet-crops-dev
    minilpr eval recognizer --data crops/ --weights runs/best.npz --decoder grammar --json
    minilpr eval recognizer --data crops/ --gallery failures.png
    minilpr eval locator --data ../shared/data/real/ccpd-scenes --weights runs/loc/best.npz
    minilpr eval locator --data scenes/ --json --gallery misses.png
    minilpr eval pipeline --data ../shared/data/real/ccpd-scenes --locator runs/loc/best.npz

``recognizer`` reads a crop folder (label = file name up to the first ``_`` or the extension)
with ``minilpr.train.evaluate`` and prints plate, character and province-free accuracy,
per-position and per-province accuracy, the top confusions, the speed and the labels outside the
charset. ``locator`` reads a YOLO folder (``images/`` + ``labels/``) or CCPD-named photos with
``minilpr.train.locator_eval`` and prints AP@0.5, AP@0.5:0.95, recall and precision (IoU ≥ 0.5)
overall and per plate colour, and images/s. ``pipeline`` reads photos end to end
(`minilpr.pipeline_eval`): recall, precision and plate accuracy. With ``--json`` the last line
printed is one JSON object. Exit status: 0 done,
2 a bad command line (a missing folder, a folder without images, missing weights), 1 a failure
while running (weights that do not load, no readable image).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from minilpr.data.imageio import IMAGE_EXTENSIONS
from minilpr.models.weights import SHIPPED_LOCATOR
from minilpr.models.weights import SHIPPED_RECOGNIZER as SHIPPED_WEIGHTS

PROG = "minilpr eval"


class _UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


class _Failure(Exception):
    """Something failed while running: one line on stderr, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Measure a trained model on data from disk.")
    sub = parser.add_subparsers(dest="what", metavar="{recognizer,locator,pipeline}")
    sub.required = True
    rec = sub.add_parser(
        "recognizer", help="read a folder of plate crops and report the accuracy",
        description="Read every image of a crop folder with the recogniser and compare with the "
                    "labels in the file names (the name up to the first '_' or the extension: "
                    "皖A12345.jpg, 皖A12345_2.png). Any size, colour or gray: each crop is "
                    "resized and converted the way the training inputs are made.")
    rec.add_argument("--data", type=Path, required=True, metavar="DIR",
                     help=f"the crop folder ({', '.join(IMAGE_EXTENSIONS)}; other files are "
                          "ignored)")
    rec.add_argument("--weights", type=Path, metavar="W",
                     help="a recogniser weight file (.npz with its manifest); default: the "
                          "weights shipped in the package, minilpr/assets/weights/recognizer.npz")
    rec.add_argument("--decoder", choices=("greedy", "beam", "grammar"), default="greedy",
                     help="greedy: best path (fastest); beam: prefix beam search; grammar: beam "
                          "search that only reads valid plate numbers (default greedy)")
    rec.add_argument("--beam-width", type=int, metavar="K",
                     help="prefixes kept by the beam decoders (default 8 for beam, 16 for "
                          "grammar)")
    rec.add_argument("--batch", type=int, default=64, metavar="B",
                     help="images per forward pass (default 64)")
    rec.add_argument("--threads", type=int, default=1, metavar="N",
                     help="BLAS/OpenMP and OpenCV threads (default 1: OpenBLAS threads spin, so "
                          "more than one is slower on a busy 2-core machine)")
    rec.add_argument("--top", type=int, default=10, metavar="K",
                     help="confusions shown in the text report (default 10; the JSON has 20)")
    rec.add_argument("--gallery", type=Path, metavar="OUT.png",
                     help="also draw the misread plates (at most 48, least confident first) "
                          "with their true and read text into this PNG")
    rec.add_argument("--json", action="store_true",
                     help="print one JSON object as the last line (with every read)")
    _add_locator_parser(sub)
    from minilpr.pipeline_eval import add_pipeline_parser
    add_pipeline_parser(sub)
    return parser


def _add_locator_parser(sub) -> None:
    loc = sub.add_parser(
        "locator", help="find the plates in a folder of photos and report AP, recall, precision",
        description="Run the plate locator over every photo of a YOLO folder (images/ + "
                    "labels/ with 'class cx cy w h' normalised; the class is ignored) or of a "
                    "folder of CCPD-named photos (the plate's box is in the file name), each "
                    "letterboxed into the locator's input, and compare with the ground truth.")
    add = loc.add_argument
    add("--data", type=Path, required=True, metavar="DIR",
        help="a YOLO folder (it holds images/) or a folder of CCPD-named photos")
    add("--weights", type=Path, metavar="W",
        help="a locator weight file (.npz with its manifest: anchors, input size); default: "
             "the weights shipped in the package, minilpr/assets/weights/locator.npz")
    add("--score-threshold", type=float, default=0.25, metavar="T",
        help="recall, precision and the gallery count detections scoring at least T "
             "(default 0.25; AP uses every detection)")
    add("--batch", type=int, default=8, metavar="B", help="images per forward pass (default 8)")
    add("--threads", type=int, default=1, metavar="N",
        help="BLAS/OpenMP and OpenCV threads (default 1)")
    add("--gallery", type=Path, metavar="OUT.png",
        help="also draw the photos with a missed plate (red) or a false alarm (orange), at "
             "most 24, into this PNG")
    add("--json", action="store_true", help="print one JSON object as the last line")


def main(argv: list[str] | None = None) -> int:
    """Run ``minilpr eval``; returns the exit status (0 done, 1 failed, 2 bad command line)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        if args.what == "pipeline":
            from minilpr.pipeline_eval import eval_pipeline
            return eval_pipeline(args)
        return eval_locator(args) if args.what == "locator" else eval_recognizer(args)
    except _UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except _Failure as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1


def _check(args) -> Path:
    """Refuse a bad command line before anything slow happens; return the weights' path."""
    from minilpr.train.evaluate import crop_files

    for name in ("batch", "threads", "top"):
        if getattr(args, name) < 1:
            raise _UsageError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.beam_width is not None and args.beam_width < 1:
        raise _UsageError(f"--beam-width must be at least 1, got {args.beam_width}")
    try:
        crop_files(args.data)
    except (OSError, ValueError) as error:
        raise _UsageError(f"--data {error}") from None
    if args.gallery is not None and not args.gallery.parent.is_dir():
        raise _UsageError(f"--gallery {args.gallery}: the folder {args.gallery.parent} "
                          "does not exist")
    if args.weights is None:
        if not SHIPPED_WEIGHTS.is_file():
            raise _UsageError("there are no shipped weights yet (no minilpr/assets/weights/"
                              "recognizer.npz); train some with `minilpr train recognizer` and "
                              "pass them with --weights PATH")
        return SHIPPED_WEIGHTS
    if not args.weights.is_file():
        raise _UsageError(f"--weights {args.weights}: no such file")
    return args.weights


def _load_model(path: Path):
    try:
        from minilpr.models.weights import load_recognizer
    except ImportError:
        raise _Failure("this minilpr has no recogniser weight loader "
                       "(minilpr.models.weights) yet") from None
    try:
        model, _ = load_recognizer(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        message = str(error)   # the loader's messages name the file already
        if not message.startswith(str(path)):
            message = f"{path}: {message}"
        raise _Failure(f"cannot load the weights {message}") from None
    return model


def eval_recognizer(args) -> int:
    """``minilpr eval recognizer``: load, read, report (see the module docstring)."""
    from threadpoolctl import threadpool_limits

    from minilpr.train.evaluate import evaluate_recognizer, failure_gallery, load_crop_folder

    weights = _check(args)
    model = _load_model(weights)
    config = getattr(model, "config", None)
    size = (getattr(config, "height", 32), getattr(config, "width_px", 220))
    channels = getattr(config, "in_channels", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_crop_folder(args.data, size, channels)
    for warning in caught:
        print(f"{PROG}: {warning.message}", file=sys.stderr)
    if not data.texts:
        raise _Failure(f"--data {args.data}: none of its {len(data.skipped)} image files "
                       "could be read")

    import cv2

    cv2.setNumThreads(args.threads)
    with threadpool_limits(args.threads):
        report = evaluate_recognizer(model, data.images, data.texts, decoder=args.decoder,
                                     batch=args.batch, beam_width=args.beam_width,
                                     names=[p.name for p in data.paths])
    report.skipped = [(p.name, problem) for p, problem in data.skipped]
    print(f"recogniser {weights} on {args.data}")
    print(report.format(top=args.top))
    if args.gallery is not None:
        drawn = failure_gallery(report, data.images, args.gallery)
        print(f"\ngallery: {drawn} of {len(report.failures)} failures drawn to {args.gallery}")
    if args.json:
        record = {"data": str(args.data), "weights": str(weights),
                  **report.to_dict(reads=True)}
        print(json.dumps(record, ensure_ascii=False))
    return 0


def _check_locator(args) -> Path:
    """Refuse a bad ``eval locator`` command line; return the weights' path."""
    for name in ("batch", "threads"):
        if getattr(args, name) < 1:
            raise _UsageError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not 0 <= args.score_threshold <= 1:
        raise _UsageError(f"--score-threshold must be in [0, 1], got {args.score_threshold}")
    if not args.data.is_dir():
        raise _UsageError(f"--data {args.data}: no such folder")
    if args.gallery is not None and not args.gallery.parent.is_dir():
        raise _UsageError(f"--gallery {args.gallery}: the folder {args.gallery.parent} "
                          "does not exist")
    if args.weights is None:
        if not SHIPPED_LOCATOR.is_file():
            raise _UsageError("there are no shipped locator weights yet (no minilpr/assets/"
                              "weights/locator.npz); train some with `minilpr train locator` "
                              "and pass them with --weights PATH")
        return SHIPPED_LOCATOR
    if not args.weights.is_file():
        raise _UsageError(f"--weights {args.weights}: no such file")
    return args.weights


def eval_locator(args) -> int:
    """``minilpr eval locator``: load, locate, report (see the module docstring)."""
    import cv2
    from threadpoolctl import threadpool_limits

    from minilpr.models.locator_weights import load_locator
    from minilpr.train.locator_eval import (evaluate_locator, load_photo_folder, miss_gallery,
                                            report_line)

    weights = _check_locator(args)
    try:
        model, manifest = load_locator(weights)
    except (OSError, ValueError, KeyError, TypeError) as error:
        message = str(error)
        if not message.startswith(str(weights)):
            message = f"{weights}: {message}"
        raise _Failure(f"cannot load the weights {message}") from None
    size = int(manifest["input_size"][0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            photos = load_photo_folder(args.data, size)
        except (OSError, ValueError) as error:
            raise _Failure(f"--data {error}") from None
    for warning in caught:
        print(f"{PROG}: {warning.message}", file=sys.stderr)
    cv2.setNumThreads(args.threads)
    with threadpool_limits(args.threads):
        report, detections, speed = evaluate_locator(
            model, photos, manifest["anchors_per_scale"], manifest["strides"], args.batch,
            args.score_threshold)
    print(f"locator {weights} on {args.data}")
    print(report_line(args.data.name, report))
    for colour, figures in report.per_colour.items():
        print(f"  {colour:<7} {figures.n_plates:5d} plates, recall {figures.recall:.3f}, "
              f"AP@0.5 {figures.ap50:.3f}")
    print(f"{report.true_positives} found, {report.misses} missed, {report.false_positives} "
          f"false alarms; {speed:.1f} images/s (letterboxed to {size}×{size}, batch "
          f"{args.batch}, {args.threads} thread(s))")
    if args.gallery is not None:
        drawn = miss_gallery(photos, detections, args.gallery, args.score_threshold)
        print(f"gallery: {drawn} photo(s) with misses or false alarms drawn to {args.gallery}")
    if args.json:
        record = {"data": str(args.data), "weights": str(weights), **report.to_dict(),
                  "images_per_s": speed,
                  "skipped": [[p.name, problem] for p, problem in photos.skipped]}
        print(json.dumps(record, ensure_ascii=False))
    return 0
