"""One switch for lessons and demos: full size for students, a small budget under the tests.

The test suite sets ``MINILPR_FAST=1`` before it executes the lesson notebooks; a lesson asks
``budget(full=2000, fast_value=50)`` wherever a number of steps, samples or epochs is chosen.
"""

from __future__ import annotations

import os


def fast() -> bool:
    """True when the small budget is asked for (``MINILPR_FAST`` set to anything but 0)."""
    return os.environ.get("MINILPR_FAST", "0") not in ("", "0")


def budget(full, fast_value):
    """``fast_value`` under the test suite, ``full`` otherwise.

    Examples
    --------
    >>> import os
    >>> os.environ["MINILPR_FAST"] = "1"
    >>> budget(full=2000, fast_value=50)
    50
    >>> os.environ["MINILPR_FAST"] = "0"
    >>> budget(full=2000, fast_value=50)
    2000
    """
    return fast_value if fast() else full
