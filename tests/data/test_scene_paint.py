"""Painting a scene: backgrounds, distractors, cars and the global light, each on its own."""

import numpy as np
import pytest

from minilpr.data.scene_paint import BACKGROUNDS, background, draw_car, draw_distractor, photometric
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
