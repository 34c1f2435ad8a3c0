"""The light over a whole scene and the camera that took it.

* ``photometric`` -- global brightness, contrast and gamma (sometimes dusk), blur and noise;
* ``photographic`` -- the camera effects of ``SceneConfig`` beyond it: haze, a windscreen's
  reflection, motion blur, a colour cast;
* ``flash`` -- a night shot lit by the camera's flash: bright near the plate, dark beyond;
* ``match_brightness`` -- a pasted plate brought to the brightness real plates have.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from minilpr.data.colour import tone_table

if TYPE_CHECKING:
    from minilpr.data.scenes import SceneConfig


def photometric(image: np.ndarray, rng: np.random.Generator, config: SceneConfig) -> np.ndarray:
    """Global brightness, contrast and gamma (sometimes dusk), sometimes a little blur, then
    Gaussian noise."""
    gamma, contrast = rng.uniform(0.7, 1.4), rng.uniform(0.75, 1.2)
    brightness = rng.uniform(-0.12, 0.12) * 255.0
    gain = noise_gain = 1.0
    if rng.random() < config.low_light_probability:
        gain = rng.uniform(0.25, 0.55)
        noise_gain = 2.0
    out = cv2.LUT(image, tone_table(contrast, brightness, gamma, gain))  # one table look-up
    if rng.random() < config.blur_probability:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    # luminance noise, the same on the three channels (a third of the cost of colour noise)
    noise = rng.standard_normal((*out.shape[:2], 1), np.float32) \
        * (rng.uniform(0, config.noise) * noise_gain)
    return np.clip(out + noise + 0.5, 0, 255).astype(np.uint8)


def photographic(image: np.ndarray, rng: np.random.Generator, config: SceneConfig) -> np.ndarray:
    """The camera effects ``photometric`` lacks, each with its ``config`` probability: haze
    (the picture pulled towards a pale grey), a windscreen's reflection (soft bright bands and
    blobs screened over everything), motion blur (a line kernel, 3-13 px at any angle) and a
    colour cast (`colour_cast`).

    Returns
    -------
    image : (H, W, 3) uint8 RGB, a new array when anything was applied
    """
    height, width = image.shape[:2]
    out = image
    if rng.random() < config.haze_probability:
        veil = np.clip(rng.uniform(150, 225) + rng.normal(0, 8, 3), 0, 255).astype(np.float32)
        amount = rng.uniform(0.15, 0.55)
        out = np.clip(out * (1 - amount) + veil * amount + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < config.glass_probability:
        small_h, small_w = max(4, height // 8), max(4, width // 8)
        light = np.zeros((small_h, small_w), np.float32)
        for _ in range(rng.integers(1, 4)):
            x = rng.uniform(0, small_w)
            slope, thick = rng.uniform(-1.5, 1.5), rng.uniform(1, small_w / 3)
            points = np.array([[x, 0], [x + thick, 0], [x + thick + slope * small_h, small_h],
                               [x + slope * small_h, small_h]], np.int32)
            cv2.fillPoly(light, [points], float(rng.uniform(0.3, 1.0)))
        for _ in range(rng.integers(0, 4)):
            centre = (int(rng.integers(small_w)), int(rng.integers(small_h)))
            cv2.circle(light, centre, int(rng.integers(1, max(2, small_w // 4))),
                       float(rng.uniform(0.3, 1.0)), -1)
        light = cv2.GaussianBlur(light, (0, 0), max(1.0, small_w / 12))
        light = cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR)
        strength = rng.uniform(0.15, 0.5)
        tint = np.clip(rng.uniform(200, 255) + rng.normal(0, 10, 3), 0, 255).astype(np.float32)
        screen = (light * strength)[..., None]  # (H, W, 1)
        out = np.clip(out + (tint - out) * screen + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < config.motion_blur_probability:
        length = int(rng.integers(1, 7)) * 2 + 1
        kernel = np.zeros((length, length), np.float32)
        angle = rng.uniform(0, np.pi)
        half = (length - 1) / 2
        start = (int(round(half - half * np.cos(angle))), int(round(half - half * np.sin(angle))))
        end = (int(round(half + half * np.cos(angle))), int(round(half + half * np.sin(angle))))
        cv2.line(kernel, start, end, 1.0, 1)
        out = cv2.filter2D(out, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    if rng.random() < config.colour_cast_probability:
        out = colour_cast(out, rng)
    return out


# Channel gains (R, G, B) of the casts `colour_cast` draws from, each range (low, high).
# A camera's white balance is often a little off; at night many traffic and phone cameras
# render the scene green-cyan (mercury and LED street light, IR-cut filters), and sodium lamps
# turn it orange. A quarter of the CCPD photos have mean red / green below 0.72.
CASTS = {
    "white balance": ((0.8, 1.2), (0.8, 1.2), (0.8, 1.2)),
    "green night": ((0.4, 0.75), (1.0, 1.0), (0.6, 1.0)),
    "sodium": ((1.0, 1.0), (0.7, 0.9), (0.35, 0.65)),
}


def colour_cast(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The picture under a colour cast: one of `CASTS` drawn, each channel scaled by a gain
    from its range. Plate colours shift with everything else, as they do in a photo.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB

    Returns
    -------
    (H, W, 3) uint8 RGB, a new array
    """
    ranges = list(CASTS.values())[rng.integers(len(CASTS))]
    gains = np.array([rng.uniform(low, high) for low, high in ranges], np.float32)
    return np.clip(image * gains + 0.5, 0, 255).astype(np.uint8)


def flash(image: np.ndarray, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """The picture as a night photo lit by the camera's own flash: the light falls off with
    the distance from a point near the plates (the flash lights what is close), from full at
    that point to 0.08-0.3 of it far away, as a Gaussian of 0.25-0.6 of the picture's diagonal.

    Several of the real CCPD misses are such photos: a bright car front or back, its plate,
    and a black street. `match_brightness`, applied after, sets the plates' level.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    mask : (H, W) uint8
        Non-zero on plate pixels; the light centres on them (on the picture without any).

    Returns
    -------
    (H, W, 3) uint8 RGB, a new array
    """
    height, width = image.shape[:2]
    ys, xs = np.nonzero(mask)
    cx, cy = (xs.mean(), ys.mean()) if len(xs) else (width / 2, height / 2)
    diagonal = float(np.hypot(height, width))
    cx += rng.normal(0, 0.05) * diagonal
    cy += rng.normal(0, 0.05) * diagonal
    reach = rng.uniform(0.25, 0.6) * diagonal
    far = rng.uniform(0.08, 0.3)
    y, x = np.ogrid[:height, :width]
    falloff = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * reach ** 2)).astype(np.float32)
    gain = far + (1 - far) * falloff  # (H, W)
    return np.clip(image * gain[..., None] + 0.5, 0, 255).astype(np.uint8)


def match_brightness(image: np.ndarray, mask: np.ndarray, target: float) -> np.ndarray:
    """Scale the whole picture's light so that the plates (``mask > 0``) have mean level
    ``target`` (0 .. 255), the gain kept within 0.3 .. 2.5; highlights clip as an over-exposed
    camera's do.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    mask : (H, W) uint8
        Non-zero on plate pixels (``SceneSample.mask``).
    """
    plate = mask > 0
    if not plate.any():
        return image
    level = float(image[plate].mean())
    gain = float(np.clip(target / max(level, 1.0), 0.3, 2.5))
    return cv2.LUT(image, tone_table(gain=gain))
