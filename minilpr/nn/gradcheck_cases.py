"""The cases ``minilpr gradcheck`` runs: every layer, on a small float64 example.

Each case is a function that takes a seeded ``numpy.random.Generator`` and returns
``(target, inputs, options)`` for `minilpr.nn.gradcheck.gradcheck`. Register one with
``@case("Name")``; the command prints a table of the worst error of every tensor.
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

from minilpr.nn.gradcheck import gradcheck

CASES: dict[str, Callable] = {}
TOLERANCE = 1e-6


def case(name: str):
    """Register a gradient-check case under ``name`` (what ``minilpr gradcheck NAME`` takes)."""
    def register(make: Callable) -> Callable:
        if name in CASES:
            raise ValueError(f"gradcheck case {name!r} is registered twice")
        CASES[name] = make
        return make
    return register


def run(names: list[str] | None = None, seed: int = 0) -> list[tuple[str, str, float]]:
    """Run the named cases (all when ``names`` is empty); rows of (case, tensor, rel. error)."""
    unknown = [n for n in names or [] if n not in CASES]
    if unknown:
        raise SystemExit(f"minilpr gradcheck: unknown layer(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(sorted(CASES))}")
    rows = []
    for name in names or list(CASES):
        target, inputs, options = CASES[name](np.random.default_rng(seed))
        for tensor, err in gradcheck(target, inputs, seed=seed, **options).items():
            rows.append((name, tensor, err))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minilpr gradcheck",
        description="Check every layer's hand-written backward against centred differences "
                    f"(float64; pass when the relative error is below {TOLERANCE:g}).")
    parser.add_argument("layers", nargs="*", help="layers to check (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="list the layers and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(CASES))
        return 0
    rows = run(args.layers, seed=args.seed)
    width = max([len(r[0]) for r in rows] + [5])
    twidth = max([len(r[1]) for r in rows] + [6])
    print(f"{'layer':<{width}}  {'tensor':<{twidth}}  {'rel. error':>10}  result")
    failures = 0
    for layer, tensor, err in rows:
        ok = err < TOLERANCE
        failures += not ok
        print(f"{layer:<{width}}  {tensor:<{twidth}}  {err:>10.2e}  {'pass' if ok else 'FAIL'}")
    print(f"{len(rows) - failures} passed, {failures} failed")
    return 1 if failures else 0
