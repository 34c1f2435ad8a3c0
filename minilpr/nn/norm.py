"""Batch normalisation over the channels of an ``(N, C, H, W)`` tensor (Ioffe & Szegedy 2015).

For each channel ``c`` the layer standardises the ``M = N * H * W`` numbers it sees, then lets
the network choose their scale and offset again:

    xhat = (x - mean) / sqrt(var + eps)        out = gamma * xhat + beta

In training, ``mean`` and ``var`` are the batch's own (biased) statistics, so every output
depends on every other sample in the batch and the backward pass must go through the mean and
the variance too. It also keeps exponential moving averages of them, the *running* statistics,
with which the eval mode normalises: then the layer is a fixed per-channel affine map and a
sample's output no longer depends on its batch. The derivation is in
``docs/derivations/batchnorm.md``; the compact result is

    dx = gamma / sqrt(var + eps) * (dout - mean(dout) - xhat * mean(dout * xhat)).
"""

from __future__ import annotations

import numpy as np

from minilpr.nn.kernels.norm import (batchnorm_normalize_kernel, batchnorm_train_dx_kernel,
                                     channel_grad_sums_kernel, channel_mean_var_kernel)
from minilpr.nn.module import Module, Parameter


def _check_input(x: np.ndarray, num_features: int | None = None) -> None:
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"BatchNorm2d expects a floating-point ndarray, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim != 4:
        raise ValueError(f"BatchNorm2d expects an (N, C, H, W) input, got shape {x.shape}")
    if num_features is not None and x.shape[1] != num_features:
        raise ValueError(f"BatchNorm2d has {num_features} channels but the input has "
                         f"{x.shape[1]} (shape {x.shape})")


def channel_mean_var(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance over ``N, H, W`` (the Numba kernel).

    Parameters
    ----------
    x : (N, C, H, W) float32 or float64

    Returns
    -------
    mean, var : (C,) same dtype as ``x``
    """
    x = np.ascontiguousarray(x)
    mean = np.empty(x.shape[1], dtype=x.dtype)
    var = np.empty(x.shape[1], dtype=x.dtype)
    channel_mean_var_kernel(x, mean, var)
    return mean, var


def channel_mean_var_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The NumPy reference of `channel_mean_var`: ``x.mean`` and ``x.var`` over axes 0, 2, 3."""
    return x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))


