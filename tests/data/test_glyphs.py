"""The plate font's glyphs: every character present, distinct, fitted to its slot, emboldened."""

import cv2
import numpy as np
import pytest

from minilpr.data.charset import BLANK, CHARS, PROVINCES, SPECIALS
from minilpr.data.fonts import FACE_FILES, cjk_font_path, face_path, missing_glyphs
from minilpr.data.glyphs import (CJK_FACES, FACES, FONT_FACES, INK_BOX, PROVINCE_BOX,
                                 PROVINCE_BOXES, PROVINCE_SHAPES, PROVINCE_WEIGHTS,
                                 STROKE_WEIGHTS, WARP_SHIFT, Typeface, glyph_mask, glyph_master,
                                 warped_master)
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



@pytest.mark.parametrize("char", ["皖", "京", "桂"])
def test_negative_weights_thin_the_strokes_and_refuse_to_shred_them(char):
    ink = [glyph_master(char, weight).sum() for weight in (-0.01, -0.005, 0.005)]
    assert np.all(np.diff(ink) > 0.05 * ink[-1]), ink     # lighter the more negative
    thin, regular = glyph_master(char, -0.01) > 0.5, glyph_master(char, 0.005) > 0.5
    # erosion only takes ink away: every thin pixel lies inside the regular glyph, which is the
    # same crop padded by the dilation's radius on every side
    pad = (regular.shape[0] - thin.shape[0]) // 2
    assert regular.shape == (thin.shape[0] + 2 * pad, thin.shape[1] + 2 * pad)
    assert not (thin & ~regular[pad:pad + thin.shape[0], pad:pad + thin.shape[1]]).any()
    mask, _ = glyph_mask(char, 45, 90, -0.01)
    assert mask.shape == (90, 45) and 0.05 < mask.mean() < glyph_mask(char, 45, 90, 0.005)[0].mean()
    with pytest.raises(ValueError, match="less than half"):
        glyph_master(char, -0.05)

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
    typeface = Typeface(faces=(("stroke", 3.0), ("dejavu", 1.0)), p_mixed=0.0,
                        province_shapes=PROVINCE_SHAPES)
    rng = np.random.default_rng(0)
    plates = [typeface.draw("京A12345", rng) for _ in range(2000)]
    assert all(len({f for f, _, _, _ in p[1:]}) == 1 for p in plates)         # one face a plate
    assert all(p[0][0] == "noto" and p[0][1] in PROVINCE_WEIGHTS for p in plates)
    share = np.mean([p[1][0] == "stroke" for p in plates])
    assert abs(share - 0.75) < 0.03, share
    assert {w for p in plates for f, w, _, _ in p if f == "stroke"} == set(STROKE_MM)
    assert {w for p in plates for f, w, _, _ in p if f == "dejavu"} == set(STROKE_WEIGHTS)
    # the province's shape: every one of them turns up, about equally; letters have none
    shapes = np.array([p[0][2] for p in plates])
    assert set(shapes.tolist()) == set(range(PROVINCE_SHAPES))
    assert np.bincount(shapes).min() > 2000 / PROVINCE_SHAPES * 0.7
    assert all(s == b == 0 for p in plates for _, _, s, b in p[1:])
    mixed = Typeface(faces=(("stroke", 1.0), ("dejavu", 1.0)), p_mixed=1.0)
    plates = [mixed.draw("京A12345", rng) for _ in range(200)]
    assert np.mean([len({f for f, _, _, _ in p[1:]}) == 2 for p in plates]) > 0.9
    fonts_own = Typeface()
    assert {fonts_own.draw("京A12345", rng)[0][2] for _ in range(50)} == {0}


def test_typeface_is_deterministic_and_classic_draws_what_the_first_generator_drew():
    a = Typeface().draw("沪AD12345", np.random.default_rng(3))
    assert a == Typeface().draw("沪AD12345", np.random.default_rng(3))
    rng, reference = np.random.default_rng(4), np.random.default_rng(4)
    styles = Typeface.classic().draw("京A12345", rng)
    weight = STROKE_WEIGHTS[reference.integers(len(STROKE_WEIGHTS))]   # the one draw it made
    assert styles == [("noto", weight, 0, 0)] * 7
    assert rng.random() == reference.random()                        # and nothing more
    assert Typeface.classic().draw("京A12345", None) == [("noto", STROKE_WEIGHTS[-1], 0, 0)] * 7


