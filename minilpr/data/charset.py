"""The characters a Chinese plate can carry, their class indices, and the rules of plate numbers.

One table serves the whole project: the recogniser's K output classes are the entries of
``CHARS``, index 0 is the CTC blank, and every label on disk is turned into indices by
``encode``. The table, in order::

    0          blank (CTC)            "-" stands for it in printouts; never part of a plate
    1  .. 31   provinces              京 津 沪 渝 冀 豫 云 辽 黑 湘 皖 鲁 新 苏 浙 赣
                                      鄂 桂 甘 晋 蒙 陕 吉 闽 贵 粤 青 藏 川 宁 琼
    32 .. 55   letters                A–Z without I and O (they read like 1 and 0)
    56 .. 65   digits                 0–9
    66 .. 70   specials               学 警 挂 港 澳

Plate numbers (GA 36-2007 for the 7-character plates, GA 36-2018 for new-energy plates):

- standard (blue small-car plate, yellow large-vehicle plate), 7 characters: province, the
  issuing-office letter, then a 5-character serial of letters and digits with at most two
  letters (the rule the traffic police apply to self-chosen numbers; real serials keep to it).
- new-energy small car (gradient green), 8 characters: province, letter, then D or F
  (D pure electric, F not purely electric), one letter or digit, four digits.
- new-energy large vehicle (yellow-green), 8 characters: province, letter, five digits, D or F.
- specials, always the 7th and last character after a 4-character serial of letters and digits:
  学 coach car of a driving school (yellow plate), 挂 trailer (yellow), 警 police (white plate,
  the 警 in red), 港 / 澳 cross-border vehicles from Hong Kong / Macau (black plate, 粤Z only).

Not covered: embassy and consulate plates (使 领), military and armed-police plates, the
double-province 民航 plates, and the 2022 extension of new-energy serial letters beyond D/F.
"""

from __future__ import annotations

import numpy as np

BLANK = 0
BLANK_TOKEN = "-"

PROVINCES = list("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
LETTERS = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "IO"]
DIGITS = list("0123456789")
SPECIALS = list("学警挂港澳")

CHARS = [BLANK_TOKEN] + PROVINCES + LETTERS + DIGITS + SPECIALS
NUM_CLASSES = len(CHARS)
CHAR_TO_INDEX = {c: i for i, c in enumerate(CHARS) if i != BLANK}

ALPHANUMERICS = LETTERS + DIGITS
NEW_ENERGY_MARKS = ["D", "F"]

# plate type -> (number of characters, colour kind the plate is printed in)
PLATE_TYPES = {
    "standard": (7, "blue or yellow"),
    "new_energy_small": (8, "green"),
    "new_energy_large": (8, "yellow-green"),
    "coach": (7, "yellow"),
    "trailer": (7, "yellow"),
    "police": (7, "white"),
    "hong_kong": (7, "black"),
    "macau": (7, "black"),
}
_SPECIAL_TYPES = {"学": "coach", "挂": "trailer", "警": "police", "港": "hong_kong", "澳": "macau"}

# colour kinds random_plate and the renderer understand
KINDS = ("blue", "yellow", "green", "white", "black")


def encode(text: str) -> np.ndarray:
    """Class indices of the characters of ``text``.

    Parameters
    ----------
    text : str
        A plate number such as ``"京A12345"``; any sequence of charset characters is accepted
        (use ``validate_plate`` to check the plate rules).

    Returns
    -------
    indices : (L,) int32
        ``CHAR_TO_INDEX[c]`` for each character, never the blank.

    Raises
    ------
    ValueError
        Naming the first character outside the charset and its position.
    """
    if not isinstance(text, str):
        raise TypeError(f"encode: expected a str, got {type(text).__name__}")
    out = np.empty(len(text), np.int32)
    for position, char in enumerate(text):
        index = CHAR_TO_INDEX.get(char)
        if index is None:
            raise ValueError(f"encode: character {char!r} (U+{ord(char):04X}) at position "
                             f"{position} of {text!r} is not in the plate charset")
        out[position] = index
    return out


def decode(indices) -> str:
    """The text of blank-free class indices (the inverse of ``encode``).

    Parameters
    ----------
    indices : (L,) int
        Each in ``1 .. NUM_CLASSES - 1``. Collapse a CTC path (drop repeats, then blanks) first.

    Raises
    ------
    ValueError
        On a blank, an index out of range, or a non-integer array.
    """
    indices = np.asarray(indices)
    if indices.ndim != 1:
        raise ValueError(f"decode: expected a 1-D sequence of indices, got shape {indices.shape}")
    if indices.size and not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"decode: expected integer indices, got dtype {indices.dtype}")
    chars = []
    for position, index in enumerate(indices.tolist()):
        if index == BLANK:
            raise ValueError(f"decode: blank (index 0) at position {position}; "
                             "collapse the CTC path before decoding")
        if not 0 < index < NUM_CLASSES:
            raise ValueError(f"decode: index {index} at position {position} is outside "
                             f"1..{NUM_CLASSES - 1}")
        chars.append(CHARS[index])
    return "".join(chars)


