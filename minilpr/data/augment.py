"""Augmentations that turn a clean rendered plate into a crop that looks photographed.

Everything draws from one ``numpy.random.Generator`` passed in, so a seed fixes the output byte
for byte. Each effect has a probability (0 switches it off) and a documented range in
``AugmentConfig``; ``AugmentConfig.none()`` is the clean crop and ``AugmentConfig.only(name)``
switches on a single effect at probability 1 (for looking at one effect at a time).

The order follows the light from the plate to the file:

1. on the plate: dirt, partial occlusion (they tilt with it);
2. geometry: a 3-D pose (in-plane tilt, yaw, pitch) seen by a pinhole camera (``camera``), then
   the axis-aligned box a detector would cut around the plate, with jittered margins, resized to
   the output size (``sample_geometry``);
3. light: brightness / contrast / gamma, low light, shadow;
4. optics and sensor: motion blur, Gaussian blur, noise;
5. the camera's file: JPEG compression;
6. the crop's storage: lost resolution (shrunk and grown back), which also smooths the noise
   and the JPEG blocks, as in real crops cut from a photo and stored small (94 × 24).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import cv2
import numpy as np

from minilpr.data.camera import apply_homography, matmul3, pose_homography, pose_rows, project
from minilpr.data.colour import tone_table

__all__ = ["EFFECTS", "AugmentConfig", "Geometry", "sample_geometry", "add_dirt", "add_occlusion",
           "add_shadow", "light_table", "downscale", "motion_blur", "gaussian_blur", "jpeg",
           "NoiseBank", "photometric", "pose_homography", "apply_homography"]

EFFECTS = ("dirt", "occlusion", "tilt", "perspective", "crop", "shadow", "light", "low_light",
           "motion_blur", "gaussian_blur", "noise", "jpeg", "downscale")


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of every effect. Angles in degrees, sizes at the output scale.

    A pose angle is drawn from a normal distribution of the given standard deviation and clipped
    to ± its maximum, so near-frontal plates are common (as in traffic photos) and the extremes
    still occur. Set a probability to 0 to switch that effect off.
    """

    p_tilt: float = 0.8
    tilt_std_deg: float = 6.0        # in-plane rotation ("tilt"), N(0, std) clipped
    max_tilt_deg: float = 30.0
    p_perspective: float = 0.7
    yaw_std_deg: float = 12.0        # turn about the plate's vertical axis
    max_yaw_deg: float = 30.0
    pitch_std_deg: float = 8.0       # turn about its horizontal axis
    max_pitch_deg: float = 30.0
    camera_distance: float = 3.0     # pinhole camera distance, in plate widths
    p_crop: float = 1.0
    # Crop margins, per side, as a fraction of the plate's box. Negative cuts into the plate:
    # real crops (CCPD boxes resized to 94 × 24) are tight and often cut the plate's top or
    # bottom edge, so the characters fill about 0.7 of the crop height (0.64 on an uncut plate).
    margin_x: tuple[float, float] = (-0.02, 0.05)   # per side, fraction of the box width
    margin_y: tuple[float, float] = (-0.12, 0.04)   # per side, fraction of the box height
    # A share of the crops cut instead along a detector's box: each side off by a normal error
    # (mean, std), clipped to margin_limit. Measured for the shipped locator on synthetic
    # 1160 × 720 scenes (IoU 0.78 median): per side std 0.065 of the width, 0.105 of the height;
    # the means add the pipeline's margin. 0 keeps every crop tight, as real dev crops are.
    p_detector_box: float = 0.0
    detector_margin_x: tuple[float, float] = (0.03, 0.065)
    detector_margin_y: tuple[float, float] = (0.02, 0.105)
    margin_limit: tuple[float, float] = (-0.15, 0.3)
    p_dirt: float = 0.25
    dirt_spots: tuple[int, int] = (1, 6)
    dirt_opacity: tuple[float, float] = (0.15, 0.55)
    p_occlusion: float = 0.1
    occlusion_max: float = 0.08      # fraction of the plate width (side) or height (top/bottom)
    p_shadow: float = 0.25
    shadow_strength: tuple[float, float] = (0.25, 0.65)   # darkening of the shaded part
    p_light: float = 0.9
    brightness: tuple[float, float] = (-40.0, 40.0)       # added, on 0..255
    contrast: tuple[float, float] = (0.6, 1.2)            # multiplied around mid-grey
    gamma: tuple[float, float] = (0.7, 1.5)
    p_low_light: float = 0.08
    low_light_gain: tuple[float, float] = (0.25, 0.5)     # image scaled by this, noise doubled
    p_downscale: float = 0.6
    downscale: tuple[float, float] = (1.2, 2.8)           # horizontal shrink before growing back
    # the vertical shrink's excess over 1, as a fraction of the horizontal one's: a 94 × 24 crop
    # resized to 220 × 32 lost 2.3× across but only 1.3× down (ratio 0.25)
    downscale_y_ratio: tuple[float, float] = (0.2, 1.0)
    p_motion_blur: float = 0.15
    motion_length: tuple[int, int] = (3, 7)               # pixels
    p_gaussian_blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.0)          # pixels
    p_noise: float = 0.7
    noise_sigma: tuple[float, float] = (2.0, 10.0)        # on 0..255
    p_jpeg: float = 0.5
    jpeg_quality: tuple[int, int] = (25, 95)

    @classmethod
    def none(cls) -> "AugmentConfig":
        """Every effect off: the plate frontal, tightly cropped, clean."""
        off = {f.name: 0.0 for f in fields(cls) if f.name.startswith("p_")}
        return cls(**off, margin_x=(0.0, 0.0), margin_y=(0.0, 0.0))

    @classmethod
    def only(cls, effect: str) -> "AugmentConfig":
        """Just ``effect`` (one of ``EFFECTS``), at probability 1, over its full range."""
        if effect not in EFFECTS:
            raise ValueError(f"AugmentConfig.only: unknown effect {effect!r}; one of {EFFECTS}")
        clean = cls.none()
        if effect == "crop":
            return replace(clean, p_crop=1.0, margin_x=cls.margin_x, margin_y=cls.margin_y)
        return replace(clean, **{f"p_{effect}": 1.0})


