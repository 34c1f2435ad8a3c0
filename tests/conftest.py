"""Shared test settings: hypothesis profiles, the float64 gradient-check tolerance, and one
BLAS thread per test process."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from minilpr.threads import limit_threads

# Gradient checks are slow per example; a few dozen drawn shapes per test find the bugs.
settings.register_profile("default", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
# Without JIT the kernels run as Python loops (tests/test_nojit.py): a few examples suffice.
settings.register_profile("nojit", max_examples=5, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
# Many more examples, for hunting rare failures by hand: HYPOTHESIS_PROFILE=stress pytest ...
settings.register_profile("stress", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
    settings.load_profile("nojit")
else:
    settings.load_profile("ci" if os.environ.get("CI") else "default")

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    """One BLAS thread in every test process: each xdist worker runs this hook too, so
    ``pytest -n 2`` asks two threads of two cores, not four (see minilpr/threads.py); the
    environment passes the count on to the lessons' kernels and other child processes."""
    limit_threads()

GRAD_TOL = 1e-6


@pytest.fixture
def rng():
    return np.random.default_rng(0)