@pytest.mark.parametrize("kwargs, words", [
    (dict(faces=(("comic", 1.0),)), "faces"), (dict(faces=()), "faces"),
    (dict(faces=(("stroke", -1.0),)), "faces"), (dict(p_mixed=2.0), "p_mixed"),
    (dict(stroke_mm=()), "stroke_mm"), (dict(province_boxes=0), "province_boxes"),
    (dict(province_boxes=PROVINCE_BOXES + 1), "province_boxes"),
])
def test_typeface_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Typeface(**kwargs)


@pytest.mark.parametrize("char", ["皖", "京", "警"])
def test_province_shapes_move_the_strokes_keep_the_ink_and_repeat(char):
    own = glyph_mask(char, 45, 90, 0.02)[0]
    for shape in range(1, PROVINCE_SHAPES):
        mask = glyph_mask(char, 45, 90, 0.02, "noto", shape)[0]
        # the same in a fresh computation (seeded by the character and the shape, not a cache)
        again = warped_master.__wrapped__(char, 0.02, shape)
        assert np.array_equal(again, warped_master(char, 0.02, shape))
        # the ink box: centred, within INK_BOX of the slot, never outside it
        rows = np.nonzero(mask.max(axis=1) > 0.02)[0]
        cols = np.nonzero(mask.max(axis=0) > 0.02)[0]
        (x_lo, _), (y_lo, _) = INK_BOX
        assert x_lo * 45 - 2 <= cols.size <= 45 and y_lo * 90 - 2 <= rows.size <= 90
        assert abs((cols[0] + cols[-1]) / 2 - 22) <= 1.5
        assert abs((rows[0] + rows[-1]) / 2 - 44.5) <= 1.5
        # a warp, not a copy, and not another character: about as much ink, a different picture
        assert 0.7 < mask.mean() / own.mean() < 1.3, (shape, mask.mean(), own.mean())
        assert np.abs(mask - own).mean() > 0.02
    # the largest shift is WARP_SHIFT of the height: the warped master stays about its size
    master, warped = glyph_master(char, 0.02), warped_master(char, 0.02, 1)
    growth = np.abs(np.subtract(warped.shape, master.shape))
    assert np.all(growth <= 2 * WARP_SHIFT * master.shape[0] + 2), (warped.shape, master.shape)


def test_province_shapes_are_refused_where_they_do_not_exist():
    with pytest.raises(ValueError, match="shape"):
        warped_master("京", 0.02, PROVINCE_SHAPES)
    with pytest.raises(ValueError, match="Chinese"):
        glyph_mask("A", 45, 90, 0.02, "noto", 1)
    with pytest.raises(ValueError, match="province_shapes"):
        Typeface(province_shapes=0)


def test_province_boxes_turn_up_evenly_and_leave_letters_and_warps_alone():
    rng = np.random.default_rng(5)
    plates = [Typeface(province_boxes=PROVINCE_BOXES).draw("京A12345", rng) for _ in range(2000)]
    boxes = np.array([p[0][3] for p in plates])
    assert set(boxes.tolist()) == set(range(PROVINCE_BOXES))
    assert np.bincount(boxes).min() > 2000 / PROVINCE_BOXES * 0.7
    assert all(b == 0 for p in plates for _, _, _, b in p[1:])             # letters: no box
    both = Typeface(province_shapes=PROVINCE_SHAPES, province_boxes=PROVINCE_BOXES)
    styles = [both.draw("京A12345", rng)[0] for _ in range(500)]
    assert all(box == 0 for _, _, shape, box in styles if shape)            # a warp keeps its box
    assert {box for _, _, shape, box in styles if not shape} == set(range(PROVINCE_BOXES))


