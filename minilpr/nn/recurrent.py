"""The recurrent layers: `LSTMCell`, the stacked and bidirectional `LSTM`, `Bidirectional`.

The maths of one direction — the cell's equations forward and backward, run over a sequence —
is in `minilpr.nn.lstm_cell` (re-exported here). This module stacks directions into layers:

* a bidirectional layer runs a second direction over the time-reversed sequence and
  concatenates the two outputs time step by time step: at time t, the forward half has read
  ``x_0 .. x_t`` and the reverse half ``x_t .. x_{T-1}``;
* layer ``k`` of a stack reads the output of layer ``k - 1``; in backward, both directions of a
  layer saw the whole layer input, so their input gradients add up.

Every sequence in a batch has the same length T here (there is no packing of variable-length
sequences): the recogniser reads a fixed number of image columns.

Layout and names follow ``torch.nn.LSTM`` (input (T, N, D), time first; parameters
``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0`` and ``..._reverse``), so
weights copy by name.
"""

from __future__ import annotations

import math

import numpy as np

from minilpr.nn.checks import check_float
from minilpr.nn.init import default_rng
# The direction's maths, used below and re-exported under their old home.
from minilpr.nn.lstm_cell import (DirectionCache, lstm_cell_backward, lstm_cell_forward,
                                  lstm_direction_backward, lstm_direction_forward,
                                  lstm_forward_reference, lstm_step_backward_reference,
                                  lstm_step_forward_reference)
from minilpr.nn.module import Module, Parameter


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
