"""The photo half of ``minilpr demo``: the example photos read end to end, against their truth.

The photos in ``minilpr/assets/examples/photos/`` are a YOLO folder written by
``minilpr synth scenes --n 6 --seed 2026 --size 480 640`` (the first six scenes of that seed,
as they came): ``images/``, ``labels/``, ``manifest.json`` (each plate's text, kind and box) and
``texts/NAME.txt`` (the plate numbers, for ``minilpr eval pipeline``). Each plate the reader
finds is matched to the truth at IoU ≥ 0.5 (`minilpr.pipeline_eval`), and the photos are drawn
in one grid: the reads as `minilpr.pipeline_draw` draws them (box in the plate's colour, text
and confidence above), the truth as a thin white box with its text below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minilpr.detect.metrics import match_image
from minilpr.pipeline_eval import IOU, PipelineReport

PHOTOS = Path(__file__).parent / "assets" / "examples" / "photos"
TRUTH_INK = (255, 255, 255)
COLUMNS = 3


@dataclass(frozen=True)
class Truth:
    """One plate of an example photo, as the scene generator drew it."""

    text: str
    kind: str
    box: tuple


@dataclass
class PhotoRead:
    """One example photo: its truth, what the reader found, and which read matched which plate.

    Attributes
    ----------
    name : str
    image : (H, W, 3) uint8 RGB
    truth : list of M Truth
    plates : list of K Plate
        What the reader found, best score first.
    matched : (M,) int64
        The plate (index into ``plates``) that matched each truth at IoU ≥ 0.5, -1 if none did.
    """

    name: str
    image: np.ndarray
    truth: list
    plates: list
    matched: np.ndarray


def example_truth(folder: Path = PHOTOS) -> list[tuple[Path, list[Truth]]]:
    """Each example image with its plates, in the order of ``manifest.json``'s "files"."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return [(folder / entry["file"],
             [Truth(p["text"], p["kind"], tuple(p["box"])) for p in entry["plates"]])
            for entry in manifest["files"]]


def read_photos(reader, folder: Path = PHOTOS) -> tuple[list[PhotoRead], PipelineReport]:
    """Read every example photo with ``reader`` (a `PlateReader`) and score it."""
    from minilpr.data.imageio import imread

    reads, report = [], PipelineReport()
    for path, truth in example_truth(folder):
        image = imread(path)
        plates = reader.read(image)
        boxes = np.array([t.box for t in truth], np.float64).reshape(-1, 4)
        found = np.array([p.box for p in plates], np.float64).reshape(-1, 4)
        _, matched = match_image(found, np.array([p.score for p in plates]), boxes, IOU)
        report.add(path.name, plates, boxes, [t.text for t in truth])
        reads.append(PhotoRead(path.name, image, truth, plates, matched))
    return reads, report


def _box(box) -> str:
    return ", ".join(f"{v:.0f}" for v in box)


def photo_lines(photo: PhotoRead, pad) -> list[str]:
    """The printout of one photo: a line per true plate (its read, if found), then the extras.

    ``pad(text, width)`` pads to a width in terminal columns (a Chinese character takes two).
    """
    lines = [f"{photo.name}: {len(photo.truth)} plate(s), {len(photo.plates)} found"]
    for truth, k in zip(photo.truth, photo.matched):
        head = f"  {pad(truth.text, 10)} {truth.kind:<6} box {pad(_box(truth.box), 18)}"
        if k < 0:
            lines.append(f"{head} not found")
            continue
        plate = photo.plates[k]
        mark = "right" if plate.text == truth.text else "WRONG"
        lines.append(f"{head} read {pad(plate.text or '(nothing)', 10)} confidence "
                     f"{plate.confidence:.2f}  {plate.type:<6} box {_box(plate.box)}  {mark}")
    for k in sorted(set(range(len(photo.plates))) - set(photo.matched.tolist())):
        plate = photo.plates[k]
        lines.append(f"  {pad('(no plate)', 10)} {'':<6}     {pad('', 18)} read "
                     f"{pad(plate.text or '(nothing)', 10)} confidence {plate.confidence:.2f}  "
                     f"{plate.type:<6} box {_box(plate.box)}  extra")
    return lines


def draw_truth(image: np.ndarray, truth, caption: str = "") -> np.ndarray:
    """``image`` with each true plate's box as a thin white outline and its text below it.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    truth : sequence of Truth
    caption : str
        Written in the top left corner (the file name, in the demo's grid).

    Returns
    -------
    (H, W, 3) uint8 RGB, a new array
    """
    from minilpr.pipeline_draw import canvas, draw_label

    picture, pen, font = canvas(image, smallest=11, fraction=28)
    height, width = image.shape[:2]
    for plate in truth:
        x1, y1, x2, y2 = plate.box
        pen.rectangle((x1, y1, x2, y2), outline=TRUTH_INK, width=1)
        draw_label(pen, font, f"truth {plate.text}", x1,
                   lambda h, y2=y2: min(y2 + 3, height - h - 6),  # below the box
                   width, (70, 70, 70), TRUTH_INK)
    if caption:
        left, top, right, bottom = pen.textbbox((0, 0), caption, font=font)
        pen.rectangle((0, 0, right - left + 8, bottom - top + 8), fill=(0, 0, 0))
        pen.text((4 - left, 4 - top), caption, font=font, fill=TRUTH_INK)
    return np.asarray(picture)


def photo_grid(photos, path, columns: int = COLUMNS) -> Path:
    """Every photo with its truth and its reads drawn, in one PNG grid of ``columns``.

    Photos smaller than the first are padded with black; returns the path written.
    """
    from minilpr.data.imageio import imwrite
    from minilpr.pipeline_draw import draw_plates

    tiles = [draw_plates(draw_truth(p.image, p.truth, p.name), p.plates) for p in photos]
    height = max(t.shape[0] for t in tiles)
    width = max(t.shape[1] for t in tiles)
    rows = -(-len(tiles) // columns)
    grid = np.zeros((rows * height, columns * width, 3), np.uint8)  # (rows H, columns W, 3)
    for i, tile in enumerate(tiles):
        top, left = (i // columns) * height, (i % columns) * width
        grid[top:top + tile.shape[0], left:left + tile.shape[1]] = tile
    path = Path(path)
    imwrite(path, grid)
    return path
