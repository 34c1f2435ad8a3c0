"""The spatial transformer: Table 4's shapes, identity start, gradients end to end, learning."""

import numpy as np
import pytest

from minilpr.models.stn import (COMPACT, HALF, IDENTITY_THETA, TABLE4, LocalisationConfig,
                                LocalisationNet, SpatialTransformer, invert_theta, pixel_theta,
                                tilt_theta, to_gray, warp)
from minilpr.nn import assert_gradcheck
from minilpr.nn.optim import Adam
from minilpr.nn.spatial import affine_grid_backward, grid_sample_backward, unnormalise
from tests.conftest import GRAD_TOL


def toy_plates(n: int, size=(32, 220), rng=None, blur: bool = True) -> np.ndarray:
    """Plate-like images: a light box on black with dark vertical strokes of random widths.

    A stand-in for `minilpr.data.synth` plates that is cheap at any size (even 5 × 9) and
    keeps these tests independent of the data package.

    Parameters
    ----------
    n : int
    size : (H, W)
    rng : numpy.random.Generator or int or None
    blur : bool
        Soften the edges with a 3×3 box filter, which widens the basin in which a loss on the
        image is smooth in ``theta``.

    Returns
    -------
    (n, 1, H, W) float32 in [0, 1]
    """
    rng = np.random.default_rng(rng)
    H, W = size
    x = np.zeros((n, 1, H, W), np.float32)
    top, bottom, left, right = H // 5, H - H // 5, W // 10, W - W // 10
    x[:, :, top:bottom, left:right] = 1
    stroke_min, gap_min = max(1, W // 48), max(1, W // 32)
    for i in range(n):
        col = left + gap_min
        while col < right - 2 * stroke_min:
            width = int(rng.integers(stroke_min, 2 * stroke_min + 1))
            height = int(rng.integers((bottom - top) // 2, bottom - top - 1))
            start = top + int(rng.integers(1, bottom - top - height))
            x[i, 0, start:start + height, col:col + width] = 0
            col += width + int(rng.integers(gap_min, 3 * gap_min))
    if blur:
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        x = sum(padded[:, :, i:i + H, j:j + W] for i in range(3) for j in range(3)) / 9
    return x.astype(np.float32)


# Odd sizes, every kind of layer, a few hundred parameters: an end-to-end check in a second.
TINY = LocalisationConfig(in_size=(5, 9), channels=(3, 4, 3), pool_after=(0,), hidden=4,
                         negative_slope=0.2)


def kink_distance(grid, size, align_corners):
    """How close any sample of ``grid`` comes to a whole-pixel position (a kink), in pixels."""
    ix = unnormalise(grid[..., 0], size[1], align_corners)
    iy = unnormalise(grid[..., 1], size[0], align_corners)
    return min(np.abs(ix - np.round(ix)).min(), np.abs(iy - np.round(iy)).min())


def tiny_stn(in_channels=1, align_corners=False, seed=0, cls=SpatialTransformer, x=None):
    """A tiny float64 STN whose last layer is moved off the identity.

    At the identity every sample sits exactly on a pixel centre, a kink of bilinear
    interpolation, where centred differences cannot check a one-sided slope. Given the input
    ``x``, the last layer is redrawn until every sample is at least 1e-3 pixel from a kink
    (a 1e-6 step of a weight moves a sample by ~1e-5 pixel), under the dropout masks that
    gradcheck will replay.
    """
    draw = np.random.default_rng(seed)
    stn = cls(TINY, in_channels=in_channels, align_corners=align_corners, rng=seed)
    stn.astype(np.float64)
    dropout_rng = stn.localisation.regressor[3].rng
    masks = dropout_rng.bit_generator.state
    last = stn.localisation.regressor[-1]
    while True:
        last.weight.data[...] = draw.standard_normal(last.weight.shape)
        last.bias.data[...] = IDENTITY_THETA.ravel() + 0.1 * draw.standard_normal(6)
        if x is None:
            break
        dropout_rng.bit_generator.state = masks
        stn.forward(x)
        if kink_distance(stn.grid, x.shape[2:], align_corners) > 1e-3:
            break
    dropout_rng.bit_generator.state = masks
    return stn


def test_table4_sizes():
    assert TABLE4.feature_shape == (32, 16, 110) and TABLE4.fc_in == 56_320
    assert COMPACT.feature_shape == (32, 4, 27) and COMPACT.fc_in == 3_456
    stn = SpatialTransformer()
    sizes = {name: p.data.size for name, p in stn.named_parameters()}
    assert sizes["localisation.features.0.weight"] == 8 * 1 * 3 * 3
    assert sizes["localisation.features.3.weight"] == 16 * 8 * 3 * 3
    assert sizes["localisation.features.5.weight"] == 32 * 16 * 3 * 3
    assert sizes["localisation.regressor.1.weight"] == 64 * 56_320
    assert sizes["localisation.regressor.4.weight"] == 6 * 64
    assert sum(sizes.values()) == 3_610_822


@pytest.mark.parametrize("in_channels", [1, 3])
def test_a_fresh_stn_is_the_identity_at_plate_size(rng, in_channels):
    stn = SpatialTransformer(COMPACT, in_channels=in_channels, rng=0)
    x = rng.uniform(0, 1, (2, in_channels, 32, 220)).astype(np.float32)
    out = stn.forward(x)
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_array_equal(stn.theta, np.broadcast_to(IDENTITY_THETA, (2, 2, 3)))
    # float32 rounds the pixel centres by ~1e-5 pixel at W = 220.
    np.testing.assert_allclose(out, x, rtol=0, atol=1e-4)
    dx = stn.backward(np.ones_like(out))
    assert dx.shape == x.shape


@pytest.mark.parametrize("config", ["table4", "half", "compact"])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_every_preset_runs_at_the_recogniser_size(rng, config, in_channels):
    """forward (N, C, 32, 220) -> same size; backward -> dx and every parameter's grad."""
    stn = SpatialTransformer(config, in_channels=in_channels, rng=0)
    assert stn.localisation.config is {"table4": TABLE4, "half": HALF, "compact": COMPACT}[config]
    last = stn.localisation.regressor[-1]
    last.weight.data[...] = 0.01 * rng.standard_normal(last.weight.shape).astype(np.float32)
    x = rng.uniform(0, 1, (2, in_channels, 32, 220)).astype(np.float32)
    x_before = x.copy()
    out = stn.forward(x)
    assert out.shape == x.shape and out.dtype == np.float32 and stn.theta.shape == (2, 2, 3)
    dx = stn.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert dx.shape == x.shape and dx.dtype == np.float32
    np.testing.assert_array_equal(x, x_before)
    for name, p in stn.named_parameters():
        assert p.grad.dtype == np.float32 and np.any(p.grad != 0), name


def test_backward_accumulates_into_the_parameter_grads(rng):
    stn = tiny_stn().astype(np.float64).eval()
    x = rng.uniform(0, 1, (2, 1, 5, 9))
    dout = rng.standard_normal(x.shape)
    stn.zero_grad()
    stn.forward(x)
    dx = stn.backward(dout)
    once = {name: p.grad.copy() for name, p in stn.named_parameters()}
    stn.forward(x)
    np.testing.assert_allclose(stn.backward(dout), dx)
    for name, p in stn.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[name], err_msg=name)


def test_theta_and_grid_of_one_forward_survive_the_next(rng):
    stn = tiny_stn().astype(np.float64).eval()
    stn.forward(rng.uniform(0, 1, (2, 1, 5, 9)))
    theta, grid = stn.theta, stn.grid
    kept = theta.copy(), grid.copy()
    stn.forward(rng.uniform(0, 1, (2, 1, 5, 9)))
    assert not np.allclose(stn.theta, kept[0])
    np.testing.assert_array_equal(theta, kept[0])
    np.testing.assert_array_equal(grid, kept[1])


@pytest.mark.parametrize("align_corners", [False, True])
def test_a_fresh_stn_is_exactly_the_identity_in_float64(rng, align_corners):
    stn = SpatialTransformer(TINY, align_corners=align_corners, rng=0).astype(np.float64)
    x = rng.standard_normal((3, 1, 5, 9))
    np.testing.assert_allclose(stn.forward(x), x, rtol=0, atol=1e-12)


def test_colour_input_is_localised_on_gray_and_every_channel_is_warped(rng):
    stn = tiny_stn(in_channels=3).astype(np.float64).eval()  # eval: no dropout masks
    x = rng.uniform(0, 1, (2, 3, 5, 9))
    out = stn.forward(x)
    gray = 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:]
    np.testing.assert_allclose(to_gray(x), gray)
    np.testing.assert_allclose(stn.theta, stn.localisation.forward(gray))
    for c in range(3):
        expected = np.stack([warp(x[n:n + 1, c:c + 1], stn.theta[n])[0] for n in range(2)])
        np.testing.assert_allclose(out[:, c:c + 1], expected)


def test_a_larger_input_is_halved_for_the_localisation_net(rng):
    stn = tiny_stn().astype(np.float64).eval()
    x = rng.uniform(0, 1, (2, 1, 10, 18))
    out = stn.forward(x)
    assert out.shape == x.shape
    halved = x.reshape(2, 1, 5, 2, 9, 2).mean(axis=(3, 5))  # (2, 1, 5, 9): 2×2 block means
    np.testing.assert_allclose(stn.theta, stn.localisation.forward(halved), atol=1e-12)


def test_out_size_sets_the_corrected_image_size(rng):
    stn = SpatialTransformer(TINY, out_size=(4, 7), rng=0).astype(np.float64)
    x = rng.standard_normal((2, 1, 5, 9))
    out = stn.forward(x)
    assert out.shape == (2, 1, 4, 7)
    assert stn.backward(np.ones_like(out)).shape == x.shape


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(5, 9), (10, 18)], ids=["net-size", "resized"])
def test_stn_gradcheck_end_to_end(in_channels, align_corners, size):
    """Every parameter, and the image through both of its paths (sampler and localisation)."""
    x = np.random.default_rng(0).uniform(0, 1, (2, in_channels, *size))
    assert_gradcheck(tiny_stn(in_channels, align_corners, x=x), x, tol=GRAD_TOL)


