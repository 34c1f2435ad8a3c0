"""YOLO label files and the two box conventions they join.

A detector's label file sits beside each image (``labels/NAME.txt`` for ``images/NAME.jpg``),
one line per object::

    class cx cy w h [x1 y1 x2 y2 x3 y3 x4 y4]

the box's centre and size normalised to the image size (``xyxy_to_yolo`` and ``yolo_to_xyxy``
convert from and to pixel boxes x1, y1, x2, y2); minilpr optionally appends the plate's four
corners, also normalised, clockwise from the top left. ``parse_yolo_labels`` /
``format_yolo_labels`` read and write the text, ``YoloFolder`` reads a folder as locator samples
(``folders.Scene``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minilpr.data.folders import FileDataset, Scene, image_files
from minilpr.data.imageio import imread


def xyxy_to_yolo(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(M, 4) pixel boxes x1, y1, x2, y2 -> (M, 4) normalised cx, cy, w, h.

    ``image_size`` is (H, W).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height, width = image_size
    scale = np.array([width, height, width, height], np.float64)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    extent = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([centre, extent], axis=1) / scale


def yolo_to_xyxy(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(M, 4) normalised cx, cy, w, h -> (M, 4) pixel boxes x1, y1, x2, y2.

    ``image_size`` is (H, W).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height, width = image_size
    scale = np.array([width, height, width, height], np.float64)
    pixels = boxes * scale
    half = pixels[:, 2:] / 2
    return np.concatenate([pixels[:, :2] - half, pixels[:, :2] + half], axis=1)


@dataclass
class YoloLabels:
    """The objects in one YOLO label file.

    Attributes
    ----------
    classes : (M,) int64
    boxes : (M, 4) float64
        Normalised cx, cy, w, h, each in [0, 1].
    corners : (M, 4, 2) float64 or None
        Normalised corners clockwise from the top left, when the file carries them (all lines
        or none).
    """

    classes: np.ndarray
    boxes: np.ndarray
    corners: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.classes)


def format_yolo_labels(labels: YoloLabels) -> str:
    """The text of a YOLO label file: ``class cx cy w h [x1 y1 x2 y2 x3 y3 x4 y4]`` per line."""
    lines = []
    for m in range(len(labels)):
        values = list(labels.boxes[m])
        if labels.corners is not None:
            values += list(np.asarray(labels.corners[m]).reshape(8))  # (4, 2) -> (8,)
        lines.append(" ".join([str(int(labels.classes[m]))] + [f"{v:.6f}" for v in values]))
    return "".join(line + "\n" for line in lines)


# How far outside [0, 1] a normalised value may stray: the rounding of six printed decimals
# and of tools that convert pixel boxes, never a box that really leaves the image.
SLACK = 1e-3


def parse_yolo_labels(text: str) -> YoloLabels:
    """Parse the text of a YOLO label file (see ``format_yolo_labels``).

    Raises
    ------
    ValueError
        One line, naming the line number: a line that is not 5 or 13 numbers, a mix of the
        two, a number that is not finite, a negative or fractional class, a box whose centre,
        size or edges leave [0, 1] or whose width or height is not positive, a corner outside
        [0, 1] (each with ``SLACK`` for rounding).
    """
    classes, boxes, corners = [], [], []
    widths = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) not in (5, 13):
            raise ValueError(f"line {number} has {len(parts)} fields, expected 5 "
                             "(class cx cy w h) or 13 (with four corners)")
        widths.add(len(parts))
        values = _numbers(parts, number)
        if values[0] != int(values[0]) or values[0] < 0:
            raise ValueError(f"line {number}: class {parts[0]!r} is not a non-negative integer")
        cx, cy, w, h = values[1:5]
        if w <= 0 or h <= 0:
            raise ValueError(f"line {number}: box {parts[1:5]} has a width or height that is "
                             "not positive")
        edges = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if not all(-SLACK <= v <= 1 + SLACK for v in (cx, cy, w, h, *edges)):
            raise ValueError(f"line {number}: box {parts[1:5]} is not normalised to [0, 1] "
                             "(its centre, size or edges leave the image)")
        if not all(-SLACK <= v <= 1 + SLACK for v in values[5:]):
            raise ValueError(f"line {number}: corners {parts[5:]} are not normalised to [0, 1]")
        classes.append(int(values[0]))
        boxes.append(values[1:5])
        if len(parts) == 13:
            corners.append(values[5:])
    if len(widths) > 1:
        raise ValueError("some lines carry corners and some do not")
    count = len(classes)
    return YoloLabels(classes=np.array(classes, np.int64),
                      boxes=np.array(boxes, np.float64).reshape(count, 4),
                      corners=np.array(corners, np.float64).reshape(count, 4, 2)
                      if corners else None)


def _numbers(parts: list[str], number: int) -> list[float]:
    """The fields of line ``number`` as finite floats, or a ValueError naming the line."""
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"line {number} holds a field that is not a number: "
                         f"{' '.join(parts)!r}") from None
    if not np.isfinite(values).all():
        raise ValueError(f"line {number} holds a number that is not finite: "
                         f"{' '.join(parts)!r}")
    return values


def write_yolo_labels(path, labels: YoloLabels) -> None:
    """Write ``labels`` to ``path`` (UTF-8, one line per object, an empty file for none)."""
    Path(path).write_text(format_yolo_labels(labels), encoding="utf-8")


def read_yolo_labels(path) -> YoloLabels:
    """Read a YOLO label file; a missing file means an image without objects.

    Raises
    ------
    ValueError
        ``"PATH: problem"`` in one line: what ``parse_yolo_labels`` refuses, text that is not
        UTF-8, or a path that cannot be read (a folder, no permission).
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return YoloLabels(np.zeros(0, np.int64), np.zeros((0, 4)), None)
    try:
        return parse_yolo_labels(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read the label file "
                         f"({error.strerror or type(error).__name__})") from None


class YoloFolder(FileDataset):
    """Images with YOLO label files: ``images/NAME.jpg`` and ``labels/NAME.txt``.

    An image without a label file has no objects. A label file that does not parse is
    skipped with a warning when the folder is opened; an unreadable image when it is read.
    ``dataset[i]`` is a ``Scene`` with pixel boxes (and corners when the labels carry them).

    Parameters
    ----------
    images : str or Path
        The folder of images.
    labels : str or Path, optional
        The folder of label files; by default ``images/../labels``.
    """

    def __init__(self, images, labels=None):
        super().__init__()
        self.root = self.images = Path(images)
        self.labels = Path(labels) if labels is not None else self.images.parent / "labels"
        for path in image_files(self.images):
            try:
                self.items.append((path, read_yolo_labels(self.labels / f"{path.stem}.txt")))
            except ValueError as error:
                self._skip(path, f"bad label file: {error}")

    def __getitem__(self, index: int) -> Scene | None:
        def read(path, labels: YoloLabels):
            image = imread(path)
            size = image.shape[:2]
            corners = None
            if labels.corners is not None:
                corners = labels.corners * np.array([size[1], size[0]], np.float64)
            return Scene(image=image, boxes=yolo_to_xyxy(labels.boxes, size), corners=corners,
                         texts=None, classes=labels.classes, path=path)
        return self._load(index, read)
