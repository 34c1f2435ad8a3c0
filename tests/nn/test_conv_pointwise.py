"""The 1×1, stride-1, unpadded convolution's own path (no im2col) against the general one."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import Conv2d, FunctionPair, assert_gradcheck
from minilpr.nn.conv import (col2im, conv2d_backward, conv2d_forward, conv2d_forward_naive,
                             im2col)
from tests.conftest import GRAD_TOL

shapes = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5),
                   st.integers(1, 9), st.integers(1, 9))  # N, C, F, H, W


@given(shapes, st.integers(0, 2**31 - 1))
@example((1, 1, 1, 1, 1), 0)
@example((1, 3, 5, 7, 9), 1)
@example((3, 5, 2, 1, 9), 2)
def test_pointwise_layer_gradcheck(shape, seed):
    N, C, F, H, W = shape
    rng = np.random.default_rng(seed)
    layer = Conv2d(C, F, 1, rng=rng)
    errors = assert_gradcheck(layer, rng.standard_normal((N, C, H, W)), tol=GRAD_TOL, seed=seed)
    assert set(errors) == {"x", "weight", "bias"}


@given(shapes, st.integers(0, 2**31 - 1))
@example((1, 2, 3, 5, 3), 0)
def test_pointwise_functions_gradcheck_without_bias(shape, seed):
    N, C, F, H, W = shape
    rng = np.random.default_rng(seed)
    pair = FunctionPair(lambda x, w: conv2d_forward(x, w, None, 1, 0),
                        lambda dout, cache: conv2d_backward(dout, cache)[:2])
    inputs = (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, 1, 1)))
    assert_gradcheck(pair, inputs, tol=GRAD_TOL, seed=seed)


@given(shapes, st.booleans(), st.integers(0, 2**31 - 1))
@example((1, 3, 4, 5, 7), True, 0)
def test_pointwise_path_equals_im2col_and_the_loop_definition(shape, bias, seed):
    N, C, F, H, W = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, 1, 1))
    b = rng.standard_normal(F) if bias else None
    out, cache = conv2d_forward(x, w, b, 1, 0)
    assert cache[0].shape == x.shape  # the pointwise path ran: it keeps x, not a column matrix
    np.testing.assert_allclose(out, conv2d_forward_naive(x, w, b, 1, 0), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(F, N * H * W)  # (F, N*P), im2col's order
    np.testing.assert_allclose(dw, (dout_mat @ im2col(x, 1).T).reshape(F, C, 1, 1),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, col2im(w.reshape(F, C).T @ dout_mat, x.shape, 1),
                               rtol=1e-12, atol=1e-12)
    if bias:
        np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), rtol=1e-12)
    else:
        assert db is None


def test_pointwise_takes_views_and_keeps_float32(rng):
    x = rng.standard_normal((2, 5, 9, 3)).astype(np.float32).transpose(0, 1, 3, 2)  # a view
    layer = Conv2d(5, 4, 1, rng=rng)
    out = layer(x)
    assert out.dtype == np.float32 and out.shape == (2, 4, 3, 9)
    np.testing.assert_allclose(out, conv2d_forward_naive(x, layer.weight.data, layer.bias.data),
                               rtol=1e-5, atol=1e-5)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(dout)
    assert dx.dtype == np.float32 and layer.weight.grad.dtype == np.float32
    assert dx.shape == x.shape and dx.flags.c_contiguous


def test_strided_or_padded_1x1_still_goes_through_im2col(rng):
    x = rng.standard_normal((1, 2, 5, 5))
    w = rng.standard_normal((3, 2, 1, 1))
    for stride, padding in ((2, 0), (1, 1)):
        out, cache = conv2d_forward(x, w, None, stride, padding)
        assert cache[0].ndim == 2
        np.testing.assert_allclose(out, conv2d_forward_naive(x, w, None, stride, padding),
                                   rtol=1e-12, atol=1e-12)
