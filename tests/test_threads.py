"""`minilpr.threads`: one deliberate BLAS thread count, for this process and its children."""

import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info

from minilpr.threads import ENVIRONMENT, limit_threads, threads_wanted


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_the_suite_runs_with_one_blas_thread_per_worker():
    # tests/conftest.py sets it in every process (each xdist worker runs pytest_configure).
    wanted = threads_wanted()  # 1 unless MINILPR_BLAS_THREADS asks for more
    assert blas_threads() <= {wanted}
    assert all(os.environ[name] == str(wanted) for name in ENVIRONMENT)


def test_limit_threads_sets_this_process_and_the_environment(monkeypatch):
    for name in ENVIRONMENT:
        monkeypatch.setenv(name, "1")
    if not blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library")
    try:
        assert limit_threads(2) == 2
        assert blas_threads() == {2}
        assert os.environ["OPENBLAS_NUM_THREADS"] == "2"
    finally:
        assert limit_threads(1) == 1
    assert blas_threads() == {1}


def test_children_inherit_the_count(monkeypatch):
    for name in ENVIRONMENT:
        monkeypatch.setenv(name, "1")
    code = ("from threadpoolctl import threadpool_info; print(sorted({p['num_threads'] "
            "for p in threadpool_info() if p['user_api'] == 'blas'}))")
    out = subprocess.run([sys.executable, "-c", "import numpy;" + code], capture_output=True,
                         text=True, timeout=60, check=True).stdout.strip()
    assert out in ("[1]", "[]")


def test_the_count_is_read_and_checked(monkeypatch):
    monkeypatch.delenv("MINILPR_BLAS_THREADS", raising=False)
    assert threads_wanted() == 1
    monkeypatch.setenv("MINILPR_BLAS_THREADS", "3")
    assert threads_wanted() == 3 and threads_wanted(2) == 2
    monkeypatch.setenv("MINILPR_BLAS_THREADS", "many")
    with pytest.raises(ValueError, match="MINILPR_BLAS_THREADS must be a positive integer, got "
                                         "'many'"):
        threads_wanted()
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="limit_threads: n must be a positive integer"):
            threads_wanted(bad)
