"""The GA 36-style stroke font: every glyph fills its box, a 1 is a bar, strokes are uniform."""

import numpy as np
import pytest

from minilpr.data.charset import BLANK, CHARS, PROVINCES, SPECIALS
from minilpr.data.stroke_font import BOX_MM, PX_PER_MM, STROKE_CHARS, STROKE_MM, stroke_glyph

LATIN = [c for i, c in enumerate(CHARS) if i != BLANK and c not in PROVINCES + SPECIALS]


def _ink_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask > 0.5)
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


def test_the_font_draws_exactly_the_plate_letters_and_digits():
    assert sorted(STROKE_CHARS) == sorted(LATIN)
    with pytest.raises(ValueError, match="no glyph"):
        stroke_glyph("O")                    # plates never carry O or I


@pytest.mark.parametrize("stroke", STROKE_MM)
@pytest.mark.parametrize("char", [c for c in STROKE_CHARS if c != "1"])
def test_every_glyph_fills_its_box(char, stroke):
    mask = stroke_glyph(char, stroke)
    h, w = mask.shape
    assert (h, w) == (round(BOX_MM[1] * PX_PER_MM), round(BOX_MM[0] * PX_PER_MM))
    x0, y0, x1, y1 = _ink_box(mask)
    edge = 2   # pixels: the anti-aliased rim of a round cap may stop just short of the edge
    assert x0 <= edge and y0 <= edge and x1 >= w - edge and y1 >= h - edge, (char, _ink_box(mask))
    assert mask.dtype == np.float32 and 0 <= mask.min() and mask.max() <= 1


@pytest.mark.parametrize("stroke", STROKE_MM)
def test_one_is_a_plain_bar_of_the_stroke_width_in_the_middle(stroke):
    mask = stroke_glyph("1", stroke)
    x0, y0, x1, y1 = _ink_box(mask)
    assert y0 <= 2 and y1 >= mask.shape[0] - 2                          # full height
    assert abs((x1 - x0) - stroke * PX_PER_MM) <= 2                      # one stroke wide
    assert abs((x0 + x1) / 2 - mask.shape[1] / 2) <= 1                   # centred
    widths = (mask[20:-20] > 0.5).sum(axis=1)
    assert widths.max() - widths.min() <= 1                              # no flag, no foot


@pytest.mark.parametrize("char", ["0", "8", "A", "M", "S", "W"])
def test_strokes_are_uniform_and_as_wide_as_the_pen(char):
    """Along the ink, the distance to the background peaks at half the pen everywhere."""
    import cv2

    for stroke in (8.0, 11.0):
        ink = (stroke_glyph(char, stroke) > 0.5).astype(np.uint8)
        distance = cv2.distanceTransform(np.pad(ink, 1), cv2.DIST_L2, 5)
        ridge = distance[distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8))]
        ridge = ridge[ridge > 2]                                         # local maxima only
        half_pen = stroke * PX_PER_MM / 2
        assert abs(np.median(ridge) - half_pen) < 0.15 * half_pen, (char, stroke)


def test_heavier_pens_draw_more_ink_and_glyphs_differ():
    for char in STROKE_CHARS:
        assert stroke_glyph(char, 11.0).mean() > stroke_glyph(char, 8.0).mean() + 0.02, char
    flat = np.stack([stroke_glyph(c).ravel() for c in STROKE_CHARS])
    distances = ((flat[:, None] - flat[None]) ** 2).mean(axis=2)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 0.01


def test_glyphs_are_cached_read_only_and_the_pen_is_checked():
    assert stroke_glyph("A", 9.0) is stroke_glyph("A", 9.0)
    assert not stroke_glyph("A", 9.0).flags.writeable
    with pytest.raises(ValueError, match="stroke_mm"):
        stroke_glyph("A", 30.0)
