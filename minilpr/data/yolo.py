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


def parse_yolo_labels(text: str) -> YoloLabels:
    """Parse the text of a YOLO label file (see ``format_yolo_labels``).

    Raises
    ------
    ValueError
        On a line that is not 5 or 13 numbers, a mix of the two, a negative or fractional
        class, or a normalised value outside [0, 1] (a small rounding slack is allowed).
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
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"line {number} holds a field that is not a number: {line!r}") \
                from None
        if values[0] != int(values[0]) or values[0] < 0:
            raise ValueError(f"line {number}: class {parts[0]!r} is not a non-negative integer")
        if any(v < -1e-3 or v > 1 + 1e-3 for v in values[1:5]):
            raise ValueError(f"line {number}: box {parts[1:5]} is not normalised to [0, 1]")
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


def write_yolo_labels(path, labels: YoloLabels) -> None:
    """Write ``labels`` to ``path`` (UTF-8, one line per object, an empty file for none)."""
    Path(path).write_text(format_yolo_labels(labels), encoding="utf-8")


def read_yolo_labels(path) -> YoloLabels:
    """Read a YOLO label file; a missing file means an image without objects."""
    path = Path(path)
    if not path.exists():
        return YoloLabels(np.zeros(0, np.int64), np.zeros((0, 4)), None)
    try:
        return parse_yolo_labels(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: {error}") from None


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
