"""Element-wise activations and the (log-)softmax.

Leaky ReLU keeps a small slope for negative inputs, ``out = x if x > 0 else slope * x``, so a
unit whose input has drifted negative still receives a gradient and can recover; a plain ReLU
unit stuck there is "dead" for good.

The softmax turns scores into probabilities, ``softmax(x)_k = exp(x_k) / sum_j exp(x_j)``; its
logarithm is what losses (cross-entropy, CTC) consume. Both are computed after subtracting the
maximum score, which changes nothing mathematically but keeps ``exp`` from overflowing.
"""

from __future__ import annotations

import numpy as np

from minilpr.nn.kernels.activation import (leaky_relu_backward_kernel,
                                          leaky_relu_forward_kernel)
from minilpr.nn.module import Module


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01):
    """``out = x`` where ``x > 0``, ``negative_slope * x`` elsewhere.

    Parameters
    ----------
    x : (...) float32 or float64
    negative_slope : float

    Returns
    -------
    out : (...) same shape and dtype as ``x``
    cache : tuple
        ``(positive, negative_slope)`` where ``positive`` is the boolean mask ``x > 0``.
    """
    if not np.issubdtype(x.dtype, np.floating):
        return leaky_relu_forward_reference(x, negative_slope)
    flat = np.ascontiguousarray(x).reshape(-1)
    out, positive = np.empty(x.shape, x.dtype), np.empty(x.shape, np.bool_)
    leaky_relu_forward_kernel(flat, x.dtype.type(negative_slope), out.reshape(-1),
                              positive.reshape(-1))
    return out, (positive, negative_slope)


def leaky_relu_forward_reference(x: np.ndarray, negative_slope: float = 0.01):
    """NumPy twin of `leaky_relu_forward` (for tests and lessons)."""
    positive = x > 0
    return np.where(positive, x, x * negative_slope), (positive, negative_slope)


def leaky_relu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dL/dx of leaky ReLU.

    At the kink ``x = 0`` the derivative is taken from the left (``negative_slope``), as in
    PyTorch: only ``x > 0`` passes the gradient unchanged.
    """
    positive, negative_slope = cache
    if dout.shape != positive.shape:
        raise ValueError(f"leaky_relu_backward: dout has shape {dout.shape}, the forward's "
                         f"input {positive.shape}")
    if not np.issubdtype(dout.dtype, np.floating):
        return leaky_relu_backward_reference(dout, cache)
    dx = np.empty(dout.shape, dout.dtype)
    leaky_relu_backward_kernel(np.ascontiguousarray(dout).reshape(-1), positive.reshape(-1),
                               dout.dtype.type(negative_slope), dx.reshape(-1))
    return dx


def leaky_relu_backward_reference(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """NumPy twin of `leaky_relu_backward`."""
    positive, negative_slope = cache
    return np.where(positive, dout, dout * negative_slope)


def log_softmax_forward(x: np.ndarray, axis: int = -1):
    """``log(softmax(x))`` along ``axis``, computed as ``x - max - log(sum(exp(x - max)))``.

    Parameters
    ----------
    x : (...) float32 or float64
    axis : int

    Returns
    -------
    out : (...) same shape and dtype as ``x``
    cache : tuple
        ``(softmax, axis)`` — the probabilities, which is all the backward needs.
    """
    shifted = x - x.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=axis, keepdims=True)
    out = shifted - np.log(total)
    return out, (exp / total, axis)


def log_softmax_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dL/dx of log-softmax: ``dout - softmax * sum(dout)`` along the axis.

    Each output ``x_k - logsumexp(x)`` depends on every input through the log-sum-exp, whose
    gradient is the softmax; hence the subtracted term.
    """
    softmax, axis = cache
    return dout - softmax * dout.sum(axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(softmax(x))`` along ``axis`` (the forward alone, numerically stable)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_forward(x: np.ndarray, axis: int = -1):
    """``exp(x) / sum(exp(x))`` along ``axis``, with the maximum subtracted first.

    Returns
    -------
    out : (...) same shape and dtype as ``x``; sums to 1 along ``axis``
    cache : tuple
        ``(out, axis)``.
    """
    out = softmax(x, axis)
    return out, (out, axis)


def softmax_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dL/dx of softmax: ``s * (dout - sum(dout * s))`` along the axis (the Jacobian
    ``diag(s) - s sᵀ`` applied to ``dout``)."""
    s, axis = cache
    return s * (dout - (dout * s).sum(axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis`` (the forward alone, numerically stable)."""
    exp = np.exp(x - x.max(axis=axis, keepdims=True))
    return exp / exp.sum(axis=axis, keepdims=True)


class LeakyReLU(Module):
    """``out = x if x > 0 else negative_slope * x``, as ``torch.nn.LeakyReLU``.

    Shapes: any ``x`` -> ``out`` of the same shape.
    """

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        # A Python float: a NumPy float64 slope would turn float32 activations into float64.
        self.negative_slope = float(negative_slope)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._keep_for_backward(*leaky_relu_forward(x, self.negative_slope))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._take_for_backward(dout)
        return leaky_relu_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class LogSoftmax(Module):
    """``log(softmax(x))`` along ``dim``, as ``torch.nn.LogSoftmax``.

    Shapes: any ``x`` -> ``out`` of the same shape, e.g. ``(T, N, K)`` scores -> log-probabilities.
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._keep_for_backward(*log_softmax_forward(x, self.dim))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._take_for_backward(dout)
        return log_softmax_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
