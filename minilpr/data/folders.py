"""What every folder reader shares: the two kinds of sample, the label check, the skipped files.

``crops.CropFolder``, ``ccpd.CCPDFolder`` / ``ccpd.CCPDCrops`` and ``yolo.YoloFolder`` are all a
``FileDataset``: a list of usable files with their labels, read lazily. A recogniser sample is a
``PlateCrop``, a locator sample a ``Scene``.

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
from minilpr.data.imageio import IMAGE_EXTENSIONS


class BadFileWarning(UserWarning):
    """A data file was skipped: unreadable, truncated, or a label that is not a plate."""


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


class FileDataset:
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


def image_files(root: Path) -> list[Path]:
    """The image files (``IMAGE_EXTENSIONS``) directly in ``root``, sorted by name."""
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
    return sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
