"""Synthetic Chinese licence plates augmented into recogniser crops.

The work is done in three rooms:

- ``minilpr.data.glyphs``: the plate font's glyph masks, rasterised once and cached;
- ``minilpr.data.plate_render``: ``render_plate(text, kind)`` draws one clean plate, flat and
  frontal, at its real proportions (GA 36), and returns the character boxes;
- this module: ``PlateGenerator`` draws a random number, renders it in a random ``Typeface``,
  puts it in a random pose (in-plane tilt, yaw, pitch), crops the axis-aligned box around it the
  way a detector would, leans and shifts it as real crops are (``Framing``), and degrades the
  crop (``minilpr.data.augment``) into the recogniser's input: grayscale 32×220 by default.

The public names of the first two are re-exported here, so ``from minilpr.data.synth import
render_plate`` keeps working.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import cv2
import numpy as np

from minilpr.data import augment as aug
from minilpr.data.charset import plate_type, random_plate
from minilpr.data.colour import KIND_MIX, car_paint, check_kind_mix
from minilpr.data.glyphs import FACES, STROKE_WEIGHTS, Typeface, glyph_mask, glyph_master
from minilpr.data.plate_render import (DOUBLE_ROW, LUMA, NEW_ENERGY, POLICE_RED, SINGLE_ROW,
                                       STYLES, PlateLayout, PlateStyle, _check_text_kind,
                                       _compose, default_kind, double_row, plate_layout,
                                       render_plate, single_row, style_name)

__all__ = ["DEFAULT_KINDS", "DOUBLE_ROW", "FACES", "LUMA", "NEW_ENERGY", "POLICE_RED",
           "SINGLE_ROW", "STROKE_WEIGHTS", "STYLES", "Framing", "PlateGenerator", "PlateLayout",
           "PlateSample", "PlateStyle", "Typeface", "default_kind", "double_row", "glyph_mask",
           "glyph_master", "plate_layout", "render_plate", "single_row", "style_name"]


@dataclass
class PlateSample:
    """One generated crop and everything known about it.

    ``corners`` are the plate's corners in crop pixels (top-left, top-right, bottom-right,
    bottom-left; they may lie outside the crop when the margin cut into the plate), and
    ``homography`` maps plate millimetres (``render_plate`` at ``px_per_mm=1``) to crop pixels.
    """

    image: np.ndarray          # (H, W) uint8 grayscale, or (H, W, 3) uint8 RGB
    text: str
    kind: str
    plate_type: str
    tilt_deg: float
    yaw_deg: float
    pitch_deg: float
    corners: np.ndarray        # (4, 2) float32
    homography: np.ndarray     # (3, 3) float64


@dataclass(frozen=True)
class Framing:
    """How the crop sits on the posed plate beyond the detector-style box of ``augment``.

    Measured on the real development crops (``docs/data.md``): their characters lean more than
    the pose alone makes them lean (the plate is a parallelogram in the photo, its rows level and
    its sides slanted), and the crops sit off-centre, cutting the left edge more often than the
    right. All in crop units, applied around the crop's centre after the pose.

    Parameters
    ----------
    p_shear, shear_std, max_shear : float
        Probability of a lean; its slope (horizontal pixels per vertical pixel), N(0, std)
        clipped to ± max.
    shift_x : (float, float)
        Horizontal shift of the plate in the crop, a fraction of the crop width, uniform;
        negative moves it left (the left edge cut deeper, the right margin wider).
    p_zoom_x, zoom_x : float, (float, float)
        Probability and range of a horizontal zoom, which cuts into both ends (the border, or
        part of the first and last characters when it is large).
    p_zoom_y, zoom_y : float, (float, float)
        Probability and range of a vertical zoom: a tighter crop, the characters taller in it.
    """

    p_shear: float = 0.8
    shear_std: float = 0.1
    max_shear: float = 0.3
    shift_x: tuple[float, float] = (-0.025, 0.01)
    p_zoom_x: float = 0.0
    zoom_x: tuple[float, float] = (1.0, 1.06)
    p_zoom_y: float = 0.0
    zoom_y: tuple[float, float] = (1.0, 1.12)

    def __post_init__(self):
        for name in ("p_shear", "p_zoom_x", "p_zoom_y"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"Framing: {name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("shift_x", "zoom_x", "zoom_y"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"Framing: {name} must be (low, high), got {(low, high)}")
        if self.shear_std < 0 or self.max_shear < 0 or min(self.zoom_x + self.zoom_y) <= 0:
            raise ValueError("Framing: shear_std, max_shear and the zooms must be positive")

    @classmethod
    def none(cls) -> "Framing":
        """The crop exactly as ``augment`` frames it (the first generator's framing)."""
        return cls(p_shear=0.0, shift_x=(0.0, 0.0), p_zoom_x=0.0, p_zoom_y=0.0)

    def is_none(self) -> bool:
        return self.p_shear == 0 and self.shift_x == (0.0, 0.0) and self.p_zoom_x == 0 \
            and self.p_zoom_y == 0

    def matrix(self, rng: np.random.Generator, height: float, width: float) -> tuple:
        """A random 3×3 map (nested tuples) from crop pixels to crop pixels, about the centre:
        ``x' = zoom_x · (x − W/2) + shear · (y − H/2) + W/2 + shift · W``,
        ``y' = zoom_y · (y − H/2) + H/2``."""
        shear = 0.0
        if rng.random() < self.p_shear:
            shear = min(self.max_shear, max(-self.max_shear, rng.normal(0.0, self.shear_std)))
        shift = rng.uniform(*self.shift_x) * width
        zoom = rng.uniform(*self.zoom_x) if rng.random() < self.p_zoom_x else 1.0
        zoom_y = rng.uniform(*self.zoom_y) if rng.random() < self.p_zoom_y else 1.0
        cx, cy = width / 2, height / 2
        return ((zoom, shear, cx - zoom * cx - shear * cy + shift),
                (0.0, zoom_y, cy - zoom_y * cy), (0.0, 0.0, 1.0))


DEFAULT_KINDS = KIND_MIX


class PlateGenerator:
    """Random plate crops for training the recogniser.

    Parameters
    ----------
    seed : int
        Fixes everything: the same seed gives the same crops, byte for byte.
    size : (H, W)
        Crop size; (32, 220) is the patent's recogniser input.
    color : bool
        RGB crops instead of grayscale.
    augment : AugmentConfig, optional
        The effects and their ranges; None gives clean, frontal, tight crops.
    kinds : dict, optional
        Relative frequency of each plate colour (``DEFAULT_KINDS``); a yellow plate is a
        coach (学) or trailer (挂) plate with probability ``p_special_yellow``.
    typeface : Typeface, optional
        The faces and weights of the characters: by default the realistic mix ``Typeface()``
        (GA 36 stroke font, several fonts filling the slot, bold province characters); None or
        ``Typeface.classic()`` draws everything in Noto Sans CJK as the first generator did.
    framing : Framing, optional
        Lean and off-centre framing after the pose (``Framing()``); None or ``Framing.none()``
        keeps the first generator's framing. It refines the ``crop`` effect, so it is off
        when ``augment.p_crop`` is 0 (clean crops, ``AugmentConfig.only`` of another effect).
        ``typeface=None, framing=None`` reproduces the first generator's crops byte for byte.
    """

    supersample = 2

    def __init__(self, seed: int = 0, size: tuple[int, int] = (32, 220), color: bool = False,
                 augment: aug.AugmentConfig | None = aug.AugmentConfig(),
                 kinds: dict[str, float] | None = None, p_special_yellow: float = 0.3,
                 typeface: Typeface | None = Typeface(), framing: Framing | None = Framing()):
        if len(size) != 2 or min(size) < 8:
            raise ValueError(f"PlateGenerator: size must be (H, W) of at least 8, got {size}")
        kinds = check_kind_mix(DEFAULT_KINDS if kinds is None else kinds, "PlateGenerator: kinds")
        self.size = (int(size[0]), int(size[1]))
        self.color = color
        self.augment = aug.AugmentConfig.none() if augment is None else augment
        self.kind_names = list(kinds)
        weights = np.array([kinds[k] for k in self.kind_names], np.float64)
        self.kind_cdf = np.cumsum(weights / weights.sum()).tolist()
        self.p_special_yellow = p_special_yellow
        self.typeface = None if typeface == Typeface.classic() else typeface
        # framing refines the detector-style crop: off with it (and for clean crops)
        clean = framing is None or framing.is_none() or self.augment.p_crop == 0
        self.framing = None if clean else framing
        seeds = np.random.SeedSequence(seed).spawn(2)
        self.rng = np.random.default_rng(seeds[0])
        setup = np.random.default_rng(seeds[1])
        h, w = self.size
        self.canvas_size = (h * self.supersample, w * self.supersample)
        # pixels per mm that put a frontal plate at about the canvas scale
        self.render_scale = (max(0.25, self.canvas_size[1] / 440),
                             max(0.25, self.canvas_size[0] / 140))
        # render pixels -> plate mm, and supersampled canvas -> crop pixels
        self._from_pixels = np.diag([1 / self.render_scale[0], 1 / self.render_scale[1], 1.0])
        self._down = np.diag([1 / self.supersample, 1 / self.supersample, 1.0])
        self.noise = aug.NoiseBank(setup, (max(256, 2 * h), max(1024, 2 * w)))
        self.backgrounds = [self._make_background(setup) for _ in range(12)]

    def _make_background(self, rng: np.random.Generator) -> np.ndarray:
        """A car-body texture twice the canvas size: paint, gradient, bumper and grille lines."""
        ch, cw = self.canvas_size
        h, w = 2 * ch, 2 * cw
        paint = car_paint(rng)
        t = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
        img = np.broadcast_to(paint * (1 + 0.25 * rng.uniform(-1, 1) * t), (h, w, 3)).copy()
        for _ in range(rng.integers(2, 8)):
            y = int(rng.integers(h))
            thickness = int(rng.integers(1, max(2, h // 12)))
            shade = float(rng.uniform(0.3, 1.6))
            cv2.line(img, (0, y), (w, y + int(rng.integers(-h // 8, h // 8 + 1))),
                     (paint * shade).clip(0, 255).tolist(), thickness)
        img += rng.normal(0, 6, (h, w, 1)).astype(np.float32)
        img = np.clip(cv2.GaussianBlur(img, (0, 0), 1.5), 0, 255).astype(np.uint8)
        return img if self.color else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)

    def _draw_kind(self) -> tuple[str, str | None]:
        index = bisect.bisect_right(self.kind_cdf, self.rng.random())  # list: no NumPy call
        kind = self.kind_names[min(index, len(self.kind_names) - 1)]
        special = None
        if kind == "yellow" and self.rng.random() < self.p_special_yellow:
            special = "学挂"[self.rng.integers(2)]
        return kind, special

    def _canvas(self) -> np.ndarray:
        ch, cw = self.canvas_size
        bg = self.backgrounds[self.rng.integers(len(self.backgrounds))]
        y = int(self.rng.integers(bg.shape[0] - ch + 1))
        x = int(self.rng.integers(bg.shape[1] - cw + 1))
        return bg[y:y + ch, x:x + cw].copy()

    def sample(self, text: str | None = None, kind: str | None = None) -> PlateSample:
        """One crop; a random plate unless ``text`` (and optionally ``kind``) is given."""
        rng, cfg = self.rng, self.augment
        if text is None:
            kind, special = self._draw_kind() if kind is None else (kind, None)
            text = random_plate(rng, kind, special=special)
        else:
            kind = default_kind(text) if kind is None else kind
            _check_text_kind(text, kind)
        plate, _ = _compose(text, kind, rng, *self.render_scale, gray=not self.color,
                            typeface=self.typeface)
        if rng.random() < cfg.p_dirt:
            aug.add_dirt(plate, rng, cfg)
        if rng.random() < cfg.p_occlusion:
            aug.add_occlusion(plate, rng, cfg)
        layout = plate_layout(text)
        geometry = aug.sample_geometry(rng, cfg, layout.width, layout.height, self.canvas_size)
        homography, corners = geometry.homography, geometry.corners
        if self.framing is not None:
            (a, b, c), (_, d, e), _ = frame = self.framing.matrix(rng, *self.canvas_size)
            homography = np.array(frame) @ homography
            corners = np.array([(a * x + b * y + c, d * y + e)        # an affine map: no divide
                                for x, y in corners.tolist()], np.float32)
        from_pixels = homography @ self._from_pixels
        canvas = self._canvas()
        cv2.warpPerspective(plate, from_pixels, self.canvas_size[::-1], dst=canvas,
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
        crop = cv2.resize(canvas, self.size[::-1], interpolation=cv2.INTER_AREA)
        crop = aug.photometric(crop, rng, cfg, self.noise)
        return PlateSample(image=crop, text=text, kind=kind, plate_type=plate_type(text),
                           tilt_deg=geometry.tilt_deg, yaw_deg=geometry.yaw_deg,
                           pitch_deg=geometry.pitch_deg,
                           corners=(corners / self.supersample).astype(np.float32),
                           homography=self._down @ homography)

    def batch(self, n: int) -> tuple[np.ndarray, list[str]]:
        """``n`` crops ready for the recogniser.

        Returns
        -------
        images : (N, C, H, W) float32 in [0, 1]
            C = 1 for grayscale, 3 for colour.
        texts : list of N str
        """
        h, w = self.size
        pixels = np.empty((n, h, w, 3) if self.color else (n, h, w), np.uint8)
        texts = []
        for i in range(n):
            s = self.sample()
            pixels[i] = s.image
            texts.append(s.text)
        images = pixels.transpose(0, 3, 1, 2) if self.color else pixels[:, None]  # (N, C, H, W)
        return np.multiply(images, np.float32(1 / 255), dtype=np.float32), texts
