"""BatchNorm2d: gradients in training and eval, running statistics, kernels vs references."""

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from minilpr.nn import BatchNorm2d, FunctionPair, assert_gradcheck
from minilpr.nn.norm import (batchnorm2d_backward, batchnorm2d_backward_naive,
                             batchnorm2d_forward, batchnorm2d_forward_naive, channel_grad_sums,
                             channel_grad_sums_reference, channel_mean_var,
                             channel_mean_var_reference)
from tests.conftest import GRAD_TOL

sizes = st.integers(1, 4)


def make_bn(rng, C, affine=True):
    bn = BatchNorm2d(C, affine=affine)
    if affine:
        # Drawn before x, so that x never equals gradcheck's upstream gradient (same seed):
        # that dout would lie in the span of {1, xhat}, where the true dx is exactly zero.
        bn.weight.data[...] = rng.uniform(0.5, 1.5, C)
        bn.bias.data[...] = rng.standard_normal(C)
    return bn


@given(N=sizes, C=st.integers(1, 3), H=sizes, W=sizes, affine=st.booleans(),
       seed=st.integers(0, 2**16))
@example(N=1, C=2, H=3, W=3, affine=True, seed=1)   # batch 1: statistics over H, W only
@example(N=3, C=2, H=1, W=1, affine=True, seed=2)   # 1 x 1 maps: statistics over the batch only
@example(N=3, C=1, H=1, W=1, affine=False, seed=3)  # three values per channel
@example(N=3, C=3, H=3, W=5, affine=True, seed=4)   # odd sizes
def test_train_gradcheck(N, C, H, W, affine, seed):
    # With M = N * H * W = 2 values per channel, xhat is ±1 whatever x is: the true dx is of
    # order eps and drowns in finite-difference noise. Training needs M >= 2; we check M >= 3.
    assume(N * H * W >= 3)
    rng = np.random.default_rng(seed)
    bn = make_bn(rng, C, affine)
    x = rng.standard_normal((N, C, H, W)) * 2 + 1
    errors = assert_gradcheck(bn, x, tol=GRAD_TOL, seed=seed + 1)
    assert list(errors) == (["x", "weight", "bias"] if affine else ["x"])


@given(N=sizes, C=st.integers(1, 3), H=sizes, W=sizes, seed=st.integers(0, 2**16))
@example(N=1, C=1, H=1, W=1, seed=0)  # eval has no batch statistics, so M = 1 is fine
def test_eval_gradcheck(N, C, H, W, seed):
    rng = np.random.default_rng(seed)
    bn = make_bn(rng, C)
    bn.running_mean[...] = rng.standard_normal(C)
    bn.running_var[...] = rng.uniform(0.5, 2.0, C)
    bn.eval()
    assert_gradcheck(bn, rng.standard_normal((N, C, H, W)), tol=GRAD_TOL, seed=seed + 1)


def test_pure_functions_gradcheck(rng):
    weight, bias = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    pair = FunctionPair(lambda x, w, b: batchnorm2d_forward(x, w, b), batchnorm2d_backward)
    assert_gradcheck(pair, (rng.standard_normal((2, 3, 2, 3)), weight, bias), tol=GRAD_TOL)


def test_naive_reference_gradcheck(rng):
    pair = FunctionPair(lambda x, w, b: batchnorm2d_forward_naive(x, w, b),
                        batchnorm2d_backward_naive)
    weight, bias = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    assert_gradcheck(pair, (rng.standard_normal((2, 3, 2, 3)), weight, bias), tol=GRAD_TOL)


def test_fast_matches_naive_step_by_step_backward(rng):
    x = rng.standard_normal((3, 4, 5, 6)) * 3 - 2
    weight, bias = rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal(x.shape)
    out, cache = batchnorm2d_forward(x, weight, bias)
    out_naive, cache_naive = batchnorm2d_forward_naive(x, weight, bias)
    np.testing.assert_allclose(out, out_naive, rtol=1e-12, atol=1e-12)
    for fast, naive in zip(batchnorm2d_backward(dout, cache),
                           batchnorm2d_backward_naive(dout, cache_naive)):
        np.testing.assert_allclose(fast, naive, rtol=1e-10, atol=1e-12)


def test_training_output_is_standardised_per_channel(rng):
    bn = BatchNorm2d(3)
    out = bn(rng.standard_normal((4, 3, 5, 5)).astype(np.float32) * 7 + 3)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)


