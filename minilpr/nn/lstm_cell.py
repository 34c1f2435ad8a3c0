"""One LSTM direction: the cell's equations, forward and backward, run over a sequence.

One step with input ``x_t`` (N, D), hidden state ``h_{t-1}`` and cell state ``c_{t-1}`` (N, H)
computes four gates from one product per input, in PyTorch's order:

    a   = x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh        (N, 4H) = [a_i | a_f | a_g | a_o]
    i   = sigmoid(a_i)     input gate: how much of the candidate to write
    f   = sigmoid(a_f)     forget gate: how much of the old cell state to keep
    g   = tanh(a_g)        the candidate values
    o   = sigmoid(a_o)     output gate: how much of the cell to show
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

``W_ih`` is (4H, D) and ``W_hh`` (4H, H): the four gates' weights stacked, so each product is
one GEMM.

Backward (backpropagation through time) walks the steps in reverse. ``dh_t`` is the total
dL/dh_t — from the output at t and, through ``W_hh``, from step t + 1 — and ``dc_t`` arrives
from step t + 1 (``dh_n``, ``dc_n`` at the last step read). Per step:

    dc_t     = dc_t + dh_t * o * (1 - tanh(c_t)²)     c_t reaches the loss through h_t as well
    da_i     = dc_t * g * i * (1 - i)                 sigmoid' = s (1 - s)
    da_f     = dc_t * c_{t-1} * f * (1 - f)
    da_g     = dc_t * i * (1 - g²)                    tanh' = 1 - tanh²
    da_o     = dh_t * tanh(c_t) * o * (1 - o)
    dc_{t-1} = dc_t * f                               the cell's own path back in time
    dh_{t-1} = da @ W_hh    (N, H), plus the output gradient at t - 1
    dx_t     = da @ W_ih    (N, D)

and the weights, used at every step, sum their gradients over time:
``dW_ih = sum_t da_t.T @ x_t``, ``dW_hh = sum_t da_t.T @ h_{t-1}``, and
``db_ih = db_hh = sum_t sum_n da_t`` (the two biases enter only as a sum). The derivation in
full is in ``docs/derivations/lstm.md``; here is how the code is arranged for speed:

* The input projection of the whole sequence is ONE product, ``(T*N, D) @ (D, 4H)``; it does
  not depend on the recurrence. Only ``h_{t-1} @ W_hh.T`` must wait for the previous step.
* The elementwise maths between the products runs in a Numba kernel, one pass per step
  (`minilpr.nn.kernels.recurrent`); `lstm_step_forward_reference` and
  `lstm_step_backward_reference` are its NumPy twins, the equations above line by line.
* Backward computes d(pre-activations) per step in a kernel and carries dL/dh back through
  ``W_hh`` with one GEMM; the weight gradients are ONE product of the stacked ``(T*N, 4H)``
  gate gradients with the stacked inputs or states, done once at the end.
* Buffers for the whole sequence are allocated once per call, never per step.

A direction may read the sequence in reverse (``reverse=True``), the second half of a
bidirectional layer. The layers built from these functions — `LSTMCell`, the stacked and
bidirectional `LSTM` — are in `minilpr.nn.recurrent`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minilpr.nn.checks import check_float
from minilpr.nn.kernels.recurrent import lstm_step_backward_kernel, lstm_step_forward_kernel


def _summed_bias(b_ih, b_hh, size: int, dtype) -> np.ndarray:
    """``b_ih + b_hh`` — they only ever enter the gates as a sum — or zeros without bias."""
    bias = np.zeros(size, dtype)
    for b in (b_ih, b_hh):
        if b is not None:
            bias += b
    return bias


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow


def lstm_step_forward_reference(gates_in, hg, bias, c_prev):
    """NumPy twin of `lstm_step_forward_kernel`: ``(gates, c, h)`` of one step.

    Parameters
    ----------
    gates_in : (N, 4H) float
        ``x_t @ W_ih.T``.
    hg : (N, 4H) float
        ``h_{t-1} @ W_hh.T``.
    bias : (4H,) float
    c_prev : (N, H) float

    Returns
    -------
    gates : (N, 4H) float
        Activated ``[i | f | g | o]``.
    c, h : (N, H) float
    """
    a = gates_in + hg + bias
    H = c_prev.shape[1]
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return np.concatenate([i, f, g, o], axis=1), c, h


def lstm_step_backward_reference(gates, c_prev, c, dh, dc):
    """NumPy twin of `lstm_step_backward_kernel`: ``(dgates, dc_prev)`` of one step.

    Parameters
    ----------
    gates : (N, 4H) float
        Activated ``[i | f | g | o]``.
    c_prev, c : (N, H) float
    dh : (N, H) float
        Total dL/dh_t (from the output and from the next step).
    dc : (N, H) float
        dL/dc_t from the next step.

    Returns
    -------
    dgates : (N, 4H) float
        dL/d(pre-activations).
    dc_prev : (N, H) float
    """
    H = c.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    tanh_c = np.tanh(c)
    dc = dc + dh * o * (1 - tanh_c**2)
    dgates = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                             dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)
    return dgates, dc * f


def lstm_forward_reference(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One LSTM direction written as plainly as possible: the equations, one step at a time.

    Parameters
    ----------
    x : (T, N, D) float
    h0, c0 : (N, H) float
    w_ih : (4H, D) float
    w_hh : (4H, H) float
    b_ih, b_hh : (4H,) float or None
    reverse : bool
        Read the sequence from ``t = T-1`` down to 0.

    Returns
    -------
    out : (T, N, H) float
        ``h_t`` at every time step.
    h_n, c_n : (N, H) float
        The states after the last step read.
    """
    T = x.shape[0]
    H = w_hh.shape[1]
    b = _summed_bias(b_ih, b_hh, 4 * H, x.dtype)
    h, c = h0, c0
    out = np.empty((T, x.shape[1], H), x.dtype)
    for t in (reversed(range(T)) if reverse else range(T)):
        a = x[t] @ w_ih.T + h @ w_hh.T + b
        i = _sigmoid(a[:, :H])
        f = _sigmoid(a[:, H:2 * H])
        g = np.tanh(a[:, 2 * H:3 * H])
        o = _sigmoid(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[t] = h
    return out, h, c


class DirectionCache(NamedTuple):
    """What `lstm_direction_forward` keeps for the backward pass."""

    x: np.ndarray        # (T, N, D) the input, for dW_ih
    gates: np.ndarray    # (T, N, 4H) activated [i | f | g | o] of every step, in time order
    hs: np.ndarray       # (T + 1, N, H) hidden states, laid out as described in the forward
    cs: np.ndarray       # (T + 1, N, H) cell states, the same way
    w_ih: np.ndarray     # (4H, D)
    w_hh: np.ndarray     # (4H, H)
    has_bias: bool
    r: int               # 1 when the direction reads the sequence in reverse, else 0


def lstm_direction_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """Run one LSTM direction over a whole sequence.

    Parameters
    ----------
    x : (T, N, D) float
    h0, c0 : (N, H) float
        Initial hidden and cell states.
    w_ih : (4H, D) float
        Input weights of the gates ``[i | f | g | o]``.
    w_hh : (4H, H) float
        Recurrent weights.
    b_ih, b_hh : (4H,) float or None
    reverse : bool
        Read the sequence backwards in time (the second half of a bidirectional layer).

    Returns
    -------
    out : (T, N, H) float
        ``h_t`` for every t, in time order whichever way the sequence was read. A view into
        the cache's state buffer: copy it before writing to it.
    h_n, c_n : (N, H) float
        The states after the last step read (t = T-1, or t = 0 when ``reverse``).
    cache : DirectionCache
        What `lstm_direction_backward` needs.
    """
    check_float("lstm: x", x)
    if x.ndim != 3:
        raise ValueError(f"lstm: x must have shape (T, N, D), got {x.shape}")
    if w_hh.ndim != 2:
        raise ValueError(f"lstm: w_hh must have shape (4H, H), got {w_hh.shape}")
    T, N, D = x.shape
    H4, H = w_hh.shape
    if T == 0:
        raise ValueError("lstm: the sequence is empty (T = 0)")
    if w_ih.shape != (H4, D) or H4 != 4 * H:
        raise ValueError(f"lstm: w_ih {w_ih.shape} and w_hh {w_hh.shape} do not fit an input "
                         f"of size {D} (expected (4H, {D}) and (4H, H))")
    if h0.shape != (N, H) or c0.shape != (N, H):
        raise ValueError(f"lstm: h0 {h0.shape} and c0 {c0.shape} must both be {(N, H)}")
    dtype = x.dtype
    arrays = {"w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh, "h0": h0, "c0": c0}
    mixed = [f"{name} is {a.dtype}" for name, a in arrays.items()
             if a is not None and a.dtype != dtype]
    if mixed:
        raise TypeError(f"lstm: x is {dtype} but {', '.join(mixed)}; cast them to one dtype")
    x = np.ascontiguousarray(x)
    bias = _summed_bias(b_ih, b_hh, H4, dtype)

    # The input projection of every time step at once: one GEMM, independent of the recurrence.
    gates = np.empty((T, N, H4), dtype)
    np.matmul(x.reshape(T * N, D), w_ih.T, out=gates.reshape(T * N, H4))  # (T*N, 4H)
    # hs and cs hold T + 1 states. Read forwards, h_{t-1} is hs[t] and h_t goes to hs[t + 1];
    # read in reverse, the "previous" state of time t is h_{t+1} = hs[t + 1] and h_t goes to
    # hs[t]. Either way the outputs and the states each step read are contiguous slices.
    r = int(reverse)
    hs = np.empty((T + 1, N, H), dtype)
    cs = np.empty((T + 1, N, H), dtype)
    hs[T * r] = h0  # the state read first: slot 0 forwards, slot T in reverse
    cs[T * r] = c0
    hg = np.empty((N, H4), dtype)
    for t in (reversed(range(T)) if reverse else range(T)):
        prev, new = t + r, t + 1 - r
        np.matmul(hs[prev], w_hh.T, out=hg)  # (N, 4H)
        lstm_step_forward_kernel(gates[t], hg, bias, cs[prev], cs[new], hs[new])
    out = hs[1 - r:T + 1 - r]  # (T, N, H), a view in time order
    last = T * (1 - r)
    cache = DirectionCache(x, gates, hs, cs, w_ih, w_hh, b_ih is not None or b_hh is not None, r)
    return out, hs[last].copy(), cs[last].copy(), cache


def lstm_direction_backward(dout, dh_n, dc_n, cache):
    """Backpropagation through time for one direction.

    Parameters
    ----------
    dout : (T, N, H) float
        dL/d(out), may be a strided view (one half of a bidirectional output's gradient).
    dh_n, dc_n : (N, H) float
        dL/dh_n and dL/dc_n.
    cache : from `lstm_direction_forward`

    Returns
    -------
    dx : (T, N, D) float
    dh0, dc0 : (N, H) float
    dw_ih : (4H, D) float
    dw_hh : (4H, H) float
    db : (4H,) float or None
        The gradient of ``b_ih`` and, equally, of ``b_hh`` (they enter only as a sum);
        None for a layer without bias.
    """
    x, gates, hs, cs, w_ih, w_hh, has_bias, r = cache
    T, N, H4 = gates.shape
    H = H4 // 4
    if dout.shape != (T, N, H):
        raise ValueError(f"lstm backward: dout has shape {dout.shape}, expected {(T, N, H)}")
    dgates = np.empty_like(gates)
    dh_next = np.array(dh_n, dtype=gates.dtype)  # dL/dh_t arriving from step t + 1, then t ...
    dc = np.array(dc_n, dtype=gates.dtype)
    for t in (range(T) if r else reversed(range(T))):
        prev, new = t + r, t + 1 - r
        lstm_step_backward_kernel(gates[t], cs[prev], cs[new], dout[t], dh_next, dc, dgates[t])
        np.matmul(dgates[t], w_hh, out=dh_next)  # (N, H): dL/dh_{t-1} through W_hh
    dgates2 = dgates.reshape(T * N, H4)  # (T*N, 4H): every step's gate gradient, stacked
    dx = (dgates2 @ w_ih).reshape(T, N, -1)  # (T, N, D)
    # Each weight gradient is a sum over t of da_t.T @ input_t: one GEMM over the stacked steps.
    dw_ih = dgates2.T @ x.reshape(T * N, -1)  # (4H, T*N) @ (T*N, D) -> (4H, D)
    dw_hh = dgates2.T @ hs[r:T + r].reshape(T * N, H)  # hs[r:T+r][t] is the state step t read
    db = dgates2.sum(axis=0) if has_bias else None
    return dx, dh_next, dc, dw_ih, dw_hh, db


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: a sequence of length one.

    Parameters
    ----------
    x : (N, D) float
    h, c : (N, H) float
    w_ih : (4H, D) float
    w_hh : (4H, H) float
    b_ih, b_hh : (4H,) float or None

    Returns
    -------
    (h_new, c_new) : two (N, H) float
    cache : tuple
    """
    check_float("lstm_cell: x", x)
    if x.ndim != 2:
        raise ValueError(f"lstm_cell: x must have shape (N, D), got {x.shape}")
    _, h_new, c_new, cache = lstm_direction_forward(x[None], h, c, w_ih, w_hh, b_ih, b_hh)
    return (h_new, c_new), cache


def lstm_cell_backward(dh, dc, cache):
    """Gradients of `lstm_cell_forward`.

    Parameters
    ----------
    dh, dc : (N, H) float
        dL/dh_new and dL/dc_new.
    cache : from `lstm_cell_forward`

    Returns
    -------
    dx : (N, D) float
    dh_prev, dc_prev : (N, H) float
    dw_ih, dw_hh, db : as in `lstm_direction_backward`
    """
    # h_new is both the one output and the final state; feed its gradient through one path.
    dx, dh_prev, dc_prev, dw_ih, dw_hh, db = lstm_direction_backward(
        dh[None], np.zeros_like(dh), dc, cache)
    return dx[0], dh_prev, dc_prev, dw_ih, dw_hh, db

