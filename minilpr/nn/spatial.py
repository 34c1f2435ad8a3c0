"""The two halves of a spatial transformer: the affine grid and the bilinear sampler.

A spatial transformer warps an image with a 2×3 matrix ``theta`` (Jaderberg et al. 2015; the
patent's formula 2-2). For every *output* pixel, ``affine_grid`` asks where in the *input* to
look:

    (x_s, y_s) = theta @ (x_t, y_t, 1)

and ``grid_sample`` reads the input there, interpolating bilinearly between the four pixels
around the (usually fractional) point. Both are differentiable — the sampler even with
respect to *where* it samples — so a network that predicts ``theta`` learns from the loss of
whatever comes after.

Coordinates are normalised as in PyTorch: ``x`` runs from -1 (left) to +1 (right), ``y`` from -1
(top) to +1 (bottom), whatever the image size, so one ``theta`` means the same warp on any size.
A grid stores ``x`` first, then ``y``: ``grid[n, h, w] = (x, y)``.

``align_corners`` says what ±1 touches:

* ``False`` (the default, as in PyTorch): ±1 is the outer *edge* of the border pixels. Pixel
  ``j`` of ``W`` has its centre at ``(2j + 1) / W - 1``; pixel coordinates follow from
  ``ix = ((x + 1) W - 1) / 2``. The image is a row of W cells of width 2/W filling [-1, 1].
* ``True``: ±1 is the *centre* of the border pixels. Pixel ``j`` sits at ``2j / (W - 1) - 1``;
  ``ix = (x + 1)(W - 1) / 2``.

Either way, the identity ``theta = [[1, 0, 0], [0, 1, 0]]`` samples every pixel at its own
centre and returns the image unchanged. Samples outside the image read zeros.
"""

from __future__ import annotations

import numpy as np

from minilpr.nn.checks import check_float
from minilpr.nn.kernels.spatial import grid_sample_backward_kernel, grid_sample_forward_kernel
from minilpr.nn.module import Module


def base_coordinates(n: int, align_corners: bool = False, dtype=np.float64) -> np.ndarray:
    """Normalised coordinates of the centres of ``n`` pixels along one axis.

    Parameters
    ----------
    n : int
        Number of pixels.
    align_corners : bool
        ``False``: ``(2j + 1) / n - 1`` (±1 are the outer edges); ``True``: ``2j / (n - 1) - 1``
        (±1 are the border pixel centres). A single pixel sits at 0 either way.

    Returns
    -------
    (n,) array of ``dtype``
    """
    if n <= 1:
        return np.zeros(max(n, 0), dtype)
    j = np.arange(n, dtype=np.float64)
    coords = 2 * j / (n - 1) - 1 if align_corners else (2 * j + 1) / n - 1
    return coords.astype(dtype)


def pixel_scale(n: int, align_corners: bool = False) -> float:
    """d(pixel coordinate)/d(normalised coordinate) along an axis of ``n`` pixels."""
    return (n - 1) / 2 if align_corners else n / 2


def unnormalise(coord: np.ndarray, n: int, align_corners: bool = False) -> np.ndarray:
    """Normalised coordinates -> pixel coordinates (0 is the first pixel's centre)."""
    if align_corners:
        return (coord + 1) * ((n - 1) / 2)
    return ((coord + 1) * n - 1) / 2


