"""The argument checks that several layers share: a size given as one int or a pair, and a
floating-point array.

Each raises one line naming the argument: a ``TypeError`` for the wrong kind of value, a
``ValueError`` for a value of the right kind out of range.
"""

from __future__ import annotations

import numpy as np


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def pair(value, name: str, low: int | None = None) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 1) -> (2, 1)``: a (height, width) size from an int or a pair.

    Parameters
    ----------
    value : int or (int, int)
    name : str
        How the error names the argument, e.g. ``"Conv2d: stride"``.
    low : int, optional
        The smallest value allowed for each entry (1: positive sizes).

    Raises
    ------
    TypeError
        ``value`` is neither an int nor a pair of ints.
    ValueError
        An entry is below ``low``.
    """
    if _is_int(value):
        result = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_int, value)):
        result = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
    if low is not None and min(result) < low:
        wanted = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"{name} must be {wanted} or a pair of them, got {value!r}")
    return result


def check_float(name: str, a) -> np.ndarray:
    """Return ``a`` if it is a floating-point ndarray; else a one-line ``TypeError``."""
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point ndarray, got "
                        f"{getattr(a, 'dtype', type(a).__name__)}")
    return a
