"""How many threads the maths may use: BLAS (NumPy's matrix products) and Numba, set on purpose.

OpenBLAS threads spin while they wait for work. On a two-core laptop that is also running a
browser (or a second training, or ``pytest -n 2``) two BLAS threads fight the other programs
for the cores and a small matrix product becomes 10-40x slower than with one thread. The
recogniser's products are small (a batch of 32 plates), so one thread loses little even on an
idle machine; `DEFAULT_THREADS` is therefore 1, and ``--threads N`` overrides it. The measured
figures are in docs/training.md ("Threads").
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_info, threadpool_limits

DEFAULT_THREADS = 1

# Keep the limiter alive: threadpoolctl restores the old limits when it is garbage-collected.
_LIMITER = None


def set_threads(n: int | None = None) -> dict:
    """Limit BLAS/OpenMP pools and Numba to ``n`` threads (`DEFAULT_THREADS` when None).

    Parameters
    ----------
    n : int or None
        Threads for every pool; at least 1, at most the machine's CPU count.

    Returns
    -------
    dict
        ``{"threads": n, "blas": [pool names], "numba": threads numba now uses}``, for the log.
    """
    global _LIMITER
    n = DEFAULT_THREADS if n is None else n
    cpus = os.cpu_count() or 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= cpus:
        raise ValueError(f"--threads must be an integer in 1..{cpus} (the CPU count), got {n!r}")
    _LIMITER = threadpool_limits(limits=n)
    numba_threads = _set_numba_threads(n)
    return {"threads": n, "blas": sorted({pool["internal_api"] for pool in threadpool_info()}),
            "numba": numba_threads}


def _set_numba_threads(n: int) -> int:
    import numba

    # Numba cannot go above the count it was started with (NUMBA_NUM_THREADS).
    n = min(n, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    return n