@dataclass(frozen=True)
class Geometry:
    """Where the plate went: its pose and the map from plate millimetres to output pixels.

    ``homography`` maps homogeneous plate coordinates in mm (x right, y down from the plate's
    top-left corner) to output pixels; ``corners`` are the plate's four corners in output pixels,
    top-left, top-right, bottom-right, bottom-left. ``tilt_deg > 0`` turns the plate
    counter-clockwise on screen; ``yaw_deg > 0`` moves its right edge away from the camera;
    ``pitch_deg > 0`` moves its bottom edge away.
    """

    tilt_deg: float
    yaw_deg: float
    pitch_deg: float
    homography: np.ndarray   # (3, 3) float64
    corners: np.ndarray      # (4, 2) float32


def _clipped_normal(rng, std: float, limit: float) -> float:
    return float(min(limit, max(-limit, rng.normal(0.0, std))))


def sample_geometry(rng: np.random.Generator, cfg: AugmentConfig, width_mm: float,
                    height_mm: float, out_size: tuple[int, int]) -> Geometry:
    """Draw a pose and a crop box; return the map from plate mm to an ``out_size`` crop.

    Parameters
    ----------
    out_size : (H, W)
        The crop's size in pixels (the box is stretched to it, as a recogniser's resize does).
    """
    tilt = _clipped_normal(rng, cfg.tilt_std_deg, cfg.max_tilt_deg) \
        if rng.random() < cfg.p_tilt else 0.0
    yaw = pitch = 0.0
    if rng.random() < cfg.p_perspective:
        yaw = _clipped_normal(rng, cfg.yaw_std_deg, cfg.max_yaw_deg)
        pitch = _clipped_normal(rng, cfg.pitch_std_deg, cfg.max_pitch_deg)
    # plain Python floats for the 3×3 maths: a dozen tiny NumPy calls cost more than the sums
    pose = pose_rows(width_mm, height_mm, tilt, yaw, pitch, cfg.camera_distance)
    plate_corners = ((0.0, 0.0), (width_mm, 0.0), (width_mm, height_mm), (0.0, height_mm))
    seen = [project(pose, x, y) for x, y in plate_corners]
    x0, x1 = min(x for x, _ in seen), max(x for x, _ in seen)
    y0, y1 = min(y for _, y in seen), max(y for _, y in seen)
    if rng.random() < cfg.p_crop:
        # (a draw only when the share is on: without it the stream is the one it always was)
        if cfg.p_detector_box > 0 and rng.random() < cfg.p_detector_box:
            low, high = cfg.margin_limit
            left, right = (np.clip(rng.normal(*cfg.detector_margin_x, 2), low, high)
                           * (x1 - x0)).tolist()
            top, bottom = (np.clip(rng.normal(*cfg.detector_margin_y, 2), low, high)
                           * (y1 - y0)).tolist()
        else:
            left, right = (rng.uniform(*cfg.margin_x, 2) * (x1 - x0)).tolist()
            top, bottom = (rng.uniform(*cfg.margin_y, 2) * (y1 - y0)).tolist()
        x0, x1, y0, y1 = x0 - left, x1 + right, y0 - top, y1 + bottom
    out_h, out_w = out_size
    to_crop = ((out_w / (x1 - x0), 0.0, -x0 * out_w / (x1 - x0)),
               (0.0, out_h / (y1 - y0), -y0 * out_h / (y1 - y0)),
               (0.0, 0.0, 1.0))
    homography = matmul3(to_crop, pose)
    corners = np.array([project(homography, x, y) for x, y in plate_corners], np.float32)
    return Geometry(tilt, yaw, pitch, np.array(homography), corners)