class SamplerPathOnly(SpatialTransformer):
    """A wrong backward that forgets the image's path through theta."""

    def backward(self, dout):
        (grid_cache, sample_cache, _, _), dout = self._take_for_backward(dout)
        dx, dgrid = grid_sample_backward(dout, sample_cache)
        self.localisation.backward(affine_grid_backward(dgrid, grid_cache))
        return dx


def test_both_image_paths_are_needed(rng):
    stn = tiny_stn(cls=SamplerPathOnly)
    with pytest.raises(AssertionError, match="x: "):
        assert_gradcheck(stn, rng.uniform(0, 1, (2, 1, 5, 9)), tol=GRAD_TOL)


def test_localisation_net_gradcheck(rng):
    net = LocalisationNet(TINY, rng=1)
    net.regressor[-1].weight.data[...] = rng.standard_normal((6, 4))
    assert_gradcheck(net, rng.standard_normal((2, 1, 5, 9)), tol=GRAD_TOL)


def test_theta_reaches_the_output_at_the_start():
    """With the last layer at zero weights, its own gradient is not zero: learning can begin."""
    stn = SpatialTransformer(TINY, rng=0).astype(np.float64)
    x = toy_plates(2, (5, 9), rng=0).astype(np.float64)
    out = stn.forward(x)
    stn.backward(out - np.roll(x, 1, axis=3))
    assert np.abs(stn.localisation.regressor[-1].bias.grad).max() > 1e-3


