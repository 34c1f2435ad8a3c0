"""The plate-number rules of `minilpr.data.charset` as patterns, for constrained decoding.

`minilpr.nn.decode.constrained_beam_search` reads only strings a grammar accepts; this module
states the rules ``validate_plate`` checks as plain data over the charset's class indices.
Each plate format is a *pattern* — a set of allowed characters per position — and
`minilpr.models.plate_ctc.plate_automaton` builds from them, with `Automaton.from_patterns`,
the automaton that follows all of them at once (so ``data`` imports nothing from ``nn``):

==========================  ===========================================================
standard (blue, yellow)     province, letter, 5 letters/digits with at most 2 letters
coach, trailer, police      province, letter, 4 letters/digits, then 学, 挂 or 警
Hong Kong, Macau            粤, Z, 4 letters/digits, then 港 or 澳
new energy, small (green)   province, letter, D/F, a letter or digit, 4 digits
new energy, large           province, letter, 5 digits, D/F
==========================  ===========================================================

"At most two letters" is not a per-position rule; it becomes the union of ten patterns, one for
each pair of serial positions that may hold a letter (digits everywhere else).
"""

from __future__ import annotations

import warnings
from itertools import combinations

from minilpr.data.charset import (ALPHANUMERICS, CHAR_TO_INDEX, DIGITS, LETTERS,
                                  NEW_ENERGY_MARKS, PROVINCES)


def _indices(chars) -> frozenset:
    return frozenset(CHAR_TO_INDEX[c] for c in chars)


def plate_patterns() -> list[list[frozenset]]:
    """Every plate format as a list of allowed class-index sets, one set per position."""
    province, letter = _indices(PROVINCES), _indices(LETTERS)
    alnum, digit = _indices(ALPHANUMERICS), _indices(DIGITS)
    mark = _indices(NEW_ENERGY_MARKS)
    patterns = []
    for letter_slots in combinations(range(5), 2):
        serial = [alnum if i in letter_slots else digit for i in range(5)]
        patterns.append([province, letter] + serial)
    patterns.append([province, letter] + [alnum] * 4 + [_indices("学挂警")])
    patterns.append([_indices("粤"), _indices("Z")] + [alnum] * 4 + [_indices("港澳")])
    patterns.append([province, letter, mark, alnum] + [digit] * 4)
    patterns.append([province, letter] + [digit] * 5 + [mark])
    return patterns


def __getattr__(name: str):
    """The old home of ``plate_automaton``, kept working with a warning.

    The automaton moved to `minilpr.models.plate_ctc`, where data and nn meet; it is looked up
    there only when this old name is asked for, so importing ``data`` never imports ``nn``.
    """
    if name == "plate_automaton":
        warnings.warn("minilpr.data.grammar.plate_automaton moved to "
                      "minilpr.models.plate_ctc.plate_automaton", DeprecationWarning,
                      stacklevel=2)
        from minilpr.models.plate_ctc import plate_automaton
        return plate_automaton
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
