"""Loss functions: cross-entropy, binary cross-entropy on logits, mean squared error.

Each is a pure function returning ``(loss, grad)`` — the scalar loss and dL/d(input) — because a
loss is the end of the chain: its backward needs nothing but the gradient already computed with
the forward. The modules wrap them with PyTorch's names: ``forward(...)`` returns a float,
``backward(dout=1.0)`` returns ``dout * grad``.

``reduction`` is ``"mean"`` (divide by the number of terms: ``N`` samples for cross-entropy,
every entry for the element-wise losses) or ``"sum"``.
"""

from __future__ import annotations

import numpy as np

from minilpr.nn.activation import log_softmax
from minilpr.nn.module import Module

REDUCTIONS = ("mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_same_shape(name: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name}: input has shape {a.shape} but target has shape {b.shape}")


def cross_entropy(logits: np.ndarray, targets: np.ndarray, reduction: str = "mean"):
    """Softmax cross-entropy, ``-log softmax(logits)[n, targets[n]]`` summed or averaged over n.

    Parameters
    ----------
    logits : (N, K) float32 or float64
        Unnormalised class scores.
    targets : (N,) int
        Class indices in ``[0, K)``.
    reduction : {"mean", "sum"}

    Returns
    -------
    loss : float
    grad : (N, K) same dtype as ``logits``
        ``softmax(logits) - onehot(targets)``, divided by N for ``"mean"``.
    """
    _check_reduction(reduction)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy expects (N, K) logits, got shape {logits.shape}")
    targets = np.asarray(targets)
    N, K = logits.shape
    if targets.shape != (N,):
        raise ValueError(f"cross_entropy expects ({N},) targets for {logits.shape} logits, "
                         f"got shape {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"cross_entropy targets must be integer class indices, got {targets.dtype}")
    if N == 0:
        raise ValueError("cross_entropy needs at least one sample, got N = 0")
    if (targets.min() < 0 or targets.max() >= K):
        raise ValueError(f"cross_entropy targets must lie in [0, {K}), got values from "
                         f"{targets.min()} to {targets.max()}")
    logp = log_softmax(logits, axis=1)
    rows = np.arange(N)
    loss = -float(logp[rows, targets].sum())
    # d(-log p_t)/dz = softmax(z) - onehot(t): the predicted distribution minus the true one.
    grad = np.exp(logp)
    grad[rows, targets] -= 1
    if reduction == "mean":
        loss /= N
        grad /= N
    return loss, grad


def bce_with_logits(logits: np.ndarray, targets: np.ndarray, reduction: str = "mean"):
    """Binary cross-entropy of ``sigmoid(logits)`` against targets in [0, 1], computed stably.

    ``-y log σ(z) - (1 - y) log(1 - σ(z))`` equals ``max(z, 0) - z y + log(1 + exp(-|z|))``,
    whose ``exp`` never overflows.

    Parameters
    ----------
    logits : (...) float32 or float64
        z, the scores before the sigmoid.
    targets : (...) same shape
        y, probabilities (usually 0 or 1).
    reduction : {"mean", "sum"}

    Returns
    -------
    loss : float
    grad : (...) same shape and dtype as ``logits``
        ``sigmoid(z) - y``, divided by the number of entries for ``"mean"``.
    """
    _check_reduction(reduction)
    _check_same_shape("bce_with_logits", logits, targets)
    z, y = logits, targets
    terms = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    # sigmoid(z) = (1 + tanh(z / 2)) / 2, which cannot overflow for any z.
    grad = (0.5 * (1 + np.tanh(0.5 * z)) - y).astype(z.dtype, copy=False)
    loss = float(terms.sum())
    if reduction == "mean":
        loss /= z.size
        grad /= z.size
    return loss, grad


def mse_loss(pred: np.ndarray, target: np.ndarray, reduction: str = "mean"):
    """Squared error ``(pred - target)²`` summed or averaged over every entry.

    Parameters
    ----------
    pred : (...) float32 or float64
    target : (...) same shape
    reduction : {"mean", "sum"}

    Returns
    -------
    loss : float
    grad : (...) same shape and dtype as ``pred``
        ``2 (pred - target)``, divided by the number of entries for ``"mean"``.
    """
    _check_reduction(reduction)
    _check_same_shape("mse_loss", pred, target)
    diff = (pred - target).astype(pred.dtype, copy=False)
    loss = float((diff * diff).sum())
    grad = 2 * diff
    if reduction == "mean":
        loss /= pred.size
        grad /= pred.size
    return loss, grad


class _Loss(Module):
    """A loss module: ``forward(input, target) -> float``, ``backward(dout=1.0) -> dinput``."""

    function = None

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        return self._keep_for_backward(*type(self).function(input, target, self.reduction))

    def backward(self, dout=1.0) -> np.ndarray:
        grad, dout = self._take_for_backward(dout)
        # The loss is a scalar, so the chain rule is a single scaling.
        return (grad * dout).astype(grad.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on ``(N, K)`` logits and ``(N,)`` integer targets, as
    ``torch.nn.CrossEntropyLoss``; see `cross_entropy`."""

    function = staticmethod(cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy on logits, as ``torch.nn.BCEWithLogitsLoss``; see
    `bce_with_logits`."""

    function = staticmethod(bce_with_logits)


class MSELoss(_Loss):
    """Mean (or summed) squared error, as ``torch.nn.MSELoss``; see `mse_loss`."""

    function = staticmethod(mse_loss)
