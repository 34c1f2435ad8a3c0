"""The generator: realistic crops, determinism, shapes, metadata, the kind mix; re-exports."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from minilpr.data import glyphs, plate_render
from minilpr.data.augment import AugmentConfig, apply_homography
from minilpr.data.charset import is_valid_plate, plate_type
from minilpr.data.synth import Framing, PlateGenerator, Typeface

from tests.paths import REAL_DATA

REAL_CROPS = REAL_DATA / "lprnet-crops-dev"


def test_the_split_modules_public_names_are_importable_from_synth():
    from minilpr.data import synth
    for name in ("render_plate", "plate_layout", "PlateLayout", "single_row", "double_row",
                 "SINGLE_ROW", "NEW_ENERGY", "DOUBLE_ROW", "STYLES", "default_kind"):
        assert getattr(synth, name) is getattr(plate_render, name), name
    for name in ("glyph_mask", "glyph_master", "STROKE_WEIGHTS"):
        assert getattr(synth, name) is getattr(glyphs, name), name


def _sharpness(gray: np.ndarray) -> float:
    """Laplacian std over grey std: edge sharpness, independent of contrast."""
    return float(cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F).std() / max(gray.std(), 1.0))


def _noise(gray: np.ndarray) -> float:
    """Immerkaer's estimate of the pixel noise's standard deviation (grey levels)."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    residual = cv2.filter2D(gray.astype(np.float32), -1, kernel)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(residual).mean() / 6)


def _character_height(gray: np.ndarray) -> float:
    """Fraction of the crop's rows where Otsu ink covers 12-70 % of characters 3-7's columns."""
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if ink.mean() > 0.5:
        ink = 1 - ink                         # the characters are the minority class
    profile = ink[:, int(0.3 * gray.shape[1]):int(0.95 * gray.shape[1])].mean(axis=1)
    rows = np.nonzero((profile > 0.12) & (profile < 0.7))[0]
    return (rows.max() - rows.min() + 1) / gray.shape[0] if rows.size else np.nan


@pytest.mark.skipif(not REAL_CROPS.is_dir(), reason="no real crops here")
def test_blue_crops_resemble_the_real_development_crops():
    real = [cv2.resize(cv2.imdecode(np.fromfile(str(p), np.uint8), cv2.IMREAD_GRAYSCALE),
                       (220, 32), interpolation=cv2.INTER_LINEAR)
            for p in sorted(REAL_CROPS.glob("*.jpg"))]
    generator = PlateGenerator(seed=1, kinds={"blue": 1.0})
    synthetic = [generator.sample().image for _ in range(400)]
    # (measure, its resolution: character height is counted in rows of 32)
    for measure, step in ((_sharpness, 0.0), (_character_height, 1 / 32)):
        r = np.array([measure(g) for g in real])
        s = np.array([measure(g) for g in synthetic])
        # the centre is realistic and the synthetic spread covers the real one
        assert abs(np.nanmedian(s) - np.nanmedian(r)) < 0.15 * np.nanmedian(r), measure.__name__
        assert np.nanpercentile(s, 5) <= np.nanpercentile(r, 10) + step, measure.__name__
        assert np.nanpercentile(s, 95) >= np.nanpercentile(r, 90) - step, measure.__name__
    assert np.percentile([_sharpness(g) for g in synthetic], 90) < 1.5 * np.percentile(
        [_sharpness(g) for g in real], 90)    # few crops far sharper than any real one
    # real crops were stored small, which smooths the camera's noise: so must most synthetic ones
    assert np.median([_noise(g) for g in synthetic]) < 2 * np.median([_noise(g) for g in real])


@pytest.mark.parametrize("color", [False, True])
def test_same_seed_same_bytes(color):
    a, texts_a = PlateGenerator(7, color=color).batch(40)
    b, texts_b = PlateGenerator(7, color=color).batch(40)
    c, texts_c = PlateGenerator(8, color=color).batch(40)
    assert texts_a == texts_b and a.tobytes() == b.tobytes()
    assert texts_a != texts_c and a.tobytes() != c.tobytes()


def test_batch_shapes_and_range():
    images, texts = PlateGenerator(0).batch(16)
    assert images.shape == (16, 1, 32, 220) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0.05
    assert len(texts) == 16 and all(is_valid_plate(t) for t in texts)
    images, _ = PlateGenerator(0, size=(24, 94), color=True).batch(4)
    assert images.shape == (4, 3, 24, 94)


def test_sample_metadata():
    generator = PlateGenerator(1, color=True)
    for _ in range(50):
        s = generator.sample()
        assert s.image.shape == (32, 220, 3) and s.image.dtype == np.uint8
        assert s.plate_type == plate_type(s.text)
        assert (s.kind == "green") == (len(s.text) == 8)
        assert s.corners.shape == (4, 2) and s.homography.shape == (3, 3)


def test_kind_mix_is_respected():
    generator = PlateGenerator(2, kinds={"green": 1.0})
    assert all(len(generator.sample().text) == 8 for _ in range(30))
    generator = PlateGenerator(2, kinds={"yellow": 1.0}, p_special_yellow=1.0)
    assert {generator.sample().text[-1] for _ in range(40)} == {"学", "挂"}
    with pytest.raises(ValueError, match="kinds"):
        PlateGenerator(0, kinds={"red": 1.0})
    with pytest.raises(ValueError, match="size"):
        PlateGenerator(0, size=(32,))


