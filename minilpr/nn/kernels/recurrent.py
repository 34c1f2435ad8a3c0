"""Numba loops of one LSTM time step: the elementwise gate maths (`minilpr.nn.lstm_cell`).

The matrix products of a step (``x_t @ W_ih.T`` and ``h_{t-1} @ W_hh.T`` forward,
``dgates @ W_hh`` backward) go to BLAS; everything between them is elementwise over the
``N × H`` hidden units and lives here, one pass over memory per step.

The four gate blocks sit side by side in a row of ``4H``, in PyTorch's order
``[i | f | g | o]``: unit ``j`` of gate ``k`` is column ``k * H + j``.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def sigmoid(z):
    """1 / (1 + exp(-z)).

    For z below about -88 (float32) or -709 (float64) exp(-z) overflows to inf and the result
    is 0, the right limit; compiled code raises no error there. (Run as plain Python, with
    NUMBA_DISABLE_JIT=1, ``math.exp`` raises OverflowError past |z| ≈ 709 instead, a
    pre-activation no trained network reaches.)
    """
    return 1.0 / (1.0 + math.exp(-z))


@njit(cache=True)
def tanh(z):
    """tanh(z) written as 2 sigmoid(2z) - 1.

    The C library's tanh is about five times slower than exp on this path and would dominate
    the step; the identity costs one exp. Its error is below 1e-15 absolute in float64 and
    1e-7 in float32. ``z + z`` (not ``2.0 * z``) keeps float32 input in float32, so the fast
    single-precision exp is called.
    """
    return 2.0 / (1.0 + math.exp(-(z + z))) - 1.0


@njit(cache=True)
def lstm_step_forward_kernel(gates, hg, bias, c_prev, c, h):
    """The gates, the new cell state and the new hidden state of one step.

    Parameters
    ----------
    gates : (N, 4H) float
        In: the input projection ``x_t @ W_ih.T``. Out: the activated gates
        ``[i | f | g | o]``, kept for the backward pass.
    hg : (N, 4H) float
        The recurrent projection ``h_{t-1} @ W_hh.T``.
    bias : (4H,) float
        ``b_ih + b_hh`` (zeros for a layer without bias).
    c_prev : (N, H) float
        The cell state ``c_{t-1}``.
    c, h : (N, H) float
        Written: ``c_t = f * c_{t-1} + i * g`` and ``h_t = o * tanh(c_t)``.
    """
    N, H = c.shape
    for n in range(N):
        for j in range(H):
            i = sigmoid(gates[n, j] + hg[n, j] + bias[j])
            f = sigmoid(gates[n, H + j] + hg[n, H + j] + bias[H + j])
            g = tanh(gates[n, 2 * H + j] + hg[n, 2 * H + j] + bias[2 * H + j])
            o = sigmoid(gates[n, 3 * H + j] + hg[n, 3 * H + j] + bias[3 * H + j])
            gates[n, j] = i
            gates[n, H + j] = f
            gates[n, 2 * H + j] = g
            gates[n, 3 * H + j] = o
            c_new = f * c_prev[n, j] + i * g
            c[n, j] = c_new
            h[n, j] = o * tanh(c_new)


@njit(cache=True)
def lstm_step_backward_kernel(gates, c_prev, c, dh_out, dh_next, dc, dgates):
    """Gradients of one step's gate pre-activations; carries dL/dc one step back.

    Parameters
    ----------
    gates : (N, 4H) float
        The activated gates ``[i | f | g | o]`` of this step (from the forward kernel).
    c_prev, c : (N, H) float
        The cell states ``c_{t-1}`` and ``c_t``.
    dh_out : (N, H) float
        dL/dh_t arriving from this step's output.
    dh_next : (N, H) float
        dL/dh_t arriving from the next step (through ``W_hh``).
    dc : (N, H) float
        In: dL/dc_t from the next step. Out: dL/dc_{t-1}.
    dgates : (N, 4H) float
        Written: dL/d(pre-activation) of ``[i | f | g | o]``.
    """
    N, H = c.shape
    for n in range(N):
        for j in range(H):
            i = gates[n, j]
            f = gates[n, H + j]
            g = gates[n, 2 * H + j]
            o = gates[n, 3 * H + j]
            tanh_c = tanh(c[n, j])
            dh = dh_out[n, j] + dh_next[n, j]
            # c_t reaches the loss directly (through h_t) and through c_{t+1}: add both paths.
            dc_t = dc[n, j] + dh * o * (1.0 - tanh_c * tanh_c)
            dgates[n, j] = dc_t * g * i * (1.0 - i)
            dgates[n, H + j] = dc_t * c_prev[n, j] * f * (1.0 - f)
            dgates[n, 2 * H + j] = dc_t * i * (1.0 - g * g)
            dgates[n, 3 * H + j] = dh * tanh_c * o * (1.0 - o)
            dc[n, j] = dc_t * f
