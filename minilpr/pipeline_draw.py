"""A photo with its plates drawn on it: each box, and above it the text read and its confidence.

The text is drawn with PIL in the Noto Sans CJK font the synthetic plates use
(`minilpr.data.fonts.cjk_font_path`), so the province character shows as itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Box colour by plate colour (the locator's class), bright enough on any street.
BOX_COLOURS = {"blue": (40, 120, 255), "yellow": (255, 200, 0), "green": (0, 210, 90),
               "other": (230, 230, 230)}
UNSURE = (255, 60, 60)  # a read below this confidence is drawn in red
UNSURE_BELOW = 0.5


def canvas(image: np.ndarray, smallest: int, fraction: int):
    """A PIL copy of ``image``, a pen on it and the CJK font at ``1 / fraction`` of the picture's
    shorter side (at least ``smallest`` pixels): ``(picture, pen, font)``."""
    from PIL import Image, ImageDraw, ImageFont

    from minilpr.data.fonts import cjk_font_path

    picture = Image.fromarray(np.ascontiguousarray(image))
    size = max(smallest, round(min(image.shape[:2]) / fraction))
    return picture, ImageDraw.Draw(picture), ImageFont.truetype(str(cjk_font_path()), size=size)


def draw_label(pen, font, text: str, x: float, top_for, width: int, fill, ink) -> None:
    """``text`` on a filled box whose left edge is ``x``, kept inside a picture ``width`` wide;
    ``top_for(h)`` places the box's top for a text ``h`` pixels high."""
    left, top, right, bottom = pen.textbbox((0, 0), text, font=font)
    w, h = right - left, bottom - top
    tx = min(max(0.0, x), max(0.0, width - w - 4))
    ty = top_for(h)
    pen.rectangle((tx, ty, tx + w + 4, ty + h + 6), fill=fill)
    pen.text((tx + 2 - left, ty + 3 - top), text, font=font, fill=ink)


def draw_plates(image: np.ndarray, plates) -> np.ndarray:
    """``image`` with ``plates`` drawn on it.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    plates : sequence of Plate

    Returns
    -------
    (H, W, 3) uint8 RGB, a new array
    """
    picture, pen, font = canvas(image, smallest=12, fraction=22)
    width = image.shape[1]
    line = max(2, font.size // 8)
    for plate in plates:
        x1, y1, x2, y2 = plate.box
        colour = BOX_COLOURS.get(plate.colour, BOX_COLOURS["other"])
        pen.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        ink = UNSURE if plate.confidence < UNSURE_BELOW else (255, 255, 255)
        draw_label(pen, font, f"{plate.text or '?'} {plate.confidence:.2f}", x1,
                   # above the box, else inside it
                   lambda h, y1=y1: y1 - h - 6 if y1 - h - 6 >= 0 else y1 + line,
                   width, (0, 0, 0), ink)
    return np.asarray(picture)


def save_drawing(image: np.ndarray, plates, path) -> Path:
    """Draw ``plates`` on ``image`` and write it as a PNG (any Unicode path); returns the path."""
    from minilpr.data.imageio import imwrite

    path = Path(path)
    imwrite(path, draw_plates(image, plates))
    return path
