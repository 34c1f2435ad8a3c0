"""The colour numbers the plate and scene painters share, each written once.

* ``GRAY_WEIGHTS`` and ``gray_level`` -- RGB to gray, the ITU-R BT.601 luma weights that
  ``cv2.COLOR_RGB2GRAY`` uses (images are RGB in minilpr);
* ``KIND_MIX`` and ``check_kind_mix`` -- how often each plate colour (``charset.KINDS``) is seen
  on the road, and the check on a mix given instead;
* ``CAR_COLOURS``, ``CAR_COLOUR_WEIGHTS`` and ``car_paint`` -- car paint and how common each is;
* ``tone_table`` -- contrast, brightness, gamma and a gain as one 256-entry lookup table, so that
  a picture's light costs one ``cv2.LUT`` pass.
"""

from __future__ import annotations

import numpy as np

from minilpr.data.charset import KINDS

GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])   # gray = 0.299 R + 0.587 G + 0.114 B
_GRAY_TUPLE = tuple(GRAY_WEIGHTS.tolist())


def gray_level(colour) -> float:
    """The gray value of one RGB ``colour`` (three numbers), in Python floats.

    For one colour, plain floats are several times cheaper than a NumPy dot product.
    """
    red, green, blue = colour
    return red * _GRAY_TUPLE[0] + green * _GRAY_TUPLE[1] + blue * _GRAY_TUPLE[2]


# relative frequency of each plate colour: blue (private cars) 55 %, yellow (large vehicles,
# coaches, trailers) 15 %, green (new energy) 20 %, white (police) 5 %, black (Hong Kong/Macau) 5 %
KIND_MIX = {"blue": 0.55, "yellow": 0.15, "green": 0.2, "white": 0.05, "black": 0.05}


def check_kind_mix(kinds: dict, where: str) -> dict:
    """``kinds`` if it maps plate colours to usable weights, else a one-line ValueError.

    Parameters
    ----------
    kinds : dict
        Plate colour (some of ``charset.KINDS``) -> non-negative weight; the weights need not
        sum to 1 but must not all be 0.
    where : str
        What the message names, e.g. ``"SceneConfig: kind_weights"``.
    """
    if (set(kinds) - set(KINDS) or not kinds or min(kinds.values()) < 0
            or sum(kinds.values()) <= 0):
        raise ValueError(f"{where} must map some of {KINDS} to non-negative weights with a "
                         f"positive sum, got {kinds}")
    return kinds


# car paint (RGB) and how often it appears on the road
CAR_COLOURS = np.array([(235, 235, 232), (170, 172, 176), (35, 36, 40), (120, 122, 126),
                        (165, 30, 30), (30, 60, 140), (30, 70, 50), (200, 170, 110),
                        (110, 40, 40), (215, 200, 60)], np.float32)
CAR_COLOUR_WEIGHTS = np.array([0.25, 0.17, 0.17, 0.12, 0.07, 0.08, 0.04, 0.04, 0.03, 0.03])


def car_paint(rng: np.random.Generator) -> np.ndarray:
    """(3,) float32 RGB: one of ``CAR_COLOURS``, as often as ``CAR_COLOUR_WEIGHTS`` says."""
    return CAR_COLOURS[rng.choice(len(CAR_COLOURS), p=CAR_COLOUR_WEIGHTS)]


LEVELS = np.arange(256, dtype=np.float64)   # the input levels of a tone table


def tone_table(contrast: float = 1.0, brightness: float = 0.0, gamma: float = 1.0,
               gain: float = 1.0) -> np.ndarray:
    """A 256-entry lookup table for level ``x``: contrast about mid-grey, brightness, gamma, gain.

    ``v = clip(contrast · (x − 128) + 128 + brightness, 0, 255)``, then
    ``out = round(255 · (v / 255) ** gamma · gain)``, clipped to 0 .. 255. With the first three
    at their identity values only the gain is applied (no rounding from a needless power).

    Parameters
    ----------
    contrast : float
        Multiplies the distance from mid-grey (below 1 flattens the picture).
    brightness : float
        Added, on 0 .. 255.
    gamma : float
        Above 1 darkens the mid-tones, below 1 lightens them.
    gain : float
        Multiplies the result (below 1: less light, as at dusk).

    Returns
    -------
    table : (256,) uint8
        For ``cv2.LUT(image, table)``.
    """
    # Few, in-place operations, and ndarray.clip rather than np.clip (half the call overhead):
    # on 256 numbers the cost is in the calls, not in the arithmetic.
    values = LEVELS.copy()
    if (contrast, brightness, gamma) != (1.0, 0.0, 1.0):
        values *= contrast
        values += 128.0 * (1.0 - contrast) + brightness
        values.clip(0, 255, out=values)
        values *= 1 / 255
        values **= gamma
        values *= 255.0
    values *= gain
    values += 0.5
    return values.clip(0, 255, out=values).astype(np.uint8)
