"""Numba loops that lower a convolution to one matrix product: ``im2col`` and its adjoint.

The column matrix has one row per weight entry ``(c, i, j)`` and one column per output pixel
``(n, h, w)``:

    cols[(c * KH + i) * KW + j, (n * H_out + h) * W_out + w] = x_pad[n, c, h * SH + i, w * SW + j]

where ``x_pad`` is ``x`` with ``PH`` rows and ``PW`` columns of zeros around it. The kernels never
build ``x_pad``: for each kernel column ``j`` they work out once which outputs read inside the
image (`inside_range`) and write zeros for the others. With this layout the convolution is the
single product ``weight.reshape(F, C * KH * KW) @ cols`` and every write below runs along a row.

Two loop orders fill the same matrix. `im2col_by_offset` walks one kernel offset ``(i, j)`` at a
time over a whole channel of the batch: one long write stream per row of ``cols``, reading that
channel ``KH * KW`` times. While the channel fits in the L1 cache that costs nothing; a strided
convolution of a large channel, though, re-reads it from memory for every offset (and skips
rows), so `im2col_by_output_row` visits one output row at a time and all its offsets, while the
few input rows they read are still in the cache. It is 2-3× faster for the locator's stride-2
convolutions at 416 × 416 (batch 8), but up to 10× slower on the recogniser's small stride-(2, 1)
maps (256 channels of 8 × 4 × 55), hence the rule in `_by_output_row`. The same holds for the
adjoints. Stride 1 always goes by offset: there the row order was no faster.
"""

from __future__ import annotations

from numba import njit

# Above this many values per channel of the batch (N * H * W; 32 KB of float32, an L1 cache)
# a strided convolution goes by output row.
ROW_ORDER_MIN_VALUES = 8192


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
def _by_output_row(N, H, W, SH, SW):
    """Which loop order: by output row for a strided convolution of a channel beyond L1."""
    return (SH > 1 or SW > 1) and N * H * W > ROW_ORDER_MIN_VALUES


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
    if _by_output_row(N, H, W, SH, SW):
        im2col_by_output_row(x, KH, KW, SH, SW, PH, PW, cols)
    else:
        im2col_by_offset(x, KH, KW, SH, SW, PH, PW, cols)


@njit(cache=True)
def im2col_by_offset(x, KH, KW, SH, SW, PH, PW, cols):
    """`im2col_kernel` one kernel offset ``(i, j)`` at a time: each row of ``cols`` in one go.

    Parameters as `im2col_kernel`.
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
def im2col_by_output_row(x, KH, KW, SH, SW, PH, PW, cols):
    """`im2col_kernel` one output row at a time, all kernel offsets of that row together.

    Parameters as `im2col_kernel`; the matrix written is the same.
    """
    N, C, H, W = x.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    for c in range(C):
        for n in range(N):
            for h in range(H_out):
                start = (n * H_out + h) * W_out
                for i in range(KH):
                    y = h * SH - PH + i
                    for j in range(KW):
                        row = (c * KH + i) * KW + j
                        if y < 0 or y >= H:
                            for w in range(W_out):
                                cols[row, start + w] = 0.0
                            continue
                        w_lo, w_hi = inside_range(j, SW, PW, W, W_out)
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
    if _by_output_row(N, H, W, SH, SW):
        col2im_by_output_row(cols, KH, KW, SH, SW, PH, PW, dx)
    else:
        col2im_by_offset(cols, KH, KW, SH, SW, PH, PW, dx)


@njit(cache=True)
def col2im_by_output_row(cols, KH, KW, SH, SW, PH, PW, dx):
    """`col2im_kernel` one output row at a time (the order of `im2col_by_output_row`).

    Parameters as `col2im_kernel`; the sums are the same up to the order of the additions.
    """
    N, C, H, W = dx.shape
    H_out, W_out = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    for c in range(C):
        for n in range(N):
            for h in range(H_out):
                start = (n * H_out + h) * W_out
                for i in range(KH):
                    y = h * SH - PH + i
                    if y < 0 or y >= H:
                        continue
                    for j in range(KW):
                        row = (c * KH + i) * KW + j
                        w_lo, w_hi = inside_range(j, SW, PW, W, W_out)
                        for w in range(w_lo, w_hi):
                            dx[n, c, y, w * SW - PW + j] += cols[row, start + w]


@njit(cache=True)
def col2im_by_offset(cols, KH, KW, SH, SW, PH, PW, dx):
    """`col2im_kernel` one kernel offset at a time (the order of `im2col_by_offset`).

    Parameters as `col2im_kernel`.
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
