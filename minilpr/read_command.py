"""``minilpr read``: find and read the plates of photos, files and folders, printed or as JSON.

::

    minilpr read car.jpg
    minilpr read photos/ --json > plates.jsonl
    minilpr read photos/ --draw annotated/ --decoder grammar --min-confidence 0.5
    minilpr read car.jpg --locator runs/loc/best.npz --recognizer runs/rec/best.npz

Folders are searched recursively (sorted by name; a folder reached twice through symbolic
links is read once) for the extensions of `minilpr.data.imageio.IMAGE_EXTENSIONS`; a file named
on the command line is read whatever its extension. An image that cannot be read gives one line
on stderr naming it and the problem, and the others are read all the same. An image with no
plate is not an error. Exit status: 0 every image read, 1 some image could not be read, 2 a bad
command line (an option out of range, weights that are missing or do not load).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from minilpr.data.imageio import IMAGE_EXTENSIONS, imread

PROG = "minilpr read"
PROGRESS_FROM = 10  # images: fewer finish before a bar would tell anything


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def add_reader_options(parser: argparse.ArgumentParser) -> None:
    """The options that say which reader to build; ``minilpr eval pipeline`` shares them."""
    add = parser.add_argument
    add("--locator", type=Path, metavar="W",
        help="a locator weight file (.npz from `minilpr train locator`); default: the "
             "weights shipped in the package, minilpr/assets/weights/locator.npz")
    add("--recognizer", type=Path, metavar="W",
        help="a recogniser weight file (.npz from `minilpr train recognizer`); default: "
             "minilpr/assets/weights/recognizer.npz")
    add("--decoder", choices=("greedy", "beam", "grammar"), default="greedy",
        help="CTC decoding: greedy (best path, fastest), beam (prefix beam search) or grammar "
             "(beam search that only reads valid plate numbers); default greedy")
    add("--no-stn", action="store_true",
        help="skip the recogniser's spatial transformer (if its weights have one)")
    add("--min-score", type=float, default=0.25, metavar="S",
        help="ignore detections the locator scores below S, in [0, 1] (default 0.25)")
    add("--threads", type=int, default=1, metavar="N",
        help="BLAS/OpenMP and OpenCV threads (default 1: on a busy 2-core machine more is "
             "slower)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description="Find the licence plates in photos and read them. Folders are "
                               "searched recursively for .jpg, .jpeg, .png and .bmp files.",
        epilog="Exit status: 0 every image read (with or without plates), 1 some image could "
               "not be read, 2 a bad command line.")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE|DIR",
                        help="photos, or folders of photos (searched recursively)")
    parser.add_argument("--json", action="store_true",
                        help='one JSON object per image per line: {"file": ..., "plates": '
                             '[{"text", "confidence", "box": [x1, y1, x2, y2], "type", '
                             '"score", "char_confidences"}]} or {"file": ..., "error": ...}')
    parser.add_argument("--draw", type=Path, metavar="OUTDIR",
                        help="also write each photo with its plates drawn on it as OUTDIR/"
                             "NAME.png (the folder is made if its parent exists)")
    parser.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                        help="leave out the reads whose confidence (that of the least sure "
                             "character) is below P, in [0, 1] (default 0: report every plate "
                             "found)")
    add_reader_options(parser)
    return parser


def check_reader_options(args) -> None:
    """Refuse out-of-range reader options and missing weight files (UsageError)."""
    if args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    if not 0 <= args.min_score <= 1:
        raise UsageError(f"--min-score must be in [0, 1], got {args.min_score}")
    for name in ("locator", "recognizer"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            raise UsageError(f"--{name} {path}: no such file")


def load_reader(args):
    """The `PlateReader` the options ask for; a weight problem is a one-line UsageError."""
    from minilpr.pipeline import PlateReader
    from minilpr.threads import limit_threads

    limit_threads(args.threads)
    cv2.setNumThreads(args.threads)
    try:
        return PlateReader.load(args.locator, args.recognizer, stn=not args.no_stn,
                                decoder=args.decoder, score_threshold=args.min_score)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(str(error)) from None


def collect_images(inputs) -> list[tuple[Path, str | None]]:
    """Every image to read, in order: ``(path, None)``, or ``(path, problem)`` for an input
    that cannot be read (a missing file, a folder without images, a folder that cannot be
    listed)."""
    found = []
    for path in map(Path, inputs):
        if path.is_dir():
            files = _walk(path, set())
            if not files:
                files = [(path, f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in this "
                                "folder or below")]
            found += files
        elif path.exists():
            found.append((path, None))
        elif path.is_symlink():
            found.append((path, "a symbolic link to nothing (broken, or a loop)"))
        else:
            found.append((path, "no such file or folder"))
    return found


def _walk(folder: Path, seen: set) -> list[tuple[Path, str | None]]:
    """The image files under ``folder``, sorted by name, each folder visited once.

    ``seen`` holds the resolved folders already visited: a symbolic link back up the tree
    (a loop) or to a folder read already is passed over.
    """
    real = folder.resolve()
    if real in seen:
        return []
    seen.add(real)
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as error:
        return [(folder, f"cannot list this folder ({error.strerror or error})")]
    files = []
    for entry in entries:
        if entry.is_dir():
            files += _walk(entry, seen)
        elif entry.suffix.lower() in IMAGE_EXTENSIONS:
            files.append((entry, None))  # a broken link too: reading it says so
    return files


def main(argv: list[str] | None = None) -> int:
    """Run ``minilpr read``; returns the exit status (0 all read, 1 some failed, 2 usage)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        _check(args)
        reader = load_reader(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    return read_all(reader, collect_images(args.inputs), args)


def _check(args) -> None:
    check_reader_options(args)
    if not 0 <= args.min_confidence <= 1:
        raise UsageError(f"--min-confidence must be in [0, 1], got {args.min_confidence}")
    if args.draw is not None:
        if args.draw.exists() and not args.draw.is_dir():
            raise UsageError(f"--draw {args.draw}: exists and is not a folder")
        if not args.draw.exists():
            if not args.draw.parent.is_dir():
                raise UsageError(f"--draw {args.draw}: the folder {args.draw.parent} does not "
                                 "exist")
            args.draw.mkdir()


def read_all(reader, items: list[tuple[Path, str | None]], args) -> int:
    """Read every item and print the result of each; returns 0, or 1 if any failed."""
    from tqdm import tqdm

    bar = tqdm(items, file=sys.stderr, unit="image", disable=args.json
               or len(items) < PROGRESS_FROM or not sys.stderr.isatty())
    say = tqdm.write if not bar.disable else print
    drawn: dict[str, int] = {}
    failed = 0
    for path, problem in bar:
        plates = None
        if problem is None:
            try:
                image = imread(path)
                plates = [p for p in reader.read(image) if p.confidence >= args.min_confidence]
            except (OSError, ValueError, MemoryError, cv2.error) as error:
                problem = _problem(error, path)
        if problem is not None:
            failed += 1
            print(f"{PROG}: {path}: {problem}", file=sys.stderr)
            if args.json:
                say(json.dumps({"file": str(path), "error": problem}, ensure_ascii=False))
            continue
        if args.json:
            say(json.dumps({"file": str(path), "plates": [p.to_dict() for p in plates]},
                           ensure_ascii=False))
        else:
            for line in _lines(path, plates):
                say(line)
        if args.draw is not None:
            try:
                _draw(image, plates, path, args.draw, drawn)
            except (OSError, ValueError) as error:
                failed += 1
                print(f"{PROG}: {path}: cannot write its drawing: {error}", file=sys.stderr)
    return 1 if failed else 0


def _problem(error: BaseException, path: Path) -> str:
    """The error's one line, without the file name in front (the caller names the file)."""
    if isinstance(error, MemoryError):
        return "not enough memory to read this image"
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        message = error.strerror
    return message.removeprefix(f"{path}: ")


def _lines(path: Path, plates) -> list[str]:
    if not plates:
        return [f"{path}: no plate found"]
    return [f"{path}: {p.text or '(nothing read)'}  confidence {p.confidence:.2f}  {p.colour}  "
            f"box {', '.join(f'{v:.0f}' for v in p.box)}  score {p.score:.2f}" for p in plates]


def _draw(image, plates, path: Path, folder: Path, drawn: dict) -> None:
    """Write the annotated photo as ``folder/STEM.png`` (``STEM-2.png``... for a name seen
    already in this run)."""
    from minilpr.pipeline_draw import save_drawing

    count = drawn[path.stem] = drawn.get(path.stem, 0) + 1
    name = path.stem if count == 1 else f"{path.stem}-{count}"
    save_drawing(image, plates, folder / f"{name}.png")
