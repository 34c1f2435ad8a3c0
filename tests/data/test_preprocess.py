"""The recogniser's input from any image matches the generator's own batch encoding."""

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.data import augment as aug
from minilpr.data.preprocess import recognizer_batch, recognizer_input, resize_like_training
from minilpr.data.synth import LUMA, PlateGenerator


@pytest.mark.parametrize("augment", [None, aug.AugmentConfig()])
def test_gray_synthetic_crop_matches_the_generator_batch(augment):
    images, _ = PlateGenerator(seed=3, augment=augment).batch(4)
    twin = PlateGenerator(seed=3, augment=augment)
    crops = [twin.sample().image for _ in range(4)]
    np.testing.assert_array_equal(recognizer_batch(crops), images)


def test_colour_synthetic_crop_matches_the_generator_batch():
    images, _ = PlateGenerator(seed=5, color=True).batch(3)
    twin = PlateGenerator(seed=5, color=True)
    rgb = [twin.sample().image for _ in range(3)]
    bgr = [np.ascontiguousarray(x[..., ::-1]) for x in rgb]
    np.testing.assert_array_equal(recognizer_batch(bgr, channels=3), images)
    np.testing.assert_array_equal(recognizer_batch(rgb, channels=3, order="rgb"), images)
    # the gray input of a colour crop is the generator's gray conversion of it
    gray = np.stack([cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in rgb])[:, None] / 255
    np.testing.assert_allclose(recognizer_batch(bgr), gray, atol=1e-7)


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_gray_weights_are_the_generators(blue, green, red):
    bgr = np.full((4, 6, 3), (blue, green, red), np.uint8)
    x = recognizer_input(bgr, size=(4, 6))
    expected = LUMA @ np.array([red, green, blue], np.float64)
    assert np.all(np.abs(x * 255 - expected) <= 0.5 + 1e-4)


def test_real_sized_crop_grows_linearly():
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (24, 94, 3), dtype=np.uint8)   # a 94 x 24 real crop
    x = recognizer_input(crop)
    assert x.shape == (1, 32, 220) and x.dtype == np.float32
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    linear = cv2.resize(gray, (220, 32), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(x[0], linear * np.float32(1 / 255))


def test_large_crop_shrinks_by_area():
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (64, 440), dtype=np.uint8)
    x = recognizer_input(gray)
    # INTER_AREA at an exact factor 2 is the mean of each 2 x 2 block
    blocks = gray.reshape(32, 2, 220, 2).mean(axis=(1, 3))  # (32, 220)
    assert np.max(np.abs(x[0] * 255 - blocks)) <= 0.5 + 1e-3


@given(st.integers(2, 60), st.integers(2, 300), st.integers(2, 60), st.integers(2, 300))
def test_each_axis_is_resized_on_its_own(h, w, H, W):
    """Constant columns stay constant columns, constant rows constant rows, whatever the mix
    of shrinking and growing (up to OpenCV's fixed-point rounding of uint8, one level)."""
    rng = np.random.default_rng(h * 1000 + w)
    columns = np.broadcast_to(rng.integers(0, 256, (1, w), dtype=np.uint8), (h, w))
    rows = np.broadcast_to(rng.integers(0, 256, (h, 1), dtype=np.uint8), (h, w))
    out = resize_like_training(np.ascontiguousarray(columns), (H, W))
    assert out.shape == (H, W)
    assert np.abs(out.astype(int) - out[:1]).max() <= 1
    out = resize_like_training(np.ascontiguousarray(rows), (H, W)).astype(int)
    assert np.abs(out - out[:, :1]).max() <= 1


@given(st.integers(1, 40), st.integers(1, 120), st.sampled_from([1, 3]),
       st.sampled_from(["gray", "gray1", "bgr", "bgra"]))
def test_any_image_gives_the_model_input(h, w, channels, layout):
    rng = np.random.default_rng(h * w)
    shape = {"gray": (h, w), "gray1": (h, w, 1), "bgr": (h, w, 3), "bgra": (h, w, 4)}[layout]
    image8 = rng.integers(0, 256, shape, dtype=np.uint8)
    x = recognizer_input(image8, channels=channels)
    assert x.shape == (channels, 32, 220) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    # the same picture in 16 bits reads the same, up to the 8-bit path's two roundings
    # (gray conversion, then resizing), one level each
    x16 = recognizer_input(image8.astype(np.uint16) * 257, channels=channels)
    np.testing.assert_allclose(x16, x, atol=2 / 255)


def test_gray_image_as_colour_is_replicated():
    gray = np.arange(32 * 220, dtype=np.uint16).reshape(32, 220).astype(np.uint8)
    x = recognizer_input(gray, channels=3)
    np.testing.assert_array_equal(x, np.repeat(x[:1], 3, axis=0))
    np.testing.assert_array_equal(x[0], recognizer_input(gray)[0])


@pytest.mark.parametrize("image, kwargs, error, message", [
    (np.zeros((4, 4), np.float32), {}, TypeError, "uint8 or uint16 image, got float32"),
    (np.zeros((4, 4, 2), np.uint8), {}, ValueError, r"got shape \(4, 4, 2\)"),
    (np.zeros((1, 4, 4, 3), np.uint8), {}, ValueError, r"got shape \(1, 4, 4, 3\)"),
    (np.zeros((0, 4), np.uint8), {}, ValueError, "empty"),
    (np.zeros((4, 4), np.uint8), {"channels": 2}, ValueError, "channels must be 1 or 3"),
    (np.zeros((4, 4), np.uint8), {"size": (0, 4)}, ValueError, "size must be"),
    (np.zeros((4, 4, 3), np.uint8), {"order": "hsv"}, ValueError, "order must be"),
])
def test_bad_input_is_refused_clearly(image, kwargs, error, message):
    with pytest.raises(error, match=message):
        recognizer_input(image, **kwargs)
