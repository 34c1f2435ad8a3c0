"""2-D convolution, lowered to one matrix product (im2col + GEMM), with its backward pass.

A convolution slides ``F`` filters of shape ``(C, KH, KW)`` over the input; each output value is
the dot product of one filter with one receptive field. Copy every receptive field into a column
of a matrix (``im2col``) and all of those dot products become a single matrix product:

    cols   = im2col(x)                       (C*KH*KW, N*H_out*W_out)
    out    = W.reshape(F, C*KH*KW) @ cols    (F, N*H_out*W_out), reordered to (N, F, H_out, W_out)

The product runs in BLAS, which is as fast as this machine multiplies matrices. The backward
pass is two more products and the adjoint of the copy:

    dW     = dout @ cols.T                   (F, C*KH*KW)
    dcols  = W.T @ dout                      (C*KH*KW, N*H_out*W_out)
    dx     = col2im(dcols)                   (N, C, H, W)   — a transposed convolution
    db     = dout summed over N, H_out, W_out

(``dout`` here is the upstream gradient reordered to ``(F, N*H_out*W_out)``.) A 1×1 convolution
with stride 1 and no padding needs no im2col: its columns are the input itself, so it is one
product per image (`_pointwise_forward`). The derivation is in ``docs/derivations/conv.md``;
`conv2d_forward_naive` is the six-loop definition the fast paths are tested against.
"""

from __future__ import annotations

import numpy as np

from minilpr.nn.checks import check_float, pair
from minilpr.nn.init import default_rng, fans, kaiming_uniform, uniform_bias
from minilpr.nn.kernels.conv import col2im_kernel, conv_output_size, im2col_kernel
from minilpr.nn.module import Module, Parameter

def window_pairs(kernel_size, stride, padding) -> tuple[tuple[int, int], ...]:
    """``((KH, KW), (SH, SW), (PH, PW))`` from ints or pairs, checked by `pair`."""
    return pair(kernel_size, "kernel_size"), pair(stride, "stride"), pair(padding, "padding")


def _check_conv_args(x, w, b, stride, padding):
    """Validate the arguments of a convolution; return ``(stride, padding)`` as pairs."""
    SH, SW = pair(stride, "conv2d: stride")
    PH, PW = pair(padding, "conv2d: padding")
    if SH < 1 or SW < 1:
        raise ValueError(f"conv2d: stride must be positive, got {(SH, SW)}")
    if PH < 0 or PW < 0:
        raise ValueError(f"conv2d: padding must be non-negative, got {(PH, PW)}")
    check_float("conv2d: x", x)
    check_float("conv2d: weight", w)
    if x.ndim != 4:
        raise ValueError(f"conv2d: x must be 4-D (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (F, C, KH, KW), got shape {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels but the weight expects "
                         f"{w.shape[1]}")
    if x.dtype != w.dtype:
        raise TypeError(f"conv2d: x is {x.dtype} but weight is {w.dtype}; cast one of them")
    H, W = x.shape[2:]
    KH, KW = w.shape[2:]
    if H + 2 * PH < KH or W + 2 * PW < KW:
        raise ValueError(f"conv2d: input {H}×{W} (padded {H + 2 * PH}×{W + 2 * PW}) is smaller "
                         f"than the {KH}×{KW} kernel")
    if b is not None and (not isinstance(b, np.ndarray) or b.shape != (w.shape[0],)):
        raise ValueError(f"conv2d: bias must have shape ({w.shape[0]},), got "
                         f"{getattr(b, 'shape', type(b).__name__)}")
    return (SH, SW), (PH, PW)


