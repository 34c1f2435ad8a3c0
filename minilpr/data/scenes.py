"""Synthetic street scenes for the plate locator, and why their ground truth is exact.

Each car is painted flat, straight from the front (or the back), on a canvas of its own
(``scene_cars.draw_car``), and its plate is pasted into the holder: on the canvas the plate is
an axis-aligned rectangle whose four corners are known to the pixel edge. One (3, 3) homography
``H`` then takes the canvas into the scene: a pinhole pose (random yaw, pitch and roll,
``camera.pose_homography``), then a scale and a shift that put the car in its slot and the
plate inside the image (``_car_homography``, ``_fit_inside``). The pixels go through
``cv2.warpPerspective`` with ``H``; the plate's corners go through ``camera.apply_homography``
with the same ``H``. So a scene's ground truth is exact by construction (``_paste_car``):

* **corners** -- ``H`` applied to the plate's four canvas corners: top-left, top-right,
  bottom-right, bottom-left (clockwise from the top left), scene pixels;
* **box** -- the axis-aligned box around those corners, clipped to the image;
* **mask** -- the plate's canvas rectangle warped with ``H``: ``SceneSample.mask`` marks the
  pixels at least half covered by each plate, whose centres lie inside its corner polygon.

Coordinates are continuous pixel coordinates with the image spanning [0, W] × [0, H]: pixel
(row i, column j) covers [j, j + 1) × [i, i + 1), the convention of YOLO boxes. OpenCV puts
pixel centres at integers, so the warp ``cv2.warpPerspective`` is given is ``H`` shifted by half
a pixel on both sides.

``render_scene(rng)`` paints one picture in five steps (the painting is in ``scene_paint``, ``scene_cars`` and ``scene_light``):

1. a procedural background: road, wall, gradient, smooth noise or clutter; by default also
   building fronts with shop boards and traffic (parts of other cars);
2. distractors behind the cars: text-like stripes, signs, rectangles and lines, fake text, and
   hard negatives (plate-coloured panels with marks, street signs, shop boards);
3. one to ``max_plates`` cars side by side, each with its plate from ``synth.render_plate``,
   posed and pasted with its silhouette mask as above; sometimes something in front of a plate;
4. more distractors and hard negatives in front, kept away from every plate;
5. haze, a windscreen's reflection, motion blur; global light (sometimes dusk), contrast, blur
   and noise; the light scaled so that the plates have a real plate's brightness.

Where a plate sits, how wide it is, how it turns and how bright it is come by default from the
real CCPD photos (``SceneConfig.geometry="ccpd"``, the marginals in ``scene_stats``): its own
width from the real widths over the long side, its centre from the real centres (spread
wider), its horizontal edges turned by the real roll and its vertical edges by the real lean
(an affine map about the plate centre, after the pinhole pose). ``SceneConfig.classic()``
draws the first generator's scenes, byte for byte.

All randomness comes from the one ``numpy.random.Generator`` passed in: the same seed gives
byte-identical images and labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import cv2
import numpy as np

from minilpr.data import augment, charset
from minilpr.data.camera import apply_homography, pose_homography
from minilpr.data.colour import CAR_COLOUR_WEIGHTS, CAR_COLOURS, KIND_MIX, check_kind_mix
from minilpr.data.glyphs import Typeface
from minilpr.data.scene_cars import HOLDER_COLOURS, draw_car
from minilpr.data.scene_light import flash, match_brightness, photographic, photometric
from minilpr.data.scene_paint import (BACKGROUNDS, STREET_BACKGROUNDS, background, draw_distractor,
                                      draw_hard_negative, draw_occluder)
from minilpr.data.scene_stats import CCPD_GEOMETRY, draw
from minilpr.data.synth import render_plate

__all__ = [
    "PLATE_MM", "SceneConfig", "ScenePlate", "SceneSample", "render_scene",
    "BACKGROUNDS", "CAR_COLOURS", "CAR_COLOUR_WEIGHTS", "background", "draw_car",
    "draw_distractor", "LETTERBOX_FILL", "PLATE_OF_CAR",
]

# plate sizes in millimetres (width, height): 7-character plates and the wider green plate
PLATE_MM = {7: (440.0, 140.0), 8: (480.0, 140.0)}
PLATE_OF_CAR = 0.245  # a plate's width over its car's, the middle of draw_car's 0.22-0.27
LETTERBOX_FILL = 114  # the grey of the locator's letterbox (detect.boxes.LETTERBOX_FILL)

_DIRT = augment.AugmentConfig()  # the ranges of augment.add_dirt's spots


@dataclass
class ScenePlate:
    """The ground truth of one plate in a scene.

    Attributes
    ----------
    text : str
    kind : str
        Plate colour, one of ``charset.KINDS``.
    corners : (4, 2) float64
        Top-left, top-right, bottom-right, bottom-left (clockwise from the top left), pixels.
    box : (4,) float64
        x1, y1, x2, y2 around the corners, clipped to [0, W] × [0, H].
    """

    text: str
    kind: str
    corners: np.ndarray
    box: np.ndarray

    def to_dict(self) -> dict:
        return {"text": self.text, "kind": self.kind,
                "box": [round(float(v), 2) for v in self.box],
                "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in self.corners]}


@dataclass
class SceneSample:
    """A rendered scene.

    Attributes
    ----------
    image : (H, W, 3) uint8 RGB
    plates : list of ScenePlate
        Left to right.
    mask : (H, W) uint8
        0 where no plate is, m + 1 on the pixels of ``plates[m]`` (centre inside its corners).
    negatives : (K, 4) float64
        x1, y1, x2, y2 of the hard negatives drawn (things that look like plates; those behind
        the cars may be hidden by them). Never plates.
    """

    image: np.ndarray
    plates: list[ScenePlate]
    mask: np.ndarray
    negatives: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))

    @property
    def boxes(self) -> np.ndarray:
        """(M, 4) float64 x1, y1, x2, y2 of every plate."""
        return np.array([p.box for p in self.plates], np.float64).reshape(-1, 4)

    @property
    def corners(self) -> np.ndarray:
        """(M, 4, 2) float64 corners of every plate, clockwise from the top left."""
        return np.array([p.corners for p in self.plates], np.float64).reshape(-1, 4, 2)

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.plates]


def render_scene(rng: np.random.Generator, config: SceneConfig | None = None) -> SceneSample:
    """Draw one scene with 1 .. ``config.max_plates`` plates and their exact ground truth.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    config : SceneConfig, optional
        Size and content; ``SceneConfig()`` by default (416 × 416).
    """
    config = SceneConfig() if config is None else config
    height, width = config.height, config.width
    if config.letterbox_probability > 0 and rng.random() < config.letterbox_probability:
        return _letterboxed(rng, config)
    image = background(rng, height, width, config.backgrounds)
    for _ in range(rng.integers(config.distractors[0], config.distractors[1] + 1)):
        draw_distractor(image, rng)
    negatives = []
    if config.hard_negatives[1] > 0:
        for _ in range(rng.integers(config.hard_negatives[0], config.hard_negatives[1] + 1)):
            negatives.append(draw_hard_negative(image, rng))

    count = _car_count(rng, config)
    edges = np.cumsum(np.concatenate([[0.0], rng.uniform(0.8, 1.2, count)]))
    edges = edges / edges[-1] * width  # the x range of slot k is edges[k] .. edges[k + 1]
    mask = np.zeros((height, width), np.uint8)
    plates = []
    for slot in range(count):
        plate = _paste_car(image, mask, len(plates) + 1, rng, config,
                           float(edges[slot]), float(edges[slot + 1]), count)
        plates.append(plate)

    if config.occlusion_probability > 0:
        for plate in plates:
            if rng.random() < config.occlusion_probability:
                draw_occluder(image, rng, plate.box)

    keep_out = [p.box + [-4, -4, 4, 4] for p in plates]
    for _ in range(rng.integers(0, 3)):
        draw_distractor(image, rng, keep_out)
    if config.hard_negatives[1] > 0:
        for _ in range(rng.integers(0, 3)):
            negatives.append(draw_hard_negative(image, rng, keep_out))
    if max(config.haze_probability, config.glass_probability, config.motion_blur_probability,
           config.colour_cast_probability) > 0:
        image = photographic(image, rng, config)
    if config.flash_probability > 0 and rng.random() < config.flash_probability:
        image = flash(image, rng, mask)
    image = photometric(image, rng, config)
    if config.plate_brightness:
        image = match_brightness(image, mask, draw(rng, "brightness"))
    negatives = np.array([b for b in negatives if b is not None], np.float64).reshape(-1, 4)
    return SceneSample(image=image, plates=plates, mask=mask, negatives=negatives)


def _letterboxed(rng, config: SceneConfig) -> SceneSample:
    """A scene as a portrait photo looks in the locator's square letterbox: drawn 0.55-0.8 as
    wide as the picture (CCPD's 720 × 1160 is 0.62), grey bars left and right; the ground truth
    moves with it."""
    inner_w = max(64, int(round(config.width * rng.uniform(0.55, 0.8))))
    inner = render_scene(rng, replace(config, width=inner_w, letterbox_probability=0.0))
    left = (config.width - inner_w) // 2
    image = np.full((config.height, config.width, 3), LETTERBOX_FILL, np.uint8)
    image[:, left:left + inner_w] = inner.image
    mask = np.zeros((config.height, config.width), np.uint8)
    mask[:, left:left + inner_w] = inner.mask
    offset = np.array([left, 0.0])
    plates = [ScenePlate(text=p.text, kind=p.kind, corners=p.corners + offset,
                         box=p.box + np.tile(offset, 2)) for p in inner.plates]
    return SceneSample(image=image, plates=plates, mask=mask,
                       negatives=inner.negatives + np.tile(offset, 2))


def _paste_car(image, mask, label: int, rng, config: SceneConfig, x_left: float,
               x_right: float, count: int) -> ScenePlate:
    """Draw one car with its plate into ``image`` (in place) within x_left .. x_right; mark the
    plate's pixels with ``label`` in ``mask``; return the plate's ground truth."""
    height, width = image.shape[:2]
    slot_w = x_right - x_left
    real = config.geometry == "ccpd"
    if real:
        plate_target = draw(rng, "width") * max(width, height)
        target_w = plate_target / PLATE_OF_CAR
    elif count == 1:
        target_w = width * rng.uniform(*config.car_width)
    else:
        target_w = slot_w * rng.uniform(0.75, 1.0)
    # drawn at about the size it will have, so the warp neither blurs nor aliases the plate
    rear = rng.random() < config.rear_probability
    holder = _holder(rng) if config.varied_holders else None
    canvas, silhouette, (px, py, pw, ph) = draw_car(rng, int(np.clip(target_w, 96, 1600)),
                                                    rear=rear, holder=holder)

    kind = _choose_kind(rng, config)
    text = charset.random_plate(rng, kind)
    plate_mm = PLATE_MM[len(text)]
    pw = int(round(ph * plate_mm[0] / plate_mm[1]))  # green plates are wider than 7-char ones
    px = min(px, canvas.shape[1] - pw)
    plate, _ = render_plate(text, kind, rng, px_per_mm=1.3 * pw / plate_mm[0],
                            typeface=config.typeface)
    if rng.random() < config.dirt_probability:
        augment.add_dirt(plate, rng, _DIRT)
    canvas[py:py + ph, px:px + pw] = cv2.resize(plate, (pw, ph), interpolation=cv2.INTER_AREA)
    plate_corners = np.array([[px, py], [px + pw, py], [px + pw, py + ph], [px, py + ph]],
                             np.float64)

    if real:
        homography = _real_homography(rng, config, canvas.shape[:2], plate_corners,
                                      (x_left, x_right), plate_target, count)
    else:
        homography = _car_homography(rng, config, canvas.shape[:2], (x_left, x_right), target_w)
    corners = apply_homography(homography, plate_corners)
    homography = _fit_inside(homography, corners, width, height, config.min_plate_width,
                             (x_left, x_right))
    corners = apply_homography(homography, plate_corners)

    # warp only into the rectangle the car covers; a car never reaches into its neighbours'
    # slots, so it cannot hide their plates
    ch, cw = canvas.shape[:2]
    outline = apply_homography(homography, np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]],
                                                            np.float64))
    x0, y0 = np.floor(np.maximum(outline.min(axis=0), 0)).astype(int)
    x1 = int(np.ceil(min(outline[:, 0].max(), width)))
    y1 = int(np.ceil(min(outline[:, 1].max(), height)))
    if count > 1:
        x0, x1 = max(x0, int(np.floor(x_left))), min(x1, int(np.ceil(x_right)))
    # OpenCV puts pixel centres at integers, ours sit at +0.5; the ROI starts at (x0, y0)
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    unshift = np.array([[1, 0, -0.5 - x0], [0, 1, -0.5 - y0], [0, 0, 1]])
    warp = unshift @ homography @ shift
    size = (x1 - x0, y1 - y0)
    car = cv2.warpPerspective(canvas, warp, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(silhouette, warp, size, flags=cv2.INTER_LINEAR)
    blend = (alpha.astype(np.float32) / 255.0)[..., None]  # (h, w, 1)
    region = image[y0:y1, x0:x1]
    region[:] = np.clip(region * (1 - blend) + car * blend + 0.5, 0, 255).astype(np.uint8)

    # the plate's pixels: at least half covered by the warped plate (centre inside its corners)
    plate_pixels = np.zeros(canvas.shape[:2], np.float32)
    plate_pixels[py:py + ph, px:px + pw] = 1.0
    plate_alpha = cv2.warpPerspective(plate_pixels, warp, size, flags=cv2.INTER_LINEAR)
    mask[y0:y1, x0:x1][plate_alpha >= 0.5] = label

    box = np.array([corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(),
                    corners[:, 1].max()])
    box = np.clip(box, 0, [width, height, width, height])
    return ScenePlate(text=text, kind=kind, corners=corners, box=box)


def _car_homography(rng, config: SceneConfig, canvas_shape, x_range, target_w) -> np.ndarray:
    """(3, 3) map from car-canvas to scene coordinates (both with pixel edges at integers):
    a random pose, then scale and shift so the car is ``target_w`` wide inside ``x_range``."""
    ch, cw = canvas_shape
    # triangular: most cars face the camera nearly square on (CCPD's median plate box is 2.8
    # times as wide as tall, a frontal plate's 3.1), the full range still occurs
    yaw = rng.triangular(-config.max_yaw, 0.0, config.max_yaw)
    pitch = rng.uniform(-config.max_pitch, config.max_pitch / 3)
    roll = rng.triangular(-config.max_roll, 0.0, config.max_roll)
    pose = pose_homography(cw, ch, roll, yaw, pitch, camera_distance=2.5)
    outline = apply_homography(pose, np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]],
                                                      np.float64))
    left, right = outline[:, 0].min(), outline[:, 0].max()
    top, bottom = outline[:, 1].min(), outline[:, 1].max()
    slot_w = x_range[1] - x_range[0]
    scale = target_w / (right - left)
    x0 = (x_range[0] + x_range[1]) / 2 - target_w / 2 \
        + abs(slot_w - target_w) * rng.uniform(-0.4, 0.4)
    car_h = (bottom - top) * scale
    y0 = config.height * rng.uniform(0.85, 1.1) - car_h
    place = np.array([[scale, 0, x0 - left * scale], [0, scale, y0 - top * scale], [0, 0, 1]])
    return place @ pose


def _real_homography(rng, config: SceneConfig, canvas_shape, plate_corners, x_range,
                     plate_w: float, count: int) -> np.ndarray:
    """(3, 3) map from car-canvas to scene coordinates that gives the plate a real pose, size and
    place: the pinhole pose (yaw and pitch only), then an affine map about the plate's centre
    turning its horizontal edges by a real roll and its vertical edges by a real lean
    (``scene_stats``), scaled so that the plate's own width is ``plate_w``, moved to a real
    centre (a lone car) or into its slot."""
    ch, cw = canvas_shape
    yaw = rng.triangular(-config.max_yaw, 0.0, config.max_yaw)
    pitch = rng.uniform(-config.max_pitch, config.max_pitch / 3)
    pose = pose_homography(cw, ch, 0.0, yaw, pitch, camera_distance=2.5)
    corners = apply_homography(pose, plate_corners)
    centre = corners.mean(axis=0)
    tilted = "_tilted" if rng.random() < config.tilted_probability else ""
    roll = draw(rng, "roll" + tilted)
    # |roll + lean| <= 60°: the plate's area, cos(roll + lean) of a rectangle's, stays >= half
    lean = float(np.clip(draw(rng, "lean" + tilted), -60.0 - roll, 60.0 - roll))
    r, t = np.radians(roll), np.radians(lean)
    # columns: where the plate's x axis (along its rows) and y axis (down its sides) go
    turn = np.array([[np.cos(r), np.sin(t)], [np.sin(r), np.cos(t)]])
    edges = (corners[[1, 2]] - corners[[0, 3]]) @ turn.T  # (2, 2) top and bottom edge vectors
    scale = plate_w / max(float(np.hypot(*edges.T).mean()), 1e-6)

    median_x, median_y = (CCPD_GEOMETRY[k][4] for k in ("centre_x", "centre_y"))
    spread = config.position_spread
    if count == 1:
        target_x = config.width * (median_x + (draw(rng, "centre_x") - median_x) * spread)
    else:
        target_x = x_range[0] + (x_range[1] - x_range[0]) * rng.uniform(0.3, 0.7)
    target_y = config.height * (median_y + (draw(rng, "centre_y") - median_y) * spread)
    affine = np.eye(3)
    affine[:2, :2] = scale * turn
    affine[:2, 2] = np.array([target_x, target_y]) - scale * turn @ centre
    return affine @ pose


def _holder(rng) -> tuple[tuple[float, ...], int]:
    """A plate holder: one of ``HOLDER_COLOURS`` or the car's own shade (no frame), and a rim
    of 0-3 thirtieths of the plate's width."""
    colour = HOLDER_COLOURS[rng.integers(len(HOLDER_COLOURS))]
    colour = tuple(float(c) for c in np.clip(np.array(colour) + rng.normal(0, 8, 3), 0, 255))
    return colour, int(rng.integers(0, 4))


def _fit_inside(homography, corners, width, height, min_width, x_range) -> np.ndarray:
    """Scale the car about the plate so that the plate is at least ``min_width`` wide and no
    wider than its slot, then shift it so that the plate lies inside the image (1 px margin)."""
    plate_w = corners[:, 0].max() - corners[:, 0].min()
    plate_h = corners[:, 1].max() - corners[:, 1].min()
    limit = min(x_range[1] - x_range[0], width) - 2
    factor = max(1.0, min_width / plate_w) if plate_w < min_width else min(1.0, limit / plate_w)
    factor = min(factor, (height - 2) / plate_h)
    centre = corners.mean(axis=0)
    zoom = np.array([[factor, 0, centre[0] * (1 - factor)],
                     [0, factor, centre[1] * (1 - factor)], [0, 0, 1]])
    corners = (corners - centre) * factor + centre
    low = np.array([max(1.0, x_range[0] + 1), 1.0])
    high = np.array([min(width - 1.0, x_range[1] - 1), height - 1.0])
    move = np.maximum(low - corners.min(axis=0), 0) - np.maximum(corners.max(axis=0) - high, 0)
    shift = np.array([[1, 0, move[0]], [0, 1, move[1]], [0, 0, 1]])
    return shift @ zoom @ homography


def _car_count(rng: np.random.Generator, config: SceneConfig) -> int:
    """How many cars fit side by side with plates no narrower than ``min_plate_width``; with
    real geometry a lone car has probability ``lone_probability``, the other counts share
    the rest."""
    most = min(config.max_plates, max(1, int(config.width * 0.2 // config.min_plate_width)))
    if config.geometry == "ccpd":
        if most == 1 or rng.random() < config.lone_probability:
            return 1
        return int(rng.integers(2, most + 1))
    return int(rng.integers(1, most + 1))


def _choose_kind(rng, config: SceneConfig) -> str:
    kinds = list(config.kind_weights)
    weights = np.array([config.kind_weights[k] for k in kinds], np.float64)
    return kinds[rng.choice(len(kinds), p=weights / weights.sum())]


@dataclass
class SceneConfig:
    """What ``render_scene`` draws; the defaults suit a 416 × 416 locator input.

    Attributes
    ----------
    height, width : int
        Image size in pixels.
    max_plates : int
        Each scene holds 1 .. max_plates cars, one plate each.
    kind_weights : dict
        How often each plate colour appears (``charset.KINDS``); ``colour.KIND_MIX`` by default.
    car_width : (float, float)
        Width of a lone car's front as a fraction of the image width (above 1 the car is cut
        by the image border, as in close-up photos; the plate always stays inside). The default
        puts a lone plate at 0.16-0.53 of the image width (10th-90th percentile), covering
        CCPD's 0.17-0.44.
    max_yaw, max_pitch, max_roll : float
        Largest turn of a car about the vertical axis, the horizontal axis and the optical axis,
        degrees.
    distractors : (int, int)
        Least and most distractors per scene (signs, text-like stripes, boxes, fake text).
    min_plate_width : int
        Narrowest plate in pixels; scenes with many cars use fewer cars rather than go below.
    rear_probability : float
        Chance that a car shows its back (tail lights, plate on the boot lid) instead of its front.
    dirt_probability : float
        Chance that a plate gets mud spots (``augment.add_dirt``).
    low_light_probability : float
        Chance of a dusk picture: everything darker, the noise doubled.
    noise : float
        Largest standard deviation of the Gaussian pixel noise (grey levels).
    blur_probability : float
        Chance that the whole scene is blurred a little.
    geometry : {"ccpd", "classic"}
        "ccpd": each plate's own width (over the picture's long side), centre, roll and lean are
        drawn from the real CCPD marginals of ``scene_stats.CCPD_GEOMETRY`` (``car_width`` and
        ``max_roll`` are then unused); "classic": the car's width from ``car_width``, its pose
        from the three ``max_*`` angles, the plate wherever the car puts it.
    lone_probability : float
        With "ccpd" geometry, the chance of a scene with one car (CCPD photos have one plate).
    position_spread : float
        With "ccpd" geometry, how much wider than the real ones the plate centres are spread
        about the real median (1: the real spread).
    tilted_probability : float
        With "ccpd" geometry, the chance that a plate's roll and lean come from CCPD's rotate
        and tilt subsets (turned cameras, cars at an angle) rather than from its other ones.
    letterbox_probability : float
        Chance that the scene is drawn as a portrait photo shows in a square letterbox:
        0.55-0.8 as wide as the picture between grey bars (``LETTERBOX_FILL``).
    typeface : Typeface or None
        The characters' faces (``glyphs.Typeface``); None draws the first generator's Noto.
    backgrounds : tuple of str
        The background kinds to draw from (``scene_paint.STREET_BACKGROUNDS`` adds building
        fronts and traffic to ``BACKGROUNDS``).
    hard_negatives : (int, int)
        Least and most hard negatives behind the cars (plate-coloured panels with marks, street
        signs, shop boards); 0-2 more are drawn in front when the most is above 0.
    varied_holders : bool
        Plate holders of several colours and rims (``scene_cars.HOLDER_COLOURS``, sometimes no
        frame) instead of always a thin near-black one.
    occlusion_probability : float
        Chance, per plate, that a pole, a blob or a bar hides up to a fifth of its width (the
        ground truth is still the whole plate).
    haze_probability, glass_probability, motion_blur_probability, colour_cast_probability : float
        Chances of haze, of a windscreen's reflection over the picture, of motion blur and of
        a colour cast (``scene_light.photographic``).
    flash_probability : float
        Chance of a night photo lit by the camera's flash: bright round the plates, the
        street dark (``scene_light.flash``).
    plate_brightness : bool
        Scale the light so that the plates have a real CCPD plate brightness
        (``scene_light.match_brightness``).

    ``SceneConfig()`` draws the scenes moved towards real photos; ``SceneConfig.classic()`` the
    first generator's, byte for byte (docs/data.md, "Scenes").
    """

    height: int = 416
    width: int = 416
    max_plates: int = 3
    kind_weights: dict = field(default_factory=lambda: dict(KIND_MIX))
    car_width: tuple[float, float] = (0.55, 2.4)
    max_yaw: float = 35.0
    max_pitch: float = 18.0
    max_roll: float = 8.0
    distractors: tuple[int, int] = (2, 8)
    min_plate_width: int = 24
    rear_probability: float = 0.3
    dirt_probability: float = 0.2
    low_light_probability: float = 0.1
    noise: float = 6.0
    blur_probability: float = 0.3
    geometry: str = "ccpd"
    lone_probability: float = 0.6
    position_spread: float = 1.5
    tilted_probability: float = 0.25
    letterbox_probability: float = 0.25
    typeface: Typeface | None = field(default_factory=Typeface)
    backgrounds: tuple[str, ...] = STREET_BACKGROUNDS
    hard_negatives: tuple[int, int] = (1, 4)
    varied_holders: bool = True
    occlusion_probability: float = 0.15
    haze_probability: float = 0.2
    glass_probability: float = 0.2
    motion_blur_probability: float = 0.2
    colour_cast_probability: float = 0.3
    flash_probability: float = 0.1
    plate_brightness: bool = True

    @classmethod
    def classic(cls, **changes) -> "SceneConfig":
        """The first generator's scenes (drawn, frontal, Noto plates in near-black holders), byte
        for byte; ``changes`` set any other field."""
        old = dict(geometry="classic", letterbox_probability=0.0, typeface=None,
                   backgrounds=BACKGROUNDS, hard_negatives=(0, 0), varied_holders=False,
                   occlusion_probability=0.0, haze_probability=0.0, glass_probability=0.0,
                   motion_blur_probability=0.0, colour_cast_probability=0.0,
                   flash_probability=0.0, plate_brightness=False)
        return cls(**{**old, **changes})

    def __post_init__(self) -> None:
        if self.height < 64 or self.width < 64:
            raise ValueError(f"SceneConfig: a scene needs at least 64 × 64 pixels, "
                             f"got {self.height} × {self.width}")
        if self.max_plates < 1:
            raise ValueError(f"SceneConfig: max_plates must be at least 1, got {self.max_plates}")
        check_kind_mix(self.kind_weights, "SceneConfig: kind_weights")
        if not 0 <= self.distractors[0] <= self.distractors[1]:
            raise ValueError(f"SceneConfig: distractors must be (least, most) with "
                             f"0 <= least <= most, got {self.distractors}")
        if not 0 < self.car_width[0] <= self.car_width[1]:
            raise ValueError(f"SceneConfig: car_width must be (low, high) with 0 < low <= high, "
                             f"got {self.car_width}")
        if self.geometry not in ("ccpd", "classic"):
            raise ValueError(f"SceneConfig: geometry must be 'ccpd' or 'classic', "
                             f"got {self.geometry!r}")
        if not 0 <= self.hard_negatives[0] <= self.hard_negatives[1]:
            raise ValueError(f"SceneConfig: hard_negatives must be (least, most) with "
                             f"0 <= least <= most, got {self.hard_negatives}")
        unknown = set(self.backgrounds) - set(STREET_BACKGROUNDS)
        if not self.backgrounds or unknown:
            raise ValueError(f"SceneConfig: backgrounds must be kinds of "
                             f"{sorted(set(STREET_BACKGROUNDS))}, got {self.backgrounds}")
        for name in ("lone_probability", "tilted_probability", "letterbox_probability",
                     "occlusion_probability", "haze_probability", "glass_probability",
                     "motion_blur_probability", "colour_cast_probability",
                     "flash_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"SceneConfig: {name} must be in [0, 1], "
                                 f"got {getattr(self, name)}")
        if self.position_spread < 0:
            raise ValueError(f"SceneConfig: position_spread must be >= 0, "
                             f"got {self.position_spread}")

    def to_dict(self) -> dict:
        return asdict(self)
