"""What a model's training supplies to the shared loop: a `Task` and its `ParamGroup` s.

The `Trainer` (`minilpr.train.loop`) knows how to train anything; a task knows one model and
its data. It has ``model`` (a Module: its ``state_dict`` is checkpointed) and ``best_metric``
(which of its validation figures decides the best weights; higher is better), and answers:

    param_groups()               the parameters, one optimizer and schedule per group
    open(start_step)             before the first step: start data workers, build val sets
    batch(step)                  the batch of a step: a pure function of (seed, step)
    batch_images(batch)          images in it, for images/s
    loss_and_backward(batch)     forward, loss, backward (fills every .grad); the float loss
    evaluate()                   validation figures, model in eval mode
    save_best(path, figures, step), close(), config(), rngs()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minilpr.nn.module import Module, Parameter


@dataclass
class ParamGroup:
    """Parameters trained by one optimizer.

    Attributes
    ----------
    name : str
        Names the optimizer and schedule in checkpoints (``"model"``, ``"stn"``).
    params : list of Parameter
    lr_scale : float
        The group's learning rate is ``lr_scale * TrainConfig.lr``.
    start_step : int
        The group is frozen (not updated) before this step, then warms up on its own.
    frozen : bool
        Set by the trainer before every step; a task may skip work for a frozen group.
    """

    name: str
    params: list[Parameter]
    lr_scale: float = 1.0
    start_step: int = 0
    frozen: bool = False


class Task:
    """The protocol a model's training implements, with the defaults most tasks keep.

    Subclasses set ``model`` (a Module: its ``state_dict`` is checkpointed) and
    ``best_metric`` (the key of `evaluate`'s figures that decides the best weights; higher
    is better), and write `param_groups`, `batch`, `loss_and_backward` and `evaluate`.
    """

    model: Module
    best_metric: str = "accuracy"

    def param_groups(self) -> list[ParamGroup]:
        """The parameters, split into optimizer groups."""
        return [ParamGroup("model", self.model.parameters())]

    def open(self, start_step: int) -> None:
        """Called once before the first step (``start_step`` > 0 when resuming)."""

    def batch(self, step: int):
        """The batch of ``step``: a pure function of the run's seed and ``step``."""
        raise NotImplementedError

    def batch_images(self, batch) -> int:
        """How many images ``batch`` holds (for images/s)."""
        return len(batch[0])

    def loss_and_backward(self, batch) -> float:
        """Forward, loss and backward on ``batch``: fill every parameter's ``.grad``."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, float]:
        """Validation figures (model in eval mode; the trainer switches back to training)."""
        raise NotImplementedError

    def save_best(self, path: Path, figures: dict, step: int) -> None:
        """Keep the current weights as the best so far (default: the state dict as .npz)."""
        np.savez(path, **self.model.state_dict())

    def close(self) -> None:
        """Called once after the last step, also after an error or Ctrl-C."""

    def config(self) -> dict:
        """The task's configuration, JSON-able, saved in every checkpoint."""
        return {}

    def rngs(self) -> dict[str, np.random.Generator]:
        """Every random generator whose state must survive a resume (default: the model's)."""
        return module_generators(self.model)


def module_generators(model: Module) -> dict[str, np.random.Generator]:
    """Every ``numpy.random.Generator`` held by ``model`` or its submodules, by dotted name."""
    found = {}
    for module_name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"{module_name}.{attr}" if module_name else attr] = value
    return found
