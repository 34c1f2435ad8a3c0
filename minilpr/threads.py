"""How many threads the BLAS library (NumPy's matrix products) may use: one deliberate number.

OpenBLAS threads spin while they wait for work. On a busy two-core machine two BLAS threads
made the small products of this project 10-40 times slower than one (docs/performance.md), and
two pytest workers with two BLAS threads each ask four threads of two cores. The products here
are small — a batch of plates, a few hundred columns — so one thread per process is the
default; ``MINILPR_BLAS_THREADS`` (or an explicit ``n``) asks for more.

Numba's kernels in this project are single-threaded (no ``parallel=True``), so BLAS (and an
OpenMP runtime, if one is loaded) is all there is to limit.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

# Read by the BLAS and OpenMP runtimes when a process starts: children (a lesson's kernel, a
# fresh interpreter in a test) get the same count.
ENVIRONMENT = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def threads_wanted(n: int | None = None) -> int:
    """``n``, or ``MINILPR_BLAS_THREADS``, or 1 — checked to be a positive integer."""
    value = os.environ.get("MINILPR_BLAS_THREADS", "1") if n is None else n
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1 or isinstance(value, bool) or (not isinstance(value, str) and count != value):
        source = "MINILPR_BLAS_THREADS" if n is None else "limit_threads: n"
        raise ValueError(f"{source} must be a positive integer, got {value!r}")
    return count


def limit_threads(n: int | None = None) -> int:
    """Let BLAS use ``n`` threads from now on, in this process and in the processes it starts.

    Parameters
    ----------
    n : int, optional
        Threads per process; default ``MINILPR_BLAS_THREADS``, else 1.

    Returns
    -------
    int
        The thread count now in force.
    """
    count = threads_wanted(n)
    for name in ENVIRONMENT:
        os.environ[name] = str(count)
    # A process that has not loaded BLAS yet reads the environment when it does; one that has
    # is limited by threadpoolctl, whose limit stays in force when the object is dropped.
    threadpool_limits(limits=count)
    return count
