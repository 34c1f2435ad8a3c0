"""A plate typeface drawn from strokes, after the letters and digits of GA 36.

The standard draws every letter and digit in a 45 × 90 mm box with one uniform stroke of about
10 mm, and every character fills its box: a 0 is as wide as an M, and a 1 is a plain bar. Here a
glyph is a few strokes — polylines and elliptic arcs — along the centre line of the ink, in
coordinates of the box shrunk by half a stroke on every side::

    (0, 0) ──────── (1, 0)        u to the right, v downwards; a round part of the full
      │                │          width has the horizontal radius 1/2 and the vertical
      │                │          radius R = (box width − stroke) / (2 · (box height − stroke)),
    (0, 1) ──────── (1, 1)        so it is a true half-circle whatever the stroke.

Drawing the centre lines with a pen of the stroke's width then puts the ink exactly on the box's
edges. ``stroke_glyph(char, stroke_mm)`` rasterises one glyph with OpenCV's anti-aliased
polylines; ``minilpr.data.glyphs`` caches it and fits it to the plate's slots like a font glyph.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

BOX_MM = (45.0, 90.0)            # (width, height) of a character's box on a one-row plate
PX_PER_MM = 4.0                  # the resolution glyphs are drawn at before the cache resizes them
STROKE_MM = (8.0, 9.0, 10.0, 11.0)   # stroke widths the generator picks from; GA 36 draws ~10


def arc(cu: float, cv: float, ru: float, rv: float, start: float, end: float,
        n: int = 20) -> list[tuple[float, float]]:
    """Points on an ellipse from angle ``start`` to ``end`` (degrees; 0 points right, 90 down)."""
    angles = np.radians(np.linspace(start, end, n))
    return list(zip((cu + ru * np.cos(angles)).tolist(), (cv + rv * np.sin(angles)).tolist()))


def _stadium(r: float) -> list:
    """A 0: two half-circles joined by straight sides, closed."""
    return [arc(0.5, r, 0.5, r, 180, 360) + arc(0.5, 1 - r, 0.5, r, 0, 180) + [(0.0, r)]]


def _bowl(top: float, bottom: float, right: float = 1.0) -> list[tuple[float, float]]:
    """The right-hand bowl of B, P, R: from the stem at ``top`` round to the stem at ``bottom``."""
    rv, ru = (bottom - top) / 2, 0.45
    return [(0.0, top), (right - ru, top)] + arc(right - ru, top + rv, ru, rv, -90, 90) \
        + [(0.0, bottom)]


def _strokes(char: str, r: float) -> list[list[tuple[float, float]]]:
    """The centre lines of ``char`` as a list of polylines; ``r`` is the round's vertical radius.

    Every glyph reaches all four sides of the unit box (the test suite checks it), so with the
    pen's half-width around it the ink fills the character's box as the standard draws it.
    """
    low = arc(0.5, 1 - r, 0.5, r, 0, 180)     # the bottom half-circle, right to left
    glyphs = {
        "0": _stadium(r),
        "1": [[(0.5, 0.0), (0.5, 1.0)]],
        "2": [arc(0.5, r, 0.5, r, 180, 380) + [(0.0, 1.0), (1.0, 1.0)]],
        "3": [[(0.0, 0.0), (1.0, 0.0), (0.42, 0.42), (0.5, 0.42)]
              + arc(0.5, 0.71, 0.5, 0.29, -90, 150)],
        "4": [[(0.74, 1.0), (0.74, 0.0), (0.0, 0.7), (1.0, 0.7)]],
        "5": [[(0.95, 0.0), (0.06, 0.0), (0.02, 0.44), (0.5, 0.41)]
              + arc(0.5, 0.705, 0.5, 0.295, -90, 150)],
        "6": [arc(0.5, 0.7, 0.5, 0.3, 0, 360),
              [(0.0, 0.7), (0.0, r)] + arc(0.5, r, 0.5, r, 180, 325)],
        "7": [[(0.0, 0.0), (1.0, 0.0), (1.0, 0.1), (0.36, 1.0)]],
        "8": [arc(0.5, 0.235, 0.44, 0.235, 0, 360), arc(0.5, 0.735, 0.5, 0.265, 0, 360)],
        "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.2, 0.64), (0.8, 0.64)]],
        "B": [[(0.0, 0.0), (0.0, 1.0)], _bowl(0.0, 0.47, right=0.92), _bowl(0.47, 1.0)],
        "C": [arc(0.5, r, 0.5, r, 360, 180) + arc(0.5, 1 - r, 0.5, r, 180, 0)],
        "D": [[(0.0, 1.0), (0.0, 0.0), (0.5, 0.0)] + arc(0.5, r, 0.5, r, -90, 0)
              + arc(0.5, 1 - r, 0.5, r, 0, 90) + [(0.0, 1.0)]],
        "E": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], [(0.0, 0.48), (0.85, 0.48)]],
        "F": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.48), (0.85, 0.48)]],
        "G": [arc(0.5, r, 0.5, r, 360, 180) + arc(0.5, 1 - r, 0.5, r, 180, 0)
              + [(1.0, 0.54), (0.55, 0.54)]],
        "H": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (1.0, 1.0)], [(0.0, 0.48), (1.0, 0.48)]],
        "J": [[(1.0, 0.0)] + arc(0.5, 1 - r, 0.5, r, 0, 180)],
        "K": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (0.0, 0.64)], [(0.32, 0.44), (1.0, 1.0)]],
        "L": [[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]],
        "M": [[(0.0, 1.0), (0.0, 0.0), (0.5, 0.72), (1.0, 0.0), (1.0, 1.0)]],
        "N": [[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]],
        "P": [[(0.0, 1.0), (0.0, 0.0)], _bowl(0.0, 0.54)],
        "Q": _stadium(r) + [[(0.58, 0.74), (1.0, 1.0)]],
        "R": [[(0.0, 1.0), (0.0, 0.0)], _bowl(0.0, 0.52), [(0.45, 0.52), (1.0, 1.0)]],
        "S": [arc(0.5, 0.25, 0.5, 0.25, 335, 90) + arc(0.5, 0.75, 0.5, 0.25, 270, 515)],
        "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
        "U": [[(0.0, 0.0)] + low[::-1] + [(1.0, 0.0)]],
        "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
        "W": [[(0.0, 0.0), (0.22, 1.0), (0.5, 0.3), (0.78, 1.0), (1.0, 0.0)]],
        "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
        "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
        "Z": [[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]],
    }
    glyphs["9"] = [[(1 - u, 1 - v) for u, v in line] for line in glyphs["6"]]   # 6 turned over
    if char not in glyphs:
        raise ValueError(f"the stroke font has no glyph for {char!r}; it draws "
                         f"{''.join(sorted(glyphs))}")
    return glyphs[char]


STROKE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


@lru_cache(maxsize=None)
def stroke_glyph(char: str, stroke_mm: float = 10.0,
                 box_mm: tuple[float, float] = BOX_MM) -> np.ndarray:
    """``char`` drawn with a pen ``stroke_mm`` wide in its ``box_mm`` box.

    Returns
    -------
    mask : (round(box_h · 4), round(box_w · 4)) float32 in [0, 1], read-only
        Coverage at ``PX_PER_MM`` = 4 pixels per mm; the ink touches all four edges.
    """
    width, height = box_mm
    if not 0 < stroke_mm < min(width, height) / 2:
        raise ValueError(f"stroke_mm must be in (0, {min(width, height) / 2}), got {stroke_mm}")
    inner_w, inner_h = width - stroke_mm, height - stroke_mm
    r = inner_w / (2 * inner_h)
    shape = (round(height * PX_PER_MM), round(width * PX_PER_MM))
    canvas = np.zeros(shape, np.uint8)
    half, fixed = stroke_mm / 2, 16   # cv2's 4 fractional bits: coordinates × 16
    for line in _strokes(char, r):
        points = np.array([[((half + u * inner_w) * PX_PER_MM - 0.5) * fixed,
                            ((half + v * inner_h) * PX_PER_MM - 0.5) * fixed]
                           for u, v in line]).round().astype(np.int32)  # (P, 2) pixel × 16
        cv2.polylines(canvas, [points], False, 255, max(1, round(stroke_mm * PX_PER_MM)),
                      cv2.LINE_AA, 4)
    mask = canvas.astype(np.float32) / 255.0
    mask.setflags(write=False)
    return mask
