"""CCPD: whole photos whose file name is the ground truth.

A CCPD file name is seven fields joined by ``-``. The photo of the plate 皖A0N718 is called
``0130387931034-92_78-208&514_430&581-440&588_205&575_185&501_420&514-0_0_24_12_31_25_32-134-19``
``.jpg``; field by field:

* ``0130387931034`` -- **area**, the plate's area over the image's, in per cent (CCPD writes
  it with many digits);
* ``92_78`` -- **tilt**, horizontal and vertical, degrees;
* ``208&514_430&581`` -- **box**, the top-left and bottom-right corners of the axis-aligned
  box, pixels (``x&y`` pairs joined by ``_``);
* ``440&588_205&575_185&501_420&514`` -- the four **corners** in CCPD's order: right-bottom,
  left-bottom, left-top, right-top (``ccpd_to_clockwise`` gives minilpr's order, clockwise
  from the top left);
* ``0_0_24_12_31_25_32`` -- the **plate**, one index per character: the first into
  ``CCPD_PROVINCES`` (0: 皖), the second into ``CCPD_ALPHABETS`` (0: A), every later one into
  ``CCPD_ADS`` (24, 12, 31, 25, 32: 0 N 7 1 8); 7 indices, 8 for a green plate;
* ``134``, ``19`` -- CCPD's **brightness** and **blur** of the photo.

``parse_ccpd_name`` decodes a name into a ``CCPDLabel`` and ``ccpd_name`` writes one back;
``rectify_plate`` cuts the plate out along its corners. ``CCPDFolder`` reads a folder of photos
as locator samples (``folders.Scene``), ``CCPDCrops`` as recogniser crops (``folders.PlateCrop``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from minilpr.data.folders import FileDataset, PlateCrop, Scene, check_label, image_files
from minilpr.data.imageio import imread

# CCPD's tables, in CCPD's order (its README). The first character of a plate indexes
# CCPD_PROVINCES, the second CCPD_ALPHABETS, every later one CCPD_ADS. "O" is CCPD's
# placeholder for "no character / unreadable"; it is not a plate character.
CCPD_PROVINCES = list("皖沪津渝冀晋蒙辽吉黑苏浙京闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新警学") + ["O"]
CCPD_ALPHABETS = list("ABCDEFGHJKLMNPQRSTUVWXYZ") + ["O"]
CCPD_ADS = list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") + ["O"]


@dataclass
class CCPDLabel:
    """What a CCPD file name says about its photo.

    Attributes
    ----------
    area : float
        Plate area over image area (CCPD writes it in per cent, sometimes with many digits).
    tilt : (2,) int
        Horizontal and vertical tilt in degrees, as CCPD writes them.
    box : (4,) float64
        x1, y1, x2, y2 of the axis-aligned box, pixels.
    corners : (4, 2) float64
        The corners in CCPD order: right-bottom, left-bottom, left-top, right-top.
    text : str
        The plate number (7 characters, 8 for green new-energy plates).
    brightness, blur : int
    """

    area: float
    tilt: tuple[int, int]
    box: np.ndarray
    corners: np.ndarray
    text: str
    brightness: int
    blur: int

    @property
    def corners_clockwise(self) -> np.ndarray:
        """(4, 2) the corners clockwise from the top left (top-left, top-right, bottom-right,
        bottom-left), minilpr's own order."""
        return ccpd_to_clockwise(self.corners)


def ccpd_to_clockwise(corners: np.ndarray) -> np.ndarray:
    """(4, 2) CCPD's corner order (RB, LB, LT, RT) -> clockwise from the top left
    (LT, RT, RB, LB)."""
    return np.asarray(corners)[[2, 3, 0, 1]]


def clockwise_to_ccpd(corners: np.ndarray) -> np.ndarray:
    """(4, 2) clockwise from the top left (LT, RT, RB, LB) -> CCPD's order (RB, LB, LT, RT)."""
    return np.asarray(corners)[[2, 3, 0, 1]]


_INTEGER = re.compile(r"[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?", re.ASCII)


def _integer(text: str, what: str, stem: str) -> int:
    """A field of ASCII digits as an int (``int`` alone would take "1_3", " 4" or "٣")."""
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"CCPD name {stem!r} has a non-numeric {what} field {text!r}")
    return int(text)


def _number(text: str, what: str, stem: str) -> float:
    """A non-negative decimal number (``float`` alone would take "nan", "inf" or "1_0")."""
    if not _NUMBER.fullmatch(text) or not np.isfinite(float(text)):
        raise ValueError(f"CCPD name {stem!r} has a non-numeric {what} field {text!r}")
    return float(text)


def _points(field_: str, count: int, what: str, stem: str) -> np.ndarray:
    """``"x1&y1_x2&y2"`` -> (count, 2) float64 of non-negative pixel coordinates."""
    pairs = field_.split("_")
    if len(pairs) != count:
        raise ValueError(f"{what} field {field_!r} has {len(pairs)} points, expected {count}")
    points = []
    for pair in pairs:
        xy = pair.split("&")
        if len(xy) != 2:
            raise ValueError(f"{what} field {field_!r} is not x&y pairs of numbers")
        points.append([_number(v, what, stem) for v in xy])
    return np.array(points, np.float64)


