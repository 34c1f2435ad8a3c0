"""affine_grid and grid_sample against PyTorch's (bilinear, zeros padding): values and gradients."""

import numpy as np
import pytest

from minilpr.nn.spatial import (affine_grid_backward, affine_grid_forward, grid_sample_backward,
                                grid_sample_forward)

torch = pytest.importorskip("torch")
F = torch.nn.functional


def both_grid_samples(x, grid, align_corners, rng):
    """Run our grid_sample and PyTorch's, forward and back with one random ``dout``.

    Returns ``(out, dx, dgrid)`` from each, as NumPy arrays.
    """
    out, cache = grid_sample_forward(x, grid, align_corners)
    dout = rng.standard_normal(out.shape)
    dx, dgrid = grid_sample_backward(dout, cache)

    t_x = torch.tensor(x, requires_grad=True)
    t_grid = torch.tensor(grid, requires_grad=True)
    t_out = F.grid_sample(t_x, t_grid, mode="bilinear", padding_mode="zeros",
                          align_corners=align_corners)
    t_out.backward(torch.tensor(dout))
    return (out, dx, dgrid), (t_out.detach().numpy(), t_x.grad.numpy(), t_grid.grad.numpy())


@pytest.mark.filterwarnings("ignore:Since version 1.3.0, affine_grid")  # torch, for 1×1 grids
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1, 1), (2, 3, 5, 7, 4, 6), (3, 1, 8, 4, 9, 2)])
def test_affine_grid_matches_torch(align_corners, shape):
    N, _, _, _, H_out, W_out = shape
    rng = np.random.default_rng(sum(shape))
    theta = rng.standard_normal((N, 2, 3))
    size = (N, 2, H_out, W_out)
    grid, cache = affine_grid_forward(theta, size, align_corners)
    dgrid = rng.standard_normal(grid.shape)

    t_theta = torch.tensor(theta, requires_grad=True)
    t_grid = F.affine_grid(t_theta, size, align_corners=align_corners)
    t_grid.backward(torch.tensor(dgrid))
    np.testing.assert_allclose(grid, t_grid.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(affine_grid_backward(dgrid, cache), t_theta.grad.numpy(),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 2, 3), (2, 3, 5, 7, 4, 6), (2, 2, 32, 40, 16, 20)])
def test_grid_sample_matches_torch(align_corners, shape):
    N, C, H, W, H_out, W_out = shape
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal((N, C, H, W))
    grid = rng.uniform(-1.3, 1.3, (N, H_out, W_out, 2))  # some points outside the image
    (out, dx, dgrid), (t_out, t_dx, t_dgrid) = both_grid_samples(x, grid, align_corners, rng)
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgrid, t_dgrid, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_theta_gradient_matches_torch(align_corners, dtype):
    """The whole warp theta -> grid -> image at the plate size, in float64 and float32.

    In float32 the two libraries round the grid's coordinates differently (by ~1e-5 pixel at
    W = 220), so values agree to ~1e-4; dtheta, a sum of 7040 terms with heavy cancellation,
    agrees to ~2e-6 of its largest entry (an entry near zero cannot be compared relatively).
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 32, 220)).astype(dtype)
    theta = (np.array([[1, 0, 0], [0, 1, 0]]) + 0.1 * rng.standard_normal((4, 2, 3)))
    theta = theta.astype(dtype)
    grid, grid_cache = affine_grid_forward(theta, x.shape, align_corners)
    out, sample_cache = grid_sample_forward(x, grid, align_corners)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dgrid = grid_sample_backward(dout, sample_cache)
    dtheta = affine_grid_backward(dgrid, grid_cache)

    t_x = torch.tensor(x, requires_grad=True)
    t_theta = torch.tensor(theta, requires_grad=True)
    t_grid = F.affine_grid(t_theta, x.shape, align_corners=align_corners)
    t_out = F.grid_sample(t_x, t_grid, align_corners=align_corners)
    t_out.backward(torch.tensor(dout))
    value_tol, theta_tol = (1e-9, 1e-12) if dtype == np.float64 else (5e-4, 1e-5)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=value_tol, atol=value_tol)
    np.testing.assert_allclose(dx, t_x.grad.numpy(), rtol=value_tol, atol=value_tol)
    t_dtheta = t_theta.grad.numpy()
    assert np.abs(dtheta - t_dtheta).max() <= theta_tol * np.abs(t_dtheta).max()


@pytest.mark.parametrize("align_corners", [False, True])
def test_points_exactly_on_pixel_centres_and_edges_match_torch(align_corners):
    """Every half-pixel position from 1.5 pixels outside to 1.5 pixels beyond the last one.

    Whole positions are the kinks (where the one-sided slope is taken), including the first and
    last pixel centres; half positions include the image's edges at ±1 (align_corners=False).
    Sizes with W (or W - 1) a power of two make these positions exact in binary, so both
    libraries see the same floor() and must agree to rounding.
    """
    H, W = (4, 8) if not align_corners else (3, 5)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 2, H, W))

    def normalise(pixel, n):
        return 2 * pixel / (n - 1) - 1 if align_corners else (2 * pixel + 1) / n - 1

    gx, gy = np.meshgrid(normalise(np.arange(-3, 2 * W + 2) / 2, W),
                         normalise(np.arange(-3, 2 * H + 2) / 2, H))
    grid = np.stack([gx, gy], axis=-1)[None]  # (1, 2H + 5, 2W + 5, 2)
    (out, dx, dgrid), (t_out, t_dx, t_dgrid) = both_grid_samples(x, grid, align_corners, rng)
    np.testing.assert_allclose(out, t_out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, t_dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dgrid, t_dgrid, rtol=0, atol=1e-12)