def _buffer(workspace: dict | None, name: str, shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array, taken from ``workspace`` when one of the right shape is there.

    A layer keeps its column matrix from the forward to the backward anyway; reusing it on the
    next step saves allocating (and page-faulting) tens of megabytes. The other big arrays live
    only inside one call, so they are not kept: that would double each layer's memory.
    """
    if workspace is None:
        return np.empty(shape, dtype)
    buf = workspace.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = workspace[name] = np.empty(shape, dtype)
    return buf


def im2col(x: np.ndarray, kernel_size, stride=1, padding=0) -> np.ndarray:
    """The column matrix of ``x``: one column per output pixel, one row per weight entry.

    Parameters
    ----------
    x : (N, C, H, W) float
    kernel_size, stride, padding : int or (int, int)

    Returns
    -------
    cols : (C * KH * KW, N * H_out * W_out) float
        ``cols[(c*KH + i)*KW + j, (n*H_out + h)*W_out + w] = x_pad[n, c, h*SH + i, w*SW + j]``,
        with ``H_out = (H + 2*PH - KH) // SH + 1`` and ``W_out = (W + 2*PW - KW) // SW + 1``.
    """
    (KH, KW), (SH, SW), (PH, PW) = window_pairs(kernel_size, stride, padding)
    N, C, H, W = x.shape
    shape = (C * KH * KW, N * conv_output_size(H, KH, SH, PH) * conv_output_size(W, KW, SW, PW))
    cols = np.empty(shape, x.dtype)
    im2col_kernel(np.ascontiguousarray(x), KH, KW, SH, SW, PH, PW, cols)
    return cols


def col2im(cols: np.ndarray, x_shape, kernel_size, stride=1, padding=0) -> np.ndarray:
    """The adjoint of `im2col`: sum every column back onto the pixels it came from.

    Parameters
    ----------
    cols : (C * KH * KW, N * H_out * W_out) float
    x_shape : tuple (N, C, H, W)
        Shape of the image `im2col` read.
    kernel_size, stride, padding : int or (int, int)

    Returns
    -------
    dx : (N, C, H, W) float
    """
    (KH, KW), (SH, SW), (PH, PW) = window_pairs(kernel_size, stride, padding)
    N, C, H, W = x_shape
    expected = (C * KH * KW, N * conv_output_size(H, KH, SH, PH) * conv_output_size(W, KW, SW, PW))
    if cols.shape != expected:
        raise ValueError(f"col2im: cols has shape {cols.shape}, expected {expected} for an image "
                         f"of shape {tuple(x_shape)}")
    dx = np.zeros(x_shape, cols.dtype)
    col2im_kernel(np.ascontiguousarray(cols), KH, KW, SH, SW, PH, PW, dx)
    return dx


def im2col_reference(x: np.ndarray, kernel_size, stride=1, padding=0) -> np.ndarray:
    """`im2col` in NumPy: pad, then slice out one strided (H_out, W_out) grid per ``(i, j)``.

    Returns
    -------
    cols : (C * KH * KW, N * H_out * W_out) float
    """
    (KH, KW), (SH, SW), (PH, PW) = window_pairs(kernel_size, stride, padding)
    N, C, H, W = x.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    patches = np.empty((C, KH, KW, N, H_out, W_out), x.dtype)
    for i in range(KH):
        for j in range(KW):
            window = x_pad[:, :, i:i + SH * H_out:SH, j:j + SW * W_out:SW]  # (N, C, H_out, W_out)
            patches[:, i, j] = window.transpose(1, 0, 2, 3)  # (C, N, H_out, W_out)
    return patches.reshape(C * KH * KW, N * H_out * W_out)


def col2im_reference(cols: np.ndarray, x_shape, kernel_size, stride=1, padding=0) -> np.ndarray:
    """`col2im` in NumPy: the slicing of `im2col_reference`, run backwards with ``+=``.

    Returns
    -------
    dx : (N, C, H, W) float
    """
    (KH, KW), (SH, SW), (PH, PW) = window_pairs(kernel_size, stride, padding)
    N, C, H, W = x_shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    patches = cols.reshape(C, KH, KW, N, H_out, W_out)  # (C, KH, KW, N, H_out, W_out)
    dx_pad = np.zeros((N, C, H + 2 * PH, W + 2 * PW), cols.dtype)
    for i in range(KH):
        for j in range(KW):
            # Windows overlap when the stride is below the kernel size, so this must add.
            dx_pad[:, :, i:i + SH * H_out:SH, j:j + SW * W_out:SW] += \
                patches[:, i, j].transpose(1, 0, 2, 3)  # (N, C, H_out, W_out)
    return dx_pad[:, :, PH:PH + H, PW:PW + W].copy()


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride=1, padding=0,
                   workspace: dict | None = None):
    """Convolution (cross-correlation, as in every deep-learning library) by im2col + GEMM.

    ``out[n, f, h, w] = b[f] + sum_{c, i, j} w[f, c, i, j] * x_pad[n, c, h*SH + i, w*SW + j]``

    Parameters
    ----------
    x : (N, C, H, W) float
        The input.
    w : (F, C, KH, KW) float
        The filters, same dtype as ``x``.
    b : (F,) float or None
        The bias.
    stride, padding : int or (int, int)
        ``(SH, SW)`` and ``(PH, PW)``; padding adds zeros on both sides.
    workspace : dict, optional
        Arrays kept between calls (a layer passes its own): the column matrix is written into
        ``workspace["cols"]`` when the shape fits, so the returned cache is valid until the next
        forward with the same workspace.

    Returns
    -------
    out : (N, F, H_out, W_out) float
        ``H_out = (H + 2*PH - KH) // SH + 1`` and ``W_out = (W + 2*PW - KW) // SW + 1``.
    cache : tuple
        What `conv2d_backward` needs (the column matrix, the weight and the shapes; for a
        1×1 convolution with stride 1 and no padding, ``x`` itself instead of the columns).
    """
    (SH, SW), (PH, PW) = _check_conv_args(x, w, b, stride, padding)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    if _is_pointwise(w.shape, (SH, SW), (PH, PW)):
        x = np.ascontiguousarray(x)
        return _pointwise_forward(x, w, b), (x, w, b is not None, x.shape, (SH, SW), (PH, PW))
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    P = H_out * W_out
    cols = _buffer(workspace, "cols", (C * KH * KW, N * P), x.dtype)
    im2col_kernel(np.ascontiguousarray(x), KH, KW, SH, SW, PH, PW, cols)
    w_mat = w.reshape(F, C * KH * KW)  # (F, C*KH*KW)
    out_mat = np.matmul(w_mat, cols)  # (F, N*P)
    out = np.empty((N, F, P), x.dtype)
    by_image = out_mat.reshape(F, N, P).transpose(1, 0, 2)  # (N, F, P)
    if b is None:
        out[...] = by_image
    else:
        np.add(by_image, b.reshape(1, F, 1), out=out)
    cache = (cols, w, b is not None, x.shape, (SH, SW), (PH, PW))
    return out.reshape(N, F, H_out, W_out), cache


def conv2d_backward(dout: np.ndarray, cache):
    """Gradients of `conv2d_forward`.

    Parameters
    ----------
    dout : (N, F, H_out, W_out) float
        dL/d(out).
    cache : from `conv2d_forward`

    Returns
    -------
    dx : (N, C, H, W) float
    dw : (F, C, KH, KW) float
    db : (F,) float, or None when the forward had no bias
    """
    cols, w, has_bias, x_shape, (SH, SW), (PH, PW) = cache
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    if dout.shape != (N, F, H_out, W_out):
        raise ValueError(f"conv2d_backward: dout has shape {dout.shape}, expected "
                         f"{(N, F, H_out, W_out)}")
    if _is_pointwise(w.shape, (SH, SW), (PH, PW)):
        return _pointwise_backward(dout, cols, w, has_bias)  # there the cache kept x, not cols
    P = H_out * W_out
    # The same (F, N*P) order as the forward's product, so both GEMMs below see contiguous data.
    dout_mat = np.empty((F, N * P), dout.dtype)
    dout_mat.reshape(F, N, P)[...] = dout.reshape(N, F, P).transpose(1, 0, 2)  # (F, N, P)
    db = dout_mat.sum(axis=1) if has_bias else None
    # Weight entry k multiplied row k of cols in every output: dW = dout @ cols.T.
    dw = np.matmul(dout_mat, cols.T).reshape(F, C, KH, KW)  # (F, C, KH, KW)
    dcols = np.matmul(w.reshape(F, C * KH * KW).T, dout_mat)  # (C*KH*KW, N*P)
    # im2col copied each pixel into several entries; its transpose adds them back.
    dx = np.zeros(x_shape, dout.dtype)
    col2im_kernel(dcols, KH, KW, SH, SW, PH, PW, dx)
    return dx, dw, db


def _is_pointwise(w_shape, stride, padding) -> bool:
    """A 1×1 kernel, stride 1, no padding: each output pixel reads only its own input pixel."""
    return w_shape[2:] == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0)


def _pointwise_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """A 1×1, stride-1, unpadded convolution: one (F, C) @ (C, H*W) product per image.

    The column matrix of such a convolution holds exactly the input's numbers, only reordered
    to (C, N*H*W); multiplying each image's (C, H*W) block in place skips that copy and the
    reorder of the output back to (N, F, H*W).

    Parameters
    ----------
    x : (N, C, H, W) float
    w : (F, C, 1, 1) float
    b : (F,) float or None

    Returns
    -------
    out : (N, F, H, W) float
        ``out[n, :, h, w] = w[:, :, 0, 0] @ x[n, :, h, w] + b``; H_out = H, W_out = W.
    """
    N, C, H, W = x.shape
    F = w.shape[0]
    out = np.matmul(w.reshape(F, C), x.reshape(N, C, H * W))  # (N, F, H*W)
    if b is not None:
        out += b.reshape(1, F, 1)
    return out.reshape(N, F, H, W)


def _pointwise_backward(dout: np.ndarray, x: np.ndarray, w: np.ndarray, has_bias: bool):
    """Gradients of `_pointwise_forward`, image by image, with no column matrix either.

    Parameters
    ----------
    dout : (N, F, H, W) float
    x : (N, C, H, W) float
        The forward's input.
    w : (F, C, 1, 1) float
    has_bias : bool

    Returns
    -------
    dx : (N, C, H, W), dw : (F, C, 1, 1), db : (F,) or None
    """
    N, C, H, W = x.shape
    F = w.shape[0]
    dout3 = dout.reshape(N, F, H * W)  # (N, F, P)
    x3 = x.reshape(N, C, H * W)  # (N, C, P)
    db = dout3.sum(axis=(0, 2)) if has_bias else None
    # Each image contributes its own dout_n @ x_n.T; the weight is shared, so they add.
    dw = np.matmul(dout3, x3.transpose(0, 2, 1)).sum(axis=0).reshape(F, C, 1, 1)
    dx = np.matmul(w.reshape(F, C).T, dout3).reshape(N, C, H, W)  # (C, F) @ (N, F, P)
    return dx, dw, db


def conv2d_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride=1,
                         padding=0) -> np.ndarray:
    """The definition, in loops: the reference `conv2d_forward` is tested against.

    Parameters and output as `conv2d_forward` (without the cache).
    """
    (SH, SW), (PH, PW) = _check_conv_args(x, w, b, stride, padding)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    out = np.zeros((N, F, H_out, W_out), np.result_type(x, w))
    for n in range(N):
        for f in range(F):
            for h in range(H_out):
                for k in range(W_out):
                    field = x_pad[n, :, h * SH:h * SH + KH, k * SW:k * SW + KW]  # (C, KH, KW)
                    out[n, f, h, k] = np.sum(field * w[f]) + (0 if b is None else b[f])
    return out


class Conv2d(Module):
    """2-D convolution layer, PyTorch's ``nn.Conv2d`` without groups or dilation.

    Parameters
    ----------
    in_channels, out_channels : int
        C and F.
    kernel_size, stride, padding : int or (int, int)
        (KH, KW), (SH, SW), (PH, PW); the patent uses strides (2, 1) and (4, 2).
    bias : bool
        Learn an additive bias per output channel.
    rng : numpy.random.Generator or int or None
        Draws the initialisation, PyTorch's default: He-uniform with ``negative_slope=sqrt(5)``,
        i.e. U(±1/sqrt(C*KH*KW)), for the weight; U(±1/sqrt(C*KH*KW)) for the bias. None draws
        from fresh entropy (see `minilpr.nn.init.default_rng`).

    Shapes
    ------
    x : (N, C, H, W) -> out : (N, F, H_out, W_out), with
    ``H_out = (H + 2*PH - KH) // SH + 1`` and ``W_out = (W + 2*PW - KW) // SW + 1``.

    Attributes
    ----------
    weight : Parameter (F, C, KH, KW) float32
    bias : Parameter (F,) float32, when ``bias=True``
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, rng: np.random.Generator | int | None = None):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d: channel counts must be positive, got in_channels="
                             f"{in_channels}, out_channels={out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
        self.stride = pair(stride, "Conv2d: stride")
        self.padding = pair(padding, "Conv2d: padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"Conv2d: kernel_size and stride must be positive and padding "
                             f"non-negative, got {self.kernel_size}, {self.stride}, "
                             f"{self.padding}")
        rng = default_rng(rng)
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight = Parameter(kaiming_uniform(shape, rng, negative_slope=np.sqrt(5)))
        self.bias = Parameter(uniform_bias(out_channels, fans(shape)[0], rng)) if bias else None
        self._workspace: dict = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x : (N, C, H, W) -> (N, F, H_out, W_out)``."""
        if not isinstance(x, np.ndarray) or x.ndim != 4:
            raise ValueError(f"Conv2d: expected a 4-D input (N, C, H, W), got shape "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d: expected {self.in_channels} input channels, got "
                             f"{x.shape[1]} (input shape {x.shape})")
        self._check_dtype(x, self.weight.data.dtype)
        bias = None if self.bias is None else self.bias.data
        return self._keep_for_backward(*conv2d_forward(x, self.weight.data, bias, self.stride,
                                                       self.padding, workspace=self._workspace))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout : (N, F, H_out, W_out) -> dx : (N, C, H, W)``; accumulates the weight grads."""
        cache, dout = self._take_for_backward(dout)
        dx, dw, db = conv2d_backward(dout, cache)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
