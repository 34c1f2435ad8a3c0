"""Weight initialisers, each drawing from a seeded ``numpy.random.Generator``.

Why initialisation matters: a layer multiplies its input by a matrix with ``fan_in`` terms per
output. If the weights have variance ``v``, each output has variance ``fan_in * v * Var(input)``;
choosing ``v = gain² / fan_in`` keeps the signal's scale the same from layer to layer, so deep
stacks neither explode nor fade (He et al. 2015 for ReLU-like activations, Glorot & Bengio 2010
for symmetric ones).

Every function returns a new float32 array (cast it for float64 work); ``rng`` is required so that
a model built twice from the same seed is the same model.

Seeding a layer or a model: every constructor with parameters (or random masks) takes
``rng : numpy.random.Generator, int or None`` and turns it into a Generator with `default_rng`.
A model makes ONE Generator and hands that same object to each of its layers, so the layers draw
one after another from one stream: two same-shaped layers of a model get different weights, and
the same seed rebuilds the same model. ``None`` draws fresh entropy from the operating system —
an unseeded layer is a new random layer every time, as with ``numpy.random.default_rng()``.
"""

from __future__ import annotations

import math

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``.

    Linear ``(F, C)``: fan_in = C, fan_out = F. Convolution ``(F, C, KH, KW)``: each output sees
    ``C * KH * KW`` inputs, and each input reaches ``F * KH * KW`` outputs.
    """
    if len(shape) < 2:
        raise ValueError(f"fan-in/fan-out need a weight with at least 2 dimensions, got {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _check_generator(rng, name: str) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} needs a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")


def leaky_relu_gain(negative_slope: float = 0.0) -> float:
    """The gain that keeps variance through a leaky ReLU: sqrt(2 / (1 + slope²))."""
    return math.sqrt(2.0 / (1.0 + negative_slope**2))


def kaiming_normal(shape, rng: np.random.Generator, negative_slope: float = 0.0) -> np.ndarray:
    """He-normal: N(0, gain² / fan_in), for layers followed by a (leaky) ReLU."""
    _check_generator(rng, "kaiming_normal")
    std = leaky_relu_gain(negative_slope) / math.sqrt(fans(shape)[0])
    return (rng.standard_normal(shape) * std).astype(np.float32)


def kaiming_uniform(shape, rng: np.random.Generator, negative_slope: float = 0.0) -> np.ndarray:
    """He-uniform: U(-b, b) with b = gain * sqrt(3 / fan_in) (same variance as He-normal).

    With ``negative_slope = sqrt(5)`` this is PyTorch's default for Conv2d and Linear weights,
    whose bound works out to 1 / sqrt(fan_in).
    """
    _check_generator(rng, "kaiming_uniform")
    bound = leaky_relu_gain(negative_slope) * math.sqrt(3.0 / fans(shape)[0])
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def xavier_uniform(shape, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Glorot-uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    _check_generator(rng, "xavier_uniform")
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def xavier_normal(shape, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Glorot-normal: N(0, gain² * 2 / (fan_in + fan_out))."""
    _check_generator(rng, "xavier_normal")
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal(shape) * std).astype(np.float32)


def uniform_bias(n: int, fan_in: int, rng: np.random.Generator) -> np.ndarray:
    """PyTorch's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    _check_generator(rng, "uniform_bias")
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return rng.uniform(-bound, bound, size=n).astype(np.float32)


def default_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """The Generator a layer draws from: ``rng`` itself, a new one seeded with the int ``rng``,
    or — for None — a new one seeded from fresh operating-system entropy.

    A Generator is returned as is (not copied), so a model that passes one Generator to all its
    layers gives each layer the next numbers of one stream.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise TypeError(f"rng must be a numpy.random.Generator, a non-negative int seed or None, "
                        f"got {rng!r}")
    return np.random.default_rng(int(rng))
