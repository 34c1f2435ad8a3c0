"""Affine grid and bilinear sampler: exact warps, gradient checks, kernels against references."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import FunctionPair, assert_gradcheck
from minilpr.nn.spatial import (AffineGrid, GridSample, affine_grid, affine_grid_backward,
                                affine_grid_forward, base_coordinates, grid_sample,
                                grid_sample_backward, grid_sample_backward_reference,
                                grid_sample_forward, grid_sample_reference)
from tests.conftest import GRAD_TOL

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def warp(x, theta, align_corners=False):
    """Warp a batch with one 2×3 matrix, output the size of the input."""
    thetas = np.broadcast_to(np.asarray(theta, x.dtype), (x.shape[0], 2, 3)).copy()
    return grid_sample(x, affine_grid(thetas, x.shape, align_corners), align_corners)


def normalise(pixel, n, align_corners):
    """Pixel coordinates -> normalised coordinates (the inverse of the sampler's mapping)."""
    if align_corners:
        return 2 * pixel / (n - 1) - 1 if n > 1 else np.zeros_like(pixel)
    return (2 * pixel + 1) / n - 1


def kink_free_grid(rng, N, H, W, H_out, W_out, align_corners):
    """A grid whose points sit at least 0.1 pixel from every pixel centre (integer position).

    Bilinear interpolation is piecewise linear with kinks at integer pixel positions; centred
    differences straddling a kink would disagree with the one-sided analytic slope. Points go
    up to two pixels outside the image, where the zero padding is sampled.
    """
    shape = (N, H_out, W_out)
    ix = rng.integers(-2, W + 1, shape) + rng.uniform(0.1, 0.9, shape)
    iy = rng.integers(-2, H + 1, shape) + rng.uniform(0.1, 0.9, shape)
    return np.stack([normalise(ix, W, align_corners), normalise(iy, H, align_corners)], axis=-1)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identity_theta_reproduces_the_input(rng, align_corners, dtype):
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12  # float32 grids round the centres by ~1e-6 px
    np.testing.assert_allclose(warp(x, IDENTITY, align_corners), x, rtol=0, atol=tol)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shift", [(0, 1), (2, 0), (-1, 3), (1, -2)])
def test_integer_translation_shifts_exactly(rng, align_corners, shift):
    dy, dx = shift
    H, W = 6, 8
    x = rng.standard_normal((1, 2, H, W))
    step_x = 2 / (W - 1) if align_corners else 2 / W  # one pixel in normalised units
    step_y = 2 / (H - 1) if align_corners else 2 / H
    theta = [[1, 0, dx * step_x], [0, 1, dy * step_y]]
    expected = np.zeros_like(x)
    # out[i, j] = x[i + dy, j + dx] where that pixel exists, zero elsewhere.
    rows = slice(max(0, -dy), min(H, H - dy))
    cols = slice(max(0, -dx), min(W, W - dx))
    src_rows = slice(rows.start + dy, rows.stop + dy)
    src_cols = slice(cols.start + dx, cols.stop + dx)
    expected[..., rows, cols] = x[..., src_rows, src_cols]
    np.testing.assert_allclose(warp(x, theta, align_corners), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("align_corners", [False, True])
def test_half_turn_matches_rot90(rng, align_corners):
    x = rng.standard_normal((2, 3, 5, 5))
    theta = [[-1, 0, 0], [0, -1, 0]]
    np.testing.assert_allclose(warp(x, theta, align_corners), np.rot90(x, 2, axes=(2, 3)),
                               rtol=0, atol=1e-12)


def test_quarter_turn_of_a_square_matches_rot90(rng):
    x = rng.standard_normal((1, 1, 6, 6))
    # Output (x_t, y_t) samples input (-y_t, x_t): the image turns a quarter anticlockwise.
    theta = [[0, -1, 0], [1, 0, 0]]
    np.testing.assert_allclose(warp(x, theta), np.rot90(x, 1, axes=(2, 3)), rtol=0, atol=1e-12)


def test_bilinear_weights_by_hand():
    x = np.array([[[[1.0, 2.0], [3.0, 5.0]]]])  # (1, 1, 2, 2)
    # Pixel point (ix, iy) = (0.25, 0.5): a quarter of the way right, half way down.
    grid = np.array([[[[normalise(0.25, 2, False), normalise(0.5, 2, False)]]]])
    expected = 0.5 * (0.75 * 1 + 0.25 * 2) + 0.5 * (0.75 * 3 + 0.25 * 5)
    assert grid_sample(x, grid)[0, 0, 0, 0] == pytest.approx(expected)


def test_samples_outside_the_image_read_zero():
    x = np.ones((1, 2, 3, 4))
    grid = np.array([[[[-3.0, 0.0], [0.0, 2.5], [np.nan, 0.0], [1e30, -1e30]]]])
    out, cache = grid_sample_forward(x, grid)
    assert np.all(out == 0)
    dx, dgrid = grid_sample_backward(np.ones_like(out), cache)
    assert np.all(dx == 0) and np.all(dgrid == 0)


def test_half_a_pixel_outside_fades_to_zero():
    x = np.ones((1, 1, 1, 4))
    # x = -1 is the left edge (align_corners=False): half a pixel left of the first centre.
    grid = np.array([[[[-1.0, 0.0]]]])
    assert grid_sample(x, grid)[0, 0, 0, 0] == pytest.approx(0.5)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_of_the_identity_is_the_pixel_centres(align_corners):
    grid = affine_grid(IDENTITY[None], (1, 1, 3, 4), align_corners)
    np.testing.assert_allclose(grid[0, 0, :, 0], base_coordinates(4, align_corners))
    np.testing.assert_allclose(grid[0, :, 0, 1], base_coordinates(3, align_corners))
    edges = [-0.75, -0.25, 0.25, 0.75] if not align_corners else [-1, -1 / 3, 1 / 3, 1]
    np.testing.assert_allclose(grid[0, 0, :, 0], edges)


def test_output_size_comes_from_the_grid(rng):
    x = rng.standard_normal((2, 3, 8, 10)).astype(np.float32)
    grid = affine_grid(np.tile(IDENTITY, (2, 1, 1)).astype(np.float32), (2, 3, 4, 5))
    out = grid_sample(x, grid)
    assert out.shape == (2, 3, 4, 5) and out.dtype == np.float32


@given(N=st.integers(1, 2), C=st.integers(1, 3), H=st.integers(1, 5), W=st.integers(1, 6),
       H_out=st.integers(1, 4), W_out=st.integers(1, 4), align_corners=st.booleans(),
       seed=st.integers(0, 2**16))
@example(N=1, C=1, H=3, W=5, H_out=3, W_out=5, align_corners=False, seed=0)
@example(N=1, C=3, H=1, W=1, H_out=2, W_out=3, align_corners=True, seed=1)
def test_grid_sample_gradcheck(N, C, H, W, H_out, W_out, align_corners, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    grid = kink_free_grid(rng, N, H, W, H_out, W_out, align_corners)
    pair = FunctionPair(lambda x, g: grid_sample_forward(x, g, align_corners),
                        grid_sample_backward)
    assert_gradcheck(pair, (x, grid), tol=GRAD_TOL, seed=seed)


@given(N=st.integers(1, 3), H_out=st.integers(1, 5), W_out=st.integers(1, 6),
       align_corners=st.booleans(), seed=st.integers(0, 2**16))
@example(N=1, H_out=1, W_out=1, align_corners=False, seed=0)
def test_affine_grid_gradcheck(N, H_out, W_out, align_corners, seed):
    theta = np.random.default_rng(seed).standard_normal((N, 2, 3))
    pair = FunctionPair(lambda t: affine_grid_forward(t, (N, 1, H_out, W_out), align_corners),
                        affine_grid_backward)
    assert_gradcheck(pair, theta, tol=GRAD_TOL, seed=seed)


@pytest.mark.parametrize("align_corners", [False, True])
def test_theta_gradient_through_grid_and_sampler(align_corners):
    """The chain theta -> grid -> sampled image, on a random (kink-free in practice) warp."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 5, 7))
    theta = IDENTITY + 0.3 * rng.standard_normal((2, 2, 3))

    def forward(x, theta):
        grid, grid_cache = affine_grid_forward(theta, (2, 2, 4, 6), align_corners)
        out, sample_cache = grid_sample_forward(x, grid, align_corners)
        return out, (grid_cache, sample_cache)

    def backward(dout, cache):
        grid_cache, sample_cache = cache
        dx, dgrid = grid_sample_backward(dout, sample_cache)
        return dx, affine_grid_backward(dgrid, grid_cache)

    assert_gradcheck(FunctionPair(forward, backward), (x, theta), tol=GRAD_TOL)


def test_layers_gradcheck(rng):
    x = rng.standard_normal((2, 2, 4, 5))
    grid = kink_free_grid(rng, 2, 4, 5, 3, 3, False)
    assert_gradcheck(GridSample(), (x, grid), tol=GRAD_TOL)
    assert_gradcheck(AffineGrid(align_corners=True), (rng.standard_normal((2, 2, 3)),
                                                      (2, 1, 3, 4)), tol=GRAD_TOL)


def test_a_wrong_grid_gradient_fails_the_check(rng):
    x = rng.standard_normal((1, 2, 4, 5))
    grid = kink_free_grid(rng, 1, 4, 5, 3, 3, False)

    def backward(dout, cache):
        dx, dgrid = grid_sample_backward(dout, cache)
        return dx, dgrid[..., ::-1]  # x and y slopes swapped

    with pytest.raises(AssertionError, match="input1"):
        assert_gradcheck(FunctionPair(grid_sample_forward, backward), (x, grid), tol=GRAD_TOL)


def assert_kernels_match_reference(x, grid, align_corners, rng):
    """The Numba forward and backward against the NumPy reference, at float32 tolerances.

    Returns the kernels' ``out, dx, dgrid`` for further checks.
    """
    out, cache = grid_sample_forward(x, grid, align_corners)
    np.testing.assert_allclose(out, grid_sample_reference(x, grid, align_corners),
                               rtol=1e-5, atol=1e-6)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dgrid = grid_sample_backward(dout, cache)
    ref_dx, ref_dgrid = grid_sample_backward_reference(dout, x, grid, align_corners)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dgrid, ref_dgrid, rtol=1e-5, atol=1e-5)
    return out, dx, dgrid


@pytest.mark.kernel
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 2, 2), (2, 3, 5, 7, 4, 6), (1, 2, 6, 3, 9, 9)])
def test_kernels_match_the_numpy_reference(align_corners, shape):
    N, C, H, W, H_out, W_out = shape
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    # Many points, some outside, many sharing corners (the scatter must add every one).
    grid = rng.uniform(-1.3, 1.3, (N, H_out, W_out, 2)).astype(np.float32)
    out, dx, dgrid = assert_kernels_match_reference(x, grid, align_corners, rng)
    assert dx.dtype == dgrid.dtype == np.float32


@pytest.mark.kernel
@pytest.mark.parametrize("align_corners", [False, True])
def test_kernels_match_the_reference_on_pixel_centres_and_edges(align_corners):
    """Points exactly on the kinks: every pixel centre (the last one too) and every edge.

    The kernel and the reference must take the same side of each kink, and a point on the
    last pixel's centre must read that pixel whole (its right/lower neighbour is padding).
    """
    H, W = 4, 6
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, H, W)).astype(np.float32)
    us = np.arange(-3, 2 * W + 2) / 2  # half-pixel steps, 1.5 pixels beyond each side
    vs = np.arange(-3, 2 * H + 2) / 2
    gx, gy = np.meshgrid(normalise(us, W, align_corners), normalise(vs, H, align_corners))
    grid = np.stack([gx, gy], axis=-1)[None].astype(np.float32)  # (1, 2H + 5, 2W + 5, 2)
    out, dx, dgrid = assert_kernels_match_reference(x, grid, align_corners, rng)
    centres = out[..., 3::2, 3::2][..., :H, :W]  # rows/cols where u, v are 0, 1, ..., W - 1
    np.testing.assert_allclose(centres, x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("align_corners", [False, True])
def test_last_pixel_and_the_border(align_corners):
    """On the last centre: the pixel itself; a step right of it: fading to 0 over one pixel."""
    x = np.array([[[[1.0, 2.0, 4.0]]]])  # (1, 1, 1, 3)
    W = 3
    pixels = np.array([2.0, 2.5, 3.0, -0.5, -1.0])
    grid = np.stack([normalise(pixels, W, align_corners), np.zeros(5)], axis=-1)[None, None]
    out, cache = grid_sample_forward(x, grid, align_corners)
    np.testing.assert_allclose(out[0, 0, 0], [4.0, 2.0, 0.0, 0.5, 0.0], atol=1e-12)
    _, dgrid = grid_sample_backward(np.ones_like(out), cache)
    # d out / d u, per pixel: at u = 2 the right-hand slope runs into the zero padding.
    scale = W / 2 if not align_corners else (W - 1) / 2
    np.testing.assert_allclose(dgrid[0, 0, :, 0] / scale, [-4.0, -4.0, 0.0, 1.0, 1.0],
                               atol=1e-12)


def test_nothing_is_modified_in_place(rng):
    x = rng.standard_normal((2, 2, 4, 5))
    theta = IDENTITY + 0.2 * rng.standard_normal((2, 2, 3))
    copies = [a.copy() for a in (x, theta)]
    grid, grid_cache = affine_grid_forward(theta, (2, 2, 3, 4))
    grid_copy = grid.copy()
    out, cache = grid_sample_forward(x, grid)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    dx, dgrid = grid_sample_backward(dout, cache)
    affine_grid_backward(dgrid, grid_cache)
    for a, b in zip((x, theta, grid, dout), (*copies, grid_copy, dout_copy)):
        np.testing.assert_array_equal(a, b)


def test_bad_inputs_are_refused(rng):
    x = rng.standard_normal((2, 1, 4, 4))
    grid = affine_grid(np.tile(IDENTITY, (2, 1, 1)), x.shape)
    with pytest.raises(TypeError, match="grid_sample.*float32"):
        grid_sample(x, grid.astype(np.float32))
    with pytest.raises(ValueError, match="batch 2 but grid has 1"):
        grid_sample(x, grid[:1])
    with pytest.raises(ValueError, match=r"\(N, H_out, W_out, 2\)"):
        grid_sample(x, grid[..., :1])
    with pytest.raises(ValueError, match=r"theta must have shape \(N, 2, 3\)"):
        affine_grid(np.zeros((2, 3, 3)), x.shape)
    with pytest.raises(ValueError, match="batch of 3"):
        affine_grid(np.zeros((2, 2, 3)), (3, 1, 4, 4))
    with pytest.raises(TypeError, match="theta must be a floating-point"):
        affine_grid(np.zeros((2, 2, 3), int), x.shape)
    with pytest.raises(RuntimeError, match="GridSample.backward called before forward"):
        GridSample().backward(np.zeros((2, 1, 4, 4)))


def test_grid_sample_backward_refuses_a_dout_of_another_dtype(rng):
    x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    grid = affine_grid(np.tile(IDENTITY, (1, 1, 1)), x.shape).astype(np.float32)
    out, cache = grid_sample_forward(x, grid)
    with pytest.raises(TypeError, match="grid_sample_backward: dout is float64 but the image is "
                                        "float32"):
        grid_sample_backward(np.ones(out.shape), cache)
    layer = GridSample()
    layer(x, grid)
    with pytest.raises(TypeError, match="GridSample.backward: dout is float64"):
        layer.backward(np.ones(out.shape))
