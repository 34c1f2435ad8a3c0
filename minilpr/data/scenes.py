"""Synthetic street scenes for the plate locator, and why their ground truth is exact.

Each car is painted flat, straight from the front (or the back), on a canvas of its own
(``scene_paint.draw_car``), and its plate is pasted into the holder: on the canvas the plate is
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

``render_scene(rng)`` paints one picture in five steps (the painting is in ``scene_paint``):

1. a procedural background: road, wall, gradient, smooth noise or clutter;
2. distractors behind the cars: text-like stripes, signs, rectangles and lines, fake text;
3. one to ``max_plates`` cars side by side, each with its plate from ``synth.render_plate``,
   posed and pasted with its silhouette mask as above;
4. more distractors in front, kept away from every plate;
5. global light (sometimes dusk), contrast, blur and noise.

All randomness comes from the one ``numpy.random.Generator`` passed in: the same seed gives
byte-identical images and labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from minilpr.data import augment, charset
from minilpr.data.camera import apply_homography, pose_homography
from minilpr.data.colour import CAR_COLOUR_WEIGHTS, CAR_COLOURS, KIND_MIX, check_kind_mix
from minilpr.data.scene_paint import (BACKGROUNDS, background, draw_car, draw_distractor,
                                      photometric)
from minilpr.data.synth import render_plate

__all__ = [
    "PLATE_MM", "SceneConfig", "ScenePlate", "SceneSample", "render_scene",
    "BACKGROUNDS", "CAR_COLOURS", "CAR_COLOUR_WEIGHTS", "background", "draw_car",
    "draw_distractor",
]

# plate sizes in millimetres (width, height): 7-character plates and the wider green plate
PLATE_MM = {7: (440.0, 140.0), 8: (480.0, 140.0)}

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
    """

    image: np.ndarray
    plates: list[ScenePlate]
    mask: np.ndarray

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
    image = background(rng, height, width)
    for _ in range(rng.integers(config.distractors[0], config.distractors[1] + 1)):
        draw_distractor(image, rng)

    count = _car_count(rng, config)
    edges = np.cumsum(np.concatenate([[0.0], rng.uniform(0.8, 1.2, count)]))
    edges = edges / edges[-1] * width  # the x range of slot k is edges[k] .. edges[k + 1]
    mask = np.zeros((height, width), np.uint8)
    plates = []
    for slot in range(count):
        plate = _paste_car(image, mask, len(plates) + 1, rng, config,
                           float(edges[slot]), float(edges[slot + 1]), count)
        plates.append(plate)

    keep_out = [p.box + [-4, -4, 4, 4] for p in plates]
    for _ in range(rng.integers(0, 3)):
        draw_distractor(image, rng, keep_out)
    image = photometric(image, rng, config)
    return SceneSample(image=image, plates=plates, mask=mask)


def _paste_car(image, mask, label: int, rng, config: SceneConfig, x_left: float,
               x_right: float, count: int) -> ScenePlate:
    """Draw one car with its plate into ``image`` (in place) within x_left .. x_right; mark the
    plate's pixels with ``label`` in ``mask``; return the plate's ground truth."""
    height, width = image.shape[:2]
    slot_w = x_right - x_left
    if count == 1:
        target_w = width * rng.uniform(*config.car_width)
    else:
        target_w = slot_w * rng.uniform(0.75, 1.0)
    # drawn at about the size it will have, so the warp neither blurs nor aliases the plate
    canvas, silhouette, (px, py, pw, ph) = draw_car(rng, int(np.clip(target_w, 96, 1600)),
                                                    rear=rng.random() < config.rear_probability)

    kind = _choose_kind(rng, config)
    text = charset.random_plate(rng, kind)
    plate_mm = PLATE_MM[len(text)]
    pw = int(round(ph * plate_mm[0] / plate_mm[1]))  # green plates are wider than 7-char ones
    px = min(px, canvas.shape[1] - pw)
    plate, _ = render_plate(text, kind, rng, px_per_mm=1.3 * pw / plate_mm[0])
    if rng.random() < config.dirt_probability:
        augment.add_dirt(plate, rng, _DIRT)
    canvas[py:py + ph, px:px + pw] = cv2.resize(plate, (pw, ph), interpolation=cv2.INTER_AREA)
    plate_corners = np.array([[px, py], [px + pw, py], [px + pw, py + ph], [px, py + ph]],
                             np.float64)

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
    """How many cars fit side by side with plates no narrower than ``min_plate_width``."""
    fit = max(1, int(config.width * 0.2 // config.min_plate_width))
    return int(rng.integers(1, min(config.max_plates, fit) + 1))


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

    def to_dict(self) -> dict:
        return asdict(self)
