"""MaxPool2d: gradient checks without ties, the tie rule, kernels against the loop definition."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import MaxPool2d, assert_gradcheck
from minilpr.nn.kernels.pool import maxpool2d_forward_kernel, maxpool2x2_forward_kernel
from minilpr.nn.pool import (maxpool2d_backward, maxpool2d_backward_reference, maxpool2d_forward,
                             maxpool2d_forward_naive)
from tests.conftest import GRAD_TOL


def as_pair(v):
    return (v, v) if isinstance(v, int) else v


def distinct_values(rng, shape):
    """Values 0.01 apart in random order: no ties, and an eps-nudge never changes a winner."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01


@st.composite
def pool_setups(draw):
    """(N, C, H, W, kernel, stride, padding) with padding at most half the kernel."""
    kernel = draw(st.sampled_from([1, 2, 3, (2, 1), (3, 2)]))
    KH, KW = as_pair(kernel)
    stride = draw(st.sampled_from([None, 1, 2, (2, 1), (4, 2)]))
    padding = draw(st.sampled_from([p for p in [0, 1, (1, 0)]
                                    if 2 * as_pair(p)[0] <= KH and 2 * as_pair(p)[1] <= KW]))
    PH, PW = as_pair(padding)
    H = draw(st.integers(max(1, KH - 2 * PH), 9))
    W = draw(st.integers(max(1, KW - 2 * PW), 9))
    return draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W, kernel, stride, padding


@given(pool_setups(), st.integers(0, 2**31 - 1))
@example((1, 1, 4, 4, 2, None, 0), 0)
@example((2, 3, 7, 9, 3, (2, 1), 1), 1)
@example((1, 2, 9, 9, 3, (4, 2), 1), 2)
@example((2, 1, 5, 5, 3, 1, 1), 3)
def test_maxpool2d_gradcheck(setup, seed):
    N, C, H, W, kernel, stride, padding = setup
    rng = np.random.default_rng(seed)
    x = distinct_values(rng, (N, C, H, W))
    assert_gradcheck(MaxPool2d(kernel, stride, padding), x, tol=GRAD_TOL, seed=seed)


@pytest.mark.kernel
@given(pool_setups(), st.integers(0, 2**31 - 1))
def test_kernels_match_the_loop_definition(setup, seed):
    N, C, H, W, kernel, stride, padding = setup
    rng = np.random.default_rng(seed)
    # Rounded to a coarse grid so that ties are common: the tie rule is tested too.
    x = np.round(rng.standard_normal((N, C, H, W)), 0).astype(np.float32)
    out, (argmax, _) = maxpool2d_forward(x, kernel, stride, padding)
    expected_out, expected_argmax = maxpool2d_forward_naive(x, kernel, stride, padding)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(argmax, expected_argmax)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_allclose(maxpool2d_backward(dout, (argmax, x.shape)),
                               maxpool2d_backward_reference(dout, argmax, x.shape),
                               rtol=1e-6, atol=1e-6)


def test_first_maximum_in_scan_order_wins_a_tie():
    x = np.array([[[[1.0, 5.0, 5.0, 0.0],
                    [5.0, 5.0, 0.0, 5.0]]]])
    layer = MaxPool2d(2)
    out = layer(x)
    np.testing.assert_array_equal(out, [[[[5.0, 5.0]]]])
    # Window 1: the 5 at (0, 1) comes before (1, 0) and (1, 1) in row-major order.
    # Window 2: the 5 at (0, 2) comes before (1, 3).
    dx = layer.backward(np.array([[[[10.0, 20.0]]]]))
    expected = np.zeros_like(x)
    expected[0, 0, 0, 1], expected[0, 0, 0, 2] = 10.0, 20.0
    np.testing.assert_array_equal(dx, expected)


def test_overlapping_windows_add_their_gradients():
    x = np.array([[[[0.0, 9.0, 1.0, 2.0]]]])  # the 9 wins all three 1×2 windows it is in
    layer = MaxPool2d((1, 2), stride=1)
    np.testing.assert_array_equal(layer(x), [[[[9.0, 9.0, 2.0]]]])
    np.testing.assert_array_equal(layer.backward(np.array([[[[1.0, 2.0, 4.0]]]])),
                                  [[[[0.0, 3.0, 0.0, 4.0]]]])


def test_padding_is_minus_infinity():
    x = -np.ones((1, 1, 2, 2))  # zero padding would win every border window
    out, _ = maxpool2d_forward(x, 2, stride=1, padding=1)
    np.testing.assert_array_equal(out, -np.ones((1, 1, 3, 3)))


def test_nan_propagates():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    out, (argmax, _) = maxpool2d_forward(x, 2)
    assert np.isnan(out[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 1


def test_the_patent_pools_halve_the_size_rounding_down(rng):
    x = rng.standard_normal((2, 3, 2, 55)).astype(np.float32)
    out = MaxPool2d(2, 2)(x)
    assert out.shape == (2, 3, 1, 27) and out.dtype == np.float32
    np.testing.assert_array_equal(out, x[:, :, :, :54].reshape(2, 3, 2, 27, 2).max(axis=(2, 4))
                                  [:, :, None])
    assert MaxPool2d(2).stride == (2, 2) and MaxPool2d(3, 1).stride == (1, 1)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="padding must be between 0 and half the kernel"):
        MaxPool2d(2, padding=2)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        MaxPool2d("2")
    layer = MaxPool2d(3)
    with pytest.raises(ValueError, match="smaller than the 3×3 window"):
        layer(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ValueError, match="4-D"):
        layer(np.zeros((5, 5)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((1, 1, 1, 1)))
    _, cache = maxpool2d_forward(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(ValueError, match="dout has shape"):
        maxpool2d_backward(np.zeros((1, 1, 4, 4)), cache)


@pytest.mark.kernel
@pytest.mark.parametrize("shape", [(2, 3, 4, 6), (1, 2, 7, 9), (2, 1, 2, 55)])
def test_the_2x2_kernel_agrees_with_the_general_one(rng, shape):
    x = np.round(rng.standard_normal(shape)).astype(np.float32)  # ties everywhere
    x[0, 0, 0, 1] = np.nan
    H_out, W_out = shape[2] // 2, shape[3] // 2
    results = []
    for run in (lambda o, a: maxpool2x2_forward_kernel(x, o, a),
                lambda o, a: maxpool2d_forward_kernel(x, 2, 2, 2, 2, 0, 0, o, a)):
        out = np.empty(shape[:2] + (H_out, W_out), np.float32)
        argmax = np.empty(out.shape, np.int64)
        run(out, argmax)
        results.append((out, argmax))
    np.testing.assert_array_equal(results[0][0], results[1][0])  # NaN == NaN here
    np.testing.assert_array_equal(results[0][1], results[1][1])
    expected_out, expected_argmax = maxpool2d_forward_naive(np.nan_to_num(x, nan=9.0), 2)
    finite = ~np.isnan(results[0][0])
    np.testing.assert_array_equal(results[0][0][finite], expected_out[finite])
    np.testing.assert_array_equal(results[0][1], expected_argmax)