def test_default_typeface_draws_the_numbers_it_drew_before_boxes():
    rng, reference = np.random.default_rng(6), np.random.default_rng(6)
    Typeface().draw("京A12345", rng)
    reference.random(5 + 7)                     # the five plate draws and one per character
    assert rng.random() == reference.random()


@pytest.mark.parametrize("char", ["皖", "京", "桂"])
def test_province_box_is_a_smaller_centred_copy_of_the_glyph_and_repeats(char):
    full = glyph_mask(char, 45, 90, 0.02)[0]
    (x_lo, x_hi), (y_lo, y_hi) = PROVINCE_BOX
    widths, heights = set(), set()
    for box in range(1, PROVINCE_BOXES):
        mask = glyph_mask(char, 45, 90, 0.02, "noto", 0, box)[0]
        assert np.array_equal(mask, glyph_mask.__wrapped__(char, 45, 90, 0.02, "noto", 0, box)[0])
        cols = np.nonzero(mask.max(axis=0) > 0.02)[0]
        rows = np.nonzero(mask.max(axis=1) > 0.02)[0]
        width, height = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
        assert round(x_lo * 45) - 1 <= width <= round(x_hi * 45) + 1
        assert round(y_lo * 90) - 1 <= height <= round(y_hi * 90) + 1
        # centred: the margins left and right (top and bottom) differ by at most a pixel
        assert abs(cols.min() - (44 - cols.max())) <= 1 and abs(rows.min() - (89 - rows.max())) <= 1
        # the same drawing, smaller: resized back to the slot it matches the full-slot glyph
        back = cv2.resize(mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1], (45, 90),
                          interpolation=cv2.INTER_AREA)
        assert np.abs(back - full).mean() < 0.08
        widths.add(width)
        heights.add(height)
    assert len(widths) > 2 and len(heights) > 2        # the boxes differ from one another
    with pytest.raises(ValueError, match="box"):
        glyph_mask(char, 45, 90, 0.02, "noto", 0, PROVINCE_BOXES)
    with pytest.raises(ValueError, match="ink boxes"):
        glyph_mask("A", 45, 90, 0.02, "noto", 0, 1)


def test_province_faces_are_drawn_per_plate_in_their_shares_and_letters_keep_theirs():
    typeface = Typeface(province_faces=(("noto", 1.0), ("noto_serif", 3.0)),
                        province_shapes=PROVINCE_SHAPES)
    rng = np.random.default_rng(7)
    plates = [typeface.draw("京A12345", rng) for _ in range(2000)]
    serif = np.mean([p[0][0] == "noto_serif" for p in plates])
    assert abs(serif - 0.75) < 0.03, serif
    assert all(p[0][2] == 0 for p in plates if p[0][0] == "noto_serif")  # warps are Noto's
    assert {p[0][2] for p in plates if p[0][0] == "noto"} == set(range(PROVINCE_SHAPES))
    assert not any(f in CJK_FACES and f != "noto" for p in plates for f, _, _, _ in p[1:])


@pytest.mark.parametrize("char", ["皖", "京", "粤"])
def test_serif_province_glyph_is_another_drawing_of_the_character(char):
    sans = glyph_mask(char, 45, 90, 0.02)[0]
    serif = glyph_mask(char, 45, 90, 0.02, "noto_serif")[0]
    other = glyph_mask("桂" if char != "桂" else "京", 45, 90, 0.02, "noto_serif")[0]
    assert serif.shape == (90, 45) and 0.1 < serif.mean() < 0.8
    # closer to the same character in the other face than to another character in its own
    assert np.abs(serif - sans).mean() < np.abs(serif - other).mean()
    with pytest.raises(ValueError, match="Chinese characters only"):
        glyph_mask("A", 45, 90, 0.02, "noto_serif")
    with pytest.raises(ValueError, match="warped"):
        glyph_mask(char, 45, 90, 0.02, "noto_serif", 1)


@pytest.mark.parametrize("faces", [(), (("noto", -1.0),), (("stroke", 1.0),)])
def test_province_faces_errors(faces):
    with pytest.raises(ValueError, match="province_faces"):
        Typeface(province_faces=faces)
