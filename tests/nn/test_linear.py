"""Linear: gradients for any number of leading axes, PyTorch's initialisation, errors."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import FunctionPair, Linear, assert_gradcheck
from minilpr.nn.linear import linear_backward, linear_forward, linear_naive
from tests.conftest import GRAD_TOL

lead_shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@given(lead=lead_shapes, C=st.integers(1, 6), F=st.integers(1, 6), bias=st.booleans(),
       seed=st.integers(0, 2**16))
@example(lead=(1,), C=1, F=1, bias=True, seed=0)        # batch 1, one feature
@example(lead=(5, 2), C=3, F=4, bias=True, seed=1)      # (T, N, C): per-time-step FC
@example(lead=(), C=5, F=3, bias=False, seed=2)         # a single vector
def test_gradcheck(lead, C, F, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Linear(C, F, bias=bias, rng=rng)
    errors = assert_gradcheck(layer, rng.standard_normal(lead + (C,)), tol=GRAD_TOL, seed=seed + 1)
    assert list(errors) == (["x", "weight", "bias"] if bias else ["x", "weight"])


def test_pure_pair_gradcheck(rng):
    pair = FunctionPair(linear_forward, linear_backward)
    inputs = (rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5))
    assert_gradcheck(pair, inputs, tol=GRAD_TOL)


def test_three_dimensional_input_is_the_layer_at_every_time_step(rng):
    layer = Linear(6, 4, rng=rng)
    x = rng.standard_normal((7, 3, 6)).astype(np.float32)  # (T, N, C)
    out = layer(x)
    assert out.shape == (7, 3, 4) and out.dtype == np.float32
    for t in range(7):
        np.testing.assert_allclose(out[t], x[t] @ layer.weight.data.T + layer.bias.data,
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, linear_naive(x, layer.weight.data, layer.bias.data),
                               rtol=1e-5, atol=1e-6)


def test_gradients_sum_over_every_leading_axis(rng):
    layer = Linear(3, 2, rng=rng).astype(np.float64)
    x = rng.standard_normal((4, 5, 3))
    layer(x)
    dout = rng.standard_normal((4, 5, 2))
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    np.testing.assert_allclose(layer.weight.grad, np.einsum("tnf,tnc->fc", dout, x), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, dout.sum(axis=(0, 1)), rtol=1e-12)


def test_non_contiguous_input(rng):
    layer = Linear(4, 3, rng=rng).astype(np.float64)
    x = rng.standard_normal((4, 6)).T  # (6, 4), Fortran-ordered
    np.testing.assert_allclose(layer(x), linear_naive(x, layer.weight.data, layer.bias.data))


def test_pytorch_default_initialisation():
    layer = Linear(25, 40, rng=3)
    bound = 1 / np.sqrt(25)
    assert layer.weight.shape == (40, 25) and layer.weight.data.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound  # uniform over the whole range
    np.testing.assert_array_equal(layer.weight.data, Linear(25, 40, rng=3).weight.data)
    assert list(Linear(2, 3, bias=False).state_dict()) == ["weight"]


def test_errors_are_clear():
    layer = Linear(4, 2)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\), got \(3, 5\)"):
        layer(np.ones((3, 5), dtype=np.float32))
    with pytest.raises(TypeError, match="float64 input"):
        layer(np.ones((3, 4)))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="positive sizes"):
        Linear(0, 3)


def test_float32_matches_float64_reference(rng):
    x, w, b = rng.standard_normal((3, 5, 8)), rng.standard_normal((6, 8)), rng.standard_normal(6)
    out, _ = linear_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32))
    np.testing.assert_allclose(out, linear_naive(x, w, b), rtol=1e-4, atol=1e-5)
