"""Inverted dropout (Srivastava et al. 2014).

In training each entry is zeroed with probability ``p`` and the survivors are scaled by
``1 / (1 - p)``, so every entry keeps its expected value: ``E[out] = (1 - p) * x / (1 - p) = x``.
Because the scaling already happened in training, evaluation is the identity — nothing to
rescale at test time. The backward pass multiplies by the same scaled mask the forward drew.
"""

from __future__ import annotations

import numpy as np

from minilpr.nn.init import default_rng
from minilpr.nn.module import Module


def dropout_forward(x: np.ndarray, p: float, rng: np.random.Generator, training: bool = True):
    """Zero each entry with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Parameters
    ----------
    x : (...) float32 or float64
    p : float
        Drop probability, in [0, 1).
    rng : numpy.random.Generator
        Draws the mask (one uniform number per entry, in training only).
    training : bool
        False makes this the identity.

    Returns
    -------
    out : (...) same shape and dtype as ``x``
    cache : ndarray or None
        The scaled mask (0 or ``1 / (1 - p)`` per entry), None when nothing was dropped.
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x, None
    draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    keep = rng.random(x.shape, dtype=draw_dtype) >= p
    mask = keep.astype(x.dtype) / x.dtype.type(1 - p)
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray | None) -> np.ndarray:
    """dL/dx: the upstream gradient through the forward's scaled mask (the identity if none)."""
    return dout.copy() if cache is None else dout * cache


class Dropout(Module):
    """Inverted dropout, as ``torch.nn.Dropout``: random zeros in training, identity in eval.

    Parameters
    ----------
    p : float
        Drop probability, in [0, 1).
    rng : numpy.random.Generator or int or None
        Kept as ``self.rng``; every training forward draws a new mask from it (None: fresh
        entropy; see `minilpr.nn.init.default_rng`).

    Shapes: any ``x`` -> ``out`` of the same shape.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout probability p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = default_rng(rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._keep_for_backward(*dropout_forward(x, self.p, self.rng, self.training))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        mask, dout = self._take_for_backward(dout)
        return dropout_backward(dout, mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"
