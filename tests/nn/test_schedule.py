"""Learning-rate schedules: values at known steps, the optimizer's lr, resuming, errors."""

import math

import numpy as np
import pytest

from minilpr.nn import SGD, Adam, ConstantLR, CosineLR, LinearWarmup, Parameter, StepLR


def sgd(lr=1.0):
    return SGD([Parameter(np.zeros(1))], lr=lr)


def lrs(schedule, steps):
    """The optimizer's learning rate before each of ``steps`` steps."""
    values = []
    for _ in range(steps):
        values.append(schedule.optimizer.lr)
        schedule.step()
    return values


def test_step_lr_values():
    sched = StepLR(sgd(0.8), step_size=2, gamma=0.5)
    assert lrs(sched, 7) == pytest.approx([0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.1])
    assert sched.lr == pytest.approx(0.1) and sched.last_step == 7


def test_cosine_values_at_known_points():
    sched = CosineLR(sgd(1.0), T_max=8, eta_min=0.2)
    assert sched.lr_at(0) == 1.0
    assert sched.lr_at(4) == pytest.approx(0.6)  # halfway: the mean of the two ends
    assert sched.lr_at(2) == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi / 4)) / 2)
    assert sched.lr_at(8) == pytest.approx(0.2)
    assert sched.lr_at(100) == pytest.approx(0.2)  # stays at the bottom


def test_cosine_decreases_monotonically():
    values = lrs(CosineLR(sgd(0.1), T_max=50), 60)
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert values[0] == 0.1 and values[-1] == 0.0


def test_warmup_ramps_linearly_then_follows_the_inner_schedule():
    opt = sgd(1.0)
    sched = LinearWarmup(StepLR(opt, step_size=10, gamma=0.1), warmup_steps=4, start_factor=0.2)
    assert opt.lr == pytest.approx(0.2)  # set at construction, before the first step
    values = lrs(sched, 12)
    assert values[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert values[5:10] == pytest.approx([1.0] * 5)
    assert values[10:] == pytest.approx([0.1, 0.1])
    assert sched.schedule.last_step == 12


def test_warmup_of_cosine_multiplies():
    opt = sgd(1.0)
    sched = LinearWarmup(CosineLR(opt, T_max=10), warmup_steps=5, start_factor=0.5)
    cosine = CosineLR(sgd(1.0), T_max=10)
    for t in range(15):
        factor = 0.5 + 0.5 * min(t, 5) / 5
        assert sched.lr_at(t) == pytest.approx(cosine.lr_at(t) * factor)


def test_schedule_drives_the_optimizer_it_was_given():
    p = Parameter(np.ones(1))
    opt = SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad[...] = 1.0
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.data, [1.0 - 1.0 - 0.5 - 0.25])
    assert opt.lr == 0.125


def test_constant():
    sched = ConstantLR(sgd(0.3))
    assert lrs(sched, 3) == [0.3, 0.3, 0.3]


def test_state_dict_resumes():
    opt = Adam([Parameter(np.zeros(1))], lr=0.01)
    sched = LinearWarmup(CosineLR(opt, T_max=20), warmup_steps=5)
    for _ in range(7):
        sched.step()
    state = sched.state_dict()
    opt2 = Adam([Parameter(np.zeros(1))], lr=0.01)
    sched2 = LinearWarmup(CosineLR(opt2, T_max=20), warmup_steps=5)
    sched2.load_state_dict(state)
    assert opt2.lr == opt.lr and sched2.last_step == 7 and sched2.schedule.last_step == 7
    sched.step()
    sched2.step()
    assert opt2.lr == opt.lr


@pytest.mark.parametrize("make, error, message", [
    (lambda o: StepLR(o, step_size=0), ValueError, "StepLR: step_size must be a positive integer"),
    (lambda o: StepLR(o, step_size=2.5), ValueError, "step_size must be a positive integer"),
    (lambda o: StepLR(o, step_size=2, gamma=0.0), ValueError, "gamma must be positive"),
    (lambda o: CosineLR(o, T_max=0), ValueError, "CosineLR: T_max must be a positive integer"),
    (lambda o: CosineLR(o, T_max=5, eta_min=2.0), ValueError, "eta_min must be in \\[0, lr=1\\]"),
    (lambda o: LinearWarmup(ConstantLR(o), warmup_steps=0), ValueError, "warmup_steps"),
    (lambda o: LinearWarmup(ConstantLR(o), 3, start_factor=0.0), ValueError,
     "start_factor must be in \\(0, 1\\]"),
    (lambda o: LinearWarmup(o, 3), TypeError, "LinearWarmup wraps a Schedule, got SGD"),
    (lambda o: StepLR(o.params, 3), TypeError, "StepLR needs an Optimizer, got list"),
])
def test_bad_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make(sgd(1.0))
