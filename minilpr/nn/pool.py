"""2-D max pooling: keep the largest value of each window, and send the gradient back to it.

Forward records, for every output, *which* input element won (``argmax``). The max is locally
just that element, so its derivative is 1 for the winner and 0 for the rest of the window:
backward adds each output's gradient to its winner and nothing to the others. Where windows
overlap (stride below the kernel size) an element that wins several windows collects the sum.

Ties: when a window holds several equal maxima, the *first* in row-major scan order (top row
first, left to right) wins and alone receives the gradient — PyTorch's rule, which these layers
match so that gradients agree element by element. A NaN in a window wins it (NaNs propagate).

Padding, as in PyTorch, pads with -inf: a padded position can never win, so it only makes the
windows at the border smaller. PyTorch allows at most half the kernel size; so does this.

The patent's pools are all 2×2 with stride 2 and no padding; that case runs a kernel with the
window size fixed (same rules, about ten times faster). The derivation is in
``docs/derivations/pooling.md``.
"""

from __future__ import annotations

import numpy as np

from minilpr.nn.checks import check_float, pair
from minilpr.nn.kernels.conv import conv_output_size
from minilpr.nn.kernels.pool import (maxpool2d_backward_kernel, maxpool2d_forward_kernel,
                                     maxpool2x2_forward_kernel)
from minilpr.nn.module import Module


def _check_pool_args(x, kernel_size, stride, padding):
    """Validate the arguments of a max pool; return kernel, stride and padding as pairs."""
    KH, KW = pair(kernel_size, "max_pool2d: kernel_size")
    SH, SW = (KH, KW) if stride is None else pair(stride, "max_pool2d: stride")
    PH, PW = pair(padding, "max_pool2d: padding")
    if min(KH, KW, SH, SW) < 1:
        raise ValueError(f"max_pool2d: kernel_size and stride must be positive, got "
                         f"{(KH, KW)} and {(SH, SW)}")
    if PH < 0 or PW < 0 or 2 * PH > KH or 2 * PW > KW:
        raise ValueError(f"max_pool2d: padding must be between 0 and half the kernel size, got "
                         f"padding {(PH, PW)} for kernel {(KH, KW)}")
    check_float("max_pool2d: x", x)
    if x.ndim != 4:
        raise ValueError(f"max_pool2d: x must be 4-D (N, C, H, W), got shape {x.shape}")
    H, W = x.shape[2:]
    if H + 2 * PH < KH or W + 2 * PW < KW:
        raise ValueError(f"max_pool2d: input {H}×{W} (padded {H + 2 * PH}×{W + 2 * PW}) is "
                         f"smaller than the {KH}×{KW} window")
    return (KH, KW), (SH, SW), (PH, PW)


def maxpool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0):
    """Max pooling (floor mode) with the winners' positions.

    Parameters
    ----------
    x : (N, C, H, W) float
    kernel_size : int or (int, int)
        (KH, KW).
    stride : int or (int, int), optional
        (SH, SW); defaults to the kernel size (non-overlapping windows).
    padding : int or (int, int)
        (PH, PW) of -inf on both sides, at most half the kernel size.

    Returns
    -------
    out : (N, C, H_out, W_out) float
        ``H_out = (H + 2*PH - KH) // SH + 1`` and ``W_out = (W + 2*PW - KW) // SW + 1``.
    cache : tuple
        The argmax ``(N, C, H_out, W_out) int64`` (flat index ``y * W + x`` in each plane, as
        PyTorch's ``return_indices``) and the input shape.
    """
    (KH, KW), (SH, SW), (PH, PW) = _check_pool_args(x, kernel_size, stride, padding)
    N, C, H, W = x.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    out = np.empty((N, C, H_out, W_out), x.dtype)
    argmax = np.empty((N, C, H_out, W_out), np.int64)
    x = np.ascontiguousarray(x)
    if (KH, KW, SH, SW, PH, PW) == (2, 2, 2, 2, 0, 0):
        maxpool2x2_forward_kernel(x, out, argmax)
    else:
        maxpool2d_forward_kernel(x, KH, KW, SH, SW, PH, PW, out, argmax)
    return out, (argmax, x.shape)


