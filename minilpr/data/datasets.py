"""Reading and writing plate data on disk: crop folders, CCPD photos and YOLO label files.

Three formats (docs/data.md, "File formats", has the details):

* **crop folder** -- one plate crop per file, the label in the file name: ``京A12345.jpg``,
  ``京A12345_2.png`` (``_2`` counts duplicates and is not part of the label).
* **CCPD** -- whole photos whose file name holds the plate's box, four corners and text as
  indices into CCPD's own tables (``parse_ccpd_name``).
* **YOLO labels** -- one ``.txt`` beside each image, a line ``class cx cy w h`` per object,
  normalised to the image size; minilpr optionally appends the four corners.

Images are ``(H, W, 3) uint8`` in **RGB** order in memory (``(H, W) uint8`` when read as
grayscale); OpenCV's BGR order stays inside ``imread`` / ``imwrite``. Paths go through
``np.fromfile`` + ``cv2.imdecode`` (and ``cv2.imencode`` + ``tofile``) so that Chinese file names
work on every platform.

Bad files never stop an epoch and never vanish silently: each is skipped with one
``BadFileWarning`` naming the file and the problem, kept in the data set's ``skipped`` list, and
``summary()`` gives the count at the end.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from minilpr.data import charset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

# CCPD's tables, in CCPD's order (its README). The first character of a plate indexes
# CCPD_PROVINCES, the second CCPD_ALPHABETS, every later one CCPD_ADS. "O" is CCPD's
# placeholder for "no character / unreadable"; it is not a plate character.
CCPD_PROVINCES = list("皖沪津渝冀晋蒙辽吉黑苏浙京闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新警学") + ["O"]
CCPD_ALPHABETS = list("ABCDEFGHJKLMNPQRSTUVWXYZ") + ["O"]
CCPD_ADS = list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") + ["O"]


class BadFileWarning(UserWarning):
    """A data file was skipped: unreadable, truncated, or a label that is not a plate."""


def imread(path, grayscale: bool = False) -> np.ndarray:
    """Read an image whose path may hold any Unicode characters.

    Parameters
    ----------
    path : str or Path
    grayscale : bool
        Return ``(H, W) uint8`` instead of ``(H, W, 3) uint8`` RGB.

    Raises
    ------
    ValueError
        When the file is empty, truncated (a JPEG without its end marker, a PNG without its
        IEND chunk) or cannot be decoded; the message names the file.
    OSError
        When the file cannot be opened.
    """
    path = Path(path)
    data = np.fromfile(str(path), dtype=np.uint8)
    problem = _truncation_problem(data[:8].tobytes(), data[-1024:].tobytes(), data.size,
                                  path.suffix.lower())
    if problem:
        raise ValueError(f"{path}: {problem}")
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a decodable image ({data.size} bytes)")
    return image if grayscale else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def imwrite(path, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write ``image`` (``(H, W, 3) uint8`` RGB or ``(H, W) uint8``) to a possibly Unicode path.

    The format follows the extension (``.jpg``, ``.png``, ...).
    """
    path = Path(path)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"imwrite {path}: expected (H, W) or (H, W, 3) uint8, "
                         f"got {image.shape} {image.dtype}")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] \
        if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, encoded = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise ValueError(f"imwrite {path}: OpenCV cannot encode {path.suffix!r} images")
    encoded.tofile(str(path))


def _truncation_problem(head: bytes, tail: bytes, size: int, suffix: str) -> str | None:
    """Why a file that starts with ``head`` and ends with ``tail`` is not a whole image, or None.

    OpenCV decodes a truncated JPEG without complaint (the missing rows come out grey), so the
    markers are checked by hand: a JPEG starts with FF D8 and ends with FF D9, a PNG starts with
    its 8-byte signature and ends with its IEND chunk.
    """
    if size == 0:
        return "empty file"
    if suffix in (".jpg", ".jpeg") and not head.startswith(b"\xff\xd8"):
        return "not a JPEG file (no start-of-image marker)"
    if suffix == ".png" and not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "not a PNG file (no PNG signature)"
    if suffix in (".jpg", ".jpeg") and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if suffix == ".png" and b"IEND" not in tail[-12:]:
        return "truncated PNG (no IEND chunk)"
    return None


