"""Long short-term memory: `LSTMCell`, the (multi-layer, bidirectional) `LSTM`, `Bidirectional`.

One step of an LSTM with input ``x_t`` (N, D), hidden state ``h_{t-1}`` and cell state
``c_{t-1}`` (N, H) computes four gates from one product per input, in PyTorch's order:

    a   = x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh        (N, 4H) = [a_i | a_f | a_g | a_o]
    i   = sigmoid(a_i)     input gate: how much of the candidate to write
    f   = sigmoid(a_f)     forget gate: how much of the old cell state to keep
    g   = tanh(a_g)        the candidate values
    o   = sigmoid(a_o)     output gate: how much of the cell to show
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

``W_ih`` is (4H, D) and ``W_hh`` (4H, H): the four gates' weights stacked, so each product is
one GEMM. The derivation of the backward pass (backpropagation through time) is in
``docs/derivations/lstm.md``; here is how the code is arranged for speed:

* The input projection of the whole sequence is ONE product, ``(T*N, D) @ (D, 4H)``; it does
  not depend on the recurrence. Only ``h_{t-1} @ W_hh.T`` must wait for the previous step.
* The elementwise maths between the products runs in a Numba kernel, one pass per step
  (`minilpr.nn.kernels.recurrent`).
* Backward walks the steps in reverse; per step, a kernel computes d(pre-activations) and one
  GEMM carries dL/dh back through ``W_hh``. The weight gradients are sums over time of outer
  products, ``dW_hh = sum_t da_t.T @ h_{t-1}``, which is ONE product of the stacked
  ``(T*N, 4H)`` gradients with the stacked ``(T*N, H)`` states, done once at the end.
* Buffers for the whole sequence are allocated once per call, never per step.

A bidirectional layer runs a second LSTM over the time-reversed sequence and concatenates the
two outputs time step by time step: at time t, the forward half has read ``x_0 .. x_t`` and the
reverse half ``x_t .. x_{T-1}``. Every sequence in a batch has the same length T here (there is
no packing of variable-length sequences): the recogniser reads a fixed number of image columns.

Layout and names follow ``torch.nn.LSTM`` (input (T, N, D), parameters ``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0`` and ``..._reverse``), so weights copy by name.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from minilpr.nn.checks import check_float
from minilpr.nn.init import default_rng
from minilpr.nn.kernels.recurrent import lstm_step_backward_kernel, lstm_step_forward_kernel
from minilpr.nn.module import Module, Parameter


def _summed_bias(b_ih, b_hh, size: int, dtype) -> np.ndarray:
    """``b_ih + b_hh`` — they only ever enter the gates as a sum — or zeros without bias."""
    bias = np.zeros(size, dtype)
    for b in (b_ih, b_hh):
        if b is not None:
            bias += b
    return bias


# Plain NumPy references (for tests and lessons)

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


# One direction of one layer

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


# The cell and the full stack

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


def lstm_forward(x, h0, c0, weights, bidirectional=False):
    """A stack of LSTM layers, each optionally bidirectional, as ``torch.nn.LSTM``.

    Layer ``k`` reads the output of layer ``k - 1``: its input size is D for the first layer and
    ``num_directions * H`` after.

    Parameters
    ----------
    x : (T, N, D) float
    h0, c0 : (num_layers * num_directions, N, H) float
        Initial states; entry ``layer * num_directions + direction``.
    weights : list of (w_ih, w_hh, b_ih, b_hh)
        One tuple per layer and direction, in the same order as the states.
    bidirectional : bool

    Returns
    -------
    out : (T, N, num_directions * H) float
        The last layer's outputs, forward direction first.
    h_n, c_n : (num_layers * num_directions, N, H) float
    cache : tuple
    """
    num_directions = 2 if bidirectional else 1
    if len(weights) != h0.shape[0] or len(weights) % num_directions:
        raise ValueError(f"lstm: {len(weights)} weight sets and {h0.shape[0]} initial states do "
                         f"not make whole layers of {num_directions} direction(s)")
    h_n, c_n = np.empty_like(h0), np.empty_like(c0)
    caches = []
    layer_in = x
    for layer in range(len(weights) // num_directions):
        outs = []
        for d in range(num_directions):
            k = layer * num_directions + d
            out, h_n[k], c_n[k], cache = lstm_direction_forward(
                layer_in, h0[k], c0[k], *weights[k], reverse=d == 1)
            outs.append(out)
            caches.append(cache)
        layer_in = np.concatenate(outs, axis=2)  # (T, N, num_directions * H), a fresh array
    return layer_in, h_n, c_n, (caches, num_directions)


def lstm_backward(dout, dh_n, dc_n, cache):
    """Gradients of `lstm_forward`.

    Parameters
    ----------
    dout : (T, N, num_directions * H) float
    dh_n, dc_n : (num_layers * num_directions, N, H) float
    cache : from `lstm_forward`

    Returns
    -------
    dx : (T, N, D) float
    dh0, dc0 : (num_layers * num_directions, N, H) float
    grads : list of (dw_ih, dw_hh, db)
        In the order of ``weights``; ``db`` (None without bias) belongs to both biases.
    """
    caches, num_directions = cache
    H = dh_n.shape[2]
    dh0, dc0 = np.empty_like(dh_n), np.empty_like(dc_n)
    grads = [None] * len(caches)
    dlayer = dout
    for layer in reversed(range(len(caches) // num_directions)):
        dx = None
        for d in range(num_directions):
            k = layer * num_directions + d
            # Each direction saw the whole layer input, so their input gradients add up.
            dx_d, dh0[k], dc0[k], *grads[k] = lstm_direction_backward(
                dlayer[:, :, d * H:(d + 1) * H], dh_n[k], dc_n[k], caches[k])
            dx = dx_d if dx is None else dx + dx_d
        dlayer = dx
    return dlayer, dh0, dc0, grads


# Layers

def _uniform(shape, bound: float, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


class LSTMCell(Module):
    """One LSTM step, as ``torch.nn.LSTMCell``: ``(x, (h, c)) -> (h', c')``.

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H.
    bias : bool
        Learn ``bias_ih`` and ``bias_hh``.
    forget_bias : float, optional
        Start the forget gate with this total bias (see `LSTM`).
    rng : numpy.random.Generator or int or None
        Weights and biases start U(-1/sqrt(H), 1/sqrt(H)), as in PyTorch (None: fresh entropy;
        see `minilpr.nn.init.default_rng`).

    Shapes: x (N, D); h, c (N, H); ``weight_ih`` (4H, D), ``weight_hh`` (4H, H), biases (4H,).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 forget_bias: float | None = None, rng: np.random.Generator | int | None = None):
        super().__init__()
        _check_sizes("LSTMCell", input_size, hidden_size, 1, bias, forget_bias)
        rng = default_rng(rng)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        H, k = hidden_size, 1.0 / math.sqrt(hidden_size)
        self.weight_ih = Parameter(_uniform((4 * H, input_size), k, rng))
        self.weight_hh = Parameter(_uniform((4 * H, H), k, rng))
        if bias:
            self.bias_ih = Parameter(_uniform(4 * H, k, rng))
            self.bias_hh = Parameter(_uniform(4 * H, k, rng))
            if forget_bias is not None:
                _set_forget_bias(self.bias_ih, self.bias_hh, H, forget_bias)

    def forward(self, x: np.ndarray, state=None):
        """``x`` (N, D), ``state`` = (h, c) each (N, H) or None (zeros) -> (h', c')."""
        check_float("LSTMCell: x", x)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"LSTMCell: input must have shape (N, {self.input_size}), "
                             f"got {x.shape}")
        self._check_dtype(x, self.weight_ih.data.dtype)
        N, H = x.shape[0], self.hidden_size
        h, c = _initial_state("LSTMCell", state, (N, H), x.dtype)
        b_ih, b_hh = (self.bias_ih.data, self.bias_hh.data) if self.bias else (None, None)
        out, cache = lstm_cell_forward(x, h, c, self.weight_ih.data, self.weight_hh.data,
                                       b_ih, b_hh)
        return self._keep_for_backward(out, (cache, state is not None), names=("dh", "dc"))

    def backward(self, dout):
        """``dout`` = (dh', dc') (either may be None), or dh' alone.

        Returns dx, or ``(dx, (dh, dc))`` when a state was passed to forward.
        """
        (cache, had_state), (dh, dc) = self._take_for_backward(dout)
        dx, dh_prev, dc_prev, dw_ih, dw_hh, db = lstm_cell_backward(dh, dc, cache)
        self.weight_ih.grad += dw_ih
        self.weight_hh.grad += dw_hh
        if self.bias:
            self.bias_ih.grad += db
            self.bias_hh.grad += db
        return (dx, (dh_prev, dc_prev)) if had_state else dx

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class LSTM(Module):
    """A stack of LSTM layers over a whole sequence, as ``torch.nn.LSTM`` (``batch_first=False``).

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H, per direction.
    num_layers : int
        Layers stacked; layer k > 0 reads layer k - 1's output (size ``num_directions * H``).
    bias : bool
        Learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
    bidirectional : bool
        Add a second direction reading the sequence backwards; outputs are concatenated,
        forward first: ``out[..., :H]`` forward, ``out[..., H:]`` reverse.
    forget_bias : float, optional
        None keeps PyTorch's initialisation. A number starts every forget gate with that total
        bias: the forget slice ``[H:2H]`` of ``bias_ih`` is set to it and that of ``bias_hh`` to
        0. With 1.0 (Gers et al. 2000; Jozefowicz et al. 2015) f starts near sigmoid(1) ≈ 0.73,
        so the cell remembers by default and gradients flow back through time from step one.
    rng : numpy.random.Generator or int or None
        Every weight and bias starts U(-1/sqrt(H), 1/sqrt(H)), as in PyTorch (None: fresh
        entropy; see `minilpr.nn.init.default_rng`).

    Shapes
    ------
    x : (T, N, D), time first; every sequence in the batch has length T.
    state : (h0, c0), each (num_layers * num_directions, N, H); None means zeros.
    out : (T, N, num_directions * H); h_n, c_n like h0, c0.

    A batch-first ``(N, T, D)`` array has the same last axis, so without a state it cannot be
    told apart: it would run as N steps of a batch of T. Transpose it (``x.transpose(1, 0, 2)``),
    or turn a CNN's ``(N, C, 1, W)`` feature map into ``(T = W, N, C)`` with `ToSequence`. With
    a state the mix-up is caught: the states' batch axis then fits the input's time axis.

    The patent's recogniser reads 1024-dimensional feature columns with
    ``LSTM(1024, 512, num_layers=2, bidirectional=True)``: output (T, N, 1024).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 bidirectional: bool = False, forget_bias: float | None = None,
                 rng: np.random.Generator | int | None = None):
        super().__init__()
        _check_sizes("LSTM", input_size, hidden_size, num_layers, bias, forget_bias)
        rng = default_rng(rng)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.bidirectional = bias, bidirectional
        self.num_directions = 2 if bidirectional else 1
        H, k = hidden_size, 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else self.num_directions * H
            for d in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + suffix, Parameter(_uniform((4 * H, layer_in), k, rng)))
                setattr(self, "weight_hh" + suffix, Parameter(_uniform((4 * H, H), k, rng)))
                if bias:
                    b_ih = Parameter(_uniform(4 * H, k, rng))
                    b_hh = Parameter(_uniform(4 * H, k, rng))
                    if forget_bias is not None:
                        _set_forget_bias(b_ih, b_hh, H, forget_bias)
                    setattr(self, "bias_ih" + suffix, b_ih)
                    setattr(self, "bias_hh" + suffix, b_hh)

    def _parameter_sets(self) -> list[tuple]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` Parameters per layer and direction."""
        sets = []
        for layer in range(self.num_layers):
            for d in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                sets.append(tuple(getattr(self, name + suffix, None)
                                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
        return sets

    def forward(self, x: np.ndarray, state=None):
        """``x`` (T, N, D), ``state`` (h0, c0) or None -> ``out, (h_n, c_n)``."""
        check_float("LSTM: x", x)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"LSTM: input must have shape (T, N, {self.input_size}) — time, "
                             f"batch, features — got {x.shape}{_LAYOUT_HINT}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"LSTM: input has an empty time or batch axis: {x.shape}")
        self._check_dtype(x, self.weight_ih_l0.data.dtype)
        layers = self.num_layers * self.num_directions
        h0, c0 = _initial_state("LSTM", state, (layers, x.shape[1], self.hidden_size), x.dtype,
                                time_steps=x.shape[0])
        weights = [tuple(None if p is None else p.data for p in ps)
                   for ps in self._parameter_sets()]
        out, h_n, c_n, cache = lstm_forward(x, h0, c0, weights, self.bidirectional)
        return self._keep_for_backward((out, (h_n, c_n)), (cache, state is not None),
                                       names=("dout", ("dh_n", "dc_n")))

    def backward(self, dout):
        """``dout`` (T, N, num_directions * H), or ``(dout, (dh_n, dc_n))`` (None for zeros).

        Returns dx (T, N, D), or ``(dx, (dh0, dc0))`` when a state was passed to forward.
        """
        (cache, had_state), (dout, (dh_n, dc_n)) = self._take_for_backward(dout)
        dx, dh0, dc0, grads = lstm_backward(dout, dh_n, dc_n, cache)
        for (w_ih, w_hh, b_ih, b_hh), (dw_ih, dw_hh, db) in zip(self._parameter_sets(), grads):
            w_ih.grad += dw_ih
            w_hh.grad += dw_hh
            if b_ih is not None:
                b_ih.grad += db
                b_hh.grad += db
        return (dx, (dh0, dc0)) if had_state else dx

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bias={self.bias}, bidirectional={self.bidirectional}")


class Bidirectional(Module):
    """Two one-layer recurrent modules, one reading the sequence forwards, one backwards.

    The composition written out: ``reverse`` runs on ``x[::-1]``, its output is flipped back
    into time order and concatenated after ``forward``'s. ``Bidirectional(LSTM(D, H),
    LSTM(D, H))`` computes what ``LSTM(D, H, bidirectional=True)`` computes, which does the same
    without copying the reversed sequence (tests check the two agree).

    Parameters
    ----------
    forward, reverse : Module
        Each maps ``(x (T, N, D), state)`` to ``out (T, N, H), (h_n, c_n)`` with states of shape
        (1, N, H), like a one-layer unidirectional `LSTM`.

    Shapes: x (T, N, D); state (h0, c0) each (2, N, H), forward first; out (T, N, 2H).
    """

    def __init__(self, forward: Module, reverse: Module):
        super().__init__()
        self.forward_rnn = forward
        self.reverse_rnn = reverse

    def forward(self, x: np.ndarray, state=None):
        check_float("Bidirectional: x", x)
        if x.ndim != 3:
            raise ValueError(f"Bidirectional: input must have shape (T, N, D) — time, batch, "
                             f"features — got {x.shape}{_LAYOUT_HINT}")
        if state is None:
            states = (None, None)
        else:
            h0, c0 = state
            if h0.shape[0] != 2 or c0.shape[0] != 2:
                raise ValueError(f"Bidirectional: h0 {h0.shape} and c0 {c0.shape} must hold 2 "
                                 "states (forward, reverse)")
            states = ((h0[:1], c0[:1]), (h0[1:], c0[1:]))
        out_f, (h_f, c_f) = self.forward_rnn.forward(x, states[0])
        out_r, (h_r, c_r) = self.reverse_rnn.forward(x[::-1].copy(), states[1])
        out = np.concatenate([out_f, out_r[::-1]], axis=2)  # (T, N, 2H), both in time order
        state_n = (np.concatenate([h_f, h_r]), np.concatenate([c_f, c_r]))
        return self._keep_for_backward((out, state_n), (state is not None, out_f.shape[2]),
                                       names=("dout", ("dh_n", "dc_n")))

    def backward(self, dout):
        (had_state, H), (dout, (dh_n, dc_n)) = self._take_for_backward(dout)

        def state_grads(k):  # the (1, N, H) final-state gradients of direction k
            return dh_n[k:k + 1], dc_n[k:k + 1]

        g_f = self.forward_rnn.backward((dout[:, :, :H], state_grads(0)))
        # The reverse module saw x[::-1], so its output gradient is flipped the same way.
        g_r = self.reverse_rnn.backward((np.ascontiguousarray(dout[::-1, :, H:]), state_grads(1)))
        if not had_state:
            return g_f + g_r[::-1]
        (dx_f, (dh_f, dc_f)), (dx_r, (dh_r, dc_r)) = g_f, g_r
        return dx_f + dx_r[::-1], (np.concatenate([dh_f, dh_r]), np.concatenate([dc_f, dc_r]))


def _check_sizes(name, input_size, hidden_size, num_layers, bias, forget_bias) -> None:
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                       ("num_layers", num_layers)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
    if forget_bias is not None and not bias:
        raise ValueError(f"{name}: forget_bias={forget_bias} needs bias=True")


def _set_forget_bias(b_ih: Parameter, b_hh: Parameter, H: int, value: float) -> None:
    b_ih.data[H:2 * H] = value
    b_hh.data[H:2 * H] = 0.0


_LAYOUT_HINT = ("; the sequence layout is time-first, (T, N, D) as torch.nn.LSTM's default "
                "batch_first=False: turn a batch-first (N, T, D) array with x.transpose(1, 0, 2), "
                "or a CNN's (N, C, 1, W) map with minilpr.nn.ToSequence")


def _initial_state(name: str, state, shape: tuple, dtype, time_steps: int | None = None):
    """``(h0, c0)`` checked against ``shape`` and ``dtype``, or zeros when ``state`` is None.

    ``time_steps`` (T of the input) lets a batch-first input be told apart: its batch size
    then shows in the time axis, and the states' batch axis fits that instead.
    """
    if state is None:
        return np.zeros(shape, dtype), np.zeros(shape, dtype)
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise ValueError(f"{name}: state must be a pair (h0, c0), got {type(state).__name__}")
    for label, s in zip(("h0", "c0"), state):
        check_float(f"{name}: {label}", s)
        if s.shape != shape:
            looks_batch_first = (time_steps is not None and s.ndim == 3
                                 and s.shape[1] == time_steps != shape[1])
            hint = (f" — x looks batch-first (N, T, D) with N = {time_steps}" + _LAYOUT_HINT
                    if looks_batch_first else "")
            raise ValueError(f"{name}: {label} must have shape {shape}, got {s.shape}{hint}")
        if s.dtype != dtype:
            raise TypeError(f"{name}: {label} is {s.dtype} but the input is {np.dtype(dtype)}")
    return state[0], state[1]


class StateAsInputs(Module):
    """A recurrent layer seen with ``(x, h0, c0)`` as three inputs, so all three are checked.

    `LSTM` and `LSTMCell` take their initial state as one pair, ``forward(x, (h0, c0))``; the
    harness perturbs only top-level array inputs. Parameters keep their names under
    ``layer.``.
    """

    def __init__(self, layer: Module):
        super().__init__()
        self.layer = layer

    def forward(self, x, h0, c0):
        return self.layer.forward(x, (h0, c0))

    def backward(self, dout):
        dx, (dh0, dc0) = self.layer.backward(dout)
        return dx, dh0, dc0
