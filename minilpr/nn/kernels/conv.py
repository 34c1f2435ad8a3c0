"""Numba loops that lower a convolution to one matrix product: ``im2col`` and its adjoint.

The column matrix has one row per weight entry ``(c, i, j)`` and one column per output pixel
``(n, h, w)``:

    cols[(c * KH + i) * KW + j, (n * H_out + h) * W_out + w] = x_pad[n, c, h * SH + i, w * SW + j]

where ``x_pad`` is ``x`` with ``PH`` rows and ``PW`` columns of zeros around it. The kernels never
build ``x_pad``: for each kernel column ``j`` they work out once which outputs read inside the
image (`inside_range`) and write zeros for the others. With this layout the convolution is the
single product ``weight.reshape(F, C * KH * KW) @ cols`` and every write below runs along a row.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def conv_output_size(size, kernel, stride, padding):
    """Output length along one axis: ``(size + 2 * padding - kernel) // stride + 1``.

    The one home of the formula: the kernels below call it, and so do the layers
    (`minilpr.nn.conv` re-exports it).
    """
    return (size + 2 * padding - kernel) // stride + 1


@njit(cache=True)
def inside_range(j, S, P, size, out_size):
    """The outputs ``o`` whose input position ``o * S - P + j`` lies inside ``[0, size)``.

    Returns ``(lo, hi)``: they are ``lo <= o < hi``, so the loops over them need no bounds test
    (and Numba can vectorise them). ``lo`` is ``ceil((P - j) / S)`` clipped at 0.
    """
    lo = max(0, -((j - P) // S))
    hi = min(out_size, (size - 1 + P - j) // S + 1)
    return lo, max(lo, hi)


@njit(cache=True)
def im2col_kernel(x, KH, KW, SH, SW, PH, PW, cols):
    """Copy every receptive field of ``x`` into a column of ``cols``.

    Parameters
    ----------
    x : (N, C, H, W) float
        The input.
    KH, KW, SH, SW, PH, PW : int
        Kernel size, stride and zero padding along height and width.
    cols : (C * KH * KW, N * H_out * W_out) float
        Written in full (padding reads as zero); ``H_out = (H + 2 * PH - KH) // SH + 1``, and
        likewise ``W_out``.
    """
    N, C, H, W = x.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    for c in range(C):
        for i in range(KH):
            for j in range(KW):
                row = (c * KH + i) * KW + j
                w_lo, w_hi = inside_range(j, SW, PW, W, W_out)
                for n in range(N):
                    for h in range(H_out):
                        y = h * SH - PH + i
                        start = (n * H_out + h) * W_out
                        if y < 0 or y >= H:
                            for w in range(W_out):
                                cols[row, start + w] = 0.0
                            continue
                        for w in range(w_lo):
                            cols[row, start + w] = 0.0
                        for w in range(w_lo, w_hi):
                            cols[row, start + w] = x[n, c, y, w * SW - PW + j]
                        for w in range(w_hi, W_out):
                            cols[row, start + w] = 0.0


@njit(cache=True)
def col2im_kernel(cols, KH, KW, SH, SW, PH, PW, dx):
    """The adjoint of `im2col_kernel`: add every column back onto the pixels it was read from.

    A pixel read by several receptive fields (overlapping windows) receives the sum of their
    entries; entries that fell in the padding are dropped.

    Parameters
    ----------
    cols : (C * KH * KW, N * H_out * W_out) float
        Typically ``weight.T @ dout``, the gradient with respect to the column matrix.
    KH, KW, SH, SW, PH, PW : int
        Kernel size, stride and padding used by the forward pass.
    dx : (N, C, H, W) float
        Must hold zeros on entry; receives the sums.
    """
    N, C, H, W = dx.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    for c in range(C):
        for i in range(KH):
            for j in range(KW):
                row = (c * KH + i) * KW + j
                w_lo, w_hi = inside_range(j, SW, PW, W, W_out)
                for n in range(N):
                    for h in range(H_out):
                        y = h * SH - PH + i
                        if y < 0 or y >= H:
                            continue
                        start = (n * H_out + h) * W_out
                        for w in range(w_lo, w_hi):
                            dx[n, c, y, w * SW - PW + j] += cols[row, start + w]
