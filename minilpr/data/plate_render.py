"""Clean Chinese licence plates, flat and frontal, drawn at their real proportions.

``render_plate(text, kind)`` draws one plate at ``px_per_mm`` pixels per millimetre (1.0 gives
440×140 for a blue plate) and returns the character boxes. The scene generator pastes these into
car images with known corners; ``minilpr.data.synth.PlateGenerator`` poses and degrades them into
recogniser crops.

Geometry of the plates (millimetres; GA 36-2007 and GA 36-2018)::

    blue / yellow / white / black   440 × 140, 7 characters of 45 × 90, 12 apart,
                                     34 between the 2nd and the 3rd with a dot of Ø10 in the gap
    green (new energy)               480 × 140, 8 characters of 43 × 90, 9 apart,
                                     49 between the 2nd and the 3rd
    two-row (render_plate rows=2)    440 × 220, province and letter 80 × 60 above,
                                     the five serial characters 65 × 110 below

Speed comes from caching: the glyph masks (``minilpr.data.glyphs``) and the plate backgrounds
are made once; a plate is then one alpha blend of cached masks (all characters at once) onto a
cached background.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from minilpr.data.charset import KINDS, plate_type, validate_plate
from minilpr.data.colour import GRAY_WEIGHTS, gray_level
from minilpr.data.glyphs import Typeface, glyph_mask


@dataclass(frozen=True)
class PlateLayout:
    """Where things sit on a plate, in millimetres from its top-left corner.

    ``boxes`` are the character slots ``x0, y0, x1, y1``; ``dot`` is the separator between the
    issuing-office part and the serial (centre x, centre y, diameter); ``rivets`` the centres of
    the two screw heads. Build one with ``single_row`` or ``double_row``.
    """

    width: float
    height: float
    boxes: tuple[tuple[float, float, float, float], ...]
    dot: tuple[float, float, float]
    rivets: tuple[tuple[float, float], ...]
    border_inset: float = 3.0
    border_width: float = 2.0
    corner_radius: float = 9.0

    @property
    def n_chars(self) -> int:
        return len(self.boxes)

    def char_boxes(self) -> np.ndarray:
        """(n_chars, 4) float64 boxes ``x0, y0, x1, y1`` of the character slots, in mm."""
        return np.array(self.boxes, np.float64)


def single_row(width: float, n_chars: int, char_width: float, gap: float,
               separator_gap: float, dot_diameter: float, char_height: float = 90.0,
               height: float = 140.0) -> PlateLayout:
    """A one-row plate: two characters, a wider gap with the dot, the rest; centred."""
    used = n_chars * char_width + (n_chars - 2) * gap + separator_gap
    left, top = (width - used) / 2, (height - char_height) / 2
    x0 = left + np.arange(n_chars) * (char_width + gap)
    x0[2:] += separator_gap - gap
    boxes = tuple((x, top, x + char_width, top + char_height) for x in x0.tolist())
    dot_x = (boxes[1][2] + boxes[2][0]) / 2
    rivets = ((dot_x, top / 2), ((boxes[-2][2] + boxes[-1][0]) / 2, top / 2))
    return PlateLayout(width, height, boxes, (dot_x, height / 2, dot_diameter), rivets)


def double_row(width: float = 440.0, height: float = 220.0) -> PlateLayout:
    """The two-row plate of large vehicles' rear and of trailers (approximate dimensions).

    Upper row: province and letter, 80 × 60 mm, 40 mm apart with the dot between them; lower
    row: the five serial characters, 65 × 110 mm, 15 mm apart.
    """
    upper_w, upper_h, upper_gap, upper_top = 80.0, 60.0, 40.0, 15.0
    lower_w, lower_h, lower_gap, lower_top = 65.0, 110.0, 15.0, 95.0
    left = (width - 2 * upper_w - upper_gap) / 2
    boxes = [(left, upper_top, left + upper_w, upper_top + upper_h),
             (left + upper_w + upper_gap, upper_top, left + 2 * upper_w + upper_gap,
              upper_top + upper_h)]
    left = (width - 5 * lower_w - 4 * lower_gap) / 2
    for i in range(5):
        x = left + i * (lower_w + lower_gap)
        boxes.append((x, lower_top, x + lower_w, lower_top + lower_h))
    rivets = ((0.15 * width, upper_top + upper_h / 2), (0.85 * width, upper_top + upper_h / 2))
    return PlateLayout(width, height, tuple(boxes), (width / 2, upper_top + upper_h / 2, 10.0),
                       rivets)


SINGLE_ROW = single_row(440, 7, char_width=45, gap=12, separator_gap=34, dot_diameter=10)
NEW_ENERGY = single_row(480, 8, char_width=43, gap=9, separator_gap=49, dot_diameter=6)
DOUBLE_ROW = double_row()


def plate_layout(text: str, rows: int = 1) -> PlateLayout:
    """The layout for ``text``: 8 characters are a new-energy plate; ``rows=2`` the two-row
    plate (7-character numbers only)."""
    if rows == 2:
        if len(text) != 7:
            raise ValueError(f"double-row plates carry 7 characters, not {text!r}")
        return DOUBLE_ROW
    if rows != 1:
        raise ValueError(f"rows must be 1 or 2, got {rows!r}")
    return NEW_ENERGY if len(text) == 8 else SINGLE_ROW


@dataclass(frozen=True)
class PlateStyle:
    """Colours (RGB) of one plate kind; ``top``/``bottom`` make a vertical gradient."""

    top: tuple[int, int, int]
    bottom: tuple[int, int, int]
    text: tuple[int, int, int]
    border: tuple[int, int, int]
    left_band: tuple[int, int, int] | None = None


STYLES = {
    "blue": PlateStyle((35, 105, 225), (25, 92, 212), (245, 245, 245), (235, 235, 235)),
    "yellow": PlateStyle((250, 195, 30), (240, 180, 20), (15, 15, 15), (20, 20, 20)),
    "green": PlateStyle((225, 245, 225), (60, 190, 100), (15, 15, 15), (40, 40, 40)),
    "green_large": PlateStyle((225, 245, 225), (60, 190, 100), (15, 15, 15), (40, 40, 40),
                              left_band=(245, 190, 25)),
    "white": PlateStyle((245, 245, 245), (235, 235, 235), (15, 15, 15), (20, 20, 20)),
    "black": PlateStyle((20, 20, 20), (12, 12, 12), (245, 245, 245), (235, 235, 235)),
}
POLICE_RED = (205, 20, 25)
LUMA = GRAY_WEIGHTS   # RGB -> gray weights, as cv2.COLOR_RGB2GRAY (kept under its old name)


def style_name(text: str, kind: str) -> str:
    """The ``STYLES`` key for ``text`` on a plate of colour ``kind`` (large new-energy plates
    are yellow on the left and green on the right)."""
    if kind == "green" and plate_type(text) == "new_energy_large":
        return "green_large"
    return kind


_TYPE_KIND = {"standard": "blue", "new_energy_small": "green", "new_energy_large": "green",
              "coach": "yellow", "trailer": "yellow", "police": "white", "hong_kong": "black",
              "macau": "black"}


def default_kind(text: str) -> str:
    """The colour a plate number is printed in when nobody says otherwise (blue for the
    standard format, which yellow plates share)."""
    return _TYPE_KIND[plate_type(text)]


def _check_text_kind(text: str, kind: str) -> None:
    problem = validate_plate(text)
    if problem is not None:
        raise ValueError(f"render_plate: {text!r} is not a valid plate number: {problem}")
    if kind not in KINDS:
        raise ValueError(f"render_plate: kind must be one of {KINDS}, got {kind!r}")
    eight = len(text) == 8
    if eight != (kind == "green"):
        raise ValueError(f"render_plate: {text!r} has {len(text)} characters; "
                         f"{'only green' if eight else 'green'} plates "
                         f"{'have' if eight else 'need'} 8")


_MASKS: dict[tuple[str, int, int, float, str, int], np.ndarray] = {}   # see _compose
_CLASSIC = Typeface.classic()


def _scales(px_per_mm) -> tuple[float, float]:
    sx, sy = (px_per_mm, px_per_mm) if np.isscalar(px_per_mm) else px_per_mm
    if sx <= 0 or sy <= 0:
        raise ValueError(f"px_per_mm must be positive, got {px_per_mm!r}")
    return float(sx), float(sy)


@lru_cache(maxsize=64)
def _background(style: str, layout: PlateLayout, sx: float, sy: float,
                gray: bool = False) -> np.ndarray:
    """The plate without characters and rivets: colour, gradient, border line, separator dot.

    Returns (H, W, 3) uint8 RGB, or (H, W) uint8 when ``gray``; read-only;
    H = round(height·sy), W = round(width·sx).
    """
    s = STYLES[style]
    height, width = round(layout.height * sy), round(layout.width * sx)
    y_mm = (np.arange(height) + 0.5) / sy
    x_mm = (np.arange(width) + 0.5) / sx
    t = (y_mm / layout.height)[:, None, None]
    img = (1 - t) * np.array(s.top, np.float32) + t * np.array(s.bottom, np.float32)
    img = np.broadcast_to(img, (height, width, 3)).astype(np.float32)
    if s.left_band is not None:
        img[:, x_mm < layout.dot[0]] = s.left_band

    # signed distance (mm) to the rounded rectangle of the border line's centre
    inset = layout.border_inset + layout.border_width / 2
    r = layout.corner_radius
    qx = np.abs(x_mm - layout.width / 2) - (layout.width / 2 - inset - r)
    qy = np.abs(y_mm - layout.height / 2) - (layout.height / 2 - inset - r)
    qx, qy = np.meshgrid(qx, qy)  # (H, W) each
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    sdf = outside + np.minimum(np.maximum(qx, qy), 0) - r
    scale = min(sx, sy)
    line = np.clip((layout.border_width / 2 - np.abs(sdf)) * scale + 0.5, 0, 1)[..., None]
    img += (np.array(s.border, np.float32) - img) * line

    cx, cy, diameter = layout.dot
    d = np.hypot(x_mm[None, :] - cx, y_mm[:, None] - cy)  # (H, W) distance to the dot centre
    dot = np.clip((diameter / 2 - d) * scale + 0.5, 0, 1)[..., None]
    img += (np.array(s.text, np.float32) - img) * dot
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if gray:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    img.setflags(write=False)
    return img


@lru_cache(maxsize=256)
def _slot_sizes(layout: PlateLayout, sx: float, sy: float) -> tuple[tuple[int, int], ...]:
    """(width, height) in pixels of each character slot, rounded once so equal slots are equal."""
    return tuple((max(1, round((x1 - x0) * sx)), max(1, round((y1 - y0) * sy)))
                 for x0, y0, x1, y1 in layout.boxes)


def _ink(color, rng: np.random.Generator | None, gray: bool):
    """A text colour, varied a little when ``rng`` is given; its gray value when ``gray``.

    Python floats rather than NumPy: three numbers are cheaper without array overhead.
    """
    color = [float(c) for c in color]
    if rng is not None:
        gain, offset = rng.uniform(0.94, 1.06), rng.uniform(-12, 12, 3).tolist()
        color = [min(255.0, max(0.0, c * gain + o)) for c, o in zip(color, offset)]
    if gray:
        return round(gray_level(color))
    return tuple(float(round(c)) for c in color)


def render_plate(text: str, kind: str | None = None, rng: np.random.Generator | None = None,
                 px_per_mm: float | tuple[float, float] = 1.0,
                 rows: int = 1,
                 typeface: Typeface | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw a clean, frontal plate.

    Parameters
    ----------
    text : str
        A valid plate number (``charset.validate_plate``); 8 characters need ``kind="green"``.
    kind : {"blue", "yellow", "green", "white", "black"}, optional
        The plate colour; by default the one the number implies (``default_kind``).
    rng : numpy.random.Generator, optional
        When given, the plate varies a little: paint colour and fading, stroke weight, rivets
        (present or not, where), sub-millimetre character offsets. None draws the canonical plate.
    px_per_mm : float or (float, float)
        Pixels per millimetre, or (horizontal, vertical) for an anisotropic rendering.
    rows : {1, 2}
        2 draws the 440 × 220 two-row plate that large vehicles carry at the rear and trailers
        (挂) carry; 7-character numbers only.
    typeface : Typeface, optional
        The faces and weights of the characters; by default ``Typeface.classic()`` (Noto Sans
        CJK for everything). ``PlateGenerator`` draws with ``Typeface()``, the realistic mix.

    Returns
    -------
    image : (H, W, 3) uint8 RGB
        H = round(140·sy) (round(220·sy) for two rows); W = round(440·sx), or round(480·sx)
        for a green plate.
    boxes : (L, 4) float32
        The character slots ``x0, y0, x1, y1`` in pixels, one per character of ``text``.
    """
    kind = default_kind(text) if kind is None else kind
    _check_text_kind(text, kind)
    layout = plate_layout(text, rows)
    return _compose(text, kind, rng, *_scales(px_per_mm), gray=False, layout=layout,
                    typeface=typeface)


