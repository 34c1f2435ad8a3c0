"""Initialisers: the sample variance of a large seeded draw matches each formula; layers seeded
by one Generator, a seed, or fresh entropy."""

import math

import numpy as np
import pytest

from minilpr.nn import LSTM, Conv2d, Linear, LSTMCell
from minilpr.nn.init import (default_rng, fans, kaiming_normal, kaiming_uniform,
                             leaky_relu_gain, uniform_bias, xavier_normal, xavier_uniform)

# 73,728 draws: the sample variance's relative standard error is about sqrt(2 / n) ≈ 0.5 %
# (less for uniform draws), so 3 % is a six-sigma band that a wrong formula cannot hide in —
# a missing gain of sqrt(2) is 100 % off, a fan_out for a fan_in several times off.
SHAPE = (128, 64, 3, 3)
FAN_IN, FAN_OUT = 64 * 9, 128 * 9
VAR_RTOL = 0.03


def check_moments(w, var):
    assert w.shape == SHAPE and w.dtype == np.float32
    assert abs(w.mean()) < 6 * math.sqrt(var / w.size)
    assert w.astype(np.float64).var() == pytest.approx(var, rel=VAR_RTOL)


def test_fans():
    assert fans((10, 3)) == (3, 10)
    assert fans((8, 3, 5, 7)) == (3 * 35, 8 * 35)
    assert fans(SHAPE) == (FAN_IN, FAN_OUT)
    with pytest.raises(ValueError, match="at least 2 dimensions, got \\(5,\\)"):
        fans((5,))


def test_leaky_relu_gain():
    assert leaky_relu_gain() == pytest.approx(math.sqrt(2))
    assert leaky_relu_gain(1.0) == pytest.approx(1.0)  # slope 1 is the identity


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2])
def test_kaiming_normal_variance(slope):
    w = kaiming_normal(SHAPE, np.random.default_rng(1), negative_slope=slope)
    check_moments(w, 2.0 / (1 + slope**2) / FAN_IN)


@pytest.mark.parametrize("slope", [0.0, 0.01])
def test_kaiming_uniform_variance_and_bound(slope):
    w = kaiming_uniform(SHAPE, np.random.default_rng(2), negative_slope=slope)
    bound = math.sqrt(2.0 / (1 + slope**2)) * math.sqrt(3.0 / FAN_IN)
    check_moments(w, bound**2 / 3)  # U(-b, b) has variance b² / 3
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound


def test_kaiming_uniform_sqrt5_is_pytorchs_default_bound():
    w = kaiming_uniform((64, 32), np.random.default_rng(3), negative_slope=math.sqrt(5))
    bound = 1 / math.sqrt(32)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_uniform_variance_and_bound(gain):
    w = xavier_uniform(SHAPE, np.random.default_rng(4), gain=gain)
    bound = gain * math.sqrt(6.0 / (FAN_IN + FAN_OUT))
    check_moments(w, gain**2 * 2.0 / (FAN_IN + FAN_OUT))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound


@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_xavier_normal_variance(gain):
    w = xavier_normal(SHAPE, np.random.default_rng(5), gain=gain)
    check_moments(w, gain**2 * 2.0 / (FAN_IN + FAN_OUT))


def test_uniform_bias():
    b = uniform_bias(100_000, fan_in=50, rng=np.random.default_rng(6))
    bound = 1 / math.sqrt(50)
    assert b.shape == (100_000,) and b.dtype == np.float32
    assert np.abs(b).max() <= bound
    assert b.astype(np.float64).var() == pytest.approx(bound**2 / 3, rel=VAR_RTOL)
    assert not uniform_bias(4, fan_in=0, rng=np.random.default_rng(0)).any()


@pytest.mark.parametrize("init", [kaiming_normal, kaiming_uniform, xavier_uniform, xavier_normal])
def test_same_seed_same_weights(init):
    a = init((6, 4, 3, 3), np.random.default_rng(42))
    b = init((6, 4, 3, 3), np.random.default_rng(42))
    c = init((6, 4, 3, 3), np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_default_rng():
    rng = np.random.default_rng(9)
    assert default_rng(rng) is rng
    assert default_rng(7).random() == np.random.default_rng(7).random()
    assert default_rng(None).random() != default_rng(None).random()  # fresh entropy each time
    for bad in (1.5, "7", True, -1):
        with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
            default_rng(bad)


@pytest.mark.parametrize("make", [lambda rng: Conv2d(3, 3, 3, rng=rng),
                                  lambda rng: Linear(4, 4, rng=rng),
                                  lambda rng: LSTMCell(3, 3, rng=rng),
                                  lambda rng: LSTM(3, 3, bidirectional=True, rng=rng)])
def test_unseeded_layers_differ_and_seeded_ones_repeat(make):
    first, second = make(None).state_dict(), make(None).state_dict()
    assert all(not np.array_equal(first[k], second[k]) for k in first)
    for seeded in (lambda: make(7), lambda: make(np.random.default_rng(7))):
        a, b = seeded().state_dict(), seeded().state_dict()
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_one_generator_threaded_through_layers_gives_each_its_own_draws():
    rng = np.random.default_rng(0)
    a, b = Conv2d(3, 3, 3, rng=rng), Conv2d(3, 3, 3, rng=rng)
    assert not np.array_equal(a.weight.data, b.weight.data)


@pytest.mark.parametrize("init", [kaiming_normal, kaiming_uniform, xavier_uniform, xavier_normal])
def test_a_seed_instead_of_a_generator_is_a_clear_error(init):
    with pytest.raises(TypeError, match=f"{init.__name__} needs a numpy.random.Generator .*, got int"):
        init((4, 3), 0)
