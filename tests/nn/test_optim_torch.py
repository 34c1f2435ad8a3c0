"""Parity with torch.optim and torch.optim.lr_scheduler on identical parameters and gradients."""

import numpy as np
import pytest

from minilpr.nn import (SGD, Adam, AdamW, ConstantLR, CosineLR, LinearWarmup, Parameter, StepLR,
                        clip_grad_norm)

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.85, 0.99), eps=1e-7, weight_decay=0.2)),
]
OURS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-6)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_updates_match_torch_optim(name, kwargs, dtype, tol, rng):
    shapes = [(4, 3, 3, 3), (4,), (5, 7)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [Parameter(a.copy()) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt = OURS[name](ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for _ in range(8):
        for p, t in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad[...] = g
            t.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=tol, atol=tol)


def test_clip_grad_norm_matches_torch(rng):
    grads = [rng.standard_normal(s) * 3 for s in [(3, 4), (7,)]]
    ours = [Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad[...] = g
        t.grad = torch.from_numpy(g.copy())
    total = clip_grad_norm(ours, max_norm=1.5)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, t in zip(ours, theirs):
        # torch divides by (norm + 1e-6); minilpr scales to exactly max_norm.
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-6)


def schedule_pair(make_ours, make_theirs, lr=0.5):
    ours = SGD([Parameter(np.zeros(1))], lr=lr)
    tparam = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tparam], lr=lr)
    return make_ours(ours), ours, make_theirs(topt), topt


@pytest.mark.parametrize("make_ours, make_theirs, steps", [
    (lambda o: StepLR(o, step_size=3, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 20),
    (lambda o: CosineLR(o, T_max=17),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=17), 17),
    (lambda o: CosineLR(o, T_max=10, eta_min=0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01), 10),
    (lambda o: LinearWarmup(ConstantLR(o), warmup_steps=6, start_factor=0.25),
     lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=6), 12),
], ids=["step", "cosine", "cosine-eta-min", "warmup"])
def test_schedules_match_torch(make_ours, make_theirs, steps):
    sched, opt, tsched, topt = schedule_pair(make_ours, make_theirs)
    for _ in range(steps + 1):
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
