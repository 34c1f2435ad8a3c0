"""What every benchmark shares: its argument parser, a timer, the machine's GEMM rate and the
BLAS that ran."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable

import numpy as np


class BenchParser(argparse.ArgumentParser):
    """An argument parser whose every error is one line on stderr and exit status 2
    (argparse's own prints the usage first)."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer of at least 1 (a batch, a count, a repeat)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def best_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """The best of ``repeat`` wall-clock timings of ``fn()``, in seconds, after ``warmup`` calls.

    The minimum, not the mean: noise from other processes only ever adds time.
    """
    if repeat < 1:
        raise ValueError(f"best_time: repeat must be at least 1, got {repeat}")
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def gemm_gflops(n: int = 1024, dtype=np.float32, repeat: int = 5) -> float:
    """The machine's own matrix-product rate: GFLOP/s of an n×n by n×n product through BLAS."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    seconds = best_time(lambda: np.matmul(a, b, out=out), repeat=repeat)
    return 2 * n**3 / seconds / 1e9


def blas_description() -> str:
    """Which BLAS library, kernel (architecture) and thread count numpy is using."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see the BLAS kernel)"
    entries = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not entries:
        return "no BLAS found by threadpoolctl"
    i = entries[0]
    return (f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}, "
            f"{i.get('num_threads')} threads")
