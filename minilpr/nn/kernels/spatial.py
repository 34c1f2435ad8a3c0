"""Numba loops of the bilinear sampler (`minilpr.nn.spatial.grid_sample`).

Both kernels walk the output pixels once; each output pixel reads (forward) or writes
(backward) the four input pixels around its sampling point, for every channel. A corner that
falls outside the image counts as zero ("zeros" padding). Coordinates arrive in *pixel* units:
``ix`` in [-1, W) and ``iy`` in [-1, H) touch the image, anything else (or NaN) samples zero.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def grid_sample_forward_kernel(x, ix, iy, out):
    """Bilinear sampling with zero padding.

    Parameters
    ----------
    x : (N, C, H, W) float
        The input image.
    ix, iy : (N, H_out, W_out) float
        Sampling positions in pixel units (column ``ix``, row ``iy``).
    out : (N, C, H_out, W_out) float
        Written in full.
    """
    N, C, H, W = x.shape
    H_out, W_out = ix.shape[1], ix.shape[2]
    for n in range(N):
        for h in range(H_out):
            for w in range(W_out):
                px = ix[n, h, w]
                py = iy[n, h, w]
                if not (px >= -1.0 and px < W and py >= -1.0 and py < H):
                    for c in range(C):
                        out[n, c, h, w] = 0.0
                    continue
                x0 = int(math.floor(px))
                y0 = int(math.floor(py))
                wx1 = px - x0
                wy1 = py - y0
                wx0 = 1.0 - wx1
                wy0 = 1.0 - wy1
                in_x0 = x0 >= 0
                in_x1 = x0 + 1 < W
                in_y0 = y0 >= 0
                in_y1 = y0 + 1 < H
                for c in range(C):
                    acc = 0.0
                    if in_y0 and in_x0:
                        acc += wy0 * wx0 * x[n, c, y0, x0]
                    if in_y0 and in_x1:
                        acc += wy0 * wx1 * x[n, c, y0, x0 + 1]
                    if in_y1 and in_x0:
                        acc += wy1 * wx0 * x[n, c, y0 + 1, x0]
                    if in_y1 and in_x1:
                        acc += wy1 * wx1 * x[n, c, y0 + 1, x0 + 1]
                    out[n, c, h, w] = acc


@njit(cache=True)
def grid_sample_backward_kernel(dout, x, ix, iy, dx, dix, diy):
    """Gradients of bilinear sampling with respect to the image and the pixel coordinates.

    Parameters
    ----------
    dout : (N, C, H_out, W_out) float
        Upstream gradient.
    x : (N, C, H, W) float
        The forward's input image.
    ix, iy : (N, H_out, W_out) float
        The forward's sampling positions in pixel units.
    dx : (N, C, H, W) float
        Must arrive zeroed; each output pixel scatters into its four corners (``+=``).
    dix, diy : (N, H_out, W_out) float
        Written in full: dL/d(ix), dL/d(iy).
    """
    N, C, H, W = x.shape
    H_out, W_out = ix.shape[1], ix.shape[2]
    for n in range(N):
        for h in range(H_out):
            for w in range(W_out):
                px = ix[n, h, w]
                py = iy[n, h, w]
                dix[n, h, w] = 0.0
                diy[n, h, w] = 0.0
                if not (px >= -1.0 and px < W and py >= -1.0 and py < H):
                    continue
                x0 = int(math.floor(px))
                y0 = int(math.floor(py))
                wx1 = px - x0
                wy1 = py - y0
                wx0 = 1.0 - wx1
                wy0 = 1.0 - wy1
                in_x0 = x0 >= 0
                in_x1 = x0 + 1 < W
                in_y0 = y0 >= 0
                in_y1 = y0 + 1 < H
                gx = 0.0
                gy = 0.0
                for c in range(C):
                    g = dout[n, c, h, w]
                    # Corners outside the image read as 0 and receive no gradient.
                    v00 = x[n, c, y0, x0] if (in_y0 and in_x0) else 0.0
                    v01 = x[n, c, y0, x0 + 1] if (in_y0 and in_x1) else 0.0
                    v10 = x[n, c, y0 + 1, x0] if (in_y1 and in_x0) else 0.0
                    v11 = x[n, c, y0 + 1, x0 + 1] if (in_y1 and in_x1) else 0.0
                    if in_y0 and in_x0:
                        dx[n, c, y0, x0] += g * wy0 * wx0
                    if in_y0 and in_x1:
                        dx[n, c, y0, x0 + 1] += g * wy0 * wx1
                    if in_y1 and in_x0:
                        dx[n, c, y0 + 1, x0] += g * wy1 * wx0
                    if in_y1 and in_x1:
                        dx[n, c, y0 + 1, x0 + 1] += g * wy1 * wx1
                    # Moving the point right by one pixel swaps left values for right values.
                    gx += g * (wy0 * (v01 - v00) + wy1 * (v11 - v10))
                    gy += g * (wx0 * (v10 - v00) + wx1 * (v11 - v01))
                dix[n, h, w] = gx
                diy[n, h, w] = gy