def channel_grad_sums(dout: np.ndarray, xhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sum(dout)`` and ``sum(dout * xhat)`` per channel (the Numba kernel).

    Parameters
    ----------
    dout, xhat : (N, C, H, W) float32 or float64

    Returns
    -------
    sum_dout, sum_dout_xhat : (C,) same dtype as ``dout``; they are dL/dbeta and dL/dgamma.
    """
    dout = np.ascontiguousarray(dout)
    sum_dout = np.empty(dout.shape[1], dtype=dout.dtype)
    sum_dout_xhat = np.empty(dout.shape[1], dtype=dout.dtype)
    channel_grad_sums_kernel(dout, xhat, sum_dout, sum_dout_xhat)
    return sum_dout, sum_dout_xhat


def channel_grad_sums_reference(dout: np.ndarray, xhat: np.ndarray
                                ) -> tuple[np.ndarray, np.ndarray]:
    """The NumPy reference of `channel_grad_sums`."""
    return dout.sum(axis=(0, 2, 3)), (dout * xhat).sum(axis=(0, 2, 3))


def batchnorm2d_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                        running_mean: np.ndarray | None = None,
                        running_var: np.ndarray | None = None, training: bool = True,
                        momentum: float = 0.1, eps: float = 1e-5):
    """Batch norm's forward pass; in training it also updates the running statistics in place.

    Parameters
    ----------
    x : (N, C, H, W) float32 or float64
        The input; output has the same shape.
    weight, bias : (C,) same dtype as ``x``, or None
        gamma and beta; None means no affine part (gamma = 1, beta = 0).
    running_mean, running_var : (C,) same dtype as ``x``, or None
        The moving averages. In training (when given) they become
        ``(1 - momentum) * running + momentum * batch``, where the batch variance put into
        ``running_var`` is the *unbiased* one (divided by ``M - 1``), as in PyTorch. In eval they
        are the statistics used.
    training : bool
        Normalise with the batch statistics (True) or the running ones (False).
    momentum : float
        Weight of the new batch in the moving averages.
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    out : (N, C, H, W) same dtype as ``x``
    cache : tuple
        ``(xhat, inv_std, weight, training)`` for `batchnorm2d_backward`.

    Raises
    ------
    ValueError
        In training, when a channel has a single value (``N * H * W == 1``): its variance is
        zero and the layer would output ``beta`` whatever the input.
    """
    _check_input(x)
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    M = N * H * W
    # The kernels index these by channel without bounds checks: a wrong length must stop here.
    for name, a in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if a is not None and np.shape(a) != (C,):
            raise ValueError(f"batchnorm2d: {name} has shape {np.shape(a)}, expected ({C},) "
                             f"for an input of shape {x.shape}")
    if training:
        if M == 1:
            raise ValueError(f"BatchNorm2d in training needs more than 1 value per channel, "
                             f"got input of shape {x.shape}")
        mean, var = channel_mean_var(x)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * (M / (M - 1))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("BatchNorm2d in eval mode needs running_mean and running_var")
        mean, var = running_mean, running_var
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    scale = np.ones(C, dtype=x.dtype) if weight is None else weight
    shift = np.zeros(C, dtype=x.dtype) if bias is None else bias
    xhat = np.empty_like(x)
    out = np.empty_like(x)
    batchnorm_normalize_kernel(x, mean, inv_std, scale, shift, xhat, out)
    return out, (xhat, inv_std, weight, training)


def batchnorm2d_backward(dout: np.ndarray, cache: tuple):
    """Batch norm's backward pass, in training (through the batch statistics) or eval mode.

    Parameters
    ----------
    dout : (N, C, H, W) float32 or float64
        Upstream gradient.
    cache : tuple
        From `batchnorm2d_forward`.

    Returns
    -------
    dx : (N, C, H, W)
    dweight, dbias : (C,), or None when the forward had no affine part
    """
    xhat, inv_std, weight, training = cache
    if np.shape(dout) != xhat.shape:
        raise ValueError(f"batchnorm2d_backward: dout has shape {np.shape(dout)}, expected "
                         f"{xhat.shape}")
    dout = np.ascontiguousarray(dout)
    N, C, H, W = dout.shape
    sum_dout, sum_dout_xhat = channel_grad_sums(dout, xhat)
    scale = inv_std if weight is None else weight * inv_std
    if training:
        # mean and var depend on every x, so each dx also receives the gradient that flows back
        # through them: the two subtracted channel means.
        M = N * H * W
        dx = np.empty_like(dout)
        batchnorm_train_dx_kernel(dout, xhat, scale, sum_dout / M, sum_dout_xhat / M, dx)
    else:
        # In eval the statistics are constants: the layer is x -> scale * x + const.
        dx = dout * scale[None, :, None, None]
    if weight is None:
        return dx, None, None
    return dx, sum_dout_xhat, sum_dout


def batchnorm2d_forward_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                              eps: float = 1e-5):
    """Training-mode forward in plain NumPy, one small step per line (the reference).

    Returns ``out`` and the intermediate values `batchnorm2d_backward_naive` walks back through.
    """
    M = x.shape[0] * x.shape[2] * x.shape[3]
    mu = x.sum(axis=(0, 2, 3), keepdims=True) / M  # (1, C, 1, 1)
    xc = x - mu
    var = (xc**2).sum(axis=(0, 2, 3), keepdims=True) / M  # (1, C, 1, 1)
    std = np.sqrt(var + eps)
    xhat = xc / std
    gamma = weight.reshape(1, -1, 1, 1)  # (1, C, 1, 1)
    out = gamma * xhat + bias.reshape(1, -1, 1, 1)
    return out, (xc, std, xhat, gamma, M)


def batchnorm2d_backward_naive(dout: np.ndarray, cache: tuple):
    """Training-mode backward in plain NumPy, the chain rule taken one forward step at a time.

    Returns ``dx, dweight, dbias``; the compact kernel must agree with it.
    """
    xc, std, xhat, gamma, M = cache
    dbias = dout.sum(axis=(0, 2, 3))
    dweight = (dout * xhat).sum(axis=(0, 2, 3))
    dxhat = dout * gamma
    # xhat = xc / std: xc gets the direct path, std collects from every element of its channel.
    dxc = dxhat / std
    dstd = -(dxhat * xc / std**2).sum(axis=(0, 2, 3), keepdims=True)
    dvar = dstd / (2 * std)
    # var = sum(xc²) / M, so each xc receives 2 xc / M of dvar on top of its direct path.
    dxc = dxc + dvar * 2 * xc / M
    # xc = x - mu: x gets dxc directly and, through mu = sum(x) / M, minus the channel mean of dxc.
    dx = dxc - dxc.sum(axis=(0, 2, 3), keepdims=True) / M
    return dx, dweight, dbias


class BatchNorm2d(Module):
    """Normalise each channel of an ``(N, C, H, W)`` tensor, as ``torch.nn.BatchNorm2d``.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float
        Added to the variance before the square root.
    momentum : float or None
        Weight of each new batch in the running statistics; None gives the plain cumulative
        average of all batches seen (weight ``1 / num_batches_tracked``), as in PyTorch.
    affine : bool
        Learn ``weight`` (gamma, initialised to ones) and ``bias`` (beta, zeros).

    Attributes
    ----------
    weight, bias : Parameter (C,) float32, only when ``affine``
    running_mean, running_var : (C,) float32 buffers, zeros and ones at the start
    num_batches_tracked : () int64 buffer, training forwards so far

    Shapes: ``x : (N, C, H, W)`` -> ``out : (N, C, H, W)``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"BatchNorm2d needs num_features >= 1, got {num_features}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=np.float32))
            self.bias = Parameter(np.zeros(num_features, dtype=np.float32))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=np.float32))
        self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: np.ndarray) -> np.ndarray:
        _check_input(x, self.num_features)
        self._check_dtype(x, self.running_mean.dtype)
        batches = int(self.num_batches_tracked) + (1 if self.training else 0)
        momentum = self.momentum
        if momentum is None:
            # The cumulative average: batch k enters with weight 1/k.
            momentum = 1.0 / max(batches, 1)
        weight = self.weight.data if self.affine else None
        bias = self.bias.data if self.affine else None
        out, cache = batchnorm2d_forward(x, weight, bias, self.running_mean, self.running_var,
                                         self.training, momentum, self.eps)
        self.num_batches_tracked = np.array(batches, dtype=np.int64)
        return self._keep_for_backward(out, cache)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._take_for_backward(dout)
        dx, dweight, dbias = batchnorm2d_backward(dout, cache)
        if self.affine:
            self.weight.grad += dweight
            self.bias.grad += dbias
        return dx

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}")
