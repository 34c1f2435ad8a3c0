"""Add, Concat, Upsample, Flatten, Identity, ToSequence: shapes, adjoint gradients, clear
errors."""

import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import (Add, Concat, Flatten, Identity, ToSequence, Upsample,
                        assert_gradcheck)
from minilpr.nn.shape import from_sequence, to_sequence, upsample_nearest_naive
from tests.conftest import GRAD_TOL

sizes = st.integers(1, 4)
shapes = st.lists(sizes, min_size=1, max_size=4).map(tuple)


@given(shape=shapes, seed=st.integers(0, 2**16))
@example(shape=(1,), seed=0)
def test_add_gradcheck(shape, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    errors = assert_gradcheck(Add(), (a, b), tol=GRAD_TOL, seed=seed + 1)
    assert list(errors) == ["input0", "input1"]


def test_add_passes_the_gradient_to_both_inputs(rng):
    layer = Add()
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_array_equal(layer(a, b), a + b)
    dout = rng.standard_normal((2, 3))
    da, db = layer.backward(dout)
    np.testing.assert_array_equal(da, dout)
    np.testing.assert_array_equal(db, dout)


def test_add_refuses_to_broadcast():
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3\) and \(1, 3\)"):
        Add()(np.ones((2, 3)), np.ones((1, 3)))
    with pytest.raises(TypeError, match="same dtype"):
        Add()(np.ones(3), np.ones(3, dtype=np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        Add().backward(np.ones(3))


@given(N=sizes, channels=st.lists(sizes, min_size=1, max_size=3), H=sizes, W=sizes,
       dim=st.sampled_from([0, 1, 3, -1]), seed=st.integers(0, 2**16))
@example(N=1, channels=[1, 3], H=1, W=5, dim=1, seed=0)
def test_concat_gradcheck(N, channels, H, W, dim, seed):
    rng = np.random.default_rng(seed)
    xs = []
    for c in channels:
        shape = [N, H, W, H]
        shape[dim % 4] = c  # the concatenated axis varies, the others agree
        xs.append(rng.standard_normal(shape))
    assert_gradcheck(Concat(dim), tuple(xs), tol=GRAD_TOL, seed=seed + 1)


def test_concat_backward_slices_in_order(rng):
    layer = Concat()
    xs = [rng.standard_normal((2, c, 3, 3)) for c in (1, 4, 2)]
    out = layer(*xs)
    assert out.shape == (2, 7, 3, 3)
    grads = layer.backward(out)  # the output as its own gradient: each slice is its input back
    assert isinstance(grads, tuple) and len(grads) == 3
    for x, g in zip(xs, grads):
        np.testing.assert_array_equal(g, x)


def test_concat_errors():
    with pytest.raises(ValueError, match="other axes to agree"):
        Concat(1)(np.ones((2, 3, 4, 4)), np.ones((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="out of range"):
        Concat(4)(np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="at least one input"):
        Concat()()


@given(N=sizes, C=sizes, H=sizes, W=sizes,
       scale=st.sampled_from([1, 2, 3, (2, 1), (1, 3), (3, 2)]), seed=st.integers(0, 2**16))
@example(N=1, C=1, H=1, W=1, scale=2, seed=0)
def test_upsample_gradcheck(N, C, H, W, scale, seed):
    x = np.random.default_rng(seed).standard_normal((N, C, H, W))
    assert_gradcheck(Upsample(scale), x, tol=GRAD_TOL, seed=seed + 1)


def test_upsample_matches_naive_and_defaults_to_two(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    layer = Upsample()
    out = layer(x)
    assert out.shape == (2, 3, 8, 10) and out.dtype == np.float32
    np.testing.assert_array_equal(out, upsample_nearest_naive(x, 2))
    np.testing.assert_array_equal(Upsample((3, 2))(x), upsample_nearest_naive(x, (3, 2)))
    np.testing.assert_array_equal(out[:, :, 2:4, 6:8], x[:, :, 1:2, 3:4].repeat(2, 2).repeat(2, 3))


def test_upsample_backward_sums_each_block():
    layer = Upsample(2)
    layer(np.zeros((1, 1, 1, 2)))
    dout = np.arange(8.0).reshape(1, 1, 2, 4)
    np.testing.assert_array_equal(layer.backward(dout), [[[[0 + 1 + 4 + 5, 2 + 3 + 6 + 7]]]])


@pytest.mark.parametrize("scale", [0, -1, (2, 0)])
def test_upsample_factor_is_validated(scale):
    with pytest.raises(ValueError, match="scale_factor must be a positive integer"):
        Upsample(scale)


@pytest.mark.parametrize("scale", [1.5, 2.0, (2, 2, 2), True])
def test_upsample_factor_must_be_ints(scale):
    with pytest.raises(TypeError, match="scale_factor must be an int or a pair of ints"):
        Upsample(scale)


@given(shape=st.lists(sizes, min_size=2, max_size=4).map(tuple), seed=st.integers(0, 2**16))
def test_flatten_gradcheck(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    assert_gradcheck(Flatten(), x, tol=GRAD_TOL, seed=seed + 1)


def test_flatten_shapes(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = Flatten()
    out = layer(x)
    assert out.shape == (2, 60)
    np.testing.assert_array_equal(out[1], x[1].ravel())
    assert layer.backward(out).shape == x.shape
    assert Flatten(1, 2)(x).shape == (2, 12, 5)
    assert Flatten(0)(x).shape == (120,)
    assert Flatten()(np.ones((0, 3, 2))).shape == (0, 6)
    with pytest.raises(ValueError, match="does not fit"):
        Flatten(2, 1)(x)


@given(shape=shapes, seed=st.integers(0, 2**16))
@example(shape=(1,), seed=0)
def test_identity_gradcheck(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    assert_gradcheck(Identity(), x, tol=GRAD_TOL, seed=seed + 1)


def test_identity_returns_its_input_and_a_gradient_the_caller_owns(rng):
    layer = Identity()
    x = rng.standard_normal((2, 3)).astype(np.float32)
    assert layer(x) is x
    dout = rng.standard_normal((2, 3)).astype(np.float32)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx, dout)
    assert not np.shares_memory(dx, dout)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(dout)


@given(N=sizes, C=sizes, W=st.integers(1, 7), seed=st.integers(0, 2**16))
@example(N=1, C=1, W=1, seed=0)
def test_to_sequence_gradcheck(N, C, W, seed):
    x = np.random.default_rng(seed).standard_normal((N, C, 1, W))
    assert_gradcheck(ToSequence(), x, tol=GRAD_TOL, seed=seed + 1)


@given(N=sizes, C=sizes, W=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_to_sequence_reads_columns_as_time_steps(N, C, W, seed):
    x = np.random.default_rng(seed).standard_normal((N, C, 1, W)).astype(np.float32)
    layer = ToSequence()
    seq = layer(x)
    assert seq.shape == (W, N, C) and seq.dtype == np.float32 and seq.flags.c_contiguous
    for t in range(W):
        np.testing.assert_array_equal(seq[t], x[:, :, 0, t])  # column t is time step t
    np.testing.assert_array_equal(from_sequence(seq), x)
    dx = layer.backward(seq)  # the output as its own gradient comes back as the input
    np.testing.assert_array_equal(dx, x)
    assert not np.shares_memory(dx, seq)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 3, 5), (3, 1, 1, 1, 1)])
def test_to_sequence_refuses_anything_but_height_one(shape):
    with pytest.raises(ValueError, match=r"expects an \(N, C, 1, W\) feature map .*got shape "
                                         + re.escape(str(shape))):
        ToSequence()(np.zeros(shape))
    with pytest.raises(ValueError, match="expects an"):
        to_sequence(np.zeros(shape))


def test_to_sequence_backward_refuses_a_wrong_dout(rng):
    layer = ToSequence()
    layer(rng.standard_normal((2, 3, 1, 4)))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 4\)"):
        layer.backward(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="float32"):
        layer.backward(np.zeros((4, 2, 3), dtype=np.float32))
