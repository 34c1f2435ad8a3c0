"""One word picks the module that does the job: how ``minilpr`` and ``minilpr train`` dispatch.

It sits beside ``cli`` and imports nothing of minilpr, so any room of the house may use it.
"""

from __future__ import annotations

import importlib
import sys


def dispatch(prog: str, table: dict, argv: list[str], usage_text: str, noun: str) -> int:
    """Hand ``argv[1:]`` to the ``main`` of the module ``table`` names for ``argv[0]``.

    ``table`` maps a word to ``(module, one-line help)``; no word (or ``-h``) prints
    ``usage_text``; an unknown word, or a module this copy of minilpr lacks, is one line on
    stderr and exit status 2. ``minilpr`` and ``minilpr train`` both dispatch this way.
    """
    if not argv or argv[0] in ("-h", "--help"):
        print(usage_text)
        return 0
    word, rest = argv[0], argv[1:]
    if word not in table:
        print(f"{prog}: unknown {noun} {word!r}\n\n{usage_text}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(table[word][0])
    except ModuleNotFoundError as error:
        if error.name != table[word][0]:
            raise
        print(f"{prog} {word}: not available in this version ({error})", file=sys.stderr)
        return 2
    return int(module.main(rest) or 0)
