"""The plate font's glyphs: every character present, distinct, fitted to its slot, emboldened."""

import numpy as np
import pytest

from minilpr.data.charset import BLANK, CHARS, PROVINCES, SPECIALS
from minilpr.data.fonts import FACE_FILES, cjk_font_path, face_path, missing_glyphs
from minilpr.data.glyphs import (FACES, FONT_FACES, PROVINCE_WEIGHTS, STROKE_WEIGHTS, Typeface,
                                 glyph_mask, glyph_master)
from minilpr.data.stroke_font import STROKE_MM

PLATE_CHARS = [c for i, c in enumerate(CHARS) if i != BLANK]


def test_font_ships_with_mplfonts_and_has_every_glyph():
    path = cjk_font_path()
    assert path.is_file() and path.suffix == ".otf"
    assert missing_glyphs(PLATE_CHARS) == []
    assert missing_glyphs("京\U0001F600") == ["\U0001F600"]   # the check can fail
    for face in FACE_FILES:
        assert missing_glyphs("".join(c for c in PLATE_CHARS if c < "\u0080"),
                              face_path(face)) == [], face
    with pytest.raises(ValueError, match="face"):
        face_path("simhei")


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


LATIN = [c for c in PLATE_CHARS if c not in PROVINCES + SPECIALS]
FILL_FACES = ("stroke",) + FONT_FACES


def _heaviest(face: str) -> float:
    return STROKE_MM[-1] if face == "stroke" else STROKE_WEIGHTS[-1]


@pytest.mark.parametrize("face", FILL_FACES)
def test_every_face_fills_the_slot_as_the_standard_draws_it(face):
    for slot in ((45, 90), (43, 90), (22, 45)):
        for char in LATIN:
            mask, inverse = glyph_mask(char, *slot, _heaviest(face), face)
            assert mask.shape == slot[::-1] and np.allclose(mask + inverse, 1)
            rows, cols = np.nonzero(mask > 0.5)
            assert rows.min() <= 1 and rows.max() >= slot[1] - 2, (face, char)   # full height
            if char == "1":                            # a bar in the middle of the slot
                assert cols.max() - cols.min() + 1 < 0.45 * slot[0], (face, char)
                assert abs((cols.min() + cols.max() + 1) / 2 - slot[0] / 2) <= 1.5
            else:
                assert cols.min() <= 1 and cols.max() >= slot[0] - 2, (face, char)  # full width


@pytest.mark.parametrize("face", FACES)
def test_faces_draw_distinct_glyphs_and_a_plain_zero(face):
    masks = np.stack([glyph_mask(c, 45, 90, _heaviest(face), face)[0].ravel() for c in LATIN])
    distances = ((masks[:, None] - masks[None]) ** 2).mean(axis=2)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 1e-3, face
    zero = glyph_mask("0", 45, 90, _heaviest(face), face)[0]
    assert zero[30:60, 18:27].mean() < 0.05, face     # hollow: no dot or slash inside the 0


def test_chinese_characters_come_from_noto_only_and_faces_are_checked():
    with pytest.raises(ValueError, match="noto"):
        glyph_mask("京", 45, 90, 0.03, "stroke")
    with pytest.raises(ValueError, match="face"):
        glyph_mask("A", 45, 90, 0.03, "comic")


def test_typeface_mix_is_honoured_per_plate_and_per_character():
    typeface = Typeface(faces=(("stroke", 3.0), ("dejavu", 1.0)), p_mixed=0.0)
    rng = np.random.default_rng(0)
    plates = [typeface.draw("京A12345", rng) for _ in range(2000)]
    assert all(len({f for f, _ in p[1:]}) == 1 for p in plates)            # one face a plate
    assert all(p[0][0] == "noto" and p[0][1] in PROVINCE_WEIGHTS for p in plates)
    share = np.mean([p[1][0] == "stroke" for p in plates])
    assert abs(share - 0.75) < 0.03, share
    assert {w for p in plates for f, w in p if f == "stroke"} == set(STROKE_MM)
    assert {w for p in plates for f, w in p if f == "dejavu"} == set(STROKE_WEIGHTS)
    mixed = Typeface(faces=(("stroke", 1.0), ("dejavu", 1.0)), p_mixed=1.0)
    plates = [mixed.draw("京A12345", rng) for _ in range(200)]
    assert np.mean([len({f for f, _ in p[1:]}) == 2 for p in plates]) > 0.9


def test_typeface_is_deterministic_and_classic_draws_what_the_first_generator_drew():
    a = Typeface().draw("沪AD12345", np.random.default_rng(3))
    assert a == Typeface().draw("沪AD12345", np.random.default_rng(3))
    rng, reference = np.random.default_rng(4), np.random.default_rng(4)
    styles = Typeface.classic().draw("京A12345", rng)
    weight = STROKE_WEIGHTS[reference.integers(len(STROKE_WEIGHTS))]   # the one draw it made
    assert styles == [("noto", weight)] * 7
    assert rng.random() == reference.random()                        # and nothing more
    assert Typeface.classic().draw("京A12345", None) == [("noto", STROKE_WEIGHTS[-1])] * 7


@pytest.mark.parametrize("kwargs, words", [
    (dict(faces=(("comic", 1.0),)), "faces"), (dict(faces=()), "faces"),
    (dict(faces=(("stroke", -1.0),)), "faces"), (dict(p_mixed=2.0), "p_mixed"),
    (dict(stroke_mm=()), "stroke_mm"),
])
def test_typeface_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Typeface(**kwargs)
