"""WarmupCosine: the library's LinearWarmup(CosineLR) from step 0; zero, then its own warm-up,
for a late group."""

import math

import numpy as np
import pytest

from minilpr.nn import Adam, CosineLR, LinearWarmup, Parameter
from minilpr.train.schedules import WarmupCosine


def optimizer(lr=0.1):
    return Adam([Parameter(np.zeros(2, np.float32))], lr=lr)


def test_matches_linear_warmup_of_cosine():
    ours = WarmupCosine(optimizer(), total_steps=50, warmup_steps=7, final_fraction=0.05)
    opt = optimizer()
    library = LinearWarmup(CosineLR(opt, T_max=50, eta_min=0.1 * 0.05), 7, start_factor=0.1)
    for step in range(60):
        assert math.isclose(ours.lr_at(step), library.lr_at(step), rel_tol=1e-12), step


def test_late_start_is_zero_then_warms_up():
    s = WarmupCosine(optimizer(), total_steps=100, warmup_steps=10, final_fraction=0.0,
                     start_step=40)
    assert all(s.lr_at(t) == 0 for t in range(40))
    cosine = lambda t: (1 + math.cos(math.pi * t / 100)) / 2
    assert math.isclose(s.lr_at(40), 0.1 * 0.1 * cosine(40))
    assert math.isclose(s.lr_at(50), 0.1 * cosine(50))
    assert s.lr_at(100) == 0


def test_state_round_trip_sets_the_rate():
    a = WarmupCosine(optimizer(), total_steps=20, warmup_steps=5)
    for _ in range(8):
        a.step()
    b_opt = optimizer()
    b = WarmupCosine(b_opt, total_steps=20, warmup_steps=5)
    b.load_state_dict(a.state_dict())
    assert b_opt.lr == a.optimizer.lr == a.lr_at(8)


@pytest.mark.parametrize("bad", [dict(total_steps=0), dict(warmup_steps=-1),
                                 dict(final_fraction=2.0), dict(start_step=-3)])
def test_refuses_bad_arguments(bad):
    with pytest.raises(ValueError, match="WarmupCosine"):
        WarmupCosine(optimizer(), **{"total_steps": 10, **bad})