def add_dirt(plate: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> None:
    """Mud and grime, in place: a few soft brownish or dark ellipses on the plate."""
    h, w = plate.shape[:2]
    overlay = plate.copy()
    # each parameter drawn for all spots in one call: a handful of calls instead of seven a spot
    n = int(rng.integers(cfg.dirt_spots[0], cfg.dirt_spots[1] + 1))
    xs, ys = rng.integers(w, size=n).tolist(), rng.integers(h, size=n).tolist()
    half_widths = (rng.uniform(0.02, 0.12, n) * w).astype(int).tolist()
    half_heights = (rng.uniform(0.05, 0.3, n) * h).astype(int).tolist()
    shades = rng.uniform(40, 120, n).tolist()
    greens, blues = rng.uniform(0.75, 0.95, n).tolist(), rng.uniform(0.5, 0.8, n).tolist()
    angles = rng.uniform(0, 180, n).tolist()
    for x, y, a, b, shade, green, blue, angle in zip(xs, ys, half_widths, half_heights, shades,
                                                     greens, blues, angles):
        cv2.ellipse(overlay, (x, y), (a, b), angle, 0, 360, (shade, shade * green, shade * blue),
                    -1, cv2.LINE_AA)
    alpha = rng.uniform(*cfg.dirt_opacity)
    cv2.addWeighted(overlay, alpha, plate, 1 - alpha, 0, dst=plate)


def add_occlusion(plate: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> None:
    """Something in front of the plate, in place: a bar over one edge (frame, tow hook, bumper).

    At most ``occlusion_max`` of the width (left/right) or height (top/bottom) is covered, so
    the characters stay readable and the label stays true.
    """
    h, w = plate.shape[:2]
    side = int(rng.integers(4))
    color = tuple(float(c) for c in rng.uniform(10, 90, 3))
    extent = rng.uniform(0.3, 1.0) * cfg.occlusion_max
    if side == 0:
        cv2.rectangle(plate, (0, 0), (int(extent * w), h), color, -1)
    elif side == 1:
        cv2.rectangle(plate, (w - 1 - int(extent * w), 0), (w, h), color, -1)
    elif side == 2:
        cv2.rectangle(plate, (0, 0), (w, int(extent * h * 2)), color, -1)
    else:
        cv2.rectangle(plate, (0, h - 1 - int(extent * h * 2)), (w, h), color, -1)


def add_shadow(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Darken everything on one side of a random straight edge, softened over a few pixels."""
    h, w = img.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    nx, ny = math.cos(angle), math.sin(angle)  # Python floats keep the maths in float32
    offset = rng.uniform(-0.35, 0.35) * (abs(nx) * w + abs(ny) * h)
    x = np.arange(w, dtype=np.float32) - w / 2
    y = np.arange(h, dtype=np.float32)[:, None] - h / 2
    side = np.clip((x * nx + y * ny - offset) / 2.0 + 0.5, 0, 1)  # (H, W) 0 lit .. 1 shaded
    gain = 1 - rng.uniform(*cfg.shadow_strength) * side
    return img * (gain[..., None] if img.ndim == 3 else gain)


def light_table(rng: np.random.Generator, cfg: AugmentConfig, light: bool,
                gain: float = 1.0) -> np.ndarray:
    """A 256-entry lookup table: contrast, brightness and gamma (when ``light``), then ``gain``.

    The values are drawn from ``cfg``'s ranges; ``colour.tone_table`` builds the table. One
    table lookup per pixel (``cv2.LUT``) instead of three passes of floating-point maths.

    Returns
    -------
    table : (256,) uint8
    """
    if not light:
        return tone_table(gain=gain)
    contrast = rng.uniform(*cfg.contrast)
    brightness = rng.uniform(*cfg.brightness)
    return tone_table(contrast, brightness, rng.uniform(*cfg.gamma), gain)


def downscale(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Lose resolution: shrink and grow back (a far-away plate, a small stored crop).

    The horizontal factor ``fx`` is drawn from ``cfg.downscale``; the vertical one is
    ``1 + (fx - 1) * r`` with ``r`` from ``cfg.downscale_y_ratio``, because crops are often stored
    wider than tall (94 × 24) and stretched to 220 × 32, which loses more across than down.
    """
    h, w = img.shape[:2]
    fx = rng.uniform(*cfg.downscale)
    fy = 1.0 + (fx - 1.0) * rng.uniform(*cfg.downscale_y_ratio)
    small = cv2.resize(img, (max(2, round(w / fx)), max(2, round(h / fy))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def motion_blur(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Smear along a random direction over a random length (a moving car, a slow shutter)."""
    length = int(rng.integers(cfg.motion_length[0], cfg.motion_length[1] + 1))
    kernel = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    angle = rng.uniform(0, np.pi)
    dx, dy = np.cos(angle) * c, np.sin(angle) * c
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return cv2.filter2D(img, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def gaussian_blur(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Out of focus: a Gaussian of random sigma."""
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(*cfg.blur_sigma))


def jpeg(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Round trip through JPEG at a random quality (blocks and ringing).

    ``img`` is (H, W) uint8 gray or (H, W, 3) uint8 RGB; the result has the same shape.
    """
    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
    color = img.ndim == 3
    # OpenCV's codec expects BGR; the chroma planes are only right in that order
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if color else img,
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("jpeg: OpenCV failed to encode the image")
    out = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB) if color else out


class NoiseBank:
    """A block of standard-normal noise drawn once; each image takes a random window of it.

    Drawing fresh Gaussian noise for every crop costs as much as the rest of the pipeline; a
    window at a random offset of a larger block is as good for augmentation and far cheaper.
    """

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int] = (256, 1024)):
        self.block = rng.standard_normal(shape).astype(np.float32)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Noise of ``shape`` (H, W) or (H, W, C), unit standard deviation."""
        h, w = shape[:2]
        bh, bw = self.block.shape
        if h > bh or w > bw:
            raise ValueError(f"NoiseBank: {shape} is larger than the bank {self.block.shape}")
        channels = shape[2] if len(shape) == 3 else 1
        planes = []
        for _ in range(channels):
            y, x = int(rng.integers(bh - h + 1)), int(rng.integers(bw - w + 1))
            planes.append(self.block[y:y + h, x:x + w])
        return planes[0] if len(shape) == 2 else np.stack(planes, axis=-1)


def photometric(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig,
                noise: NoiseBank) -> np.ndarray:
    """Light, optics, sensor, file and storage effects on a crop, in that order.

    The resolution is lost last: real crops are cut from a photo (already noisy and JPEG-coded)
    and stored small, so their noise and blocks are shrunk with them. Lost resolution before
    the noise would leave pixel-sharp noise that real crops at 32 × 220 do not have.

    Parameters
    ----------
    img : (H, W) or (H, W, 3) uint8
        Gray or RGB crop.
    noise : NoiseBank
        Where the Gaussian noise comes from.

    Returns
    -------
    out : (H, W) or (H, W, 3) uint8, the shape of ``img``
    """
    light = rng.random() < cfg.p_light
    low_light = rng.random() < cfg.p_low_light
    if light or low_light:
        gain = rng.uniform(*cfg.low_light_gain) if low_light else 1.0
        # a float32 table makes the lookup also the conversion to float: one pass, not two
        out = cv2.LUT(img, light_table(rng, cfg, light, gain).astype(np.float32))
    else:
        out = img.astype(np.float32)
    if rng.random() < cfg.p_shadow:
        out = add_shadow(out, rng, cfg)
    if rng.random() < cfg.p_motion_blur:
        out = motion_blur(out, rng, cfg)
    if rng.random() < cfg.p_gaussian_blur:
        out = gaussian_blur(out, rng, cfg)
    if rng.random() < cfg.p_noise or low_light:
        sigma = rng.uniform(*cfg.noise_sigma) * (2.0 if low_light else 1.0)  # high gain, more noise
        out = cv2.scaleAdd(noise.sample(rng, out.shape), sigma, out)  # one pass, no temporary
    out += 0.5
    out = out.clip(0, 255, out=out).astype(np.uint8)
    if rng.random() < cfg.p_jpeg:
        out = jpeg(out, rng, cfg)
    if rng.random() < cfg.p_downscale:
        out = downscale(out, rng, cfg)
    return out