def _compose(text: str, kind: str, rng: np.random.Generator | None, sx: float, sy: float,
             gray: bool, layout: PlateLayout | None = None,
             typeface: Typeface | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``render_plate`` without the argument checks, in RGB or directly in gray.

    Drawing in gray when gray is wanted gives the same picture (every step is a per-pixel
    linear blend, and gray is a linear function of RGB) at a third of the cost.
    """
    layout = plate_layout(text) if layout is None else layout
    style = style_name(text, kind)
    background = _background(style, layout, sx, sy, gray)
    if rng is None:
        img = background.copy()
    else:
        # faded or freshly painted, with a slight colour cast: a gain and an offset per channel
        gain, offset = rng.uniform(0.85, 1.08), rng.uniform(-10, 10, 3)
        if gray:
            img = cv2.addWeighted(background, gain, background, 0.0, float(offset @ GRAY_WEIGHTS))
        else:
            table = np.arange(256.0)[:, None] * gain + offset + 0.5  # (256, 3)
            img = cv2.LUT(background, np.clip(table, 0, 255).astype(np.uint8)[:, None])

    shifts = [(0.0, 0.0)] * len(text)
    if rng is not None:
        shifts = rng.uniform(-0.8, 0.8, (len(text), 2)).tolist()  # (L, 2) x and y shift in mm
    # Python floats, one array at the end: cheaper than four NumPy calls on a (7, 4) array
    boxes = np.array([((x0 + dx) * sx, (y0 + dy) * sy, (x1 + dx) * sx, (y1 + dy) * sy)
                      for (x0, y0, x1, y1), (dx, dy) in zip(layout.boxes, shifts)],
                     np.float32)  # (L, 4) slots in pixels
    slots = _slot_sizes(layout, sx, sy)
    text_ink = _ink(STYLES[style].text, rng, gray)
    # (face, weight, shape, box) per character: glyph_mask's arguments
    styles = (_CLASSIC if typeface is None else typeface).draw(text, rng)
    # All characters in one blend: their masks are laid into one coverage map of the text band
    # and the band is blended once with an image of the ink colour. One OpenCV call instead of
    # one per character (with its ink array) saves most of the per-plate Python overhead; the
    # result is the same because the slots never overlap (gaps of 7 mm or more).
    places = [(char, max(0, round(x0)), max(0, round(y0)), slot_w, slot_h)
              for char, (x0, y0, _, _), (slot_w, slot_h) in zip(text, boxes.tolist(), slots)]
    top = min(y for _, _, y, _, _ in places)
    bottom = min(img.shape[0], max(y + slot_h for _, _, y, _, slot_h in places))
    left = min(x for _, x, _, _, _ in places)
    right = min(img.shape[1], max(x + slot_w for _, x, _, slot_w, _ in places))
    band = img[top:bottom, left:right]                      # (band_h, band_w[, 3]) a view
    coverage = np.zeros(band.shape[:2], np.float32)         # (band_h, band_w) 1 = ink
    ink = np.empty_like(band)
    ink[:] = text_ink
    for (char, x, y, slot_w, slot_h), (face, weight, shape, box) in zip(places, styles):
        key = (char, slot_w, slot_h, weight, face, shape, box)
        mask = _MASKS.get(key)
        if mask is None:   # a plain dict in front of glyph_mask's lru_cache: a cheaper lookup
            if len(_MASKS) >= 4096:   # bounded like glyph_mask's cache (scenes use many sizes)
                _MASKS.clear()
            mask = _MASKS[key] = glyph_mask(*key)[0]
        region = coverage[y - top:y - top + slot_h, x - left:x - left + slot_w]
        h, w = region.shape
        region[:] = mask[:h, :w]
        if char == "警":
            ink[y - top:y - top + h, x - left:x - left + w] = _ink(POLICE_RED, rng, gray)
    band[:] = cv2.blendLinear(band, ink, 1.0 - coverage, coverage)

    if rng is None or rng.random() < 0.85:
        _draw_rivets(img, layout, STYLES[style].border, sx, sy, rng)
    return img, boxes


def _draw_rivets(img: np.ndarray, layout: PlateLayout, color, sx: float, sy: float,
                 rng: np.random.Generator | None) -> None:
    """Two screw heads, in place: a metal disc with a darker rim, at ``layout.rivets``.

    On one-row plates they sit in the top margin above the separator and above the gap between
    the last two characters, where the mounting holes are on real plates.
    """
    dx, dy = (0.0,) * len(layout.rivets), 0.0
    if rng is not None:
        dx, dy = rng.uniform(-6, 6, len(layout.rivets)).tolist(), rng.uniform(-1.5, 1.5)
    rim, face = _rivet_colours(tuple(color), img.ndim == 2)
    # cv2.ellipse with 4 fractional bits (coordinates × 16) keeps the sub-pixel position
    axes = (max(1, round(5.0 * sx * 16)), max(1, round(5.0 * sy * 16)))
    inner = (max(1, axes[0] * 3 // 4), max(1, axes[1] * 3 // 4))
    for (x, y), shift in zip(layout.rivets, dx):
        center = (round((x + shift) * sx * 16), round((y + dy) * sy * 16))
        cv2.ellipse(img, center, axes, 0, 0, 360, rim, -1, cv2.LINE_AA, 4)
        cv2.ellipse(img, center, inner, 0, 0, 360, face, -1, cv2.LINE_AA, 4)


@lru_cache(maxsize=64)
def _rivet_colours(border: tuple[int, int, int], gray: bool) -> tuple[tuple, tuple]:
    """(rim, face) colours of a rivet on a plate with this border colour, as cv2 wants them.

    Cached: they depend only on the style, and computing them per plate was measurable.
    """
    metal = [c * 0.75 + 45 for c in border]
    if gray:
        metal = [gray_level(metal)]
    return tuple(c * 0.55 for c in metal), tuple(metal)
