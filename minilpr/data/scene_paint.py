"""What a scene is painted with: backgrounds, distractors, negatives (cars and light: re-exported).

``scenes.render_scene`` calls these in its order; none of them knows where a plate's ground truth
comes from (that is ``scenes``' business). All of them draw from the ``numpy.random.Generator``
they are given, and all work on ``(H, W, 3) uint8`` RGB images.

* ``background`` -- one of ``BACKGROUNDS``: road, brick wall, gradient, smooth noise, clutter
  (sometimes a road under the others); or, from ``STREET_BACKGROUNDS``, also building fronts
  with windows and shop boards, and traffic (parts of other cars, big and cut by the frame);
* ``draw_distractor`` -- text-like stripes, signs, rectangles and lines, fake text: things a
  locator must learn are not plates, kept out of given boxes;
* ``draw_car`` (in ``scene_cars``) -- a car seen straight from the front or the back, flat on
  its own canvas, with a silhouette and an empty plate holder; the paint from
  ``colour.CAR_COLOURS``;
* ``draw_hard_negative`` -- things that look like plates and are not: plate-coloured panels
  with a border and white or dark marks, street-name signs, shop boards, never at a plate's
  aspect;
* ``draw_occluder`` -- a pole, a leaf or mud blob, a bar over part of a plate;
* ``photometric``, ``photographic``, ``match_brightness`` (in ``scene_light``) -- the light over
  the whole scene and the camera's effects.
"""

from __future__ import annotations

import cv2
import numpy as np

from minilpr.data import charset
from minilpr.data.scene_cars import HOLDER_COLOURS, draw_car  # noqa: F401  (re-exported)
from minilpr.data.scene_light import match_brightness, photographic, photometric  # noqa: F401

BACKGROUNDS = ("road", "wall", "gradient", "noise", "clutter")
STREET_BACKGROUNDS = BACKGROUNDS + ("buildings", "traffic", "buildings", "traffic", "traffic")


def background(rng: np.random.Generator, height: int, width: int,
               kinds: tuple[str, ...] = BACKGROUNDS) -> np.ndarray:
    """A random procedural background, one of ``kinds`` (repeats weigh a kind up).

    Returns
    -------
    image : (H, W, 3) uint8 RGB
    """
    kind = kinds[rng.integers(len(kinds))]
    image = {"road": _road, "wall": _wall, "gradient": _gradient, "noise": _smooth_noise,
             "clutter": _clutter, "buildings": _buildings,
             "traffic": _traffic}[kind](rng, height, width)
    if kind != "road" and rng.random() < 0.5:
        # a road in the lower part of the picture, under whatever stands behind
        horizon = int(height * rng.uniform(0.45, 0.75))
        image[horizon:] = _road(rng, height - horizon, width)
    return image


def _gradient(rng, height, width) -> np.ndarray:
    top, bottom = rng.uniform(30, 235, (2, 3)).astype(np.float32)
    angle = rng.uniform(-0.6, 0.6)
    y = np.arange(height, dtype=np.float32)[:, None] / height  # (H, 1)
    x = np.arange(width, dtype=np.float32)[None, :] / width  # (1, W)
    t = y * np.cos(angle) + x * np.sin(angle)  # (H, W)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    image = top + (bottom - top) * t[..., None]  # (H, W, 3)
    return np.clip(image, 0, 255).astype(np.uint8)


def _smooth_noise(rng, height, width, cells: int | None = None) -> np.ndarray:
    cells = int(rng.integers(3, 12)) if cells is None else cells
    small = rng.uniform(20, 235, (cells, cells, 3)).astype(np.float32)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(image, 0, 255).astype(np.uint8)


