"""What an image file's bytes say before it is decoded: its format, its size, whether it is whole.

A 10,000 × 10,000 photo takes 300 MB once decoded, and a few kilobytes of PNG can claim a far
larger size still. The width and height sit in the header of every format minilpr lists
(PNG's IHDR chunk, JPEG's start-of-frame segment, BMP's info header), so ``imread`` can refuse
a huge image before OpenCV allocates it. The same walk through a file's chunks or segments tells
a cut-off file from a whole one, which OpenCV does not: it decodes a truncated JPEG without
complaint, the missing rows grey.

``read_header`` knows PNG, JPEG and BMP, by their first bytes and not by the file's extension
(a PNG named ``.jpg`` is read as the PNG it is). Other formats OpenCV reads (WebP, TIFF, ...)
are measured after decoding instead; OpenCV's own limit (``CV_IO_MAX_IMAGE_PIXELS``, 2^30
pixels by default) bounds the memory until then.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
# Start-of-frame markers C0..CF carry the size, except C4 (Huffman tables), C8 (reserved)
# and CC (arithmetic conditioning).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and the restart markers RST0..RST7.
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])


@dataclass(frozen=True)
class ImageHeader:
    """The facts read from a whole file of a known format.

    Attributes
    ----------
    format : "png", "jpeg" or "bmp"
    height, width : int
        In pixels, as stored (a JPEG's EXIF orientation may swap them when decoded).
    bit_depth : int
        Bits per channel for PNG (1, 2, 4, 8 or 16) and JPEG (8 or 12); bits per pixel for BMP.
    """

    format: str
    height: int
    width: int
    bit_depth: int

    @property
    def pixels(self) -> int:
        return self.height * self.width


def sniff(head: bytes) -> str | None:
    """"png", "jpeg" or "bmp" from a file's first bytes, or None for anything else."""
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head.startswith(JPEG_SOI):
        return "jpeg"
    if head.startswith(b"BM"):
        return "bmp"
    return None


def read_header(data: bytes) -> ImageHeader | None:
    """The header of a PNG, JPEG or BMP file's bytes, or None for any other format.

    Raises
    ------
    ValueError
        One line saying why the file is not a whole image of its format: cut off (a chunk or
        segment runs past the end, no PNG IEND chunk, no JPEG end-of-image marker after the
        image data, fewer BMP pixel bytes than the header promises) or a corrupt header.
    """
    kind = sniff(data[:8])
    for name, signature in (("PNG", PNG_SIGNATURE), ("JPEG", JPEG_SOI), ("BMP", b"BM")):
        if kind is None and len(data) < len(signature) and signature.startswith(data):
            raise ValueError(f"truncated {name} (it ends inside its signature)")
    if kind == "png":
        return _png(data)
    if kind == "jpeg":
        return _jpeg(data)
    if kind == "bmp":
        return _bmp(data)
    return None


def _png(data: bytes) -> ImageHeader:
    """Walk the chunks (length, type, data, CRC) from the signature to IEND."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ValueError("truncated PNG (no IHDR header chunk)" if len(data) < 33
                         else "corrupt PNG (the first chunk is not IHDR)")
    width, height, depth = struct.unpack(">IIB", data[16:25])
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        end = position + 12 + length
        if end > len(data):
            raise ValueError(f"truncated PNG (the {kind.decode('latin-1')!r} chunk at byte "
                             f"{position} runs past the end of the file)")
        if kind == b"IEND":
            return ImageHeader("png", height, width, depth)
        position = end
    raise ValueError("truncated PNG (no IEND chunk)")


def _jpeg(data: bytes) -> ImageHeader:
    """Walk the marker segments to the first start-of-scan, then look for the end marker.

    Inside the entropy-coded image data every FF byte is followed by 00 or a restart marker,
    so the first FF D9 after the first scan header is the end of the image.
    """
    size = None
    position = 2
    while True:
        if position >= len(data):
            raise ValueError("truncated JPEG (it ends inside its headers)")
        if data[position] != 0xFF:
            raise ValueError(f"corrupt JPEG (no marker at byte {position})")
        while position < len(data) and data[position] == 0xFF:
            position += 1  # fill bytes
        if position >= len(data):
            raise ValueError("truncated JPEG (it ends inside its headers)")
        marker = data[position]
        position += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == 0xD9:
            raise ValueError("corrupt JPEG (it ends before any image data)")
        if position + 2 > len(data):
            raise ValueError("truncated JPEG (it ends inside its headers)")
        length = (data[position] << 8) | data[position + 1]
        if length < 2:
            raise ValueError(f"corrupt JPEG (a segment of length {length} at byte {position})")
        if marker in _JPEG_SOF and size is None:
            if length < 8 or position + 7 > len(data):
                raise ValueError("truncated JPEG (it ends inside its frame header)")
            depth, height, width = struct.unpack(">BHH", data[position + 2:position + 7])
            size = (height, width, depth)
        if marker == 0xDA:
            break
        position += length
    if size is None:
        raise ValueError("corrupt JPEG (no frame header before the image data)")
    if data.find(JPEG_EOI, position + length) < 0:
        raise ValueError("truncated JPEG (no end-of-image marker)")
    height, width, depth = size
    return ImageHeader("jpeg", height, width, depth)


def _bmp(data: bytes) -> ImageHeader:
    """The file and info headers, and the pixel bytes an uncompressed bitmap must hold."""
    if len(data) < 26:
        raise ValueError("truncated BMP (it ends inside its header)")
    file_size, offset, info_size = struct.unpack("<I4xII", data[2:18])
    if info_size == 12:
        width, height, _, bits = struct.unpack("<HHHH", data[18:26])
        compression = 0
    else:
        if len(data) < 34:
            raise ValueError("truncated BMP (it ends inside its header)")
        width, height, _, bits, compression = struct.unpack("<iiHHI", data[18:34])
        height = abs(height)  # negative: rows stored top-down
    if width <= 0 or bits == 0:
        raise ValueError(f"corrupt BMP (width {width}, {bits} bits per pixel)")
    row = (bits * width + 31) // 32 * 4
    if file_size > len(data) or (compression in (0, 3) and offset + row * height > len(data)):
        raise ValueError(f"truncated BMP ({len(data)} bytes, its header promises "
                         f"{max(file_size, offset + row * height)})")
    return ImageHeader("bmp", height, width, bits)
