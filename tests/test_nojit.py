"""The kernel tests pass with Numba switched off, so every kernel can be stepped through.

With ``NUMBA_DISABLE_JIT=1`` an ``@njit`` function is the plain Python function it decorates:
slow, but a student can put a breakpoint in it. This runs the ``kernel``-marked tests that way,
in a fresh interpreter (the variable must be set before Numba is first imported), with the
small ``nojit`` hypothesis profile from ``tests/conftest.py``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NO_TESTS_COLLECTED = 5  # pytest's exit code when the selection is empty


def kernel_test_files() -> list[Path]:
    """Test files that use the ``kernel`` marker (this file mentions it only in prose)."""
    marker = re.compile(r"pytest\.mark\.kernel\b")
    return [path for path in sorted((ROOT / "tests").rglob("test_*.py"))
            if path.name != Path(__file__).name and marker.search(path.read_text("utf-8"))]


@pytest.mark.slow
def test_kernel_tests_pass_without_jit():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "pytest", "-m", "kernel", "-q", "-p", "no:cacheprovider",
               "tests/"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    code = result.returncode
    if code == NO_TESTS_COLLECTED and not kernel_test_files():
        pytest.skip("no kernel-marked tests exist yet")
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
    assert code == 0, f"kernel tests under NUMBA_DISABLE_JIT=1 exited with {code}:\n{tail}"
