"""Augmentations: ranges respected, geometry consistent, each effect switchable."""

from dataclasses import replace

import numpy as np
import pytest

from minilpr.data import augment as aug
from minilpr.data.augment import EFFECTS, AugmentConfig
from minilpr.data.camera import apply_homography
from minilpr.data.synth import PlateGenerator

PLATE_MM = np.array([[0, 0], [440, 0], [440, 140], [0, 140]], np.float64)


def test_reported_angles_stay_within_their_limits():
    cfg = replace(AugmentConfig(), p_tilt=1.0, p_perspective=1.0, tilt_std_deg=40.0,
                  yaw_std_deg=40.0, pitch_std_deg=40.0)
    rng = np.random.default_rng(0)
    geos = [aug.sample_geometry(rng, cfg, 440, 140, (64, 440)) for _ in range(500)]
    tilts = np.array([g.tilt_deg for g in geos])
    yaws = np.array([g.yaw_deg for g in geos])
    pitches = np.array([g.pitch_deg for g in geos])
    assert np.abs(tilts).max() <= 30 and np.abs(yaws).max() <= 30 and np.abs(pitches).max() <= 30
    assert np.abs(tilts).max() == 30          # the clip is reached, so the range is used


def test_generator_samples_report_tilt_within_30_degrees():
    generator = PlateGenerator(5)
    tilts = [generator.sample().tilt_deg for _ in range(200)]
    assert max(abs(t) for t in tilts) <= 30 and np.std(tilts) > 3


