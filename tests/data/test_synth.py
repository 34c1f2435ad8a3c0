"""The plate font, the renderer and the generator: glyphs, proportions, layouts, determinism."""


import cv2
import numpy as np
import pytest
from hypothesis import given, settings

from minilpr.data.charset import CHARS, BLANK, is_valid_plate, plate_type
from minilpr.data.fonts import cjk_font_path, missing_glyphs
from minilpr.data.synth import (NEW_ENERGY, SINGLE_ROW, STROKE_WEIGHTS, PlateGenerator,
                                default_kind, glyph_mask, glyph_master, render_plate)

from tests.data.test_charset import valid_plates
from tests.paths import REAL_DATA

PLATE_CHARS = [c for i, c in enumerate(CHARS) if i != BLANK]
REAL_CROPS = REAL_DATA / "lprnet-crops-dev"


def test_font_ships_with_mplfonts_and_has_every_glyph():
    path = cjk_font_path()
    assert path.is_file() and path.suffix == ".otf"
    assert missing_glyphs(PLATE_CHARS) == []
    assert missing_glyphs("京\U0001F600") == ["\U0001F600"]   # the check can fail


def test_every_character_renders_distinct_ink():
    notdef = glyph_master("\U0001F600")    # what the font draws for a missing character
    masks = {}
    for char in PLATE_CHARS:
        master = glyph_master(char)
        assert master.shape != notdef.shape or not np.allclose(master, notdef), char
        mask, inverse = glyph_mask(char, 45, 90)
        assert mask.shape == (90, 45) and mask.dtype == np.float32
        assert 0.1 < mask.mean() < 0.85, (char, mask.mean())
        assert np.allclose(mask + inverse, 1)
        masks[char] = mask
    # no two characters draw the same picture
    flat = np.stack([m.ravel() for m in masks.values()])
    distances = ((flat[:, None] - flat[None]) ** 2).mean(axis=2)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 1e-3


def test_narrow_one_keeps_its_width_and_has_no_foot():
    mask, _ = glyph_mask("1", 45, 90)
    ink_columns = np.nonzero(mask.max(axis=0) > 0.5)[0]
    assert ink_columns.size < 35
    bottom = (mask[-3:] > 0.5).sum(axis=1)
    middle = (mask[45] > 0.5).sum()
    assert np.all(bottom <= middle + 1)


@pytest.mark.parametrize("char", ["京", "A", "8", "1"])
def test_stroke_weights_thicken_the_ink_inside_the_slot(char):
    ink = [glyph_mask(char, 45, 90, weight)[0].mean() for weight in STROKE_WEIGHTS]
    assert np.all(np.diff(ink) > 0.01), ink
    assert glyph_mask(char, 45, 90)[0].mean() == ink[-1]     # the canonical plate is the boldest


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


@pytest.mark.parametrize("text, kind, shape, char_width, gap, separator_gap", [
    ("京A12345", "blue", (140, 440, 3), 45, 12, 34),
    ("京A12345", "yellow", (140, 440, 3), 45, 12, 34),
    ("沪AD12345", "green", (140, 480, 3), 43, 9, 49),
    ("皖A12345F", "green", (140, 480, 3), 43, 9, 49),
    ("川A1234警", "white", (140, 440, 3), 45, 12, 34),
    ("粤Z1234港", "black", (140, 440, 3), 45, 12, 34),
])
def test_real_proportions(text, kind, shape, char_width, gap, separator_gap):
    image, boxes = render_plate(text, kind)
    assert image.shape == shape and image.dtype == np.uint8
    assert boxes.shape == (len(text), 4) and boxes.dtype == np.float32
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    np.testing.assert_allclose(widths, char_width, atol=1e-4)
    np.testing.assert_allclose(heights, 90, atol=1e-4)
    np.testing.assert_allclose(boxes[:, 1], 25, atol=1e-4)
    assert np.all(np.diff(boxes[:, 0]) > char_width)                         # left to right
    margins = boxes[0, 0], shape[1] - boxes[-1, 2]
    assert margins[0] == pytest.approx(margins[1]) and margins[0] > 10       # centred
    gaps = boxes[1:, 0] - boxes[:-1, 2]
    np.testing.assert_allclose(gaps, [gap, separator_gap] + [gap] * (len(text) - 3), atol=1e-4)


def test_layouts_are_the_standard_ones():
    assert (SINGLE_ROW.width, SINGLE_ROW.height, SINGLE_ROW.n_chars) == (440, 140, 7)
    assert (NEW_ENERGY.width, NEW_ENERGY.height, NEW_ENERGY.n_chars) == (480, 140, 8)
    assert SINGLE_ROW.dot == (pytest.approx(134.5), 70, 10)