def validate_plate(text: str) -> str | None:
    """Why ``text`` is not a valid plate number, or None when it is.

    Examples
    --------
    >>> validate_plate("京A12345") is None
    True
    >>> validate_plate("京A1234")
    'a plate has 7 or 8 characters, got 6'
    """
    if not isinstance(text, str):
        return f"a plate number is a str, got {type(text).__name__}"
    if len(text) not in (7, 8):
        return f"a plate has 7 or 8 characters, got {len(text)}"
    for position, char in enumerate(text):
        if char not in CHAR_TO_INDEX:
            return f"character {char!r} at position {position} is not in the plate charset"
    if text[0] not in PROVINCES:
        return f"position 0 must be a province character, got {text[0]!r}"
    if text[1] not in LETTERS:
        return f"position 1 must be a letter of the issuing office, got {text[1]!r}"
    serial = text[2:]
    if len(text) == 8:
        small = serial[0] in NEW_ENERGY_MARKS and serial[1] in ALPHANUMERICS \
            and all(c in DIGITS for c in serial[2:])
        large = all(c in DIGITS for c in serial[:5]) and serial[5] in NEW_ENERGY_MARKS
        if not (small or large):
            return (f"new-energy serial {serial!r} must be D/F, a letter or digit, four digits "
                    "(small car) or five digits then D/F (large vehicle)")
        return None
    last = serial[-1]
    if last in SPECIALS:
        body = serial[:-1]
        if not all(c in ALPHANUMERICS for c in body):
            return f"serial {body!r} before {last!r} must be letters and digits"
        if last in "港澳" and text[:2] != "粤Z":
            return f"{last!r} plates are issued as 粤Z only, got {text[:2]!r}"
        return None
    if not all(c in ALPHANUMERICS for c in serial):
        return f"serial {serial!r} must be letters and digits only"
    letters = sum(c in LETTERS for c in serial)
    if letters > 2:
        return f"serial {serial!r} has {letters} letters; at most 2 are issued"
    return None


def is_valid_plate(text: str) -> bool:
    """True when ``text`` follows the plate rules (see ``validate_plate``)."""
    return validate_plate(text) is None


def plate_type(text: str) -> str:
    """The plate type of a valid plate number, one of ``PLATE_TYPES``.

    A 7-character number without a special character is ``"standard"``: blue and yellow plates
    share the format, only the colour tells them apart.
    """
    problem = validate_plate(text)
    if problem is not None:
        raise ValueError(f"plate_type: {text!r} is not a valid plate: {problem}")
    if len(text) == 8:
        return "new_energy_small" if text[2] in NEW_ENERGY_MARKS else "new_energy_large"
    return _SPECIAL_TYPES.get(text[-1], "standard")


def _serial(rng: np.random.Generator, length: int, max_letters: int,
            letter_probability: float = 0.2) -> str:
    """``length`` letters and digits; each is a letter with ``letter_probability`` until
    ``max_letters`` letters have been drawn."""
    chars = []
    letters = 0
    for _ in range(length):
        if letters < max_letters and rng.random() < letter_probability:
            chars.append(LETTERS[rng.integers(len(LETTERS))])
            letters += 1
        else:
            chars.append(DIGITS[rng.integers(len(DIGITS))])
    return "".join(chars)


def random_plate(rng: np.random.Generator, kind: str = "blue", province: str | None = None,
                 special: str | None = None) -> str:
    """A random valid plate number for a plate of colour ``kind``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    kind : {"blue", "yellow", "green", "white", "black"}
        blue and yellow: the standard 7-character format (yellow also takes ``special`` 学 or 挂);
        green: a new-energy number, small-car format with probability 0.8, large-vehicle
        otherwise; white: a police number ending in 警; black: 粤Z + 4 + 港 or 澳.
    province : str, optional
        The first character; drawn uniformly from ``PROVINCES`` when None (balanced, unlike real
        data sets, which are dominated by the province where they were photographed).
    special : str, optional
        The last character for yellow (学 or 挂) and black (港 or 澳) plates.
    """
    if kind not in KINDS:
        raise ValueError(f"random_plate: kind must be one of {KINDS}, got {kind!r}")
    if province is None:
        province = PROVINCES[rng.integers(len(PROVINCES))]
    elif province not in PROVINCES:
        raise ValueError(f"random_plate: {province!r} is not one of the 31 province characters")
    allowed = {"yellow": (None, "学", "挂"), "black": (None, "港", "澳")}.get(kind, (None,))
    if special not in allowed:
        raise ValueError(f"random_plate: special {special!r} is not possible on a {kind} plate; "
                         f"choose from {[s for s in allowed if s]}")
    letter = LETTERS[rng.integers(len(LETTERS))]
    if kind == "green":
        mark = NEW_ENERGY_MARKS[rng.integers(2)]
        if rng.random() < 0.8:
            second = ALPHANUMERICS[rng.integers(len(ALPHANUMERICS))] if rng.random() < 0.3 \
                else DIGITS[rng.integers(10)]
            serial = mark + second + "".join(DIGITS[i] for i in rng.integers(10, size=4))
        else:
            serial = "".join(DIGITS[i] for i in rng.integers(10, size=5)) + mark
        return province + letter + serial
    if kind == "white":
        return province + letter + _serial(rng, 4, max_letters=0) + "警"
    if kind == "black":
        return "粤Z" + _serial(rng, 4, max_letters=0) + (special or "港澳"[rng.integers(2)])
    if special is not None:
        return province + letter + _serial(rng, 4, max_letters=1) + special
    return province + letter + _serial(rng, 5, max_letters=2)
