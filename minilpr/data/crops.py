"""Crop folders: one plate crop per file, the label in the file name.

``京A12345.jpg``, ``京A12345_2.png``: the part after the last ``_`` counts duplicates and is not
part of the label (``crop_label``); ``crop_file_name`` picks the next free name when writing.
``CropFolder`` reads such a folder as recogniser samples (``folders.PlateCrop``).
"""

from __future__ import annotations

from pathlib import Path

import cv2

from minilpr.data.folders import FileDataset, PlateCrop, check_label, image_files
from minilpr.data.imageio import imread


def crop_label(path) -> str:
    """The plate text in a crop's file name: ``京A12345_2.png`` -> ``"京A12345"``.

    The part after the last ``_`` is a duplicate counter and must be ASCII digits.
    """
    stem = Path(path).stem
    text, sep, counter = stem.rpartition("_")
    if not sep:
        return stem
    if not (counter.isascii() and counter.isdigit()):
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


class CropFolder(FileDataset):
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
        for path in image_files(self.root):
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