def parse_ccpd_name(name) -> CCPDLabel:
    """Decode a CCPD file name.

    ``area-tilt-x1&y1_x2&y2-corners-indices-brightness-blur.jpg``; the module docstring takes
    the name of a photo of 皖A0N718 apart field by field.

    Raises
    ------
    ValueError
        One line: a field missing or malformed (numbers are ASCII digits, finite and not
        negative), a box whose corners are not top-left then bottom-right, or an index outside
        its table.
    """
    stem = Path(name).stem
    fields = stem.split("-")
    if len(fields) != 7:
        raise ValueError(f"a CCPD name has 7 '-'-separated fields, {stem!r} has {len(fields)}")
    area, tilt, box, corners, indices, brightness, blur = fields
    tilt_values = tuple(_integer(v, "tilt", stem) for v in tilt.split("_"))
    index_values = [_integer(v, "plate", stem) for v in indices.split("_")]
    area_value = _number(area, "area", stem)
    brightness_value = _integer(brightness, "brightness", stem)
    blur_value = _integer(blur, "blur", stem)
    if len(tilt_values) != 2:
        raise ValueError(f"tilt field {tilt!r} must be two numbers")
    if len(index_values) not in (7, 8):
        raise ValueError(f"plate field {indices!r} has {len(index_values)} indices, "
                         "expected 7 or 8")
    tables = [CCPD_PROVINCES, CCPD_ALPHABETS] + [CCPD_ADS] * (len(index_values) - 2)
    chars = []
    for position, (index, table) in enumerate(zip(index_values, tables)):
        if not 0 <= index < len(table):
            raise ValueError(f"plate index {index} at position {position} is outside CCPD's "
                             f"table of {len(table)}")
        chars.append(table[index])
    box_values = _points(box, 2, "box", stem).reshape(4)  # (2, 2) -> (4,)
    if not (box_values[0] < box_values[2] and box_values[1] < box_values[3]):
        raise ValueError(f"box field {box!r} is not the top-left then the bottom-right corner "
                         "of a box with an area")
    return CCPDLabel(area=area_value, tilt=tilt_values, box=box_values,
                     corners=_points(corners, 4, "corners", stem), text="".join(chars),
                     brightness=brightness_value, blur=blur_value)


def ccpd_name(label: CCPDLabel) -> str:
    """The CCPD file name (with ``.jpg``) of ``label``, the inverse of ``parse_ccpd_name``.

    Raises ValueError when a character of the text is not in CCPD's tables.
    """
    tables = [CCPD_PROVINCES, CCPD_ALPHABETS] + [CCPD_ADS] * (len(label.text) - 2)
    indices = []
    for position, (char, table) in enumerate(zip(label.text, tables)):
        if char not in table:
            raise ValueError(f"character {char!r} at position {position} is not in CCPD's table")
        indices.append(str(table.index(char)))
    box = np.rint(np.asarray(label.box)).astype(int)
    corners = np.rint(np.asarray(label.corners)).astype(int)
    fields = [f"{label.area:g}", "_".join(str(t) for t in label.tilt),
              f"{box[0]}&{box[1]}_{box[2]}&{box[3]}",
              "_".join(f"{x}&{y}" for x, y in corners), "_".join(indices),
              str(label.brightness), str(label.blur)]
    return "-".join(fields) + ".jpg"


def rectify_plate(image: np.ndarray, corners: np.ndarray, size: tuple[int, int] = (32, 220),
                  ) -> np.ndarray:
    """Cut the plate out of ``image`` and warp it to an upright ``size`` rectangle.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) uint8
    corners : (4, 2) float
        Clockwise from the top left (use ``ccpd_to_clockwise`` for CCPD corners).
    size : (H_out, W_out)

    Returns
    -------
    crop : (H_out, W_out, 3) or (H_out, W_out) uint8
    """
    height, width = size
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(np.float32(corners), target)
    return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)



class CCPDFolder(FileDataset):
    """CCPD photos in one folder; the ground truth comes from each file name.

    ``dataset[i]`` is a ``Scene`` with one plate (box, corners clockwise from the top left, text),
    or None for an unreadable image. Names that do not parse, or whose plate has a character
    outside the charset (CCPD's "O" placeholder, for one), are skipped with a warning when the
    folder is opened.

    Parameters
    ----------
    root : str or Path
    strict : bool
        Also require the plate-number rules of ``charset.validate_plate``.
    """

    def __init__(self, root, strict: bool = True):
        super().__init__()
        self.root = Path(root)
        for path in image_files(self.root):
            try:
                label = parse_ccpd_name(path.name)
                check_label(label.text, strict)
            except ValueError as error:
                self._skip(path, f"not a CCPD name with a plate label: {error}")
                continue
            self.items.append((path, label))

    @property
    def labels(self) -> list[CCPDLabel]:
        return [label for _, label in self.items]

    def __getitem__(self, index: int) -> Scene | None:
        def read(path, label):
            return Scene(image=imread(path), boxes=label.box.reshape(1, 4),  # (4,) -> (1, 4)
                         corners=label.corners_clockwise[None], texts=[label.text],
                         classes=np.zeros(1, np.int64), path=path)
        return self._load(index, read)


class CCPDCrops(CCPDFolder):
    """The plates of CCPD photos as recogniser crops, cut out along their four corners.

    ``dataset[i]`` is a ``PlateCrop`` of ``size`` (grayscale by default, like the recogniser's
    input), or None for an unreadable photo.

    Parameters
    ----------
    root : str or Path
    size : (H_out, W_out)
        Crop size; (32, 220) is the patent's recogniser input.
    grayscale : bool
    strict : bool
    """

    def __init__(self, root, size: tuple[int, int] = (32, 220), grayscale: bool = True,
                 strict: bool = True):
        super().__init__(root, strict)
        self.size = size
        self.grayscale = grayscale

    def __getitem__(self, index: int) -> PlateCrop | None:
        def read(path, label):
            crop = rectify_plate(imread(path, self.grayscale), label.corners_clockwise,
                                 self.size)
            return PlateCrop(crop, label.text, path)
        return self._load(index, read)