def test_given_text_is_rendered_and_checked():
    generator = PlateGenerator(3)
    assert generator.sample("京A12345").text == "京A12345"
    assert generator.sample("苏E1234学").kind == "yellow"
    with pytest.raises(ValueError, match="valid"):
        generator.sample("京A1234")


def test_clean_crop_is_the_plate_exactly():
    generator = PlateGenerator(4, augment=None, color=True)
    s = generator.sample("京A12345", "blue")
    np.testing.assert_allclose(s.corners, [[0, 0], [220, 0], [220, 32], [0, 32]], atol=1e-3)
    assert s.tilt_deg == s.yaw_deg == s.pitch_deg == 0.0
    # the plate fills the crop: blue almost everywhere
    blue = s.image[..., 2].astype(int) - s.image[..., 0] > 60
    assert blue.mean() > 0.5


def test_the_first_generator_is_reachable_and_the_default_differs():
    old, _ = PlateGenerator(7, typeface=None, framing=None).batch(20)
    same, _ = PlateGenerator(7, typeface=Typeface.classic(), framing=Framing.none()).batch(20)
    new, _ = PlateGenerator(7).batch(20)
    assert old.tobytes() == same.tobytes() and old.tobytes() != new.tobytes()
    assert PlateGenerator(0, typeface=Typeface.classic()).typeface is None      # classic path
    assert PlateGenerator(0, framing=Framing.none()).framing is None
    assert PlateGenerator(0, augment=None).framing is None                     # clean crops
    assert PlateGenerator(0, augment=AugmentConfig.only("tilt")).framing is None
    assert PlateGenerator(0).typeface == Typeface() and PlateGenerator(0).framing == Framing()


@pytest.mark.parametrize("face", ["stroke", "dejavu"])
def test_a_single_face_typeface_draws_that_face(face, monkeypatch):
    drawn = []
    original = glyphs.glyph_mask

    def spy(char, width, height, weight, face_, shape, box):
        drawn.append(face_ if char not in "京沪粤" else "cjk")
        return original(char, width, height, weight, face_, shape, box)

    monkeypatch.setattr(plate_render, "glyph_mask", spy)
    monkeypatch.setattr(plate_render, "_MASKS", {})
    generator = PlateGenerator(5, typeface=Typeface(faces=((face, 1.0),), p_mixed=0.0))
    for text in ("京A12345", "沪B67890", "粤C2D4F6"):
        generator.sample(text)
    assert set(drawn) == {face, "cjk"}


TIGHT_CROP = replace(AugmentConfig.none(), p_crop=1.0, margin_x=(0.0, 0.0), margin_y=(0.0, 0.0))


def test_framing_leans_and_shifts_the_plate_as_documented():
    lean = Framing(p_shear=1.0, shear_std=0.2, max_shear=0.2, shift_x=(0.0, 0.0), p_zoom_x=0.0,
                   p_zoom_y=0.0)
    generator = PlateGenerator(6, augment=TIGHT_CROP, framing=lean)
    slopes = []
    for _ in range(30):
        s = generator.sample()
        (tl, _, _, bl) = s.corners
        slopes.append((bl[0] - tl[0]) / (bl[1] - tl[1]))     # x per y along the left edge
        width = 480 if len(s.text) == 8 else 440                  # mm: green plates are wider
        plate = np.array([[0, 0], [width, 0], [width, 140], [0, 140]], np.float64)
        np.testing.assert_allclose(apply_homography(s.homography, plate), s.corners, atol=1e-3)
    slopes = np.array(slopes)
    assert np.abs(slopes).max() <= 0.2 + 1e-6 and np.abs(slopes).min() < 0.2
    assert slopes.std() > 0.05 and (slopes > 0).any() and (slopes < 0).any()
    zoom = Framing(p_shear=0.0, shift_x=(0.0, 0.0), p_zoom_x=1.0, zoom_x=(1.1, 1.1), p_zoom_y=1.0,
                   zoom_y=(1.25, 1.25))
    s = PlateGenerator(6, augment=TIGHT_CROP, framing=zoom).sample("京A12345")
    np.testing.assert_allclose(s.corners[:, 0], [-11, 231, 231, -11], atol=1e-3)  # both ends cut
    np.testing.assert_allclose(s.corners[:, 1], [-4, -4, 36, 36], atol=1e-3)      # top, bottom
    shift = Framing(p_shear=0.0, shift_x=(-0.05, -0.05), p_zoom_x=0.0, p_zoom_y=0.0)
    s = PlateGenerator(6, augment=TIGHT_CROP, framing=shift).sample("京A12345")
    np.testing.assert_allclose(s.corners[:, 0], [-11, 209, 209, -11], atol=1e-3)  # left cut



@pytest.mark.parametrize("kwargs, words", [
    (dict(p_shear=1.5), "p_shear"), (dict(shift_x=(0.1, -0.1)), "shift_x"),
    (dict(zoom_y=(0.0, 1.0)), "positive"), (dict(shear_std=-0.1), "positive"),
])
def test_framing_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Framing(**kwargs)