def affine_grid_forward(theta: np.ndarray, size, align_corners: bool = False):
    """Sampling grid of an affine warp (the patent's formula 2-2).

    For every output pixel ``(h, w)`` with normalised centre ``(x_t, y_t)``,
    ``grid[n, h, w] = theta[n] @ (x_t, y_t, 1)``: where in the input that pixel samples.

    Parameters
    ----------
    theta : (N, 2, 3) float
        Affine matrices mapping output coordinates to input coordinates.
    size : tuple (N, C, H_out, W_out)
        Size of the output image (C is ignored, as in ``torch.nn.functional.affine_grid``).
    align_corners : bool
        The corner convention; see the module docstring.

    Returns
    -------
    grid : (N, H_out, W_out, 2) float
        ``grid[..., 0]`` is x (column), ``grid[..., 1]`` is y (row), normalised to [-1, 1].
    cache : tuple
        What `affine_grid_backward` needs.
    """
    check_float("affine_grid: theta", theta)
    if theta.ndim != 3 or theta.shape[1:] != (2, 3):
        raise ValueError(f"affine_grid: theta must have shape (N, 2, 3), got {theta.shape}")
    if len(size) != 4:
        raise ValueError(f"affine_grid: size must be (N, C, H_out, W_out), got {tuple(size)}")
    N, _, H_out, W_out = (int(s) for s in size)
    if N != theta.shape[0]:
        raise ValueError(f"affine_grid: theta holds {theta.shape[0]} matrices but size asks "
                         f"for a batch of {N}")
    if H_out < 1 or W_out < 1:
        raise ValueError(f"affine_grid: output size must be positive, got {H_out}×{W_out}")
    xs = base_coordinates(W_out, align_corners, theta.dtype)
    ys = base_coordinates(H_out, align_corners, theta.dtype)
    # base[h * W_out + w] = (x_w, y_h, 1): the homogeneous target coordinates, one row a pixel.
    base = np.empty((H_out * W_out, 3), theta.dtype)
    base[:, 0] = np.tile(xs, H_out)
    base[:, 1] = np.repeat(ys, W_out)
    base[:, 2] = 1
    grid = np.matmul(base, theta.transpose(0, 2, 1))  # (N, H_out*W_out, 2)
    grid = grid.reshape(N, H_out, W_out, 2)  # (N, H_out, W_out, 2)
    return grid, (base, N, H_out, W_out)


def affine_grid_backward(dgrid: np.ndarray, cache) -> np.ndarray:
    """Gradient of `affine_grid_forward` with respect to ``theta``.

    The grid is linear in ``theta``: ``grid[n] = base @ theta[n].T``, so
    ``dtheta[n] = dgrid[n].T @ base`` — a (2, HW) by (HW, 3) product per image.

    Parameters
    ----------
    dgrid : (N, H_out, W_out, 2) float
    cache : from `affine_grid_forward`

    Returns
    -------
    dtheta : (N, 2, 3) float
    """
    base, N, H_out, W_out = cache
    if dgrid.shape != (N, H_out, W_out, 2):
        raise ValueError(f"affine_grid_backward: dgrid has shape {dgrid.shape}, expected "
                         f"{(N, H_out, W_out, 2)}")
    d = dgrid.reshape(N, H_out * W_out, 2).transpose(0, 2, 1)  # (N, 2, H_out*W_out)
    return np.matmul(d, base)


def affine_grid(theta: np.ndarray, size, align_corners: bool = False) -> np.ndarray:
    """The grid alone, as ``torch.nn.functional.affine_grid``; see `affine_grid_forward`."""
    return affine_grid_forward(theta, size, align_corners)[0]


def _check_sample_inputs(x: np.ndarray, grid: np.ndarray) -> None:
    check_float("grid_sample: x", x)
    check_float("grid_sample: grid", grid)
    if x.ndim != 4:
        raise ValueError(f"grid_sample: x must have shape (N, C, H, W), got {x.shape}")
    if grid.ndim != 4 or grid.shape[3] != 2:
        raise ValueError(f"grid_sample: grid must have shape (N, H_out, W_out, 2), got "
                         f"{grid.shape}")
    if grid.shape[0] != x.shape[0]:
        raise ValueError(f"grid_sample: x has batch {x.shape[0]} but grid has {grid.shape[0]}")
    if grid.dtype != x.dtype:
        raise TypeError(f"grid_sample: x is {x.dtype} but grid is {grid.dtype}; use one dtype")


