"""The plate grammar automaton accepts exactly what ``validate_plate`` accepts."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.data.charset import (CHARS, KINDS, NUM_CLASSES, decode, encode, is_valid_plate,
                                  random_plate)
from minilpr.data.grammar import plate_automaton, plate_patterns
from minilpr.nn.activation import log_softmax
from minilpr.nn.decode import constrained_beam_search, greedy_decode

SYMBOLS = CHARS[1:]


def test_every_random_plate_is_accepted():
    automaton = plate_automaton()
    rng = np.random.default_rng(0)
    for kind in KINDS:
        for _ in range(200):
            plate = random_plate(rng, kind)
            assert automaton.matches(encode(plate)), plate


@pytest.mark.parametrize("plate, valid", [
    ("京A12345", True), ("京AB1C45", True), ("京ABCD45", False), ("京A1234", False),
    ("京A12345X", False), ("A京12345", False), ("沪AD12345", True), ("沪A12345F", True),
    ("沪AD1234X", False), ("粤Z1234港", True), ("京A1234港", False), ("京A123学", False),
    ("京A1234学", True), ("京AB23警", False), ("京AB234警", True), ("京A1D345", True),
])
def test_known_plates(plate, valid):
    assert plate_automaton().matches(encode(plate)) == valid == is_valid_plate(plate)


@st.composite
def plate_like_strings(draw):
    """Valid plates, then a few random edits (substitute, insert, delete) to probe the edges."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    chars = list(random_plate(rng, draw(st.sampled_from(KINDS))))
    for _ in range(draw(st.integers(0, 2))):
        edit = draw(st.sampled_from(["sub", "insert", "delete"]))
        position = draw(st.integers(0, len(chars) - 1))
        symbol = draw(st.sampled_from(SYMBOLS))
        if edit == "sub":
            chars[position] = symbol
        elif edit == "insert":
            chars.insert(position, symbol)
        elif len(chars) > 1:
            del chars[position]
    return "".join(chars)


@given(plate_like_strings())
def test_automaton_agrees_with_validate_plate(text):
    assert plate_automaton().matches(encode(text)) == is_valid_plate(text)


def test_patterns_cover_the_charset_without_the_blank():
    used = set().union(*[position for pattern in plate_patterns() for position in pattern])
    assert 0 not in used and used == set(range(1, NUM_CLASSES))


def test_constrained_decoding_repairs_an_impossible_reading():
    # Frames spell 京AB8C8E, a little doubt between B and 8: three letters in the serial is
    # not a valid standard plate, so the constrained search reads the best valid alternative.
    rng = np.random.default_rng(0)
    text = "京AB8C8E"
    T = 2 * len(text) + 1
    probs = np.full((T, NUM_CLASSES), 1e-4)
    probs[0::2, 0] = 1.0  # blanks between the characters
    for i, index in enumerate(encode(text)):
        probs[2 * i + 1, index] = 0.6
    probs[2 * 2 + 1, encode("8")[0]] = 0.4  # the B might be an 8
    log_probs = log_softmax(np.log(probs) + 0.01 * rng.standard_normal(probs.shape))
    assert decode(greedy_decode(log_probs).labels) == text
    best = constrained_beam_search(log_probs, plate_automaton(), beam_width=16)[0]
    assert decode(best.labels) == "京A88C8E" and is_valid_plate(decode(best.labels))
