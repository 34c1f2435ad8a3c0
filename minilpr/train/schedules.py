"""The learning-rate curve of a run: warm-up, then half a cosine; optionally a late start.

With ``b`` the base rate, ``W`` the warm-up steps, ``S`` the step a group starts training at
(0 for most) and ``T`` the run's length::

    lr(t) = 0                                             t < S   (the group is frozen)
    lr(t) = b * ramp(t - S) * cosine(t)                   t >= S
    ramp(u) = 0.1 + 0.9 * min(u, W) / W,   cosine(t) = m + (1 - m) * (1 + cos(pi t / T)) / 2

``m`` is the final rate as a fraction of ``b``. A group released late (the spatial transformer
after the recogniser has learnt to read) gets its own warm-up from ``S`` on: Adam's first steps
move every weight by about ``lr``, which would throw a trained localisation net off at once.
"""

from __future__ import annotations

import math

from minilpr.nn.optim import Optimizer
from minilpr.nn.schedule import Schedule


class WarmupCosine(Schedule):
    """``lr(t)`` of the module docstring for one optimizer.

    Parameters
    ----------
    optimizer : Optimizer
        Its current ``lr`` is the base rate ``b``.
    total_steps : int
        ``T``, the run's length in steps.
    warmup_steps : int
        ``W``; 0 for no warm-up.
    final_fraction : float
        ``m``, in [0, 1].
    start_step : int
        ``S``; the rate is 0 before it.
    """

    start_factor = 0.1

    def __init__(self, optimizer: Optimizer, total_steps: int, warmup_steps: int = 0,
                 final_fraction: float = 0.01, start_step: int = 0):
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"WarmupCosine: total_steps must be a positive integer, "
                             f"got {total_steps!r}")
        if not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"WarmupCosine: warmup_steps must be >= 0, got {warmup_steps!r}")
        if not 0 <= final_fraction <= 1:
            raise ValueError(f"WarmupCosine: final_fraction must be in [0, 1], "
                             f"got {final_fraction!r}")
        if not isinstance(start_step, int) or start_step < 0:
            raise ValueError(f"WarmupCosine: start_step must be >= 0, got {start_step!r}")
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.final_fraction = float(final_fraction)
        self.start_step = start_step
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        if step < self.start_step:
            return 0.0
        since_start = step - self.start_step
        ramp = 1.0
        if self.warmup_steps:
            ramp = self.start_factor + (1 - self.start_factor) * min(
                since_start, self.warmup_steps) / self.warmup_steps
        progress = min(step, self.total_steps) / self.total_steps
        m = self.final_fraction
        cosine = m + (1 - m) * (1 + math.cos(math.pi * progress)) / 2
        return self.base_lr * ramp * cosine