def grid_sample_forward(x: np.ndarray, grid: np.ndarray, align_corners: bool = False):
    """Bilinear sampling of ``x`` at the points of ``grid``, zeros outside the image.

    With ``(ix, iy)`` the pixel coordinates of ``grid[n, h, w]`` (see `unnormalise`),
    ``x0 = floor(ix)``, ``y0 = floor(iy)``, ``a = ix - x0``, ``b = iy - y0``::

        out[n, c, h, w] = (1-b)(1-a) x[y0, x0] + (1-b) a x[y0, x0+1]
                        +     b (1-a) x[y0+1, x0] +     b a x[y0+1, x0+1]

    where a pixel outside the image reads 0. Output size: ``H_out × W_out``, the grid's.

    Parameters
    ----------
    x : (N, C, H, W) float
    grid : (N, H_out, W_out, 2) float, same dtype as ``x``
        Normalised (x, y) sampling points.
    align_corners : bool
        The corner convention; see the module docstring.

    Returns
    -------
    out : (N, C, H_out, W_out) float
    cache : tuple
        What `grid_sample_backward` needs.
    """
    _check_sample_inputs(x, grid)
    N, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    ix = np.ascontiguousarray(unnormalise(grid[..., 0], W, align_corners))  # (N, H_out, W_out)
    iy = np.ascontiguousarray(unnormalise(grid[..., 1], H, align_corners))  # (N, H_out, W_out)
    out = np.empty((N, C) + grid.shape[1:3], x.dtype)
    grid_sample_forward_kernel(x, ix, iy, out)
    return out, (x, ix, iy, pixel_scale(W, align_corners), pixel_scale(H, align_corners))


def grid_sample_backward(dout: np.ndarray, cache):
    """Gradients of `grid_sample_forward` with respect to the image and the grid.

    The image gradient scatters ``dout`` back to the four corners with the same bilinear
    weights. The grid gradient is the slope of the interpolant: along x it is the difference
    of right and left neighbours, weighted by the vertical weights (and symmetrically for y),
    times d(pixel)/d(normalised coordinate). Bilinear interpolation is piecewise linear, so
    this slope jumps where a point crosses a pixel centre (integer ``ix`` or ``iy``); there the
    backward gives the slope on the right-hand side, as PyTorch does.

    Parameters
    ----------
    dout : (N, C, H_out, W_out) float
    cache : from `grid_sample_forward`

    Returns
    -------
    dx : (N, C, H, W) float
    dgrid : (N, H_out, W_out, 2) float
    """
    x, ix, iy, scale_x, scale_y = cache
    expected = x.shape[:2] + ix.shape[1:]
    if dout.shape != expected:
        raise ValueError(f"grid_sample_backward: dout has shape {dout.shape}, expected {expected}")
    if dout.dtype != x.dtype:
        raise TypeError(f"grid_sample_backward: dout is {dout.dtype} but the image is {x.dtype}; "
                        "cast dout")
    dout = np.ascontiguousarray(dout)
    dx = np.zeros_like(x)
    dix = np.empty_like(ix)
    diy = np.empty_like(iy)
    grid_sample_backward_kernel(dout, x, ix, iy, dx, dix, diy)
    dgrid = np.stack([dix * scale_x, diy * scale_y], axis=-1)  # (N, H_out, W_out, 2)
    return dx, dgrid


def grid_sample(x: np.ndarray, grid: np.ndarray, align_corners: bool = False) -> np.ndarray:
    """The sampled image alone, as ``torch.nn.functional.grid_sample(mode="bilinear",
    padding_mode="zeros")``; see `grid_sample_forward`."""
    return grid_sample_forward(x, grid, align_corners)[0]


def _corners(x: np.ndarray, ix: np.ndarray, iy: np.ndarray):
    """The four corners of every sampling point, for the NumPy references.

    Returns a list of ``(weight, value, yi, xi, inside)`` for the corners (0,0), (0,1), (1,0),
    (1,1); ``value`` is (N, C, H_out, W_out) with zeros outside, the others (N, H_out, W_out).
    """
    N, C, H, W = x.shape
    x0 = np.floor(ix)
    y0 = np.floor(iy)
    a = ix - x0
    b = iy - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    n = np.arange(N)[:, None, None]
    corners = []
    for dy, wy in ((0, 1 - b), (1, b)):
        for dx, wx in ((0, 1 - a), (1, a)):
            yi, xi = y0 + dy, x0 + dx
            inside = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
            yc, xc = np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)
            value = x[n, :, yc, xc]  # (N, H_out, W_out, C): advanced indices come first
            value = np.where(inside[..., None], value, 0)
            value = value.transpose(0, 3, 1, 2)  # (N, C, H_out, W_out)
            corners.append((wy * wx, value, yc, xc, inside))
    return corners