def test_corners_follow_the_homography_and_fill_the_box():
    cfg = replace(AugmentConfig(), margin_x=(0.0, 0.0), margin_y=(0.0, 0.0))
    rng = np.random.default_rng(1)
    for _ in range(50):
        g = aug.sample_geometry(rng, cfg, 440, 140, (32, 220))
        np.testing.assert_allclose(g.corners, apply_homography(g.homography, PLATE_MM),
                                   rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(g.corners.min(axis=0), [0, 0], atol=1e-3)
        np.testing.assert_allclose(g.corners.max(axis=0), [220, 32], atol=1e-3)


def test_margins_put_the_plate_inside_the_crop():
    cfg = replace(AugmentConfig(), margin_x=(0.05, 0.1), margin_y=(0.1, 0.2))
    rng = np.random.default_rng(2)
    for _ in range(50):
        c = aug.sample_geometry(rng, cfg, 440, 140, (32, 220)).corners
        assert c[:, 0].min() > 0 and c[:, 0].max() < 220
        assert c[:, 1].min() > 0 and c[:, 1].max() < 32


def test_detector_boxes_draw_each_side_error_from_its_normal():
    frontal = replace(AugmentConfig(), p_tilt=0.0, p_perspective=0.0, p_detector_box=1.0)
    rng = np.random.default_rng(3)
    margins = []
    for _ in range(3000):
        c = aug.sample_geometry(rng, frontal, 440, 140, (32, 220)).corners
        (x0, y0), (x1, y1) = c.min(axis=0), c.max(axis=0)
        margins.append([x0 / (x1 - x0), (220 - x1) / (x1 - x0),
                        y0 / (y1 - y0), (32 - y1) / (y1 - y0)])
    margins = np.array(margins)  # (n, 4) left, right, top, bottom as fractions of the plate
    low, high = frontal.margin_limit
    assert margins.min() >= low - 1e-4 and margins.max() <= high + 1e-4
    for side, (mean, std) in enumerate([frontal.detector_margin_x] * 2
                                       + [frontal.detector_margin_y] * 2):
        # clipping at -0.15 / 0.3 moves a normal of std <= 0.105 by well under 0.01
        assert abs(margins[:, side].mean() - mean) < 0.01, side
        assert abs(margins[:, side].std() - std) < 0.012, side
    # the tight crops of the default stay within their uniform ranges
    tight = replace(frontal, p_detector_box=0.0)
    c = aug.sample_geometry(np.random.default_rng(3), tight, 440, 140, (32, 220)).corners
    (x0, _), (x1, _) = c.min(axis=0), c.max(axis=0)
    assert tight.margin_x[0] - 1e-4 <= x0 / (x1 - x0) <= tight.margin_x[1] + 1e-4


@pytest.mark.parametrize("text, width", [("京A12345", 440), ("沪AD12345", 480)])
def test_generator_corners_are_in_crop_pixels(text, width):
    generator = PlateGenerator(6, augment=AugmentConfig.only("tilt"))
    s = generator.sample(text)
    plate_mm = np.array([[0, 0], [width, 0], [width, 140], [0, 140]], np.float64)
    np.testing.assert_allclose(s.corners, apply_homography(s.homography, plate_mm),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(s.corners.min(axis=0), [0, 0], atol=1e-3)
    np.testing.assert_allclose(s.corners.max(axis=0), [220, 32], atol=1e-3)


@pytest.mark.parametrize("effect", EFFECTS)
def test_each_effect_switches_on_alone(effect):
    clean = PlateGenerator(9, augment=AugmentConfig.none()).sample("京A12345", "blue")
    changed = PlateGenerator(9, augment=AugmentConfig.only(effect)).sample("京A12345", "blue")
    assert changed.image.shape == clean.image.shape == (32, 220)
    assert changed.image.tobytes() != clean.image.tobytes()


def test_only_rejects_unknown_effects():
    with pytest.raises(ValueError, match="unknown effect"):
        AugmentConfig.only("sepia")


def test_none_switches_everything_off():
    cfg = AugmentConfig.none()
    assert all(getattr(cfg, f"p_{e}") == 0 for e in EFFECTS)


def test_low_light_darkens():
    clean = PlateGenerator(3, augment=AugmentConfig.none()).batch(8)[0]
    dark = PlateGenerator(3, augment=AugmentConfig.only("low_light")).batch(8)[0]
    assert dark.mean() < 0.5 * clean.mean()


def test_light_table_is_monotonic_and_in_range():
    rng = np.random.default_rng(4)
    for _ in range(20):
        table = aug.light_table(rng, AugmentConfig(), light=True)
        assert table.dtype == np.uint8 and table.shape == (256,)
        assert np.all(np.diff(table.astype(int)) >= 0)
    np.testing.assert_array_equal(aug.light_table(rng, AugmentConfig(), light=False),
                                  np.arange(256))


def test_blurs_keep_the_mean_and_shape():
    rng = np.random.default_rng(5)
    img = rng.uniform(0, 255, (32, 220)).astype(np.float32)
    for blur in (aug.motion_blur, aug.gaussian_blur, aug.downscale):
        out = blur(img, rng, AugmentConfig())
        assert out.shape == img.shape
        assert abs(out.mean() - img.mean()) < 2 and out.std() < img.std()


def test_downscale_loses_less_vertically_than_horizontally():
    rng = np.random.default_rng(8)
    across = np.tile(rng.uniform(0, 255, (1, 220)), (32, 1)).astype(np.float32)  # (32, 220)
    down = np.ascontiguousarray(across[:, :32].T)                                 # (32, 32)
    down = np.tile(down, (1, 7))[:, :220]     # the same detail, varying down the rows only
    cfg = replace(AugmentConfig(), downscale=(3.0, 3.0), downscale_y_ratio=(0.0, 0.0))
    np.testing.assert_allclose(aug.downscale(down, rng, cfg), down, atol=1e-3)  # rows untouched
    assert aug.downscale(across, rng, cfg).std() < 0.8 * across.std()          # columns blurred


def test_jpeg_round_trip():
    rng = np.random.default_rng(6)
    img = (rng.uniform(0, 1, (32, 220, 3)) * 255).astype(np.uint8)
    out = aug.jpeg(img, rng, AugmentConfig())
    assert out.shape == img.shape and out.dtype == np.uint8


def test_noise_bank():
    bank = aug.NoiseBank(np.random.default_rng(7), (64, 256))
    rng = np.random.default_rng(8)
    assert bank.sample(rng, (32, 220)).shape == (32, 220)
    assert bank.sample(rng, (32, 220, 3)).shape == (32, 220, 3)
    assert 0.9 < bank.block.std() < 1.1
    with pytest.raises(ValueError, match="larger"):
        bank.sample(rng, (65, 10))


@pytest.mark.parametrize("shape", [(32, 220), (32, 220, 3)])
def test_photometric_keeps_shape_and_dtype(shape):
    rng = np.random.default_rng(9)
    cfg = replace(AugmentConfig(), **{f"p_{e}": 1.0 for e in
                                      ("shadow", "light", "downscale", "motion_blur",
                                       "gaussian_blur", "noise", "jpeg")})
    img = (rng.uniform(0, 1, shape) * 255).astype(np.uint8)
    out = aug.photometric(img, rng, cfg, aug.NoiseBank(rng))
    assert out.shape == shape and out.dtype == np.uint8


def test_dirt_and_occlusion_stay_in_place():
    rng = np.random.default_rng(10)
    plate = np.full((64, 440, 3), 200, np.uint8)
    aug.add_dirt(plate, rng, AugmentConfig())
    assert plate.shape == (64, 440, 3) and plate.min() < 200
    plate = np.full((64, 440, 3), 200, np.uint8)
    aug.add_occlusion(plate, rng, AugmentConfig())
    covered = (plate != 200).any(axis=2).mean()
    assert 0 < covered <= 2 * AugmentConfig().occlusion_max + 0.01