def test_double_row_plate():
    image, boxes = render_plate("鲁B1234挂", "yellow", rows=2)
    assert image.shape == (220, 440, 3)
    assert boxes.shape == (7, 4)
    upper, lower = boxes[:2], boxes[2:]
    assert upper[:, 3].max() < lower[:, 1].min()                            # two rows
    assert np.all(np.diff(upper[:, 0]) > 0) and np.all(np.diff(lower[:, 0]) > 0)
    assert (lower[:, 3] - lower[:, 1]).min() > (upper[:, 3] - upper[:, 1]).max()
    assert boxes[:, 0].min() > 0 and boxes[:, 2].max() < 440 and boxes[:, 3].max() < 220
    assert render_plate("鲁B1234挂", "yellow", rows=2, px_per_mm=0.5)[0].shape == (110, 220, 3)
    with pytest.raises(ValueError, match="7 characters"):
        render_plate("沪AD12345", "green", rows=2)
    with pytest.raises(ValueError, match="rows"):
        render_plate("京A12345", "blue", rows=3)


def test_scale_and_anisotropic_rendering():
    image, boxes = render_plate("京A12345", "blue", px_per_mm=0.5)
    assert image.shape == (70, 220, 3)
    image, boxes = render_plate("京A12345", "blue", px_per_mm=(1.0, 0.25))
    assert image.shape == (35, 440, 3)
    np.testing.assert_allclose(boxes[0], [15.5, 6.25, 60.5, 28.75], atol=1e-4)
    with pytest.raises(ValueError, match="px_per_mm"):
        render_plate("京A12345", "blue", px_per_mm=0)


def test_colours_and_ink_sit_in_the_boxes():
    image, boxes = render_plate("京A12345", "blue")
    r, g, b = image[..., 0].astype(int), image[..., 1].astype(int), image[..., 2].astype(int)
    assert np.median(b - r) > 100                                   # blue plate
    white = (r > 200) & (g > 200) & (b > 200)
    in_box = np.zeros_like(white)
    for x0, y0, x1, y1 in boxes.round().astype(int):
        in_box[y0:y1, x0:x1] = True
    assert white[in_box].mean() > 0.25
    inner = np.zeros_like(white)
    inner[10:-10, 10:-10] = True                                    # away from border, rivets
    dot_x = int((boxes[1, 2] + boxes[2, 0]) / 2)
    inner[:, dot_x - 8:dot_x + 9] = False                           # and the separator dot
    assert white[inner & ~in_box].mean() < 0.01
    yellow, _ = render_plate("京A12345", "yellow")
    assert yellow[70, 5, 0] > 200 and yellow[70, 5, 2] < 100


def test_police_character_is_red():
    image, boxes = render_plate("川A1234警", "white")
    x0, y0, x1, y1 = boxes[-1].round().astype(int)
    glyph = image[y0:y1, x0:x1].astype(int)
    ink = glyph[..., 0] - glyph[..., 1] > 100
    assert ink.mean() > 0.2


@pytest.mark.parametrize("text, kind, words", [
    ("沪AD12345", "blue", "green"), ("京A12345", "green", "need 8"),
    ("京A1234", "blue", "valid"), ("京A12345", "purple", "kind"),
])
def test_render_errors(text, kind, words):
    with pytest.raises(ValueError, match=words):
        render_plate(text, kind)


def test_default_kind():
    assert default_kind("京A12345") == "blue"
    assert default_kind("沪AD12345") == "green"
    assert default_kind("苏E1234学") == "yellow"
    assert default_kind("川A1234警") == "white"
    assert default_kind("粤Z1234澳") == "black"


def test_render_with_rng_varies_and_is_reproducible():
    a, _ = render_plate("京A12345", "blue", np.random.default_rng(0))
    b, _ = render_plate("京A12345", "blue", np.random.default_rng(0))
    c, _ = render_plate("京A12345", "blue", np.random.default_rng(1))
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


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


@pytest.mark.parametrize("text, kind", [("京A12345", "blue"), ("沪AD12345", "green"),
                                        ("川A1234警", "white")])
def test_drawing_in_gray_matches_rgb_converted(text, kind):
    import cv2

    from minilpr.data.synth import _compose
    rgb, boxes_rgb = _compose(text, kind, np.random.default_rng(0), 1.0, 0.5, gray=False)
    gray, boxes_gray = _compose(text, kind, np.random.default_rng(0), 1.0, 0.5, gray=True)
    converted = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(int)
    assert gray.shape == converted.shape
    assert np.abs(gray - converted).max() <= 3
    np.testing.assert_array_equal(boxes_rgb, boxes_gray)


@given(valid_plates)
@settings(max_examples=40)
def test_any_valid_plate_renders(text):
    kind = default_kind(text)
    image, boxes = render_plate(text, kind, np.random.default_rng(0), px_per_mm=0.5)
    assert image.shape == (70, 240 if len(text) == 8 else 220, 3)
    assert boxes.shape == (len(text), 4)
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= image.shape[1])
    assert np.all(boxes[:, 3] <= image.shape[0])
    assert image.std() > 20                    # characters drawn, not a flat plate
