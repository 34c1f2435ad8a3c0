"""``minilpr demo``: the shipped models read the example photos and plates shipped with minilpr.

No arguments needed. With a locator (the shipped ``minilpr/assets/weights/locator.npz``, or
``--locator W``) it reads the example photos in ``minilpr/assets/examples/photos/`` end to end
(`minilpr.demo_photos`), prints each plate found against the truth, and draws the photos into
``minilpr-demo.png`` in the current folder. Without one it says so in one line. Then, either
way, the recogniser alone reads the colour plate crops in ``minilpr/assets/examples/plates/``
(drawn by ``minilpr synth plates --color``; the file name is the plate) and draws them into
``minilpr-demo-plates.png``.
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
        prog=PROG, description="Read the example photos shipped with minilpr end to end (when "
                               "a locator is shipped or given), then the example plate crops "
                               "with the recogniser alone; print the reads against the truth "
                               "and draw them into PNGs.")
    parser.add_argument("--out", type=Path, default=Path("minilpr-demo.png"),
                        help="where to draw the example photos (default: ./minilpr-demo.png); "
                             "the plate crops go beside it, as NAME-plates.png")
    parser.add_argument("--decoder", default="greedy", choices=("greedy", "beam", "grammar"),
                        help="CTC decoding: best path (greedy), prefix beam search, or beam "
                             "search kept to valid plate numbers (default: greedy)")
    parser.add_argument("--weights", "--recognizer", dest="weights", type=Path, default=None,
                        metavar="W", help="a recogniser weight file (default: the shipped one, "
                                          "minilpr/assets/weights/recognizer.npz)")
    parser.add_argument("--locator", type=Path, default=None, metavar="W",
                        help="a locator weight file (.npz from `minilpr train locator`; "
                             "default: the shipped minilpr/assets/weights/locator.npz, if any)")
    parser.add_argument("--no-stn", action="store_true",
                        help="skip the recogniser's spatial transformer (if its weights have "
                             "one)")
    return parser


def plates_path(out: Path) -> Path:
    """Where the plate crops are drawn: ``minilpr-demo.png`` -> ``minilpr-demo-plates.png``."""
    return out.with_name(f"{out.stem}-plates{out.suffix or '.png'}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    import cv2

    from minilpr.eval_command import SHIPPED_WEIGHTS
    from minilpr.models.weights import load_recognizer
    from minilpr.pipeline import SHIPPED_LOCATOR
    from minilpr.threads import limit_threads

    if not args.out.parent.resolve().is_dir():
        print(f"{PROG}: --out {args.out}: the folder {args.out.parent} does not exist",
              file=sys.stderr)
        return 2
    weights = args.weights or SHIPPED_WEIGHTS
    limit_threads(1)  # one BLAS thread: the fastest on a busy 2-core laptop
    cv2.setNumThreads(1)
    try:
        model, manifest = load_recognizer(weights)
    except (OSError, ValueError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    print(f"minilpr {minilpr.__version__}: recogniser {weights.name} "
          f"({manifest.get('preset', model.config.preset)} preset, trained on "
          f"{manifest.get('data', {}).get('images_seen', '?')} synthetic plates)")
    locator = args.locator or (SHIPPED_LOCATOR if SHIPPED_LOCATOR.is_file() else None)
    if locator is None:
        print(f"no locator shipped yet ({SHIPPED_LOCATOR} is missing), so no photos: train one "
              "with `minilpr train locator` and give it with --locator W")
    else:
        try:
            status = demo_photos(args, locator, weights)
        except (OSError, ValueError, KeyError) as error:
            print(f"{PROG}: {error}", file=sys.stderr)
            return 1
        if status:
            return status
    return demo_plates(args, model)


def demo_photos(args, locator: Path, weights: Path) -> int:
    """Read, print and draw the example photos (`minilpr.demo_photos`); returns 0."""
    from minilpr.demo_photos import PHOTOS, photo_grid, photo_lines, read_photos
    from minilpr.pipeline import PlateReader
    from minilpr.train.evaluate import pad_columns

    started = time.perf_counter()
    reader = PlateReader.load(locator, weights, stn=not args.no_stn, decoder=args.decoder)
    photos, report = read_photos(reader, PHOTOS)
    print(f"locator {locator.name} and recogniser read {report.n_images} example photos from "
          f"{PHOTOS}")
    for photo in photos:
        print("\n".join(photo_lines(photo, pad_columns)))
    print(f"{report.n_read} of {report.n_texts} plates read right, {report.n_found} found "
          f"(IoU >= 0.5), {report.n_detections} detection(s), in "
          f"{time.perf_counter() - started:.1f} s")
    photo_grid(photos, args.out)
    print(f"drew {args.out.resolve()} (read: box in the plate's colour, text and confidence "
          "above; truth: thin white box, text below)")
    return 0


def demo_plates(args, model) -> int:
    """Read, print and draw the example plate crops with the recogniser alone; returns 0."""
    from minilpr.train.evaluate import evaluate_recognizer, load_crop_folder, pad_columns

    started = time.perf_counter()
    config = model.config
    crops = load_crop_folder(EXAMPLES, (config.height, config.width_px), config.in_channels)
    reader = _WithoutSTN(model) if args.no_stn else model
    report = evaluate_recognizer(reader, crops.images, crops.texts, decoder=args.decoder,
                                 names=[p.name for p in crops.paths])
    print(f"the recogniser alone reads {report.n} example plates from {EXAMPLES}")
    for text, read, confidence in zip(report.texts, report.reads, report.confidences):
        mark = "right" if read == text else "WRONG"
        print(f"  {pad_columns(text, 11)} read {pad_columns(read or '(nothing)', 11)} "
              f"confidence {confidence:.2f}  {mark}")
    print(f"{sum(r == t for r, t in zip(report.reads, report.texts))} of {report.n} read right "
          f"in {time.perf_counter() - started:.1f} s ({args.decoder} CTC decoding)")
    out = plates_path(args.out)
    plate_sheet(_colour_crops(crops.paths), report.texts, report.reads, report.confidences,
                out, f"minilpr demo: {report.plate_accuracy:.0%} of {report.n} example plates "
                     f"read right (true text above, read below)")
    print(f"drew {out.resolve()}")
    return 0


def plate_sheet(crops, texts, reads, confidences, path, title: str, columns: int = 4) -> Path:
    """The plates in a PNG grid, each with its true text above and its read below.

    Drawn with PIL (matplotlib would add a second to the demo's start). A read is green when
    right, red when wrong.

    Parameters
    ----------
    crops : (N, h, w, 3) uint8 RGB
    texts, reads : sequence of N str
    confidences : sequence of N float
    path : str or Path
        The PNG to write.
    title : str
    columns : int

    Returns
    -------
    Path
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from minilpr.data.fonts import cjk_font_path
    from minilpr.data.imageio import imwrite

    font = ImageFont.truetype(str(cjk_font_path()), size=16)
    h, w = crops.shape[1:3]
    cell_w, cell_h, line, pad = w + 20, h + 56, 22, 10
    rows = -(-len(crops) // columns)
    sheet = Image.new("RGB", (columns * cell_w + pad, rows * cell_h + 2 * line), "white")
    pen = ImageDraw.Draw(sheet)
    pen.text((pad, 6), title, font=font, fill=(0, 0, 0))
    for i, (crop, text, read, confidence) in enumerate(zip(crops, texts, reads, confidences)):
        left, top = pad + (i % columns) * cell_w, 2 * line + (i // columns) * cell_h
        pen.text((left, top), f"true {text}", font=font, fill=(0, 0, 0))
        sheet.paste(Image.fromarray(np.ascontiguousarray(crop)), (left, top + line))
        ink = (0, 140, 60) if read == text else (210, 30, 30)
        pen.text((left, top + line + h + 4), f"read {read or '(nothing)'}  ({confidence:.2f})",
                 font=font, fill=ink)
    path = Path(path)
    imwrite(path, np.asarray(sheet))
    return path


class _WithoutSTN:
    """A recogniser read around its spatial transformer (``--no-stn``)."""

    def __init__(self, model):
        self.model = model

    @property
    def training(self) -> bool:
        return bool(getattr(self.model, "training", False))

    def eval(self):
        self.model.eval()

    def train(self):
        self.model.train()

    def forward(self, x):
        from minilpr.pipeline import recognizer_logits

        return recognizer_logits(self.model, x, stn=False)


def _colour_crops(paths):
    """The crops as RGB uint8 (N, H, W, 3), all at the first one's size, for the picture."""
    import cv2
    import numpy as np

    from minilpr.data.imageio import imread

    images = [imread(p) for p in paths]  # (H, W, 3) uint8 RGB each
    h, w = images[0].shape[:2]
    return np.stack([im if im.shape[:2] == (h, w) else cv2.resize(im, (w, h)) for im in images])
