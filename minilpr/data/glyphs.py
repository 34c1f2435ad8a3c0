"""The plate's glyphs: drawn once per face and weight, cropped, emboldened, fitted to slots.

A face draws the letters and digits (``FACES``):

- ``"noto"``: Noto Sans CJK SC as the first generator drew it: each letter or digit as wide as
  the font draws it relative to its "0", a 1 with a flag (the classic look);
- ``"stroke"``: the GA 36-style stroke font of ``minilpr.data.stroke_font``;
- ``"noto_fill"``, ``"noto_mono"``, ``"dejavu"``, ``"dejavu_bold"``, ``"dejavu_mono"``: a
  font's glyph stretched to fill the slot, as the standard draws every character; their 1 is a
  bar as heavy as the font's stem.

Province and special characters come from Noto Sans CJK SC, whose glyphs are not the plate
font's; ``Typeface(province_faces=...)`` can also draw them in Noto Serif CJK SC
(``CJK_FACES``). ``Typeface(province_shapes=K)`` can also draw them in seeded distortions of
Noto's glyph (``shape > 0``: a smooth elastic warp that moves the strokes and components, and
an ink box a little smaller than the slot), meant to teach the character rather than one
typeface's drawing of it; ``Typeface(province_boxes=K)`` draws the font's own glyph in one of
K seeded ink boxes narrower and shorter than the slot (``PROVINCE_BOX``). Measured, neither
helped real plates, so both are off by default (docs/data.md). Every font glyph is drawn once
with Pillow/FreeType at size 256, cropped to its ink and thickened (``glyph_master``); each
(character, slot size, weight, face, shape, box) mask is then resized once and kept
(``glyph_mask``). A plate is an alpha blend of these cached masks
(``minilpr.data.plate_render``). ``Typeface`` says which faces, weights and shapes a generated
plate is drawn with.
"""

from __future__ import annotations

import bisect
import zlib
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from minilpr.data.charset import PROVINCES, SPECIALS
from minilpr.data.fonts import cjk_font_path, face_path
from minilpr.data.stroke_font import STROKE_MM, stroke_glyph

FONT_FACES = ("noto_fill", "noto_mono", "dejavu", "dejavu_bold", "dejavu_mono")
FACES = ("noto", "stroke") + FONT_FACES
# The faces that draw the Chinese characters (``Typeface.province_faces``): Noto Sans CJK, and
# Noto Serif CJK (a Song face, also OFL, inside mplfonts) for a second drawing of each.
CJK_FACES = ("noto", "noto_serif")
_FILE_OF = {"noto": "noto", "noto_fill": "noto"}   # faces that share a font file
# glyphs a face draws unlike a plate, and the glyph drawn instead: DejaVu Sans Mono's zero is
# dotted, its O is the plain oval plates show (plates never carry the letter O)
_SUBSTITUTES = {"dejavu_mono": {"0": "O"}}
# DejaVu Sans Bold is bold already: thickened like the regular faces it would be a block
_THICKENING = {"dejavu_bold": 0.25}


@lru_cache(maxsize=None)
def _font(face: str = "noto"):
    from PIL import ImageFont

    path = cjk_font_path() if _FILE_OF.get(face, face) == "noto" else face_path(face)
    return ImageFont.truetype(str(path), size=256)


# Stroke thickening, as a dilation radius in fractions of the glyph height: 0 is Noto Sans CJK
# Regular, 0.03 a bold plate. Real plates vary with the font revision, wear and the camera, so
# the generator draws one per plate; the last one is the canonical plate's (rng=None).
STROKE_WEIGHTS = (0.005, 0.015, 0.03)
# The same for the province characters of the realistic mix, drawn apart from the letters' and
# spread around the ink measured in the real crops' province slots (docs/data.md).
PROVINCE_WEIGHTS = (0.005, 0.01, 0.02, 0.03, 0.04)
# The most drawings of each Chinese character a Typeface can draw from: shape 0 is the font's
# own glyph, shapes 1 .. PROVINCE_SHAPES - 1 are seeded warps of it (``warped_master``).
PROVINCE_SHAPES = 8
# The warps' size, in fractions of the glyph height at font size 256: the displacement field is
# white noise smoothed by a Gaussian of WARP_SMOOTHNESS and scaled to a largest shift of
# WARP_SHIFT, so whole strokes and components move (a radical a little wider, a stroke a little
# lower), as two typefaces' drawings of one character differ; the ink box then shrinks to
# INK_BOX of the slot, across and down.
WARP_SMOOTHNESS = 0.12
WARP_SHIFT = 0.05
INK_BOX = ((0.82, 1.0), (0.9, 1.0))
# The ink boxes of the font's own Chinese glyph (no warp) that ``Typeface(province_boxes=K)``
# draws from, as (across, down) ranges in fractions of the slot: box 0 fills the slot, boxes
# 1 .. PROVINCE_BOXES - 1 are seeded draws from these ranges. Plates from other font revisions,
# and crops whose province slot the camera saw narrower, draw the character in a smaller box
# than Noto's glyph stretched over the slot; a model that saw only the full slot reads a 皖
# drawn 0.75 of the slot wide as 赣 or 桂 (docs/data.md).
PROVINCE_BOX = ((0.75, 1.0), (0.85, 1.0))
PROVINCE_BOXES = 8


