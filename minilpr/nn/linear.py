"""The fully connected layer: ``out = x @ weight.T + bias`` over the last axis.

Any leading axes are batch axes, as in ``torch.nn.Linear``: the recogniser applies one layer to
every time step of a ``(T, N, D)`` sequence at once. Folding those axes into one row axis turns
the whole layer into a single matrix product, which BLAS runs at full speed:

    x : (..., C) -> x2 : (M, C),   out2 = x2 @ weight.T + bias : (M, F) -> out : (..., F)

Backward is two more products and a sum:

    dx2 = dout2 @ weight        dweight = dout2.T @ x2        dbias = dout2.sum(0)
"""

from __future__ import annotations

import numpy as np

from minilpr.nn.init import default_rng, kaiming_uniform, uniform_bias
from minilpr.nn.module import Module, Parameter


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None):
    """``out = x @ weight.T + bias`` along the last axis of ``x``.

    Parameters
    ----------
    x : (..., C) float32 or float64
        Any number of leading axes (written ``...``, ``M`` rows in all).
    weight : (F, C) same dtype as ``x``
    bias : (F,) same dtype as ``x``, or None

    Returns
    -------
    out : (..., F)
    cache : tuple
        ``(x2, weight, has_bias, lead_shape)`` where ``x2`` is ``x`` viewed as ``(M, C)``.
    """
    F, C = weight.shape
    if x.ndim < 1 or x.shape[-1] != C:
        raise ValueError(f"Linear expects inputs of shape (..., {C}), got {x.shape}")
    lead_shape = x.shape[:-1]
    x2 = np.ascontiguousarray(x).reshape(-1, C)  # (M, C)
    out2 = x2 @ weight.T  # (M, F), one GEMM
    if bias is not None:
        out2 += bias
    return out2.reshape(*lead_shape, F), (x2, weight, bias is not None, lead_shape)  # (..., F)


def linear_backward(dout: np.ndarray, cache: tuple):
    """Gradients of `linear_forward`.

    Parameters
    ----------
    dout : (..., F)
        Upstream gradient.
    cache : tuple
        From `linear_forward`.

    Returns
    -------
    dx : (..., C)
    dweight : (F, C)
    dbias : (F,), or None without a bias
    """
    x2, weight, has_bias, lead_shape = cache
    F, C = weight.shape
    dout2 = np.ascontiguousarray(dout).reshape(-1, F)  # (M, F)
    dx = (dout2 @ weight).reshape(*lead_shape, C)  # (M, C) -> (..., C)
    # Each weight[f, c] multiplies x2[m, c] in every row m, so its gradient sums over the rows.
    dweight = dout2.T @ x2
    dbias = dout2.sum(axis=0) if has_bias else None
    return dx, dweight, dbias


def linear_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """The reference: ``out[..., f] = sum_c x[..., c] * weight[f, c] + bias[f]`` by einsum."""
    out = np.einsum("...c,fc->...f", x, weight)
    return out if bias is None else out + bias


class Linear(Module):
    """A fully connected layer over the last axis, as ``torch.nn.Linear``.

    Parameters
    ----------
    in_features : int
        C, the size of the last input axis.
    out_features : int
        F, the size of the last output axis.
    bias : bool
        Learn an additive bias.
    rng : numpy.random.Generator or int or None
        Draws the initial weights, PyTorch's defaults: ``weight ~ U(-1/sqrt(C), 1/sqrt(C))``
        (Kaiming-uniform with slope sqrt(5)) and the same bound for ``bias``. None draws from
        fresh entropy (see `minilpr.nn.init.default_rng`).

    Attributes
    ----------
    weight : Parameter (F, C) float32
    bias : Parameter (F,) float32, when ``bias``

    Shapes: ``x : (..., C)`` -> ``out : (..., F)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | int | None = None):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in_features={in_features}, "
                             f"out_features={out_features}")
        rng = default_rng(rng)
        self.in_features = in_features
        self.out_features = out_features
        shape = (out_features, in_features)
        self.weight = Parameter(kaiming_uniform(shape, rng, negative_slope=np.sqrt(5.0)))
        self.bias = Parameter(uniform_bias(out_features, in_features, rng)) if bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_dtype(x, self.weight.data.dtype)
        bias = None if self.bias is None else self.bias.data
        return self._keep_for_backward(*linear_forward(x, self.weight.data, bias))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._take_for_backward(dout)
        dx, dweight, dbias = linear_backward(dout, cache)
        self.weight.grad += dweight
        if self.bias is not None:
            self.bias.grad += dbias
        return dx

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
