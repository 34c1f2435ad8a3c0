"""LeakyReLU and (log-)softmax: values, gradients, the kink, numerical stability."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import FunctionPair, LeakyReLU, LogSoftmax, assert_gradcheck, log_softmax, softmax
from minilpr.nn.activation import (leaky_relu_backward, leaky_relu_forward, log_softmax_backward,
                                   log_softmax_forward, softmax_backward, softmax_forward)
from tests.conftest import GRAD_TOL

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def away_from_zero(x, margin=0.05):
    """Push entries out of (-margin, margin): centred differences must not straddle the kink."""
    return x + margin * np.where(x >= 0, 1.0, -1.0)


@given(shape=shapes, slope=st.sampled_from([0.0, 0.01, 0.1, 0.3]), seed=st.integers(0, 2**16))
@example(shape=(1,), slope=0.01, seed=0)
@example(shape=(1, 3, 5, 7), slope=0.1, seed=1)
def test_leaky_relu_gradcheck(shape, slope, seed):
    x = away_from_zero(np.random.default_rng(seed).standard_normal(shape))
    assert_gradcheck(LeakyReLU(slope), x, tol=GRAD_TOL, seed=seed + 1)


def test_leaky_relu_values_and_dtype():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], dtype=np.float32)
    out = LeakyReLU(0.1)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [-0.2, -0.05, 0.0, 0.5, 3.0], rtol=1e-6)


def test_leaky_relu_kink_takes_the_negative_slope():
    # As PyTorch: the gradient passes unchanged only where x > 0; at x == 0 it is the slope.
    out, cache = leaky_relu_forward(np.array([-1.0, 0.0, 1.0]), 0.2)
    np.testing.assert_array_equal(out, [-0.2, 0.0, 1.0])
    np.testing.assert_array_equal(leaky_relu_backward(np.ones(3), cache), [0.2, 0.2, 1.0])


def test_leaky_relu_keeps_negative_units_alive():
    relu_grad = leaky_relu_backward(np.ones(4), leaky_relu_forward(-np.arange(1.0, 5.0), 0.0)[1])
    leaky_grad = leaky_relu_backward(np.ones(4), leaky_relu_forward(-np.arange(1.0, 5.0), 0.01)[1])
    assert not relu_grad.any() and np.all(leaky_grad == 0.01)


def test_leaky_relu_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="LeakyReLU.backward called before forward"):
        LeakyReLU().backward(np.ones(3))


@given(shape=shapes, data=st.data(), seed=st.integers(0, 2**16))
@example(shape=(1,), data=None, seed=0)
def test_log_softmax_gradcheck(shape, data, seed):
    axis = -1 if data is None else data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    assert_gradcheck(LogSoftmax(dim=axis), x, tol=GRAD_TOL, seed=seed + 1)


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_softmax_gradcheck(shape, seed):
    # Unit-scale logits: a saturated softmax (a probability below ~1e-6, e.g. logits 5.5 and
    # -9.2) has input gradients smaller than float64 centred differences can resolve, so the
    # check would measure round-off. Saturation is covered by the log-softmax check and by the
    # torch parity test.
    x = np.random.default_rng(seed).standard_normal(shape)
    pair = FunctionPair(lambda x: softmax_forward(x, 0), softmax_backward)
    assert_gradcheck(pair, x, tol=GRAD_TOL, seed=seed + 1)


def test_log_softmax_pure_pair_gradcheck(rng):
    pair = FunctionPair(lambda x: log_softmax_forward(x, 1), log_softmax_backward)
    assert_gradcheck(pair, rng.standard_normal((3, 4, 2)), tol=GRAD_TOL)


def test_log_softmax_values(rng):
    x = rng.standard_normal((4, 6))
    expected = np.log(np.exp(x) / np.exp(x).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(log_softmax(x), expected, rtol=1e-12)
    np.testing.assert_allclose(softmax(x), np.exp(expected), rtol=1e-12)
    np.testing.assert_allclose(log_softmax_forward(x)[0], log_softmax(x), rtol=0)
    np.testing.assert_allclose(np.exp(log_softmax(x, axis=0)).sum(axis=0), 1, rtol=1e-12)


def test_softmax_is_stable_for_huge_scores():
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -1002.0]], dtype=np.float32)
    logp = log_softmax(x)
    assert logp.dtype == np.float32 and np.all(np.isfinite(logp))
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(logp[0], log_softmax(np.array([0.0, 1.0, -1.0])), rtol=1e-6)
    np.testing.assert_allclose(softmax(x).sum(axis=1), 1, rtol=1e-6)


def test_log_softmax_module_on_a_sequence(rng):
    x = rng.standard_normal((5, 2, 7)).astype(np.float32)  # (T, N, K)
    module = LogSoftmax(dim=2)
    out = module(x)
    np.testing.assert_allclose(np.exp(out).sum(axis=2), 1, rtol=1e-5)
    # dx = dout - softmax * sum(dout): with dout = 1 that is 1 - K * softmax.
    dx = module.backward(np.ones_like(out))
    np.testing.assert_allclose(dx, 1 - 7 * np.exp(out), rtol=1e-5, atol=1e-6)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (3, 5), (2, 3, 4, 7)])
def test_leaky_relu_kernels_match_the_numpy_reference(shape, dtype):
    from minilpr.nn.activation import leaky_relu_backward_reference, leaky_relu_forward_reference
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[0] = 0.0
    x_t = x.T  # a non-contiguous view too
    for inp in (x, x_t):
        out, cache = leaky_relu_forward(inp, 0.1)
        ref, ref_cache = leaky_relu_forward_reference(inp, 0.1)
        assert out.dtype == dtype and out.shape == inp.shape
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(cache[0], ref_cache[0])
        dout = rng.standard_normal(inp.shape).astype(dtype)
        np.testing.assert_array_equal(leaky_relu_backward(dout, cache),
                                      leaky_relu_backward_reference(dout, ref_cache))
    nan = leaky_relu_forward(np.array([np.nan, -1.0], dtype), 0.1)[0]
    assert np.isnan(nan[0]) and nan[1] == dtype(-0.1)
