"""Numba loops of max pooling (`minilpr.nn.pool`): find each window's maximum, route back to it.

Windows are scanned row by row (``i`` over the kernel height, then ``j`` over its width). A
value replaces the running maximum only when it is strictly larger, so among equal maxima the
*first* in that scan order wins — PyTorch's rule. A NaN always replaces the running maximum, so
NaNs propagate as in PyTorch. Positions in the padding are never read (they count as -inf).
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def maxpool2d_forward_kernel(x, KH, KW, SH, SW, PH, PW, out, argmax):
    """Max over every window, and where it was.

    Parameters
    ----------
    x : (N, C, H, W) float
        The input.
    KH, KW, SH, SW, PH, PW : int
        Kernel size, stride and (-inf) padding along height and width.
    out : (N, C, H_out, W_out) float
        Written in full; ``H_out = (H + 2 * PH - KH) // SH + 1``, likewise ``W_out``.
    argmax : (N, C, H_out, W_out) int64
        Written in full: the winner's flat index ``y * W + x`` in its ``(H, W)`` plane.
    """
    N, C, H, W = x.shape
    H_out, W_out = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for h in range(H_out):
                y0 = h * SH - PH
                y_lo, y_hi = max(y0, 0), min(y0 + KH, H)
                for w in range(W_out):
                    x0 = w * SW - PW
                    x_lo, x_hi = max(x0, 0), min(x0 + KW, W)
                    best = -math.inf
                    best_index = y_lo * W + x_lo
                    for y in range(y_lo, y_hi):
                        for xx in range(x_lo, x_hi):
                            v = x[n, c, y, xx]
                            if v > best or math.isnan(v):
                                best = v
                                best_index = y * W + xx
                    out[n, c, h, w] = best
                    argmax[n, c, h, w] = best_index


@njit(cache=True)
def maxpool2x2_forward_kernel(x, out, argmax):
    """`maxpool2d_forward_kernel` for the patent's only pool: kernel 2, stride 2, no padding.

    The same scan order and tie rule. With the window's size fixed, the compiler unrolls the
    four comparisons into straight-line code; the general kernel's loops, whose bounds are only
    known at run time, are about ten times slower on the same input.

    Parameters
    ----------
    x : (N, C, H, W) float
    out : (N, C, H // 2, W // 2) float
        Written in full.
    argmax : (N, C, H // 2, W // 2) int64
        Written in full (flat index ``y * W + x``).
    """
    N, C, H, W = x.shape
    H_out, W_out = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for h in range(H_out):
                for w in range(W_out):
                    best = -math.inf
                    best_index = 2 * h * W + 2 * w
                    for y in range(2 * h, 2 * h + 2):
                        for xx in range(2 * w, 2 * w + 2):
                            v = x[n, c, y, xx]
                            if v > best or math.isnan(v):
                                best = v
                                best_index = y * W + xx
                    out[n, c, h, w] = best
                    argmax[n, c, h, w] = best_index


@njit(cache=True)
def maxpool2d_backward_kernel(dout, argmax, dx_planes):
    """Send each output's gradient to the input element that won its window.

    Parameters
    ----------
    dout : (N, C, H_out, W_out) float
        dL/d(out).
    argmax : (N, C, H_out, W_out) int64
        From the forward kernel: flat indices into each ``(H, W)`` plane.
    dx_planes : (N, C, H * W) float
        The input gradient with each plane flattened (a view of ``(N, C, H, W)``), so that
        ``argmax`` indexes it directly. Must hold zeros on entry; an element that wins several
        overlapping windows receives the sum of their gradients.
    """
    N, C, H_out, W_out = dout.shape
    for n in range(N):
        for c in range(C):
            for h in range(H_out):
                for w in range(W_out):
                    dx_planes[n, c, argmax[n, c, h, w]] += dout[n, c, h, w]