def _road(rng, height, width) -> np.ndarray:
    grey = rng.uniform(60, 150)
    image = np.full((height, width, 3), grey, np.float32) + rng.uniform(-8, 8, 3)
    image += rng.standard_normal((height, width, 1), np.float32) * rng.uniform(3, 12)
    image = np.clip(image, 0, 255).astype(np.uint8)
    vanish = (rng.uniform(0.2, 0.8) * width, -rng.uniform(0.2, 1.0) * height)
    paint = (235, 235, 230) if rng.random() < 0.7 else (230, 190, 40)
    for _ in range(rng.integers(0, 4)):
        bottom_x = rng.uniform(-0.3, 1.3) * width
        thickness = int(rng.integers(2, max(3, width // 60)))
        start = (int(bottom_x), height)
        end = (int(vanish[0] + (bottom_x - vanish[0]) * 0.3), 0)
        cv2.line(image, start, end, paint, thickness, cv2.LINE_AA)
    return image


def _wall(rng, height, width) -> np.ndarray:
    base = rng.uniform(60, 220, 3)
    image = np.empty((height, width, 3), np.uint8)
    brick_h = int(rng.integers(8, 40))
    brick_w = int(brick_h * rng.uniform(1.5, 4.0))
    mortar = np.clip(base * rng.uniform(0.5, 1.3), 0, 255)
    image[:] = mortar.astype(np.uint8)
    for row, y in enumerate(range(0, height, brick_h)):
        shift = (brick_w // 2) * (row % 2)
        for x in range(-shift, width, brick_w):
            colour = np.clip(base + rng.normal(0, 12, 3), 0, 255).tolist()
            cv2.rectangle(image, (x + 1, y + 1), (x + brick_w - 2, y + brick_h - 2), colour, -1)
    return image


def _clutter(rng, height, width) -> np.ndarray:
    image = _smooth_noise(rng, height, width, cells=3)
    for _ in range(rng.integers(10, 30)):
        colour = rng.uniform(0, 255, 3).tolist()
        x, y = int(rng.integers(width)), int(rng.integers(height))
        size = int(rng.integers(5, max(6, width // 5)))
        shape = rng.integers(3)
        if shape == 0:
            cv2.circle(image, (x, y), size, colour, -1, cv2.LINE_AA)
        elif shape == 1:
            cv2.rectangle(image, (x, y), (x + size, y + int(size * rng.uniform(0.3, 2))),
                          colour, -1)
        else:
            points = (np.array([x, y]) + rng.integers(-size, size, (int(rng.integers(3, 7)), 2)))
            cv2.fillPoly(image, [points.astype(np.int32)], colour, cv2.LINE_AA)
    return image


def _buildings(rng, height, width) -> np.ndarray:
    """Building fronts side by side under a sky: facades with grids of windows, some shop boards
    at street level."""
    image = _gradient(rng, height, width)
    x = int(-rng.integers(0, max(2, width // 4)))
    while x < width:
        w = int(width * rng.uniform(0.2, 0.7))
        top = int(height * rng.uniform(-0.1, 0.4))
        facade = rng.uniform(70, 215, 3) * rng.uniform(0.8, 1.0)
        cv2.rectangle(image, (x, top), (x + w, height), facade.tolist(), -1)
        glass = np.clip(facade * rng.uniform(0.3, 0.7) + rng.normal(0, 10, 3), 0, 255)
        win_w = max(3, int(w * rng.uniform(0.06, 0.16)))
        win_h = max(3, int(win_w * rng.uniform(0.6, 1.8)))
        gap_x, gap_y = max(2, int(win_w * rng.uniform(0.3, 1.0))), max(2, int(win_h * 0.6))
        for wy in range(top + gap_y, height - win_h, win_h + gap_y):
            for wx in range(x + gap_x, x + w - win_w, win_w + gap_x):
                shade = np.clip(glass + rng.normal(0, 12), 0, 255).tolist()
                cv2.rectangle(image, (wx, wy), (wx + win_w, wy + win_h), shade, -1)
        if rng.random() < 0.6:
            board_y = int(height * rng.uniform(0.35, 0.75))
            _shop_board(image, rng, np.array([x + 2, board_y, x + w - 2,
                                              board_y + max(6, int(w * rng.uniform(0.1, 0.2)))]))
        x += w
    return image


def _traffic(rng, height, width) -> np.ndarray:
    """A road with parts of other cars behind: big, cut by the frame, their holders empty."""
    image = _road(rng, height, width)
    horizon = int(height * rng.uniform(0.2, 0.5))
    image[:horizon] = _buildings(rng, horizon, width) if rng.random() < 0.5 \
        else _gradient(rng, horizon, width)
    for _ in range(rng.integers(1, 4)):
        car_w = int(width * rng.uniform(0.4, 1.4))
        canvas, silhouette, _ = draw_car(rng, car_w, rear=rng.random() < 0.5)
        ch, cw = canvas.shape[:2]
        x0 = int(rng.integers(-cw // 2, width - cw // 3))
        y0 = int(rng.integers(horizon - ch // 2, max(horizon - ch // 2 + 1, height - ch // 2)))
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + cw, width), min(y0 + ch, height)
        if xb <= xa or yb <= ya:
            continue
        piece = canvas[ya - y0:yb - y0, xa - x0:xb - x0]
        alpha = silhouette[ya - y0:yb - y0, xa - x0:xb - x0, None] > 127  # (h, w, 1)
        image[ya:yb, xa:xb] = np.where(alpha, piece, image[ya:yb, xa:xb])
    return image


def _shop_board(image, rng, box) -> None:
    """A wide coloured board with large character-like marks (and sometimes Latin text)."""
    colours = [(200, 30, 30), (30, 70, 170), (235, 190, 40), (30, 130, 70), (245, 245, 240),
               (30, 30, 30)]
    board = np.clip(np.array(colours[rng.integers(len(colours))], np.float64)
                    + rng.normal(0, 12, 3), 0, 255)
    x1, y1, x2, y2 = [int(v) for v in box]
    cv2.rectangle(image, (x1, y1), (x2, y2), board.tolist(), -1)
    ink = (250, 250, 245) if board.mean() < 150 else (rng.uniform(0, 120, 3)).tolist()
    margin = max(1, (y2 - y1) // 6)
    inner = (x1 + margin, y1 + margin, x2 - margin, y2 - margin)
    if rng.random() < 0.7:
        _glyph_marks(image, rng, inner, ink)
    else:
        _fake_text(image, rng, inner, panel=False, ink=ink)


def draw_hard_negative(image: np.ndarray, rng: np.random.Generator,
                       keep_out: list[np.ndarray] | None = None) -> np.ndarray | None:
    """Draw one thing that looks like a plate and is not one into ``image`` (in place).

    A plate-coloured panel (blue, yellow, green, white, black) with a light border and a row of
    white or dark marks; a blue street-name sign with Latin text; or a shop board. Their width
    over height is 1.3-2.3 or 4.2-7: a plate's box is 2-3.3 (3.1 frontal), and a blue panel
    with a white border and seven characters at that aspect *is* a plate to any eye, so
    drawing it unlabelled would teach the locator to miss plates. Nothing is drawn where it
    would touch a ``keep_out`` box.

    Returns
    -------
    box : (4,) float64 x1, y1, x2, y2 of what was drawn (may reach past the image), or None
    """
    height, width = image.shape[:2]
    box_w = int(width * rng.uniform(0.06, 0.35))
    aspect = rng.uniform(1.3, 2.3) if rng.random() < 0.4 else rng.uniform(4.2, 7.0)
    box_h = max(6, int(box_w / aspect))
    # whole pixels, rounded away from a plate's aspect
    box_w = int(np.floor(box_h * aspect)) if aspect < 3 else int(np.ceil(box_h * aspect))
    x1 = int(rng.integers(-box_w // 4, width - box_w // 2))
    y1 = int(rng.integers(-box_h // 4, height - box_h // 2))
    box = np.array([x1, y1, x1 + box_w, y1 + box_h], np.float64)
    if keep_out and any(_overlap(box, other) for other in keep_out):
        return None
    kind = rng.integers(3)
    if kind == 0:
        panels = [(25, 70, 190), (230, 185, 30), (120, 200, 120), (235, 235, 235), (20, 20, 22)]
        panel = np.clip(np.array(panels[rng.integers(len(panels))], np.float64)
                        + rng.normal(0, 12, 3), 0, 255)
        cv2.rectangle(image, (x1, y1), (x1 + box_w, y1 + box_h), panel.tolist(), -1)
        ink = (245, 245, 245) if panel.mean() < 140 else (20, 20, 20)
        border = max(1, box_h // 14)
        cv2.rectangle(image, (x1 + border, y1 + border),
                      (x1 + box_w - border, y1 + box_h - border), ink, border)
        _glyph_marks(image, rng, (x1 + 3 * border, y1 + 3 * border, x1 + box_w - 3 * border,
                                  y1 + box_h - 3 * border), ink)
    elif kind == 1:
        cv2.rectangle(image, (x1, y1), (x1 + box_w, y1 + box_h), (25, 70, 175), -1)
        border = max(1, box_h // 12)
        cv2.rectangle(image, (x1 + border, y1 + border),
                      (x1 + box_w - border, y1 + box_h - border), (240, 240, 240), border)
        _fake_text(image, rng, (x1 + 3 * border, y1 + 3 * border, x1 + box_w - 3 * border,
                                y1 + box_h - 3 * border), panel=False, ink=(240, 240, 240))
    else:
        _shop_board(image, rng, box)
    return box


def draw_occluder(image: np.ndarray, rng: np.random.Generator, box: np.ndarray) -> None:
    """Hide part of the plate in ``box`` (x1, y1, x2, y2) under something in front of it, in
    place: a pole crossing the picture, a leaf or mud blob on an edge, or a bar (a tow hook, a
    bicycle rack); at most a fifth of the plate's width is covered."""
    x1, y1, x2, y2 = [float(v) for v in box]
    pw, ph = x2 - x1, y2 - y1
    colour = np.clip(rng.uniform(20, 200) + rng.normal(0, 15, 3), 0, 255).tolist()
    kind = rng.integers(3)
    if kind == 0:
        thick = max(1, int(pw * rng.uniform(0.05, 0.18)))
        x = int(rng.uniform(x1, x2 - thick))
        cv2.rectangle(image, (x, 0), (x + thick, image.shape[0]), colour, -1)
    elif kind == 1:
        cx = int(x1 if rng.random() < 0.5 else x2)
        cy = int(rng.uniform(y1, y2))
        axes = (max(1, int(pw * rng.uniform(0.04, 0.1))), max(1, int(ph * rng.uniform(0.2, 0.6))))
        cv2.ellipse(image, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1,
                    cv2.LINE_AA)
    else:
        thick = max(1, int(ph * rng.uniform(0.08, 0.2)))
        y = int(rng.uniform(y1, y2 - thick))
        xa = int(rng.uniform(x1, x2 - 0.2 * pw))
        cv2.rectangle(image, (xa, y), (int(xa + 0.2 * pw), y + thick), colour, -1)


def draw_distractor(image: np.ndarray, rng: np.random.Generator,
                    keep_out: list[np.ndarray] | None = None) -> None:
    """Draw one random distractor into ``image`` (in place), outside every ``keep_out`` box.

    Distractors: a text-like stripe (a band with a row of glyph-like marks), a sign (a coloured
    panel with a border and a short text), an outlined or filled rectangle or a few lines, and
    fake text (Latin letters and digits, sometimes a Chinese character) on a plain patch. A
    distractor that would touch a ``keep_out`` box (x1, y1, x2, y2) is not drawn.
    """
    height, width = image.shape[:2]
    box_w = int(width * rng.uniform(0.08, 0.4))
    box_h = max(6, int(box_w * rng.uniform(0.12, 0.7)))
    x1 = int(rng.integers(-box_w // 4, width - box_w // 2))
    y1 = int(rng.integers(-box_h // 4, height - box_h // 2))
    box = np.array([x1, y1, x1 + box_w, y1 + box_h], np.float64)
    if keep_out and any(_overlap(box, other) for other in keep_out):
        return
    kind = rng.integers(4)
    if kind == 0:
        _text_stripe(image, rng, box)
    elif kind == 1:
        _sign(image, rng, box, post=not keep_out)  # a post could cross a plate
    elif kind == 2:
        _shapes(image, rng, box)
    else:
        _fake_text(image, rng, box, panel=rng.random() < 0.5)


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _glyph_marks(image, rng, box, colour) -> None:
    """A row of character-like marks: short vertical, horizontal and curved strokes."""
    x1, y1, x2, y2 = [int(v) for v in box]
    count = int(rng.integers(3, 10))
    step = (x2 - x1) / count
    thickness = max(1, int((y2 - y1) * 0.1))
    for k in range(count):
        cx = int(x1 + (k + 0.5) * step)
        half_w, half_h = max(1, int(step * 0.3)), max(2, int((y2 - y1) * 0.35))
        cy = (y1 + y2) // 2
        for _ in range(rng.integers(1, 4)):
            stroke = rng.integers(3)
            if stroke == 0:
                dx = int(rng.integers(-half_w, half_w + 1))
                cv2.line(image, (cx + dx, cy - half_h), (cx + dx, cy + half_h), colour, thickness)
            elif stroke == 1:
                dy = int(rng.integers(-half_h, half_h + 1))
                cv2.line(image, (cx - half_w, cy + dy), (cx + half_w, cy + dy), colour, thickness)
            else:
                cv2.ellipse(image, (cx, cy), (half_w, half_h // 2 + 1), 0,
                            float(rng.uniform(0, 180)), float(rng.uniform(180, 360)), colour,
                            thickness)


def _text_stripe(image, rng, box) -> None:
    band = rng.uniform(0, 255, 3)
    ink = (255 - band + rng.normal(0, 20, 3)).clip(0, 255)
    x1, y1, x2, y2 = [int(v) for v in box]
    y2 = y1 + max(6, (y2 - y1) // 2)
    cv2.rectangle(image, (x1, y1), (x2, y2), band.tolist(), -1)
    _glyph_marks(image, rng, (x1 + 2, y1 + 1, x2 - 2, y2 - 1), ink.tolist())


def _sign(image, rng, box, post: bool = True) -> None:
    colours = [(30, 80, 170), (25, 120, 60), (190, 35, 35), (240, 240, 235), (235, 190, 40),
               (40, 40, 40)]
    panel = np.array(colours[rng.integers(len(colours))], np.float64) + rng.normal(0, 10, 3)
    x1, y1, x2, y2 = [int(v) for v in box]
    cv2.rectangle(image, (x1, y1), (x2, y2), panel.clip(0, 255).tolist(), -1)
    ink = (245, 245, 245) if panel.mean() < 140 else (20, 20, 20)
    border = max(1, (y2 - y1) // 12)
    cv2.rectangle(image, (x1 + border, y1 + border), (x2 - border, y2 - border), ink, border)
    if rng.random() < 0.5:
        _glyph_marks(image, rng, (x1 + 3 * border, y1 + 3 * border, x2 - 3 * border,
                                  y2 - 3 * border), ink)
    else:
        _fake_text(image, rng, (x1 + 3 * border, y1 + 3 * border, x2 - 3 * border,
                                y2 - 3 * border), panel=False, ink=ink)
    if post and rng.random() < 0.5:  # a post under the sign
        post_x = (x1 + x2) // 2
        cv2.line(image, (post_x, y2), (post_x, image.shape[0]), (90, 90, 95),
                 max(2, (x2 - x1) // 25))


def _shapes(image, rng, box) -> None:
    x1, y1, x2, y2 = [int(v) for v in box]
    colour = rng.uniform(0, 255, 3).tolist()
    if rng.random() < 0.5:
        thickness = -1 if rng.random() < 0.5 else int(rng.integers(1, 4))
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness)
    else:
        for _ in range(rng.integers(2, 6)):
            y = int(rng.integers(y1, y2 + 1))
            cv2.line(image, (x1, y), (x2, y + int(rng.integers(-3, 4))), colour,
                     int(rng.integers(1, 3)), cv2.LINE_AA)


def _fake_text(image, rng, box, panel: bool, ink=None) -> None:
    """Latin letters and digits (and sometimes a province character) fitted into ``box``."""
    x1, y1, x2, y2 = [int(v) for v in box]
    if x2 - x1 < 8 or y2 - y1 < 6:
        return
    if panel:
        cv2.rectangle(image, (x1, y1), (x2, y2), rng.uniform(0, 255, 3).tolist(), -1)
    if ink is None:
        mean = image[max(y1, 0):max(y2, 1), max(x1, 0):max(x2, 1)].mean() \
            if x2 > 0 and y2 > 0 else 128
        ink = (20, 20, 20) if mean > 128 else (235, 235, 235)
    alphabet = charset.LETTERS + charset.DIGITS + list("IO-:")
    text = "".join(alphabet[i] for i in rng.integers(len(alphabet), size=rng.integers(2, 9)))
    font = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN][
        rng.integers(3)]
    (text_w, text_h), _ = cv2.getTextSize(text, font, 1.0, 2)
    scale = min((x2 - x1) / text_w, (y2 - y1) / max(text_h, 1)) * 0.9
    thickness = max(1, int(round(scale * 1.5)))
    cv2.putText(image, text, (x1 + 1, y2 - max(1, (y2 - y1) // 6)), font, scale, ink,
                thickness, cv2.LINE_AA)
