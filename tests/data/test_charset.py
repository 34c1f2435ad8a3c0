"""The charset table, encode/decode and the plate-number rules."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.data import charset
from minilpr.data.charset import (BLANK, CHAR_TO_INDEX, CHARS, DIGITS, LETTERS, NUM_CLASSES,
                                  PROVINCES, SPECIALS, decode, encode, is_valid_plate,
                                  plate_type, random_plate, validate_plate)

province = st.sampled_from(PROVINCES)
letter = st.sampled_from(LETTERS)
digit = st.sampled_from(DIGITS)
alnum = st.sampled_from(LETTERS + DIGITS)


@st.composite
def standard_plates(draw):
    serial = draw(st.lists(alnum, min_size=5, max_size=5).filter(
        lambda s: sum(c in LETTERS for c in s) <= 2))
    return draw(province) + draw(letter) + "".join(serial)


@st.composite
def new_energy_plates(draw):
    head = draw(province) + draw(letter)
    if draw(st.booleans()):
        return head + draw(st.sampled_from("DF")) + draw(alnum) + "".join(
            draw(st.lists(digit, min_size=4, max_size=4)))
    return head + "".join(draw(st.lists(digit, min_size=5, max_size=5))) + draw(
        st.sampled_from("DF"))


@st.composite
def special_plates(draw):
    special = draw(st.sampled_from(SPECIALS))
    head = "粤Z" if special in "港澳" else draw(province) + draw(letter)
    return head + "".join(draw(st.lists(alnum, min_size=4, max_size=4))) + special


valid_plates = st.one_of(standard_plates(), new_energy_plates(), special_plates())


def test_table_layout():
    assert BLANK == 0 and CHARS[BLANK] not in CHAR_TO_INDEX
    assert "".join(PROVINCES) == "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
    assert len(LETTERS) == 24 and "I" not in LETTERS and "O" not in LETTERS
    assert DIGITS == list("0123456789")
    assert CHARS == [CHARS[0]] + PROVINCES + LETTERS + DIGITS + SPECIALS
    assert NUM_CLASSES == len(CHARS) == 1 + 31 + 24 + 10 + len(SPECIALS)
    assert len(set(CHARS)) == NUM_CLASSES
    assert all(CHARS[i] == c for c, i in CHAR_TO_INDEX.items())
    assert CHAR_TO_INDEX["京"] == 1 and CHAR_TO_INDEX["A"] == 32 and CHAR_TO_INDEX["0"] == 56


@given(valid_plates)
def test_valid_plates_round_trip(text):
    assert validate_plate(text) is None, validate_plate(text)
    indices = encode(text)
    assert indices.dtype == np.int32 and indices.shape == (len(text),)
    assert indices.min() >= 1 and indices.max() < NUM_CLASSES
    assert decode(indices) == text
    assert decode(indices.tolist()) == text


@pytest.mark.parametrize("text, kind", [
    ("京A12345", "standard"), ("皖A0H627", "standard"), ("浙D137ET", "standard"),
    ("沪AD12345", "new_energy_small"), ("粤BFA1234", "new_energy_small"),
    ("皖A12345F", "new_energy_large"), ("苏E1234学", "coach"), ("鲁B12A3挂", "trailer"),
    ("川A1234警", "police"), ("粤Z1234港", "hong_kong"), ("粤ZA123澳", "macau"),
])
def test_accepts_real_formats(text, kind):
    assert is_valid_plate(text)
    assert plate_type(text) == kind


@pytest.mark.parametrize("text, words", [
    ("京A1234", "7 or 8"),
    ("京A123456789", "7 or 8"),
    ("京I12345", "'I'"),
    ("京a12345", "'a'"),
    ("A京12345", "province"),
    ("京112345", "letter"),
    ("京AAB3C4", "3 letters"),
    ("京A1234D5", "new-energy"),     # large new-energy: D/F comes last, after 5 digits
    ("京AD1234A", "new-energy"),     # small new-energy: the last four are digits
    ("京AX12345", "new-energy"),
    ("京A1234港", "粤Z"),
    ("京A12学34", "letters and digits"),
    ("京A123警4", "letters and digits"),
])
def test_rejects_invalid_plates(text, words):
    problem = validate_plate(text)
    assert problem is not None and words in problem
    assert not is_valid_plate(text)
    with pytest.raises(ValueError, match="not a valid plate"):
        plate_type(text)


def test_validate_rejects_non_str():
    assert "str" in validate_plate(1234567)


def test_encode_names_the_bad_character_and_position():
    with pytest.raises(ValueError, match=r"'x'.*position 3"):
        encode("京A1x345")
    with pytest.raises(ValueError, match=r"position 0"):
        encode("-A12345")          # the blank's printout token is not a plate character
    with pytest.raises(TypeError):
        encode(["京"])


@pytest.mark.parametrize("bad, words", [([1, 0, 2], "blank"), ([1, NUM_CLASSES], "outside"),
                                        ([-1], "outside"), ([[1, 2]], "1-D"),
                                        ([1.0, 2.0], "integer")])
def test_decode_errors(bad, words):
    with pytest.raises(ValueError, match=words):
        decode(bad)


def test_decode_empty():
    assert decode([]) == ""


@pytest.mark.parametrize("kind", charset.KINDS)
def test_random_plates_are_valid_and_typed(kind):
    rng = np.random.default_rng(1)
    expected = {"blue": {"standard"}, "yellow": {"standard"},
                "green": {"new_energy_small", "new_energy_large"}, "white": {"police"},
                "black": {"hong_kong", "macau"}}[kind]
    plates = [random_plate(rng, kind) for _ in range(300)]
    assert all(is_valid_plate(p) for p in plates)
    assert {plate_type(p) for p in plates} == expected


def test_random_plate_specials_and_province():
    rng = np.random.default_rng(2)
    assert random_plate(rng, "yellow", special="学").endswith("学")
    assert random_plate(rng, "yellow", province="琼", special="挂")[0::6] == "琼挂"
    assert random_plate(rng, "black", special="澳") .startswith("粤Z")
    with pytest.raises(ValueError, match="special"):
        random_plate(rng, "blue", special="学")
    with pytest.raises(ValueError, match="province"):
        random_plate(rng, "blue", province="A")
    with pytest.raises(ValueError, match="kind"):
        random_plate(rng, "red")


def test_province_sampling_is_balanced():
    rng = np.random.default_rng(3)
    counts = np.zeros(len(PROVINCES))
    for _ in range(6200):
        counts[PROVINCES.index(random_plate(rng, "blue")[0])] += 1
    # 200 expected per province; ±5 standard deviations of a binomial
    assert np.all(np.abs(counts - 200) < 5 * np.sqrt(200))


def test_serial_letters_are_sometimes_present():
    rng = np.random.default_rng(4)
    letters = [sum(c in LETTERS for c in random_plate(rng, "blue")[2:]) for _ in range(2000)]
    assert max(letters) == 2 and 0.3 < np.mean([n > 0 for n in letters]) < 0.9
