"""Image files with any Unicode path: ``imread`` and ``imwrite``, and the check for cut-off files.

Images are ``(H, W, 3) uint8`` in **RGB** order in memory (``(H, W) uint8`` when read as
grayscale); OpenCV's BGR order stays inside ``imread`` / ``imwrite``. Paths go through
``np.fromfile`` + ``cv2.imdecode`` (and ``cv2.imencode`` + ``tofile``) so that Chinese file names
such as ``京A12345.png`` work on every platform, where ``cv2.imread`` fails on Windows.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


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