def check_label(text: str, strict: bool = True) -> str:
    """``text`` if it is a usable plate label, else a ValueError saying why.

    Every character must be in ``charset.CHARS``; with ``strict`` the plate rules of
    ``charset.validate_plate`` must hold too.
    """
    if not text:
        raise ValueError("the label is empty")
    charset.encode(text)
    if strict:
        problem = charset.validate_plate(text)
        if problem is not None:
            raise ValueError(f"{text!r} is not a valid plate: {problem}")
    return text


def crop_label(path) -> str:
    """The plate text in a crop's file name: ``京A12345_2.png`` -> ``"京A12345"``.

    The part after the last ``_`` is a duplicate counter and must be a number.
    """
    stem = Path(path).stem
    text, sep, counter = stem.rpartition("_")
    if not sep:
        return stem
    if not counter.isdigit():
        raise ValueError(f"duplicate counter {counter!r} after '_' is not a number")
    return text


def crop_file_name(text: str, taken: set[str], suffix: str = ".png") -> str:
    """A free file name for a crop of ``text``: ``京A12345.png``, then ``京A12345_2.png`` ...

    ``taken`` holds the names already used (the new one is added to it).
    """
    name, counter = f"{text}{suffix}", 1
    while name in taken:
        counter += 1
        name = f"{text}_{counter}{suffix}"
    taken.add(name)
    return name


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


def _points(field_: str, count: int, what: str) -> np.ndarray:
    """``"x1&y1_x2&y2"`` -> (count, 2) float64."""
    pairs = field_.split("_")
    if len(pairs) != count:
        raise ValueError(f"{what} field {field_!r} has {len(pairs)} points, expected {count}")
    try:
        return np.array([[float(v) for v in p.split("&")] for p in pairs], np.float64)
    except ValueError:
        raise ValueError(f"{what} field {field_!r} is not x&y pairs of numbers") from None


