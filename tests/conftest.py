"""Shared test settings: hypothesis profiles and the float64 gradient-check tolerance."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

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

GRAD_TOL = 1e-6


@pytest.fixture
def rng():
    return np.random.default_rng(0)
