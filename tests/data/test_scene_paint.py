"""Painting a scene: backgrounds, distractors, cars and the global light, each on its own."""

import numpy as np
import pytest

from minilpr.data.scene_paint import (BACKGROUNDS, background, draw_car, draw_distractor,
                                      draw_hard_negative, draw_occluder, match_brightness,
                                      photographic, photometric)
from minilpr.data.scene_light import CASTS, colour_cast, flash
from minilpr.data.scenes import SceneConfig


def test_distractors_respect_keep_out():
    rng = np.random.default_rng(0)
    image = np.zeros((100, 120, 3), np.uint8)
    for _ in range(20):
        draw_distractor(image, rng, keep_out=[np.array([-50.0, -50, 200, 200])])
    assert not image.any()
    for _ in range(20):
        draw_distractor(image, rng)
    assert image.any()


def test_background_fills_the_picture():
    for seed in range(10):
        image = background(np.random.default_rng(seed), 70, 90)
        assert image.shape == (70, 90, 3) and image.dtype == np.uint8
        assert image.std() > 0
    assert len(BACKGROUNDS) == 5


@pytest.mark.parametrize("rear", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_car_has_its_plate_holder_inside_the_silhouette(seed, rear):
    canvas, silhouette, (x, y, w, h) = draw_car(np.random.default_rng(seed), 200, rear=rear)
    assert canvas.shape == (*silhouette.shape, 3) and canvas.shape[1] == 200
    assert silhouette.max() == 255 and canvas.dtype == silhouette.dtype == np.uint8
    assert 0 <= x and x + w <= 200 and 0 <= y and y + h <= canvas.shape[0]
    assert 0.21 * 200 <= w <= 0.28 * 200
    assert (silhouette[y:y + h, x:x + w] == 255).all()
    assert silhouette[0, 0] == 0 and silhouette[0, -1] == 0  # the air above the bonnet


def test_photometric_keeps_the_picture_shape_and_is_seeded():
    image = np.random.default_rng(0).integers(0, 256, (40, 50, 3), np.uint8)
    first = photometric(image, np.random.default_rng(3), SceneConfig())
    again = photometric(image, np.random.default_rng(3), SceneConfig())
    assert first.shape == image.shape and first.dtype == np.uint8
    assert first.tobytes() == again.tobytes()


def test_street_backgrounds_fill_the_picture():
    for kind in ("buildings", "traffic"):
        for seed in range(3):
            image = background(np.random.default_rng(seed), 90, 120, kinds=(kind,))
            assert image.shape == (90, 120, 3) and image.dtype == np.uint8 and image.std() > 0


def test_hard_negatives_respect_keep_out_and_avoid_the_plate_aspect():
    rng = np.random.default_rng(1)
    image = np.zeros((120, 200, 3), np.uint8)
    for _ in range(20):
        assert draw_hard_negative(image, rng, [np.array([-50.0, -50, 300, 300])]) is None
    assert not image.any()
    for _ in range(40):
        x1, y1, x2, y2 = draw_hard_negative(image, rng)
        aspect = (x2 - x1) / (y2 - y1)
        assert not 2.3 < aspect < 4.2, aspect
    assert image.any()


def test_occluder_stays_near_its_plate():
    for seed in range(10):
        image = np.zeros((100, 160, 3), np.uint8)
        draw_occluder(image, np.random.default_rng(seed), np.array([60.0, 40, 100, 52]))
        cols = np.nonzero(image.any(axis=(0, 2)))[0]
        assert cols.size and cols.min() >= 50 and cols.max() <= 110


def test_holder_colour_and_rim():
    rng = np.random.default_rng(0)
    canvas, _, (x, y, w, h) = draw_car(rng, 300, holder=((230.0, 230.0, 230.0), 3))
    rim = (w // 30) * 3
    assert (canvas[y - rim // 2, x + w // 2] > 150).all()  # a white frame, lit from above


@pytest.mark.parametrize("name", ["haze_probability", "glass_probability",
                                  "motion_blur_probability", "colour_cast_probability"])
def test_photographic_effects_are_seeded_and_change_the_picture(name):
    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), np.uint8)
    config = SceneConfig.classic(**{name: 1.0})
    first = photographic(image, np.random.default_rng(3), config)
    again = photographic(image, np.random.default_rng(3), config)
    assert first.shape == image.shape and first.dtype == np.uint8
    assert first.tobytes() == again.tobytes() and first.tobytes() != image.tobytes()
    assert photographic(image, np.random.default_rng(3), SceneConfig.classic()) is image


def test_colour_casts_cover_white_balance_night_green_and_sodium_orange():
    grey = np.full((8, 8, 3), 120, np.uint8)
    seen = {}
    for seed in range(60):
        out = colour_cast(grey, np.random.default_rng(seed)).reshape(-1, 3).mean(0)
        red_green, blue_green = out[0] / out[1], out[2] / out[1]
        kind = ("green night" if red_green < 0.76 else
                "sodium" if blue_green < 0.75 and red_green > 1.05 else "other")
        seen[kind] = seen.get(kind, 0) + 1
        lowest, highest = min(r[0] for c in CASTS.values() for r in c), \
            max(r[1] for c in CASTS.values() for r in c)
        assert (out >= 120 * lowest - 1).all() and (out <= 120 * highest + 1).all()
    # every kind of cast turns up in 60 draws, and none is everything
    assert seen.get("green night", 0) >= 8 and seen.get("sodium", 0) >= 8 and seen["other"] >= 8
    again = colour_cast(grey, np.random.default_rng(5))
    assert again.tobytes() == colour_cast(grey, np.random.default_rng(5)).tobytes()


def test_flash_lights_the_plate_and_darkens_the_far_street():
    image = np.full((120, 80, 3), 150, np.uint8)
    mask = np.zeros((120, 80), np.uint8)
    mask[20:30, 10:30] = 1  # a plate near the top-left corner
    for seed in range(10):
        lit = flash(image, np.random.default_rng(seed), mask)
        near, far = lit[20:30, 10:30].mean(), lit[-10:, -10:].mean()
        assert near > 120 and far < 0.75 * near, (seed, near, far)
        assert lit.dtype == np.uint8 and lit.shape == image.shape
    again = flash(image, np.random.default_rng(4), mask)
    assert again.tobytes() == flash(image, np.random.default_rng(4), mask).tobytes()
    # without plates the light centres on the picture
    centred = flash(image, np.random.default_rng(0), np.zeros_like(mask))
    assert centred[55:65, 35:45].mean() > centred[:5, :5].mean()


def test_haze_lowers_the_contrast():
    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), np.uint8)
    hazy = photographic(image, np.random.default_rng(1), SceneConfig.classic(haze_probability=1))
    assert hazy.std() < 0.9 * image.std()


def test_match_brightness_reaches_the_target():
    image = np.full((20, 30, 3), 100, np.uint8)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:20] = 1
    assert abs(match_brightness(image, mask, 150.0)[mask > 0].mean() - 150) < 1
    assert match_brightness(image, np.zeros_like(mask), 150.0) is image