@lru_cache(maxsize=None)
def glyph_master(char: str, weight: float = STROKE_WEIGHTS[-1], face: str = "noto") -> np.ndarray:
    """The ink of ``char`` at font size 256, cropped to its bounding box and emboldened.

    Parameters
    ----------
    weight : float
        Dilation radius as a fraction of the glyph height (``STROKE_WEIGHTS``); a negative
        weight erodes by that fraction instead, for strokes lighter than the font's regular
        weight (``PROVINCE_WEIGHTS``); for ``face="stroke"`` the pen's width in mm
        (``stroke_font.STROKE_MM``).
    face : str
        One of ``FACES``, or of ``CJK_FACES`` for a Chinese character.

    Returns
    -------
    mask : (h, w) float32 in [0, 1]
        Coverage (1 = ink), dilated (eroded for a negative ``weight``) by ``weight`` times the
        glyph height: plate letters have heavier strokes than the font's regular weight. For
        the fill faces a 1 is a bar of the font's stem width in a box of the slot's
        proportions; for ``"stroke"`` every glyph is its whole 45 × 90 box.
    """
    from PIL import Image, ImageDraw

    if face == "stroke":
        return stroke_glyph(char, float(weight))
    if face not in FACES + CJK_FACES:
        raise ValueError(f"face must be one of {FACES + CJK_FACES}, got {face!r}")
    font = _font(face)
    canvas = Image.new("L", (384, 384), 0)
    drawn = _SUBSTITUTES.get(face, {}).get(char, char)
    ImageDraw.Draw(canvas).text((64, 32), drawn, font=font, fill=255)
    mask = np.asarray(canvas, dtype=np.float32) / 255.0
    rows, cols = np.nonzero(mask > 0.02)
    if rows.size == 0:
        raise ValueError(f"the font draws nothing for {char!r}")
    mask = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    if char == "1" and face == "noto":
        mask = _cut_foot(mask)
    if weight < 0:
        mask = _thinned(mask, round(mask.shape[0] * -weight))
    else:
        radius = max(1, round(mask.shape[0] * weight * _THICKENING.get(face, 1.0)))
        mask = cv2.dilate(np.pad(mask, radius), _disc(radius))
    return _bar_like_stem(mask) if char == "1" and face != "noto" else mask


