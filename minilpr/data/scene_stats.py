"""Where plates sit in real photos, as a few numbers: the quantile tables the scenes draw from.

``CCPD_GEOMETRY`` holds, for each statistic, its values at the probabilities ``PROBS`` over the
91,979 annotated CCPD photos (720 × 1160, one plate each) of the shared geometry table
(``ccpd_geometry.csv``: boxes, corners, tilt, brightness, blur; no pixels, no plate texts).
A scene draws a statistic by inverting its piecewise-linear distribution function
(``draw``): the marginals are the real ones, the joint distribution is not modelled.
The numbers were derived with::

    python -c "from minilpr.data.scene_stats import fit_ccpd_geometry as f; \
print(f('/work/shared/data/real/ccpd-geometry/ccpd_geometry.csv'))"

and ``tests/data/test_scene_stats.py`` re-derives them when that file is present.

Statistics (the corners give the plate's own edges: top, bottom, left and right):

* ``width`` -- the plate's own width (mean of its top and bottom edges) over the photo's long
  side (1160 px), so that it reads directly in a square letterbox: × 416 gives pixels;
* ``centre_x``, ``centre_y`` -- the box centre over the photo's width and height;
* ``roll`` -- degrees the plate's horizontal edges turn, clockwise on screen positive, over
  the subsets shot without a turned camera (blur, db, fn: 51,710 photos);
* ``lean`` -- degrees the vertical edges turn from the vertical, bottom to the right positive,
  over the same subsets; nearly independent of ``roll`` (correlation 0.19 over all): the
  plate is a parallelogram, not a turned rectangle;
* ``roll_tilted``, ``lean_tilted`` -- the same over the rotate and tilt subsets (40,269 photos,
  turned cameras and cars at an angle); the ordinary photos (the 25 of the shared
  ``ccpd-scenes``) have no plate turned beyond 15°, these have half of them;
* ``box_width`` -- the upright box's width over the long side (what a letterbox shows);
* ``brightness`` -- CCPD's brightness score of the plate region (0 .. 255).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CCPD_GEOMETRY", "PROBS", "draw", "fit_ccpd_geometry", "quantile"]

PROBS = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)

CCPD_GEOMETRY = {
    "width": (0.0492, 0.0708, 0.0862, 0.1489, 0.194, 0.245, 0.3624, 0.4727, 0.6297),
    "centre_x": (0.0986, 0.2875, 0.3674, 0.4542, 0.5007, 0.55, 0.6562, 0.7431, 0.9056),
    "centre_y": (0.0716, 0.3069, 0.3556, 0.4289, 0.453, 0.4737, 0.5185, 0.5634, 0.9134),
    "roll": (-45.0, -29.6, -16.0, -2.1, 1.0, 5.0, 19.1, 33.3, 48.2),
    "lean": (-51.0, -30.5, -16.6, -3.5, 0.8, 7.0, 21.5, 35.1, 59.8),
    "roll_tilted": (-45.3, -35.9, -31.1, -22.4, -15.2, 21.1, 34.8, 41.4, 59.2),
    "lean_tilted": (-40.3, -30.1, -24.0, -11.3, 0.5, 9.8, 23.0, 31.6, 41.9),
    "box_width": (0.0509, 0.0733, 0.0879, 0.1491, 0.1966, 0.2491, 0.3828, 0.4966, 0.6207),
    "brightness": (5.0, 14.0, 22.0, 58.0, 92.0, 122.0, 174.0, 225.0, 242.0),
}


def quantile(table: tuple, u: np.ndarray | float) -> np.ndarray | float:
    """The value at probability ``u`` (0 .. 1) of a statistic given at ``PROBS``: linear between
    the stored quantiles."""
    return np.interp(u, PROBS, table)


def draw(rng: np.random.Generator, name: str) -> float:
    """One value of the statistic ``name`` of ``CCPD_GEOMETRY``, drawn from its real marginal."""
    return float(quantile(CCPD_GEOMETRY[name], rng.random()))


def fit_ccpd_geometry(path) -> dict:
    """The table ``CCPD_GEOMETRY`` derived from the geometry CSV at ``path`` (header first).

    Returns
    -------
    dict of name -> tuple of len(PROBS) floats (4 significant decimals; angles 0.1°).
    """
    data = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf8")
    if data.size == 0 or "rb_x" not in data.dtype.names:
        raise ValueError(f"{path}: not a CCPD geometry table (needs a header with rb_x ...)")
    width, height = 720.0, 1160.0

    def corner(name):
        return np.stack([data[name + "_x"], data[name + "_y"]], axis=1).astype(np.float64)

    rb, lb, lt, rt = corner("rb"), corner("lb"), corner("lt"), corner("rt")
    top, bottom = rt - lt, rb - lb  # (N, 2) edge vectors, left to right
    left, right = lb - lt, rb - rt  # (N, 2) edge vectors, top to bottom
    plate_w = (np.hypot(*top.T) + np.hypot(*bottom.T)) / 2
    across, down = top + bottom, left + right
    roll = np.degrees(np.arctan2(across[:, 1], across[:, 0]))
    lean = np.degrees(np.arctan2(down[:, 0], down[:, 1]))
    ordinary = np.isin(data["subset"], ("blur", "db", "fn"))
    values = {
        "width": plate_w / height,
        "centre_x": (data["x1"] + data["x2"]) / 2 / width,
        "centre_y": (data["y1"] + data["y2"]) / 2 / height,
        "roll": roll[ordinary],
        "lean": lean[ordinary],
        "roll_tilted": roll[~ordinary],
        "lean_tilted": lean[~ordinary],
        "box_width": (data["x2"] - data["x1"]) / height,
        "brightness": data["brightness"].astype(np.float64),
    }
    probs = 100 * np.asarray(PROBS)
    table = {}
    for name, v in values.items():
        digits = 4 if name in ("width", "centre_x", "centre_y", "box_width") else 1
        table[name] = tuple(round(float(q), digits) for q in np.percentile(v, probs))
    return table
