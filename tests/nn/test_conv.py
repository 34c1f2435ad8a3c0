"""Conv2d: gradient checks, im2col + GEMM against the loop definition, kernels, errors."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import Conv2d, FunctionPair, assert_gradcheck
from minilpr.nn.conv import (col2im, col2im_reference, conv2d_backward, conv2d_forward,
                             conv2d_forward_naive, conv_output_size, im2col, im2col_reference)
from tests.conftest import GRAD_TOL

KERNELS = [1, 3, (1, 3), (3, 1), (3, 2)]
STRIDES = [1, 2, (2, 1), (4, 2)]
PADDINGS = [0, 1, (1, 0)]


def as_pair(v):
    return (v, v) if isinstance(v, int) else v


@st.composite
def conv_setups(draw):
    """(N, C, F, H, W, kernel, stride, padding), with the padded input at least the kernel."""
    kernel = draw(st.sampled_from(KERNELS))
    stride = draw(st.sampled_from(STRIDES))
    padding = draw(st.sampled_from(PADDINGS))
    (KH, KW), (PH, PW) = as_pair(kernel), as_pair(padding)
    H = draw(st.integers(max(1, KH - 2 * PH), 9))
    W = draw(st.integers(max(1, KW - 2 * PW), 9))
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return N, C, F, H, W, kernel, stride, padding


@given(conv_setups(), st.integers(0, 2**31 - 1))
@example((1, 1, 1, 1, 1, 1, 1, 0), 0)
@example((2, 3, 2, 7, 9, 3, (2, 1), 1), 1)
@example((1, 2, 3, 9, 9, 3, (4, 2), 1), 2)
@example((2, 1, 2, 5, 7, (3, 2), 2, 0), 3)
def test_conv2d_layer_gradcheck(setup, seed):
    N, C, F, H, W, kernel, stride, padding = setup
    rng = np.random.default_rng(seed)
    layer = Conv2d(C, F, kernel, stride, padding, rng=rng)
    errors = assert_gradcheck(layer, rng.standard_normal((N, C, H, W)), tol=GRAD_TOL, seed=seed)
    assert set(errors) == {"x", "weight", "bias"}


@given(conv_setups(), st.integers(0, 2**31 - 1))
@example((1, 2, 2, 5, 6, 3, (4, 2), 1), 0)
def test_conv2d_functions_gradcheck_without_bias(setup, seed):
    N, C, F, H, W, kernel, stride, padding = setup
    rng = np.random.default_rng(seed)
    KH, KW = as_pair(kernel)
    pair = FunctionPair(lambda x, w: conv2d_forward(x, w, None, stride, padding),
                        lambda dout, cache: conv2d_backward(dout, cache)[:2])
    inputs = (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, KH, KW)))
    assert_gradcheck(pair, inputs, tol=GRAD_TOL, seed=seed)
    out, cache = conv2d_forward(*inputs, None, stride, padding)
    assert conv2d_backward(np.ones_like(out), cache)[2] is None


@pytest.mark.kernel
@given(conv_setups(), st.integers(0, 2**31 - 1))
@example((1, 2, 3, 9, 9, 3, (4, 2), 1), 0)
@example((2, 3, 2, 7, 5, (3, 2), (2, 1), (1, 0)), 1)
def test_conv2d_forward_matches_the_loop_definition(setup, seed):
    N, C, F, H, W, kernel, stride, padding = setup
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, *as_pair(kernel)))
    b = rng.standard_normal(F)
    out, _ = conv2d_forward(x, w, b, stride, padding)
    np.testing.assert_allclose(out, conv2d_forward_naive(x, w, b, stride, padding),
                               rtol=1e-12, atol=1e-12)


def test_output_sizes_of_the_patent_convolutions():
    # Residual-1's shortcut: 32×220 with 3×3, stride (4, 2), pad 1 -> 8×110; conv3's stride
    # (2, 1) takes the pooled 16×110 to 8×110, so the two branches meet.
    assert (conv_output_size(32, 3, 4, 1), conv_output_size(220, 3, 2, 1)) == (8, 110)
    assert (conv_output_size(16, 3, 2, 1), conv_output_size(110, 3, 1, 1)) == (8, 110)
    assert (conv_output_size(8, 3, 4, 1), conv_output_size(110, 3, 2, 1)) == (2, 55)
    x = np.zeros((1, 64, 32, 220), np.float32)
    assert Conv2d(64, 4, 3, stride=(4, 2), padding=1)(x).shape == (1, 4, 8, 110)


def test_the_benchmark_traces_the_patent_network():
    from minilpr.bench.layers import patent_convolutions
    convs, pools = patent_convolutions()
    assert len(convs) == 13 and [p[0] for p in pools] == ["res1.pool", "res2.pool", "pool"]
    shapes = {s.name: (s.C, s.F, s.H, s.W, s.out_size) for s in convs}
    assert shapes["res1.conv5"] == (64, 256, 32, 220, (8, 110))
    assert shapes["res2.conv3"] == (256, 512, 4, 55, (2, 55))
    assert shapes["res2.conv5"] == (256, 1024, 8, 110, (2, 55))
    assert shapes["conv3"] == (512, 1024, 2, 55, (2, 55))
    assert pools[-1] == ("pool", 1024, 2, 55)  # -> 1024 × 1 × 27, T = 27 for the BiLSTM


def test_a_hand_computed_convolution():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # x[h, w] - x[h+1, w+1] = -5 everywhere
    out, _ = conv2d_forward(x, w, np.array([2.0]), stride=(2, 1), padding=0)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 3), -3.0))


def test_float32_forward_and_backward_stay_float32(rng):
    layer = Conv2d(3, 4, 3, stride=(2, 1), padding=1, rng=rng)
    x = rng.standard_normal((2, 3, 8, 10)).astype(np.float32)
    out = layer(x)
    assert out.dtype == np.float32 and out.shape == (2, 4, 4, 10)
    expected = conv2d_forward_naive(x.astype(np.float64), layer.weight.data.astype(np.float64),
                                    layer.bias.data.astype(np.float64), (2, 1), 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    dx = layer.backward(np.ones_like(out))
    assert dx.dtype == np.float32 and layer.weight.grad.dtype == np.float32


def test_backward_accumulates_and_workspace_reuse_is_safe(rng):
    layer = Conv2d(2, 3, 3, padding=1, rng=rng).astype(np.float64)
    x1, x2 = rng.standard_normal((2, 2, 2, 5, 5))
    dout = rng.standard_normal((2, 3, 5, 5))
    layer(x1)
    layer.backward(dout)
    layer(x2)  # reuses the column buffer of the first call
    layer.backward(dout)
    fresh = [conv2d_backward(dout, conv2d_forward(x, layer.weight.data, layer.bias.data, 1, 1)[1])
             for x in (x1, x2)]
    np.testing.assert_allclose(layer.weight.grad, fresh[0][1] + fresh[1][1], rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, fresh[0][2] + fresh[1][2], rtol=1e-12)


def test_default_init_matches_pytorchs_bounds():
    layer = Conv2d(4, 8, (3, 2), rng=0)
    bound = 1 / np.sqrt(4 * 3 * 2)
    assert layer.weight.shape == (8, 4, 3, 2) and layer.weight.data.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.8 * bound
    np.testing.assert_array_equal(Conv2d(4, 8, (3, 2), rng=0).weight.data, layer.weight.data)
    assert [name for name, _ in Conv2d(1, 2, 1, bias=False).named_parameters()] == ["weight"]


@pytest.mark.kernel
@pytest.mark.parametrize("kernel", [1, 3, (3, 2)])
@pytest.mark.parametrize("stride", [1, 2, (2, 1), (4, 2)])
@pytest.mark.parametrize("padding", [0, 1])
def test_im2col_and_col2im_match_numpy_references(rng, kernel, stride, padding):
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    cols = im2col(x, kernel, stride, padding)
    np.testing.assert_array_equal(cols, im2col_reference(x, kernel, stride, padding))
    y = rng.standard_normal(cols.shape).astype(np.float32)
    np.testing.assert_allclose(col2im(y, x.shape, kernel, stride, padding),
                               col2im_reference(y, x.shape, kernel, stride, padding),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.kernel
@pytest.mark.parametrize("kernel, stride, padding", [(3, 1, 1), (3, (4, 2), 1), ((3, 2), 2, 0),
                                                     (1, (2, 1), 1)])
def test_col2im_is_the_adjoint_of_im2col(rng, kernel, stride, padding):
    # <im2col(x), y> == <x, col2im(y)> for all x, y: col2im is im2col's transpose, which is
    # exactly why it carries the gradient back from the columns to the image.
    x = rng.standard_normal((2, 3, 7, 6))
    y = rng.standard_normal(im2col(x, kernel, stride, padding).shape)
    lhs = np.sum(im2col(x, kernel, stride, padding) * y)
    rhs = np.sum(x * col2im(y, x.shape, kernel, stride, padding))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_errors_are_clear(rng):
    layer = Conv2d(3, 4, 3, rng=rng)
    with pytest.raises(ValueError, match="expected 3 input channels, got 2"):
        layer(np.zeros((1, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="4-D input"):
        layer(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="smaller than the 3×3 kernel"):
        layer(np.zeros((1, 3, 2, 8), np.float32))
    with pytest.raises(TypeError, match="float64 input but computes in float32"):
        layer(np.zeros((1, 3, 8, 8)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((1, 4, 6, 6), np.float32))
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        Conv2d(3, 4, 3, stride=(1, 2, 3))
    with pytest.raises(ValueError, match="stride must be positive"):
        Conv2d(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match="channels but the weight expects"):
        conv2d_forward(np.zeros((1, 2, 5, 5)), np.zeros((4, 3, 3, 3)), None)
    with pytest.raises(ValueError, match="bias must have shape"):
        conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(3))
    _, cache = conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), None)
    with pytest.raises(ValueError, match="dout has shape"):
        conv2d_backward(np.zeros((1, 4, 5, 5)), cache)
