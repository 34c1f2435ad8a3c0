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
    from PIL import Image, ImageDraw, ImageFont

    from minilpr.data.fonts import cjk_font_path

    picture = Image.fromarray(np.ascontiguousarray(image))
    pen = ImageDraw.Draw(picture)
    height, width = image.shape[:2]
    size = max(12, round(min(height, width) / 22))
    font = ImageFont.truetype(str(cjk_font_path()), size=size)
    line = max(2, size // 8)
    for plate in plates:
        x1, y1, x2, y2 = plate.box
        colour = BOX_COLOURS.get(plate.colour, BOX_COLOURS["other"])
        pen.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        label = f"{plate.text or '?'} {plate.confidence:.2f}"
        left, top, right, bottom = pen.textbbox((0, 0), label, font=font)
        w, h = right - left, bottom - top
        tx = min(max(0.0, x1), max(0.0, width - w - 4))
        ty = y1 - h - 6 if y1 - h - 6 >= 0 else y1 + line  # above the box, else inside it
        pen.rectangle((tx, ty, tx + w + 4, ty + h + 6), fill=(0, 0, 0))
        ink = UNSURE if plate.confidence < UNSURE_BELOW else (255, 255, 255)
        pen.text((tx + 2 - left, ty + 3 - top), label, font=font, fill=ink)
    return np.asarray(picture)


def save_drawing(image: np.ndarray, plates, path) -> Path:
    """Draw ``plates`` on ``image`` and write it as a PNG (any Unicode path); returns the path."""
    from minilpr.data.imageio import imwrite

    path = Path(path)
    imwrite(path, draw_plates(image, plates))
    return path
