"""One LSTM direction (`minilpr.nn.lstm_cell`): the step kernels and the whole direction
against their plain-NumPy references, and the pure functions' errors."""

import numpy as np
import pytest

from minilpr.nn import LSTM
from minilpr.nn.kernels.recurrent import lstm_step_backward_kernel, lstm_step_forward_kernel
from minilpr.nn.lstm_cell import (lstm_direction_forward, lstm_forward_reference,
                                  lstm_step_backward_reference, lstm_step_forward_reference)


def random_state(rng, shape):
    return rng.standard_normal(shape), rng.standard_normal(shape)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, H", [(1, 1), (3, 5)])
def test_step_forward_kernel_matches_reference(rng, dtype, N, H):
    gates_in = (3 * rng.standard_normal((N, 4 * H))).astype(dtype)
    hg = rng.standard_normal((N, 4 * H)).astype(dtype)
    bias = rng.standard_normal(4 * H).astype(dtype)
    c_prev = rng.standard_normal((N, H)).astype(dtype)
    gates, c, h = gates_in.copy(), np.empty((N, H), dtype), np.empty((N, H), dtype)
    lstm_step_forward_kernel(gates, hg, bias, c_prev, c, h)
    expected = lstm_step_forward_reference(gates_in, hg, bias, c_prev)
    for got, want in zip((gates, c, h), expected):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, H", [(1, 1), (3, 5)])
def test_step_backward_kernel_matches_reference(rng, dtype, N, H):
    a = rng.standard_normal((N, 4 * H))
    gates = np.concatenate([1 / (1 + np.exp(-a[:, :2 * H])), np.tanh(a[:, 2 * H:3 * H]),
                            1 / (1 + np.exp(-a[:, 3 * H:]))], axis=1).astype(dtype)
    c_prev, c, dh_out, dh_next, dc = (rng.standard_normal((N, H)).astype(dtype) for _ in range(5))
    dgates_want, dc_prev_want = lstm_step_backward_reference(gates, c_prev, c, dh_out + dh_next,
                                                             dc)
    dgates = np.empty_like(gates)
    lstm_step_backward_kernel(gates, c_prev, c, dh_out, dh_next, dc, dgates)
    np.testing.assert_allclose(dgates, dgates_want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dc, dc_prev_want, rtol=1e-5, atol=1e-6)


@pytest.mark.kernel
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T, N, D, H", [(1, 1, 1, 1), (5, 2, 3, 4)])
def test_direction_matches_the_plain_reference(rng, reverse, T, N, D, H):
    lstm = LSTM(D, H, rng=rng)
    args = (rng.standard_normal((T, N, D)).astype(np.float32),
            *(s.astype(np.float32) for s in random_state(rng, (N, H))),
            lstm.weight_ih_l0.data, lstm.weight_hh_l0.data, lstm.bias_ih_l0.data,
            lstm.bias_hh_l0.data)
    out, h_n, c_n, _ = lstm_direction_forward(*args, reverse=reverse)
    for got, want in zip((out, h_n, c_n), lstm_forward_reference(*args, reverse=reverse)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The last state of the reverse direction is the one at t = 0.
    np.testing.assert_array_equal(h_n, out[0] if reverse else out[-1])


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_saturate_without_nan(dtype):
    H = 2
    gates = np.array([[100.0, -100.0] * 4, [-100.0, 100.0] * 4], dtype)
    c, h = np.empty((2, H), dtype), np.empty((2, H), dtype)
    lstm_step_forward_kernel(gates, np.zeros_like(gates), np.zeros(4 * H, dtype),
                             np.zeros((2, H), dtype), c, h)
    assert np.all(np.isfinite(gates)) and np.all(np.isfinite(c)) and np.all(np.isfinite(h))
    np.testing.assert_allclose(gates[0], [1, 0] * 2 + [1, -1] + [1, 0], atol=1e-7)


def test_pure_function_refuses_mixed_dtypes_and_misfitting_weights():
    x = np.zeros((2, 1, 3), np.float32)
    h = np.zeros((1, 4), np.float32)
    w_ih, w_hh = np.zeros((16, 3), np.float32), np.zeros((16, 4))
    with pytest.raises(TypeError, match="x is float32 but w_hh is float64"):
        lstm_direction_forward(x, h, h, w_ih, w_hh)
    with pytest.raises(ValueError, match="do not fit an input of size 3"):
        lstm_direction_forward(x, h, h, np.zeros((16, 2), np.float32), w_hh.astype(np.float32))