def grid_sample_reference(x: np.ndarray, grid: np.ndarray, align_corners: bool = False
                          ) -> np.ndarray:
    """Plain-NumPy bilinear sampling (gathers instead of loops), to check the kernel.

    Same contract as `grid_sample`; assumes a finite grid.
    """
    _check_sample_inputs(x, grid)
    N, C, H, W = x.shape
    ix = unnormalise(grid[..., 0], W, align_corners)
    iy = unnormalise(grid[..., 1], H, align_corners)
    out = np.zeros((N, C) + grid.shape[1:3], x.dtype)
    for weight, value, *_ in _corners(x, ix, iy):
        out += weight[:, None] * value
    return out


def grid_sample_backward_reference(dout: np.ndarray, x: np.ndarray, grid: np.ndarray,
                                   align_corners: bool = False):
    """Plain-NumPy gradients of bilinear sampling, ``(dx, dgrid)``, to check the kernel."""
    N, C, H, W = x.shape
    ix = unnormalise(grid[..., 0], W, align_corners)
    iy = unnormalise(grid[..., 1], H, align_corners)
    (w00, v00, *c00), (w01, v01, *c01), (w10, v10, *c10), (w11, v11, *c11) = \
        _corners(x, ix, iy)
    dx = np.zeros_like(x)
    n = np.broadcast_to(np.arange(N)[:, None, None], ix.shape)
    for weight, (yc, xc, inside) in ((w00, c00), (w01, c01), (w10, c10), (w11, c11)):
        contrib = (dout * weight[:, None]).transpose(0, 2, 3, 1)  # (N, H_out, W_out, C)
        # np.add.at, unlike +=, adds every repeat when several points share a corner.
        np.add.at(dx, (n[inside], slice(None), yc[inside], xc[inside]), contrib[inside])
    a = ix - np.floor(ix)
    b = iy - np.floor(iy)
    dix = np.sum(dout * ((1 - b)[:, None] * (v01 - v00) + b[:, None] * (v11 - v10)), axis=1)
    diy = np.sum(dout * ((1 - a)[:, None] * (v10 - v00) + a[:, None] * (v11 - v01)), axis=1)
    dgrid = np.stack([dix * pixel_scale(W, align_corners), diy * pixel_scale(H, align_corners)],
                     axis=-1)  # (N, H_out, W_out, 2)
    return dx, dgrid.astype(x.dtype)


class AffineGrid(Module):
    """`affine_grid_forward` as a layer: ``forward(theta, size) -> grid``; backward -> dtheta."""

    def __init__(self, align_corners: bool = False):
        super().__init__()
        self.align_corners = align_corners

    def forward(self, theta: np.ndarray, size) -> np.ndarray:
        return self._keep_for_backward(*affine_grid_forward(theta, size, self.align_corners),
                                       names="dgrid")

    def backward(self, dgrid: np.ndarray) -> np.ndarray:
        cache, dgrid = self._take_for_backward(dgrid)
        return affine_grid_backward(dgrid, cache)

    def extra_repr(self) -> str:
        return f"align_corners={self.align_corners}"


class GridSample(Module):
    """`grid_sample_forward` as a layer: ``forward(x, grid)``; backward -> ``(dx, dgrid)``."""

    def __init__(self, align_corners: bool = False):
        super().__init__()
        self.align_corners = align_corners

    def forward(self, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
        return self._keep_for_backward(*grid_sample_forward(x, grid, self.align_corners))

    def backward(self, dout: np.ndarray):
        cache, dout = self._take_for_backward(dout)
        return grid_sample_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"mode=bilinear, padding_mode=zeros, align_corners={self.align_corners}"