def maxpool2d_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Gradient of `maxpool2d_forward`: each output's gradient goes to its window's winner.

    Parameters
    ----------
    dout : (N, C, H_out, W_out) float
    cache : from `maxpool2d_forward`

    Returns
    -------
    dx : (N, C, H, W) float
    """
    argmax, x_shape = cache
    if dout.shape != argmax.shape:
        raise ValueError(f"maxpool2d_backward: dout has shape {dout.shape}, expected "
                         f"{argmax.shape}")
    N, C, H, W = x_shape
    dx = np.zeros((N, C, H * W), dout.dtype)
    maxpool2d_backward_kernel(np.ascontiguousarray(dout), argmax, dx)
    return dx.reshape(N, C, H, W)  # (N, C, H, W)


def maxpool2d_forward_naive(x: np.ndarray, kernel_size, stride=None, padding=0):
    """The definition in loops, the reference for `maxpool2d_forward`.

    ``np.argmax`` returns the first maximum in row-major order, which is the tie rule.

    Returns
    -------
    out : (N, C, H_out, W_out) float
    argmax : (N, C, H_out, W_out) int64
        Flat index ``y * W + x`` of each winner in its (H, W) plane.
    """
    (KH, KW), (SH, SW), (PH, PW) = _check_pool_args(x, kernel_size, stride, padding)
    N, C, H, W = x.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)), constant_values=-np.inf)
    out = np.empty((N, C, H_out, W_out), x.dtype)
    argmax = np.empty((N, C, H_out, W_out), np.int64)
    for n in range(N):
        for c in range(C):
            for h in range(H_out):
                for k in range(W_out):
                    window = x_pad[n, c, h * SH:h * SH + KH, k * SW:k * SW + KW]  # (KH, KW)
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    out[n, c, h, k] = window[i, j]
                    argmax[n, c, h, k] = (h * SH + i - PH) * W + (k * SW + j - PW)
    return out, argmax


def maxpool2d_backward_reference(dout: np.ndarray, argmax: np.ndarray, x_shape) -> np.ndarray:
    """`maxpool2d_backward` in NumPy: one unbuffered scatter-add (``np.add.at``).

    Returns
    -------
    dx : (N, C, H, W) float
    """
    N, C, H, W = x_shape
    dx = np.zeros((N, C, H * W), dout.dtype)
    n, c = np.indices(argmax.shape[:2])  # (N, C) each
    planes = argmax.reshape(N, C, -1)  # (N, C, H_out*W_out)
    # add.at, not fancy-index +=, so that an element winning two windows receives both.
    np.add.at(dx, (n[..., None], c[..., None], planes), dout.reshape(N, C, -1))
    return dx.reshape(N, C, H, W)


class MaxPool2d(Module):
    """Max pooling layer, PyTorch's ``nn.MaxPool2d`` (floor mode, no dilation).

    Parameters
    ----------
    kernel_size : int or (int, int)
        (KH, KW).
    stride : int or (int, int), optional
        (SH, SW); defaults to ``kernel_size``.
    padding : int or (int, int)
        (PH, PW) of -inf, at most half the kernel size.

    Shapes
    ------
    x : (N, C, H, W) -> out : (N, C, H_out, W_out), with
    ``H_out = (H + 2*PH - KH) // SH + 1`` and ``W_out = (W + 2*PW - KW) // SW + 1``.
    The patent's pools (K = 2, S = 2, P = 0) halve both sides, rounding down: 2×55 -> 1×27.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "MaxPool2d: kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "MaxPool2d: stride")
        self.padding = pair(padding, "MaxPool2d: padding")
        _check_pool_args(np.zeros((1, 1) + self.kernel_size), self.kernel_size, self.stride,
                         self.padding)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x : (N, C, H, W) -> (N, C, H_out, W_out)``."""
        return self._keep_for_backward(*maxpool2d_forward(x, self.kernel_size, self.stride,
                                                          self.padding))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout : (N, C, H_out, W_out) -> dx : (N, C, H, W)``."""
        cache, dout = self._take_for_backward(dout)
        return maxpool2d_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
