"""The clean-plate renderer: real proportions, layouts, colours, gray drawing, determinism."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings

from minilpr.data.plate_render import (NEW_ENERGY, SINGLE_ROW, _compose, default_kind,
                                       render_plate)

from tests.data.test_charset import valid_plates


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


@pytest.mark.parametrize("text, kind", [("京A12345", "blue"), ("沪AD12345", "green"),
                                        ("川A1234警", "white")])
def test_drawing_in_gray_matches_rgb_converted(text, kind):
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