def test_running_statistics_update_like_pytorch(rng):
    bn = BatchNorm2d(2, momentum=0.25).astype(np.float64)
    x = rng.standard_normal((3, 2, 2, 2)) * 2 + 5
    bn(x)
    mean = x.mean(axis=(0, 2, 3))
    unbiased = x.var(axis=(0, 2, 3), ddof=1)  # the running variance uses M - 1
    np.testing.assert_allclose(bn.running_mean, 0.25 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.75 * 1 + 0.25 * unbiased, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    bn(x)  # eval leaves the statistics alone
    np.testing.assert_allclose(bn.running_mean, 0.25 * mean, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1


def test_momentum_none_is_the_cumulative_average(rng):
    bn = BatchNorm2d(2, momentum=None).astype(np.float64)
    batches = [rng.standard_normal((2, 2, 3, 3)) + k for k in range(3)]
    for x in batches:
        bn(x)
    expected = np.mean([x.mean(axis=(0, 2, 3)) for x in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean, expected, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 3


def test_eval_uses_running_statistics_only(rng):
    bn = BatchNorm2d(3).astype(np.float64)
    bn.weight.data[...] = [1.0, 2.0, 0.5]
    bn.bias.data[...] = [0.0, -1.0, 1.0]
    bn.running_mean[...] = [0.5, -1.0, 2.0]
    bn.running_var[...] = [4.0, 0.25, 1.0]
    bn.eval()
    batch = rng.standard_normal((4, 3, 2, 2))
    other = batch.copy()
    other[1:] = rng.standard_normal((3, 3, 2, 2)) * 10  # change every sample but the first
    out = bn(batch)
    np.testing.assert_array_equal(out[0], bn(other)[0])
    per_channel = lambda v: v[:, None, None]  # noqa: E731  (C,) -> (C, 1, 1)
    expected = ((batch - per_channel(bn.running_mean)) / np.sqrt(per_channel(bn.running_var) + 1e-5)
                * per_channel(bn.weight.data) + per_channel(bn.bias.data))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_single_value_per_channel_in_training_raises():
    bn = BatchNorm2d(2)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.ones((1, 2, 1, 1), dtype=np.float32))
    assert int(bn.num_batches_tracked) == 0  # nothing was updated
    np.testing.assert_array_equal(bn.running_var, 1)
    bn.eval()
    assert bn(np.ones((1, 2, 1, 1), dtype=np.float32)).shape == (1, 2, 1, 1)


def test_parameter_gradients_accumulate(rng):
    bn = BatchNorm2d(2).astype(np.float64)
    x, dout = rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 2, 3, 3))
    bn(x)
    bn.backward(dout)
    once = bn.weight.grad.copy(), bn.bias.grad.copy()
    bn(x)
    bn.backward(dout)
    np.testing.assert_allclose(bn.weight.grad, 2 * once[0])
    np.testing.assert_allclose(bn.bias.grad, 2 * once[1])


def test_errors_are_clear(rng):
    bn = BatchNorm2d(3)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        bn.backward(np.ones((2, 3, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="3 channels but the input has 4"):
        bn(np.ones((2, 4, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        bn(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="float64 input"):
        bn(np.ones((2, 3, 2, 2)))


def test_state_dict_names_match_pytorch():
    assert list(BatchNorm2d(4).state_dict()) == ["weight", "bias", "running_mean",
                                                 "running_var", "num_batches_tracked"]
    assert list(BatchNorm2d(4, affine=False).state_dict()) == ["running_mean", "running_var",
                                                               "num_batches_tracked"]


def test_float32_statistics_survive_a_large_mean(rng):
    x = (1000 + 0.01 * rng.standard_normal((4, 2, 8, 8))).astype(np.float32)
    _, var = channel_mean_var(x)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=(0, 2, 3)), rtol=1e-3)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_var_kernel_matches_reference(rng, dtype):
    x = (rng.standard_normal((3, 4, 5, 7)) * 2 + 1).astype(dtype)
    for fast, ref in zip(channel_mean_var(x), channel_mean_var_reference(x)):
        assert fast.dtype == dtype
        np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_sums_kernel_matches_reference(rng, dtype):
    dout = rng.standard_normal((3, 4, 5, 7)).astype(dtype)
    xhat = rng.standard_normal((3, 4, 5, 7)).astype(dtype)
    for fast, ref in zip(channel_grad_sums(dout, xhat), channel_grad_sums_reference(dout, xhat)):
        assert fast.dtype == dtype
        np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.kernel
def test_float32_layer_matches_float64_naive(rng):
    x = rng.standard_normal((2, 3, 4, 5)) * 3 + 1
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal(x.shape)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    out, cache = batchnorm2d_forward(f32(x), f32(weight), f32(bias))
    out_ref, cache_ref = batchnorm2d_forward_naive(x, weight, bias)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, out_ref, rtol=1e-4, atol=1e-5)
    for fast, ref in zip(batchnorm2d_backward(f32(dout), cache),
                         batchnorm2d_backward_naive(dout, cache_ref)):
        assert fast.dtype == np.float32
        np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4)


def test_two_values_per_channel_normalise_to_plus_minus_one():
    out = BatchNorm2d(1).astype(np.float64)(np.array([[[[3.0]]], [[[-7.0]]]]))  # M = 2
    np.testing.assert_allclose(out.ravel(), [1.0, -1.0], rtol=1e-5)
