"""The plate grammar automaton accepts exactly what ``validate_plate`` accepts."""

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.data.charset import (CHARS, KINDS, NUM_CLASSES, decode, encode, is_valid_plate,
                                  random_plate)
from minilpr.data.grammar import plate_patterns
from minilpr.models.plate_ctc import plate_automaton
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


def test_the_old_import_path_warns_and_gives_the_same_automaton():
    import minilpr.data.grammar as grammar
    with pytest.warns(DeprecationWarning, match="moved to minilpr.models.plate_ctc"):
        assert grammar.plate_automaton is plate_automaton
    with pytest.raises(AttributeError, match="no attribute 'plate_automata'"):
        grammar.plate_automata


def imported_modules(tree: ast.AST):
    """Every module a source file imports, except inside a module ``__getattr__`` (the lazy
    compatibility path of an old name, taken only when that name is asked for)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        yield from imported_modules(node)


def test_data_and_nn_import_nothing_from_each_other():
    # The grammar used to be the one edge from data into nn; now models/plate_ctc.py joins them.
    root = Path(__file__).parents[2] / "minilpr"
    for package, forbidden in (("nn", ("minilpr.data", "minilpr.models")),
                               ("data", ("minilpr.nn", "minilpr.models"))):
        for path in sorted((root / package).rglob("*.py")):
            for module in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
                assert not module.startswith(forbidden), \
                    f"{path.relative_to(root)} imports {module}"
