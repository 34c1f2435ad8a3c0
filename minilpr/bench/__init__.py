"""Benchmarks, one module per family: ``minilpr bench NAME`` runs ``minilpr.bench.NAME.main``.

Benchmarks report numbers; they are not timed tests. Run them with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset (see docs/performance.md) and report the BLAS kernel that ran.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in names:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"minilpr bench: unknown benchmark {argv[0]!r}", file=sys.stderr)
        print(f"usage: minilpr bench {{{','.join(names)}}} [ARGS...]")
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return int(importlib.import_module(f"minilpr.bench.{argv[0]}").main(argv[1:]) or 0)
