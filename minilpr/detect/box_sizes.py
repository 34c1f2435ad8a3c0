"""The ground-truth box sizes of a data set, in pixels of the letterboxed network input.

Anchors must be measured where the network sees the boxes: after `letterbox_geometry` has
scaled each image into the square input. Three sources:

* a YOLO-format folder (``images/`` + ``labels/``): the image size comes from the file header;
* a folder of CCPD-named photos: the box is in the file name;
* a CSV file with columns ``x1, y1, x2, y2`` (pixels) and, optionally, ``image_h, image_w``;
  without them every row is taken from an image of ``image_size`` (CCPD's 1160 × 720 by
  default, as in ``../shared/data/real/ccpd-geometry/ccpd_geometry.csv``).
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from minilpr.data.datasets import CCPDFolder, YoloFolder, yolo_to_xyxy
from minilpr.detect.boxes import boxes_to_letterbox, letterbox_geometry

CCPD_IMAGE_SIZE = (1160, 720)


def _input_sizes(boxes: np.ndarray, image_size: tuple[int, int], size: int) -> np.ndarray:
    """(M, 4) xyxy source pixels of one image -> (M, 2) w, h in input pixels."""
    inside = boxes_to_letterbox(boxes, letterbox_geometry(image_size, size))
    return inside[:, 2:] - inside[:, :2]


def _image_size(path: Path) -> tuple[int, int]:
    """(H, W) from the image header, without decoding the pixels."""
    with Image.open(path) as image:
        width, height = image.size
    return height, width


def yolo_folder_sizes(root: Path, size: int = 416) -> np.ndarray:
    """(M, 2) letterboxed w, h of every box in a YOLO folder ``root/images`` + ``root/labels``."""
    folder = YoloFolder(root / "images")
    found = [np.zeros((0, 2))]
    for path, labels in folder.items:
        image_size = _image_size(path)
        found.append(_input_sizes(yolo_to_xyxy(labels.boxes, image_size), image_size, size))
    return np.concatenate(found)


def ccpd_folder_sizes(root: Path, size: int = 416) -> np.ndarray:
    """(M, 2) letterboxed w, h of the plate of every CCPD-named photo in ``root``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plates the charset refuses still have good boxes
        folder = CCPDFolder(root, strict=False)
    found = [np.zeros((0, 2))]
    for path, label in folder.items:
        found.append(_input_sizes(label.box.reshape(1, 4), _image_size(path), size))
    return np.concatenate(found)


def csv_sizes(path: Path, size: int = 416,
              image_size: tuple[int, int] = CCPD_IMAGE_SIZE) -> np.ndarray:
    """(M, 2) letterboxed w, h of the boxes of a CSV file (see the module notes)."""
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        columns = set(reader.fieldnames or ())
        missing = {"x1", "y1", "x2", "y2"} - columns
        if missing:
            raise ValueError(f"{path}: no column {', '.join(sorted(missing))} (expected x1, y1, "
                             "x2, y2 in pixels)")
        rows = list(reader)
    boxes = np.array([[float(r[c]) for c in ("x1", "y1", "x2", "y2")] for r in rows])
    if {"image_h", "image_w"} <= columns:
        shapes = np.array([[int(r["image_h"]), int(r["image_w"])] for r in rows])
    else:
        shapes = np.tile(np.asarray(image_size, dtype=np.int64), (len(rows), 1))
    found = [np.zeros((0, 2))]
    for shape in np.unique(shapes, axis=0):
        same = np.all(shapes == shape, axis=1)
        found.append(_input_sizes(boxes[same], tuple(shape), size))
    return np.concatenate(found)


def box_sizes(data: Path, size: int = 416,
              image_size: tuple[int, int] = CCPD_IMAGE_SIZE) -> tuple[np.ndarray, str]:
    """The letterboxed sizes of the boxes in ``data`` and the kind of source it was.

    Returns
    -------
    wh : (M, 2) float64
    kind : str
        ``"YOLO folder"``, ``"CCPD folder"`` or ``"CSV"``.

    Raises
    ------
    FileNotFoundError
        When ``data`` does not exist.
    """
    data = Path(data)
    if not data.exists():
        raise FileNotFoundError(f"--data {data} does not exist")
    if data.is_file():
        return csv_sizes(data, size, image_size), "CSV"
    if (data / "images").is_dir():
        return yolo_folder_sizes(data, size), "YOLO folder"
    return ccpd_folder_sizes(data, size), "CCPD folder"
