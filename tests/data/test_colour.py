"""The shared colour numbers: gray weights, the plate-colour mix, car paint, tone tables."""

import cv2
import numpy as np
import pytest

from minilpr.data import charset
from minilpr.data.colour import (CAR_COLOUR_WEIGHTS, CAR_COLOURS, GRAY_WEIGHTS, KIND_MIX,
                                 car_paint, check_kind_mix, gray_level, tone_table)


def test_gray_weights_are_opencvs():
    rgb = np.random.default_rng(0).integers(0, 256, (50, 40, 3), np.uint8)
    ours = rgb.astype(np.float64) @ GRAY_WEIGHTS
    np.testing.assert_allclose(ours, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), atol=0.51)
    assert GRAY_WEIGHTS.sum() == pytest.approx(1.0)


def test_gray_level_is_the_dot_product():
    for colour in [(0, 0, 0), (255, 255, 255), (35, 105, 225), (250.5, 195.25, 30.0)]:
        assert gray_level(colour) == pytest.approx(float(np.dot(colour, GRAY_WEIGHTS)), abs=1e-12)


def test_kind_mix_covers_every_kind_and_sums_to_one():
    assert set(KIND_MIX) == set(charset.KINDS)
    assert sum(KIND_MIX.values()) == pytest.approx(1.0)
    assert check_kind_mix(KIND_MIX, "here") is KIND_MIX


@pytest.mark.parametrize("kinds", [{"purple": 1.0}, {}, {"blue": -0.1, "green": 1.0},
                                   {"blue": 0.0}])
def test_check_kind_mix_names_the_argument(kinds):
    with pytest.raises(ValueError, match="^PlateGenerator: kinds must map some of"):
        check_kind_mix(kinds, "PlateGenerator: kinds")


def test_car_paint_follows_the_weights():
    assert CAR_COLOURS.shape == (len(CAR_COLOUR_WEIGHTS), 3)
    assert CAR_COLOUR_WEIGHTS.sum() == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    paints = np.array([car_paint(rng) for _ in range(4000)])
    counts = [(paints == c).all(axis=1).sum() for c in CAR_COLOURS]
    assert sum(counts) == len(paints)
    np.testing.assert_allclose(np.array(counts) / len(paints), CAR_COLOUR_WEIGHTS, atol=0.025)


def test_identity_tone_table_and_gain():
    np.testing.assert_array_equal(tone_table(), np.arange(256))
    np.testing.assert_array_equal(tone_table(gain=0.5), np.floor(np.arange(256) * 0.5 + 0.5))


@pytest.mark.parametrize("contrast, brightness, gamma, gain", [
    (0.6, -40.0, 1.5, 1.0), (1.2, 40.0, 0.7, 1.0), (0.9, 10.0, 1.1, 0.3), (1.0, 0.0, 2.0, 1.0)])
def test_tone_table_is_the_formula_of_its_docstring(contrast, brightness, gamma, gain):
    x = np.arange(256, dtype=np.float64)
    v = np.clip(contrast * (x - 128) + 128 + brightness, 0, 255)
    expected = np.clip(np.floor(255 * (v / 255) ** gamma * gain + 0.5), 0, 255)
    table = tone_table(contrast, brightness, gamma, gain)
    assert table.dtype == np.uint8 and table.shape == (256,)
    assert np.abs(table.astype(int) - expected).max() <= 1
    assert (np.diff(table.astype(int)) >= 0).all()
