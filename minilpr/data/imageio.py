"""Image files with any Unicode path: ``imread`` and ``imwrite``, and the checks on what is read.

Images are ``(H, W, 3) uint8`` in **RGB** order in memory (``(H, W) uint8`` when read as
grayscale); OpenCV's BGR order stays inside ``imread`` / ``imwrite``. Paths go through
``open`` + ``cv2.imdecode`` (and ``cv2.imencode`` + ``tofile``) so that Chinese file names
such as ``京A12345.png`` work on every platform, where ``cv2.imread`` fails on Windows.

``imread`` answers every bad file with one line naming it (``docs/data.md``, "Bad input"): a
missing or unreadable path is an ``OSError``, a file that is not a whole image of a size minilpr
accepts a ``ValueError``. Before decoding, ``minilpr.data.image_header`` reads the size from the
header and checks that the file is not cut off.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from minilpr.data.image_header import read_header

# Formats OpenCV decodes; WebP and TIFF are measured after decoding (``image_header``).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# 50 megapixels: every common camera up to 50 MP sensors (8160 × 6120) fits; a decoded RGB copy
# is then 150 MB. A 10,000 × 10,000 image (100 MP, 300 MB) is refused before it is decoded.
MAX_PIXELS = 50_000_000
_FORMAT_NAMES = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP"}


def imread(path, grayscale: bool = False) -> np.ndarray:
    """Read an image whose path may hold any Unicode characters.

    The format is told from the file's first bytes, not its extension. Colour images come back
    RGB; a grayscale file is expanded to three equal channels, an alpha channel is dropped (the
    colour stored under transparent pixels is kept, as ``cv2.IMREAD_COLOR`` does), a JPEG's
    EXIF orientation is applied, and a 16-bit PNG is scaled to 8 bits as ``round(v · 255 /
    65535)``. Any size up to ``MAX_PIXELS`` is returned, however small: the caller decides.

    Parameters
    ----------
    path : str or Path
    grayscale : bool
        Return ``(H, W) uint8`` instead of ``(H, W, 3) uint8`` RGB.

    Returns
    -------
    image : (H, W, 3) uint8 RGB, or (H, W) uint8 with ``grayscale``

    Raises
    ------
    OSError
        When the path is missing, is a folder, or cannot be read (``FileNotFoundError``,
        ``IsADirectoryError``, ``PermissionError``); one line naming the file.
    ValueError
        When the file is empty, not an image, cut off, corrupt, or larger than ``MAX_PIXELS``;
        one line naming the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    problem, header = _header_problem(data)
    if problem:
        raise ValueError(f"{path}: {problem}")
    flags = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
    if header is not None and header.format == "png" and header.bit_depth == 16:
        flags |= cv2.IMREAD_ANYDEPTH  # keep the 16 bits; scaled below, not cut to the top byte
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        image = None
    if image is None:
        raise ValueError(f"{path}: {_undecodable(data, header, path.suffix.lower())}")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ValueError(f"{path}: {_too_large(image.shape[0], image.shape[1])}")
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return image if grayscale else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _read_bytes(path: Path) -> bytes:
    """The whole file, or an OSError of the same kind whose one-line message names it."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        problem = "broken symbolic link" if path.is_symlink() else "no such file"
        raise FileNotFoundError(f"{path}: {problem}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: is a folder, not an image file") from None
    except PermissionError:
        raise PermissionError(f"{path}: permission denied (cannot read the file)") from None
    except OSError as error:
        raise type(error)(f"{path}: cannot read the file ({error.strerror or error})") from None


def _header_problem(data: bytes):
    """``(problem, header)``: why ``data`` must not be decoded (or None), and its header when
    the format is one ``read_header`` knows."""
    if not data:
        return "empty file", None
    try:
        header = read_header(data)
    except ValueError as error:
        return str(error), None
    if header is None:
        return None, None
    if header.pixels == 0:
        return (f"corrupt {header.format.upper()} (its header gives a size of "
                f"{header.width}×{header.height})"), header
    if header.pixels > MAX_PIXELS:
        return _too_large(header.height, header.width), header
    return None, header


# Formats without a header walk (``image_header``), told by their first bytes.
_OTHER_SIGNATURES = (("WebP", lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP"),
                     ("TIFF", lambda d: d[:4] in (b"II*\x00", b"MM\x00*")))


def _undecodable(data: bytes, header, suffix: str) -> str:
    """Why OpenCV read nothing from ``data``: a corrupt file of a known format, a file that is
    not what its extension says, or not an image at all."""
    if header is not None:
        return f"corrupt {header.format.upper()} (OpenCV cannot decode its {len(data)} bytes)"
    signed = next((name for name, test in _OTHER_SIGNATURES if test(data)), None)
    if signed is not None:
        return f"cut off or corrupt {signed} (OpenCV cannot decode its {len(data)} bytes)"
    if suffix in _FORMAT_NAMES:
        name = _FORMAT_NAMES[suffix]
        return f"not a {name} file (no {name} signature; it starts with {data[:8]!r})"
    return f"not an image (OpenCV reads no format from its first bytes {data[:8]!r})"


def _too_large(height: int, width: int) -> str:
    return (f"image is {width}×{height} ({height * width / 1e6:.1f} megapixels), above "
            f"minilpr's limit of {MAX_PIXELS / 1e6:g} megapixels (imageio.MAX_PIXELS)")


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
