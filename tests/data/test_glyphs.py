"""The plate font's glyphs: every character present, distinct, fitted to its slot, emboldened."""

import numpy as np
import pytest

from minilpr.data.charset import BLANK, CHARS
from minilpr.data.fonts import cjk_font_path, missing_glyphs
from minilpr.data.glyphs import STROKE_WEIGHTS, glyph_mask, glyph_master

PLATE_CHARS = [c for i, c in enumerate(CHARS) if i != BLANK]


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