def parse_ccpd_name(name) -> CCPDLabel:
    """Decode a CCPD file name.

    ``area-tilt-x1&y1_x2&y2-corners-indices-brightness-blur.jpg``, for example
    ``0130387931034-92_78-208&514_430&581-440&588_205&575_185&501_420&514-0_0_24_12_31_25_32-134-19.jpg``
    is the plate 皖A0N718 with box (208, 514, 430, 581).

    Raises
    ------
    ValueError
        When a field is missing or malformed, or an index is outside its table.
    """
    stem = Path(name).stem
    fields = stem.split("-")
    if len(fields) != 7:
        raise ValueError(f"a CCPD name has 7 '-'-separated fields, {stem!r} has {len(fields)}")
    area, tilt, box, corners, indices, brightness, blur = fields
    try:
        tilt_values = tuple(int(v) for v in tilt.split("_"))
        index_values = [int(v) for v in indices.split("_")]
        area_value = float(area)
        brightness_value, blur_value = int(brightness), int(blur)
    except ValueError:
        raise ValueError(f"CCPD name {stem!r} has a non-numeric field") from None
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
    return CCPDLabel(area=area_value, tilt=tilt_values,
                     box=_points(box, 2, "box").reshape(4),  # (2, 2) -> (4,)
                     corners=_points(corners, 4, "corners"), text="".join(chars),
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


@dataclass
class PlateCrop:
    """One recogniser sample: ``image`` (H, W, 3) RGB or (H, W) uint8, its ``text``, its file."""

    image: np.ndarray
    text: str
    path: Path


@dataclass
class Scene:
    """One locator sample read from disk.

    Attributes
    ----------
    image : (H, W, 3) uint8 RGB
    boxes : (M, 4) float64
        Pixel boxes x1, y1, x2, y2.
    corners : (M, 4, 2) float64 or None
        Pixel corners clockwise from the top left.
    texts : list of str or None
        The plate numbers, when the format carries them (CCPD does, YOLO does not).
    classes : (M,) int64
    path : Path
    """

    image: np.ndarray
    boxes: np.ndarray
    corners: np.ndarray | None
    texts: list[str] | None
    classes: np.ndarray
    path: Path


class _FileDataset:
    """Shared bookkeeping: the usable files, the skipped ones, and the warnings about them.

    ``items`` holds ``(path, label)`` for every file whose label was usable when the folder was
    opened; ``skipped`` holds ``(path, problem)`` for every file left out, then or later.
    """

    def __init__(self) -> None:
        self.items: list[tuple[Path, object]] = []
        self.skipped: list[tuple[Path, str]] = []
        self._failed: set[Path] = set()

    def _skip(self, path: Path, problem: str) -> None:
        self.skipped.append((Path(path), problem))
        warnings.warn(f"skipped {path}: {problem}", BadFileWarning, stacklevel=3)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        """The readable samples in order; a file that fails to load is skipped and reported,
        and the count of skipped files is reported once the pass is over."""
        for index in range(len(self.items)):
            sample = self[index]
            if sample is not None:
                yield sample
        if self.skipped:
            warnings.warn(self.summary(), BadFileWarning, stacklevel=2)

    def summary(self) -> str:
        """One line: how many files there are and how many were skipped."""
        total = len(self.items) + len(self.skipped) - len(self._failed)
        name = f"{type(self).__name__}({getattr(self, 'root', '')})"
        if not self.skipped:
            return f"{name}: {total} files, none skipped"
        unreadable = len(self._failed)
        return (f"{name}: skipped {len(self.skipped)} of {total} files "
                f"({len(self.skipped) - unreadable} bad labels, {unreadable} unreadable)")

    def _load(self, index: int, reader):
        """``reader(path, label)`` for item ``index``, or None (and a warning) if it fails.

        A file that failed once stays in ``items`` but is answered with None at once: the
        length of the data set does not change in the middle of an epoch.
        """
        path, label = self.items[index]
        if path in self._failed:
            return None
        try:
            return reader(path, label)
        except (OSError, ValueError, cv2.error) as error:
            self._failed.add(path)
            self._skip(path, str(error).removeprefix(f"{path}: "))
            return None


def _image_files(root: Path) -> list[Path]:
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
    return sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


class CropFolder(_FileDataset):
    """Plate crops in one folder, labelled by file name (``京A12345.jpg``, ``京A12345_2.png``).

    Names are checked when the folder is opened: a name that is not a plate (a character
    outside the charset, a broken plate rule with ``strict``) is skipped with a warning then.
    Image files are decoded when asked for: ``dataset[i]`` returns a ``PlateCrop``, or None
    (with a warning) for a file that cannot be read; iterating skips those.

    Parameters
    ----------
    root : str or Path
    grayscale : bool
        Images as ``(H, W) uint8`` instead of ``(H, W, 3)`` RGB.
    strict : bool
        Also require the plate-number rules of ``charset.validate_plate``.
    size : (H_out, W_out), optional
        Resize every crop to this size (e.g. (32, 220), the recogniser's input); None keeps the
        file's size.
    """

    def __init__(self, root, grayscale: bool = False, strict: bool = True,
                 size: tuple[int, int] | None = None):
        super().__init__()
        self.root = Path(root)
        self.grayscale = grayscale
        self.size = size
        for path in _image_files(self.root):
            try:
                self.items.append((path, check_label(crop_label(path), strict)))
            except ValueError as error:
                self._skip(path, f"file name is not a plate label: {error}")

    @property
    def texts(self) -> list[str]:
        """The labels of the usable files, in order."""
        return [label for _, label in self.items]

    def __getitem__(self, index: int) -> PlateCrop | None:
        def read(path, text):
            image = imread(path, self.grayscale)
            if self.size is not None:
                image = cv2.resize(image, (self.size[1], self.size[0]),
                                   interpolation=cv2.INTER_LINEAR)
            return PlateCrop(image, text, path)
        return self._load(index, read)


class CCPDFolder(_FileDataset):
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
        for path in _image_files(self.root):
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


class YoloFolder(_FileDataset):
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
        for path in _image_files(self.images):
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
