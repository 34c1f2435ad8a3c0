"""The plate font's glyphs: rasterised once from the font, cropped, emboldened, fitted to slots.

Every glyph is drawn once with Pillow/FreeType from Noto Sans CJK SC at size 256, cropped to its
ink and thickened (``glyph_master``); each (character, slot size, weight) mask is then resized
once and kept (``glyph_mask``). A plate is an alpha blend of these cached masks
(``minilpr.data.plate_render``).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from minilpr.data.charset import PROVINCES, SPECIALS
from minilpr.data.fonts import cjk_font_path


@lru_cache(maxsize=1)
def _font():
    from PIL import ImageFont

    return ImageFont.truetype(str(cjk_font_path()), size=256)


# Stroke thickening, as a dilation radius in fractions of the glyph height: 0 is Noto Sans CJK
# Regular, 0.03 a bold plate. Real plates vary with the font revision, wear and the camera, so
# the generator draws one per plate; the last one is the canonical plate's (rng=None).
STROKE_WEIGHTS = (0.005, 0.015, 0.03)


@lru_cache(maxsize=None)
def glyph_master(char: str, weight: float = STROKE_WEIGHTS[-1]) -> np.ndarray:
    """The ink of ``char`` at font size 256, cropped to its bounding box and emboldened.

    Parameters
    ----------
    weight : float
        Dilation radius as a fraction of the glyph height (``STROKE_WEIGHTS``).

    Returns
    -------
    mask : (h, w) float32 in [0, 1]
        Coverage (1 = ink), dilated by ``weight`` times the glyph height: plate characters have
        heavier strokes than the font's regular weight.
    """
    from PIL import Image, ImageDraw

    font = _font()
    canvas = Image.new("L", (384, 384), 0)
    ImageDraw.Draw(canvas).text((64, 32), char, font=font, fill=255)
    mask = np.asarray(canvas, dtype=np.float32) / 255.0
    rows, cols = np.nonzero(mask > 0.02)
    if rows.size == 0:
        raise ValueError(f"the font draws nothing for {char!r}")
    mask = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    if char == "1":
        mask = _cut_foot(mask)
    radius = max(1, round(mask.shape[0] * weight))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    mask = cv2.dilate(np.pad(mask, radius), kernel)
    return mask


def _cut_foot(mask: np.ndarray) -> np.ndarray:
    """Noto's 1 stands on a foot serif; the plate font's 1 is a bare stem with a flag.

    The bottom rows that are much wider than the stem are replaced by the stem, and the result
    is cropped to its ink again.
    """
    widths = (mask > 0.02).sum(axis=1)
    stem_row = mask[int(0.7 * len(mask))]
    foot = np.nonzero(widths[::-1] <= widths[int(0.7 * len(mask))] + 2)[0][0]  # foot rows
    if foot:
        mask = mask.copy()
        mask[-foot:] = stem_row
    cols = np.nonzero(mask.max(axis=0) > 0.02)[0]
    return mask[:, cols.min():cols.max() + 1]


@lru_cache(maxsize=4096)
def glyph_mask(char: str, width: int, height: int,
               weight: float = STROKE_WEIGHTS[-1]) -> tuple[np.ndarray, np.ndarray]:
    """``char`` fitted into a ``height × width`` pixel slot, as the plate font places it.

    Every plate character has the same slot (45 × 90 mm). Chinese characters fill it; letters
    and digits fill its height, and their width is the slot's times their own width relative to
    the font's "0", capped at the slot: wide letters are squeezed, a narrow 1 stays narrow and
    centred.

    Returns
    -------
    mask, inverse : (height, width) float32 in [0, 1], read-only (shared through the cache)
        The coverage and one minus it (the two weights of a blend).
    """
    master = glyph_master(char, weight)
    h, w = master.shape
    cjk = char in PROVINCES or char in SPECIALS
    zero_h, zero_w = glyph_master("0", weight).shape
    relative = (w / h) / (zero_w / zero_h)
    ink_width = width if cjk else max(1, min(width, round(width * relative)))
    fitted = cv2.resize(master, (ink_width, height), interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width), np.float32)
    x0 = (width - ink_width) // 2
    out[:, x0:x0 + ink_width] = fitted
    inverse = 1.0 - out
    out.setflags(write=False)
    inverse.setflags(write=False)
    return out, inverse