# A small cache: the warped masters are many (characters × weights × shapes, 240 kB each) and
# each is needed only until glyph_mask has fitted it to the slot sizes in use.
@lru_cache(maxsize=64)
def warped_master(char: str, weight: float, shape: int) -> np.ndarray:
    """Noto's ``glyph_master(char, weight)`` bent by a smooth random displacement field,
    seeded by ``(char, shape)``: the same warp on every call and in every process.

    The field (dx, dy) is white noise smoothed by a Gaussian of ``WARP_SMOOTHNESS`` times the
    glyph height, so neighbouring pixels move together and strokes stay strokes; it is scaled
    so that its largest shift is ``WARP_SHIFT`` of the height. The ink is then cropped again
    (``glyph_mask`` stretches it back over its box).

    Parameters
    ----------
    shape : int
        1 .. ``PROVINCE_SHAPES - 1``.

    Returns
    -------
    warped : (h', w') float32 in [0, 1]
    """
    if not 0 < shape < PROVINCE_SHAPES:
        raise ValueError(f"shape must be in 0 .. {PROVINCE_SHAPES - 1}, got {shape}")
    rng = _shape_rng(char, shape)
    master = glyph_master(char, weight)
    pad = round(WARP_SHIFT * master.shape[0]) + 1    # room for ink pushed over the edge
    padded = np.pad(master, pad)
    h, w = padded.shape
    sigma = WARP_SMOOTHNESS * master.shape[0]
    field = [cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
             for _ in range(2)]                                  # dx, dy: (h, w) each
    largest = max(float(np.abs(f).max()) for f in field)
    dx, dy = (f * (WARP_SHIFT * master.shape[0] / largest) for f in field)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(padded, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR)
    rows, cols = np.nonzero(warped > 0.02)
    return warped[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _shape_rng(char: str, shape: int, *part: int) -> np.random.Generator:
    """The generator of ``char``'s shape ``shape``: its warp, or with ``part`` 1 its ink box.

    Seeded by crc32, not hash(): Python salts str hashes per process, and a shape must be the
    same in every process and every run.
    """
    return np.random.default_rng([zlib.crc32(char.encode()), shape, *part])


def _ink_box(char: str, shape: int, box: int = 0) -> tuple[float, float]:
    """The fractions (across, down) of the slot that the ink of shape ``shape`` fills: for a
    warp a seeded box of ``INK_BOX``; for the font's own glyph (1, 1), or with ``box`` > 0 a
    seeded box of ``PROVINCE_BOX``. Seeded like ``warped_master``: a shape or a box always has
    the same size."""
    if shape:
        rng, ((x_lo, x_hi), (y_lo, y_hi)) = _shape_rng(char, shape, 1), INK_BOX
    elif box:
        rng, ((x_lo, x_hi), (y_lo, y_hi)) = _shape_rng(char, box, 2), PROVINCE_BOX
    else:
        return 1.0, 1.0
    return float(rng.uniform(x_lo, x_hi)), float(rng.uniform(y_lo, y_hi))


def _thinned(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` eroded by an ellipse of ``radius`` pixels: strokes thinner than the font's.

    Raises ValueError when the erosion would leave less than half the ink, since that is no
    longer the character but its skeleton's fragments.
    """
    thin = cv2.erode(mask, _disc(radius))
    if thin.sum() < 0.5 * mask.sum():
        raise ValueError(f"a thinning of {radius} px leaves less than half of the glyph's ink")
    return thin


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


def _bar_like_stem(one: np.ndarray) -> np.ndarray:
    """A plain bar as wide as the stem of a font's 1, centred in a 45 × 90 box of its height.

    The plate's 1 is a bar; a font's 1 stretched to fill the slot would be a block. The bar is
    at most 0.12 of the height (11 mm of 90; GA 36 draws about 10): a bold face's stem is not.
    """
    h = one.shape[0]
    stem = int((one[int(0.6 * h)] > 0.5).sum())       # ink columns of the stem, below the flag
    stem = min(stem, round(0.12 * h))
    width = max(stem + 2, round(h * 45 / 90))
    bar = np.zeros((h, width), np.float32)
    x0 = (width - stem) // 2
    bar[:, x0:x0 + stem] = 1.0
    return bar


@lru_cache(maxsize=4096)
def glyph_mask(char: str, width: int, height: int, weight: float = STROKE_WEIGHTS[-1],
               face: str = "noto", shape: int = 0, box: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``char`` fitted into a ``height × width`` pixel slot, as the plate font places it.

    Every plate character has the same slot (45 × 90 mm). Chinese characters fill it (always in
    Noto Sans CJK). For ``face="noto"`` letters and digits fill its height, and their width is
    the slot's times their own width relative to the font's "0", capped at the slot: wide
    letters are squeezed, a narrow 1 stays narrow and centred. Every other face fills the slot,
    as GA 36 draws the characters (its 1 is a bar in the middle of the slot).

    Parameters
    ----------
    weight : float
        See ``glyph_master``: a dilation fraction, or for ``face="stroke"`` a pen width in mm.
    face : str
        One of ``FACES`` for letters and digits, of ``CJK_FACES`` for Chinese characters.
    shape : int
        For a Chinese character, 0 for Noto's glyph filling the slot, or one of its warps
        (``warped_master``), whose ink fills a centred box of ``_ink_box`` of the slot.
    box : int
        For a Chinese character in the font's own glyph (``shape`` 0): 0 fills the slot,
        1 .. ``PROVINCE_BOXES - 1`` a centred box of ``PROVINCE_BOX`` seeded by (char, box).

    Returns
    -------
    mask, inverse : (height, width) float32 in [0, 1], read-only (shared through the cache)
        The coverage and one minus it (the two weights of a blend).
    """
    cjk = _is_cjk(char)
    if cjk and face not in CJK_FACES:
        raise ValueError(f"Chinese characters are drawn in a face of {CJK_FACES}, not {face!r}")
    if not cjk and face in CJK_FACES and face != "noto":
        raise ValueError(f"face {face!r} draws Chinese characters only, not {char!r}")
    if (shape or box) and not cjk:
        raise ValueError(f"only Chinese characters have warped shapes or ink boxes, not {char!r}")
    if shape and face != "noto":
        raise ValueError(f"the warped shapes are of Noto Sans CJK's glyphs, not {face!r}'s")
    if not 0 <= box < PROVINCE_BOXES:
        raise ValueError(f"box must be in 0 .. {PROVINCE_BOXES - 1}, got {box}")
    master = warped_master(char, weight, shape) if shape else glyph_master(char, weight, face)
    h, w = master.shape
    ink_height = height
    if cjk:
        across, down = _ink_box(char, shape, box)
        ink_width = max(1, round(width * across))
        ink_height = max(1, round(height * down))
    elif face != "noto":
        ink_width = width
    else:
        zero_h, zero_w = glyph_master("0", weight).shape
        relative = (w / h) / (zero_w / zero_h)
        ink_width = max(1, min(width, round(width * relative)))
    fitted = cv2.resize(master, (ink_width, ink_height), interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width), np.float32)
    x0, y0 = (width - ink_width) // 2, (height - ink_height) // 2
    out[y0:y0 + ink_height, x0:x0 + ink_width] = fitted
    inverse = 1.0 - out
    out.setflags(write=False)
    inverse.setflags(write=False)
    return out, inverse



@dataclass(frozen=True)
class Typeface:
    """Which faces and weights draw a generated plate's characters.

    Parameters
    ----------
    faces : tuple of (face, relative frequency)
        The faces of the letters and digits (``FACES``); one is drawn per plate.
    p_mixed : float
        Probability that a plate draws a face per character instead (worn, repainted or
        replaced characters; and a model that must not learn a face per position).
    font_weights : tuple of float
        Dilation fractions for the font faces, one drawn per plate.
    stroke_mm : tuple of float
        Pen widths (mm) for the ``"stroke"`` face, one drawn per plate.
    province_weights : tuple of float
        Dilation fractions for the Chinese characters, one drawn per plate; empty means the
        letters' ``font_weights`` draw (the classic generator).
    province_shapes : int
        How many drawings of each Chinese character the plates draw from, one per plate,
        uniformly: 1 (the default) is Noto's glyph only, more adds its warps, up to
        ``PROVINCE_SHAPES``. The warps did not help real plates (docs/data.md), so they are
        off; with 1 the plates draw exactly the random numbers they drew before warps existed.
    province_boxes : int
        How many ink boxes the font's own Chinese glyph is drawn in, one per plate, uniformly:
        1 (the default) fills the slot; more adds seeded boxes of ``PROVINCE_BOX`` (narrower
        and shorter), up to ``PROVINCE_BOXES``. A warped shape keeps its own box. With 1 the
        plates draw exactly the random numbers they drew before boxes existed.
    province_faces : tuple of (face, relative frequency)
        The faces of the Chinese characters (``CJK_FACES``), one drawn per plate; a plate whose
        province is not in Noto keeps the font's own glyph (shape 0). With one face (the
        default, Noto) no number is drawn for it.

    ``Typeface()`` is the realistic mix; ``Typeface.classic()`` the first generator's look
    (Noto for everything, one weight per plate), drawing the same random numbers it did.
    """

    faces: tuple[tuple[str, float], ...] = (("stroke", 0.4), ("noto_fill", 0.15),
                                            ("dejavu_mono", 0.15), ("noto_mono", 0.1),
                                            ("dejavu", 0.1), ("dejavu_bold", 0.1))
    p_mixed: float = 0.1
    font_weights: tuple[float, ...] = STROKE_WEIGHTS
    stroke_mm: tuple[float, ...] = STROKE_MM
    province_weights: tuple[float, ...] = PROVINCE_WEIGHTS
    province_shapes: int = 1
    province_boxes: int = 1
    province_faces: tuple[tuple[str, float], ...] = (("noto", 1.0),)

    @classmethod
    def classic(cls) -> "Typeface":
        """Noto Sans CJK for every character, one weight per plate: the first generator."""
        return cls(faces=(("noto", 1.0),), p_mixed=0.0, province_weights=())

    def __post_init__(self):
        cdf, total = _mix("faces", self.faces, FACES)
        if not 0 <= self.p_mixed <= 1:
            raise ValueError(f"Typeface: p_mixed must be in [0, 1], got {self.p_mixed}")
        if not self.font_weights or not self.stroke_mm:
            raise ValueError("Typeface: font_weights and stroke_mm need at least one value")
        if not 1 <= self.province_shapes <= PROVINCE_SHAPES:
            raise ValueError(f"Typeface: province_shapes must be in 1 .. {PROVINCE_SHAPES}, "
                             f"got {self.province_shapes}")
        if not 1 <= self.province_boxes <= PROVINCE_BOXES:
            raise ValueError(f"Typeface: province_boxes must be in 1 .. {PROVINCE_BOXES}, "
                             f"got {self.province_boxes}")
        # derived once (a frozen dataclass sets them through object.__setattr__)
        object.__setattr__(self, "_mixes", {"faces": (cdf, total),
                                            "province_faces": _mix("province_faces",
                                                                   self.province_faces,
                                                                   CJK_FACES)})
        classic = [f for f, _ in self.faces] == ["noto"] and not self.province_weights
        object.__setattr__(self, "_classic", classic)

    def _face(self, u: float, field: str = "faces") -> str:
        """The face of the mix ``field`` ("faces" or "province_faces") at the uniform draw
        ``u`` in [0, 1)."""
        cdf, total = self._mixes[field]
        faces = getattr(self, field)
        return faces[min(bisect.bisect_right(cdf, u * total), len(faces) - 1)][0]

    def draw(self, text: str, rng: np.random.Generator | None) -> list[tuple[str, float, int, int]]:
        """(face, weight, shape, box) for each character of ``text`` (``glyph_mask``'s
        arguments); ``rng=None`` is the canonical plate (the first face at its heaviest font
        weight or a 10 mm pen, the boldest province in Noto's own glyph filling its slot).
        ``shape`` and ``box`` are 0 for letters and digits."""
        if rng is None:
            face = self.faces[0][0]
            weight = 10.0 if face == "stroke" else self.font_weights[-1]
            province = (self.province_weights or self.font_weights)[-1]
            return [("noto", province, 0, 0) if _is_cjk(c) else (face, weight, 0, 0)
                    for c in text]
        if self._classic:
            # the classic plate: one weight for every character, one draw (as it always was)
            weight = self.font_weights[rng.integers(len(self.font_weights))]
            return [("noto", weight, 0, 0)] * len(text)
        # one call for all the plate's draws: NumPy's per-call overhead dominates such small
        # draws; the optional ones (warps, boxes) only when asked for, so that the default
        # plates draw the numbers they always drew
        warped, boxed = self.province_shapes > 1, self.province_boxes > 1
        faced = len(self.province_faces) > 1
        extra = warped + boxed + faced
        u = rng.random(5 + extra + len(text)).tolist()
        weight = self.font_weights[int(u[0] * len(self.font_weights))]
        weights = self.province_weights or self.font_weights
        province = weights[int(u[1] * len(weights))]
        pen = self.stroke_mm[int(u[2] * len(self.stroke_mm))]
        mixed = u[3] < self.p_mixed
        face = self._face(u[4])
        cjk_face = self._face(u[5 + warped + boxed], "province_faces") if faced else "noto"
        shape = int(u[5] * self.province_shapes) if warped and cjk_face == "noto" else 0
        box = int(u[5 + warped] * self.province_boxes) if boxed and not shape else 0
        out = []
        for c, u_char in zip(text, u[5 + extra:]):
            if _is_cjk(c):
                out.append((cjk_face, province, shape, box))
                continue
            f = self._face(u_char) if mixed else face
            out.append((f, pen if f == "stroke" else weight, 0, 0))
        return out


def _mix(field: str, pairs, allowed) -> tuple[list[float], float]:
    """The cumulative frequencies and their total of a (face, relative frequency) mix; a
    ValueError naming ``field`` unless it pairs some of ``allowed`` with non-negative
    frequencies with a positive sum."""
    names = [f for f, _ in pairs]
    frequencies = [p for _, p in pairs]
    if not names or set(names) - set(allowed) or min(frequencies) < 0 or sum(frequencies) <= 0:
        raise ValueError(f"Typeface: {field} must pair some of {allowed} with non-negative "
                         f"frequencies with a positive sum, got {pairs}")
    return np.cumsum(frequencies).tolist(), sum(frequencies)


def _disc(radius: int) -> np.ndarray:
    """The elliptic structuring element of ``radius`` pixels that thickens and thins strokes."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _is_cjk(char: str) -> bool:
    return char in PROVINCES or char in SPECIALS