def test_tilt_theta_turns_a_square_like_rot90(rng):
    x = rng.standard_normal((1, 2, 6, 6))
    np.testing.assert_allclose(warp(x, tilt_theta(angle=90, size=(6, 6))),
                               np.rot90(x, 1, axes=(2, 3)), atol=1e-12)
    np.testing.assert_allclose(warp(x, tilt_theta(angle=180, size=(6, 6))),
                               np.rot90(x, 2, axes=(2, 3)), atol=1e-12)


def test_tilt_theta_is_a_true_rotation_in_pixels_on_a_plate():
    """Normalised units stretch x by W/2 and y by H/2; the tilt must undo that stretch."""
    H, W = 32, 220
    theta = tilt_theta(angle=30, size=(H, W))
    out_px = np.array([[50.0, 7.0], [-80.0, 3.0], [10.0, -12.0]])  # from the centre, pixels
    normalised = out_px / [W / 2, H / 2]
    in_px = (normalised @ theta[:, :2].T + theta[:, 2]) * [W / 2, H / 2]
    np.testing.assert_allclose(np.linalg.norm(in_px, axis=1), np.linalg.norm(out_px, axis=1))
    angles = np.arctan2(in_px[:, 1], in_px[:, 0]) - np.arctan2(out_px[:, 1], out_px[:, 0])
    # Content turned 30° anticlockwise: each output point samples 30° clockwise on screen.
    np.testing.assert_allclose(np.rad2deg(np.angle(np.exp(1j * angles))), 30)


def test_pixel_theta_shift_moves_content_by_whole_pixels(rng):
    x = rng.standard_normal((1, 1, 6, 8))
    shifted = warp(x, pixel_theta(np.eye(2), shift=(2, 1), size=(6, 8)))
    np.testing.assert_allclose(shifted[..., :5, :6], x[..., 1:, 2:], atol=1e-12)


