"""Learning-rate schedules: the learning rate as a function of the step number.

A schedule is a pure function ``lr_at(step)`` plus the small bookkeeping that applies it: built
on an optimizer, it remembers the optimizer's learning rate as ``base_lr``; each ``step()``
(call it once per optimizer step, after ``optimizer.step()``) advances the counter and writes
``optimizer.lr = lr_at(counter)``. With ``b`` = base_lr and ``t`` the step::

    ConstantLR     lr(t) = b
    StepLR         lr(t) = b * gamma ** (t // step_size)
    CosineLR       lr(t) = eta_min + (b - eta_min) * (1 + cos(pi * t / T_max)) / 2,  t <= T_max
                   lr(t) = eta_min                                                  t >  T_max
    LinearWarmup   lr(t) = inner(t) * (f + (1 - f) * min(t, warmup_steps) / warmup_steps)

Large steps early in training can throw freshly initialised weights (and batch norm's running
statistics) far off; a warm-up starts small and ramps up linearly. Late in training, a smaller
step lets the parameters settle into the minimum instead of bouncing around it: hence the step
decay or the cosine.

The values match ``torch.optim.lr_scheduler``'s StepLR, CosineAnnealingLR (which, unlike
CosineLR, climbs back up after ``T_max``) and LinearLR (whose factors LinearWarmup multiplies
in, as PyTorch's ChainedScheduler does).
"""

from __future__ import annotations

import math

from minilpr.nn.optim import Optimizer


class Schedule:
    """The bookkeeping: ``base_lr``, the step counter ``last_step`` and applying ``lr_at``.

    Subclasses write only `lr_at`.
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_step = 0
        self.optimizer.lr = self.lr_at(0)

    def lr_at(self, step: int) -> float:
        """The learning rate after ``step`` calls of `step` (a pure function of ``step``)."""
        raise NotImplementedError

    @property
    def lr(self) -> float:
        """The learning rate in force now."""
        return self.lr_at(self.last_step)

    def step(self) -> None:
        """Advance one step and set the optimizer's learning rate."""
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)

    def state_dict(self) -> dict:
        return {"last_step": self.last_step, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> None:
        """Resume: restore the counter and base rate, and set the optimizer's rate to match."""
        self.last_step = int(state["last_step"])
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.lr_at(self.last_step)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_step={self.last_step}, lr={self.lr:g})"


def _check_positive_int(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


class ConstantLR(Schedule):
    """``lr(t) = base_lr``: the schedule to wrap when a warm-up is all that is wanted."""

    def lr_at(self, step: int) -> float:
        return self.base_lr


class StepLR(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Steps between two decays.
    gamma : float
        The factor, in (0, 1] for a decay.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        _check_positive_int("StepLR", "step_size", step_size)
        if not gamma > 0:
            raise ValueError(f"StepLR: gamma must be positive, got {gamma!r}")
        self.step_size = step_size
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineLR(Schedule):
    """Half a cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` steps, then flat.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Steps from the start to the bottom (PyTorch's name).
    eta_min : float
        The final learning rate.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        _check_positive_int("CosineLR", "T_max", T_max)
        if not 0 <= eta_min <= optimizer.lr:
            raise ValueError(f"CosineLR: eta_min must be in [0, lr={optimizer.lr:g}], "
                             f"got {eta_min!r}")
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        progress = min(step, self.T_max) / self.T_max  # 0 → 1, then stays at the bottom
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


class LinearWarmup(Schedule):
    """Ramp another schedule's rate up linearly over the first ``warmup_steps`` steps.

    The factor goes from ``start_factor`` at step 0 to 1 at ``warmup_steps`` and multiplies
    the wrapped schedule's value, which keeps running meanwhile (it is not delayed).

    Parameters
    ----------
    schedule : Schedule
        The schedule to warm up (`ConstantLR` for none); it is driven by this wrapper, so
        call ``step()`` on the wrapper only.
    warmup_steps : int
    start_factor : float
        The fraction of the rate used on the very first step, in (0, 1].
    """

    def __init__(self, schedule: Schedule, warmup_steps: int, start_factor: float = 0.1):
        if not isinstance(schedule, Schedule):
            raise TypeError(f"LinearWarmup wraps a Schedule, got {type(schedule).__name__}")
        _check_positive_int("LinearWarmup", "warmup_steps", warmup_steps)
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearWarmup: start_factor must be in (0, 1], got {start_factor!r}")
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self.start_factor = float(start_factor)
        super().__init__(schedule.optimizer)
        self.base_lr = schedule.base_lr

    def lr_at(self, step: int) -> float:
        ramp = min(step, self.warmup_steps) / self.warmup_steps
        factor = self.start_factor + (1.0 - self.start_factor) * ramp
        return self.schedule.lr_at(step) * factor

    def step(self) -> None:
        super().step()
        self.schedule.last_step = self.last_step  # keep the wrapped schedule's counter in sync

    def state_dict(self) -> dict:
        return {**super().state_dict(), "inner": self.schedule.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.schedule.load_state_dict(state["inner"])
        super().load_state_dict(state)
