"""``minilpr demo``: the shipped recogniser reads the example plates shipped with the package.

No arguments needed. It loads ``minilpr/assets/weights/recognizer.npz`` (trained by
``minilpr train recognizer``; the recipe is in its manifest and in docs/training.md), reads the
colour plate crops in ``minilpr/assets/examples/plates/`` (drawn by minilpr's own generator:
``minilpr synth plates --color``; the file name is the plate), prints what it read against the
truth with a confidence per plate, and draws ``minilpr-demo.png`` into the current folder.

Until the plate locator is trained (issue 10) and the photo pipeline exists (issue 11), the
demo starts from plate crops, not from whole photos of cars.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import minilpr

ASSETS = Path(minilpr.__file__).parent / "assets"
EXAMPLES = ASSETS / "examples" / "plates"
PROG = "minilpr demo"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Read the example plates shipped with minilpr using the shipped "
                               "recogniser weights; print the reads and draw them to a PNG.")
    parser.add_argument("--out", type=Path, default=Path("minilpr-demo.png"),
                        help="where to draw the annotated plates (default: ./minilpr-demo.png)")
    parser.add_argument("--decoder", default="greedy", choices=("greedy", "beam", "grammar"),
                        help="CTC decoding: best path (greedy), prefix beam search, or beam "
                             "search kept to valid plate numbers (default: greedy)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="a recogniser weight file (default: the shipped one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from threadpoolctl import threadpool_limits

    from minilpr.eval_command import SHIPPED_WEIGHTS
    from minilpr.models.weights import load_recognizer
    from minilpr.train.evaluate import evaluate_recognizer, load_crop_folder, pad_columns
    from minilpr.train.gallery import plate_gallery

    weights = args.weights or SHIPPED_WEIGHTS
    if not args.out.parent.resolve().is_dir():
        print(f"{PROG}: --out {args.out}: the folder {args.out.parent} does not exist",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        model, manifest = load_recognizer(weights)
    except (OSError, ValueError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    config = model.config
    crops = load_crop_folder(EXAMPLES, (config.height, config.width_px), config.in_channels)
    with threadpool_limits(1):  # one BLAS thread: the fastest on a busy 2-core laptop
        report = evaluate_recognizer(model, crops.images, crops.texts, decoder=args.decoder,
                                     names=[p.name for p in crops.paths])
    print(f"minilpr {minilpr.__version__}: recogniser {weights.name} "
          f"({manifest.get('preset', config.preset)} preset, trained "
          f"{manifest.get('data', {}).get('images_seen', '?')} synthetic plates) reads "
          f"{report.n} example plates from {EXAMPLES}")
    for text, read, confidence in zip(report.texts, report.reads, report.confidences):
        mark = "right" if read == text else "WRONG"
        print(f"  {pad_columns(text, 11)} read {pad_columns(read or '(nothing)', 11)} "
              f"confidence {confidence:.2f}  {mark}")
    print(f"{sum(r == t for r, t in zip(report.reads, report.texts))} of {report.n} read right "
          f"in {time.perf_counter() - started:.1f} s (greedy CTC decoding unless --decoder)")
    pictures = _colour_crops(crops.paths)
    plate_gallery(report, pictures, args.out, range(report.n),
                  f"minilpr demo: {report.plate_accuracy:.0%} of {report.n} example plates "
                  f"read right (true text above, read below)")
    print(f"drew {args.out.resolve()}")
    return 0


def _colour_crops(paths):
    """The crops as RGB uint8 (N, H, W, 3), all at the first one's size, for the picture."""
    import cv2
    import numpy as np

    from minilpr.data.imageio import imread

    images = [imread(p) for p in paths]  # (H, W, 3) uint8 RGB each
    h, w = images[0].shape[:2]
    return np.stack([im if im.shape[:2] == (h, w) else cv2.resize(im, (w, h)) for im in images])