def test_invert_theta_undoes_a_warp():
    theta = tilt_theta(angle=12, shear=0.3, scale=1.1, shift=(3, -1))
    composed = np.vstack([theta, [0, 0, 1]]) @ np.vstack([invert_theta(theta), [0, 0, 1]])
    np.testing.assert_allclose(composed, np.eye(3), atol=1e-12)
    batch = np.stack([theta, 2 * theta])
    np.testing.assert_allclose(invert_theta(batch)[1], invert_theta(2 * theta))
    plate = toy_plates(1, rng=0).astype(np.float64)
    restored = warp(warp(plate, tilt_theta(angle=5, size=(32, 220))),
                    invert_theta(tilt_theta(angle=5, size=(32, 220))))
    # The plate sits inside the frame, so apart from interpolation blur it comes back.
    assert np.abs(restored - plate).mean() < 0.02


def test_bad_inputs_are_refused(rng):
    stn = SpatialTransformer(TINY, rng=0)
    with pytest.raises(ValueError, match=r"expected \(N, 1, H, W\)"):
        stn.forward(np.zeros((1, 3, 5, 9), np.float32))
    with pytest.raises(ValueError, match=r"LocalisationNet: expected gray input \(N, 1, 5, 9\)"):
        stn.localisation.forward(np.zeros((1, 1, 6, 9), np.float32))
    with pytest.raises(TypeError, match="float64"):
        stn.forward(np.zeros((1, 1, 5, 9)))
    with pytest.raises(RuntimeError, match="before forward"):
        stn.backward(np.zeros((1, 1, 5, 9), np.float32))
    with pytest.raises(ValueError, match="in_channels must be 1"):
        SpatialTransformer(TINY, in_channels=2)
    with pytest.raises(ValueError, match="unknown config 'table5'"):
        SpatialTransformer("table5")
    with pytest.raises(ValueError, match="pool_after"):
        LocalisationConfig(pool_after=(3,))
    with pytest.raises(ValueError, match="to nothing"):
        LocalisationConfig(in_size=(4, 8), pool_after=(0, 1, 2))


@pytest.mark.slow
def test_stn_learns_to_undo_a_known_tilt():
    """The STN alone, trained to map tilted plates back to straight ones, finds the inverse.

    Nothing but the gradient through sampler and grid tells the localisation net what theta
    should be; if that gradient were wrong or zero the loss would stay near its start.
    """
    rng = np.random.default_rng(0)
    size = (16, 48)
    clean = toy_plates(64, size, rng).astype(np.float64)
    tilt = tilt_theta(angle=10, shear=0.25, size=size)
    tilted = warp(clean, tilt)
    config = LocalisationConfig(in_size=size, channels=(4, 8, 8), pool_after=(0, 1, 2),
                                hidden=16, dropout=0.0)
    stn = SpatialTransformer(config, rng=1).astype(np.float64)
    optimizer = Adam(stn.parameters(), lr=3e-3)
    initial = np.mean((tilted - clean) ** 2)
    for _ in range(60):
        batch = rng.choice(64, 16, replace=False)
        out = stn.forward(tilted[batch])
        diff = out - clean[batch]
        stn.zero_grad()
        stn.backward(2 * diff / diff.size)  # d(mean squared error)/d(out)
        optimizer.step()
    final = np.mean((stn.forward(tilted) - clean) ** 2)
    assert final < 0.1 * initial, (initial, final)
    np.testing.assert_allclose(stn.theta.mean(axis=0), invert_theta(tilt), atol=0.06)


def test_one_generator_seeds_the_whole_model():
    config = LocalisationConfig(in_size=(5, 9), channels=(3, 3, 3), pool_after=(), hidden=4)
    stn = SpatialTransformer(config)  # unseeded: still one stream through every layer
    weights = dict(stn.named_parameters())
    assert weights["localisation.features.2.weight"].shape == (3, 3, 3, 3)
    assert not np.array_equal(weights["localisation.features.2.weight"].data,
                              weights["localisation.features.4.weight"].data)
    other = SpatialTransformer(config).state_dict()
    assert not np.array_equal(other["localisation.features.0.weight"],
                              stn.state_dict()["localisation.features.0.weight"])
    for seeded in (lambda: SpatialTransformer(config, rng=3),
                   lambda: SpatialTransformer(config, rng=np.random.default_rng(3))):
        a, b = seeded().state_dict(), seeded().state_dict()
        assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)
