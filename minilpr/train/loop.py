"""The training loop shared by every model: steps, schedules, evaluation, checkpoints, guards.

A *task* knows its model and its data; the `Trainer` knows how to train anything. One step::

    batch = task.batch(step)              (timed: the share of the step spent waiting for data)
    loss = task.loss_and_backward(batch)  (forward, loss, backward: fills every .grad)
    clip the global gradient norm; each optimizer steps (unless its group is still frozen);
    each schedule steps; step += 1

and around the steps: an evaluation every ``eval_every`` steps (a CSV row, the curves redrawn,
the best-on-validation weights kept), a checkpoint every ``checkpoint_every`` steps and every
``checkpoint_minutes``, and three guards:

* **Ctrl-C** saves a checkpoint and returns; the run resumes from it. A Ctrl-C during the
  parameter update is held back until the update is complete, and one during the forward or
  backward pass is undone (the random generators and batch-norm statistics are put back as
  they were when the step began), so the checkpoint always holds a whole number of steps.
* **A NaN or inf** loss or gradient norm stops the run with `TrainingDiverged`, whose one-line
  message names the step and the last good checkpoint, which is left untouched.
* **Resume** (`Trainer.resume`) restores model, optimizers, schedules, every random generator
  and the step; since batch ``i`` is a pure function of ``(seed, i)``, the resumed run reaches
  bit-identical weights to an uninterrupted one.

With ``time_limit_s`` the run also stops early, evaluated and checkpointed, once its
wall-clock time (counted across resumes) reaches the cap (`RunResult.time_limited`).

The task protocol is `minilpr.train.task.Task` (re-exported here with `ParamGroup`).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from minilpr.nn.optim import AdamW, clip_grad_norm
from minilpr.train.checkpoint import (TrainingState, generator_state, load_checkpoint,
                                      save_checkpoint, set_generator_state)
from minilpr.train.log import RunLog, plot_curves
from minilpr.train.schedules import WarmupCosine
from minilpr.train.task import ParamGroup, Task, module_generators  # noqa: F401 (re-exported)


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN/inf; the message is one line for the user."""


@dataclass(frozen=True)
class TrainConfig:
    """What the loop needs to know; every field is a command-line option.

    Attributes
    ----------
    steps : int
        Optimizer steps in the whole run.
    lr : float
        Peak learning rate (AdamW) of the main group.
    warmup : int
        Warm-up steps (from 10 % of the rate up to all of it).
    final_lr_fraction : float
        The cosine ends at this fraction of the peak rate.
    weight_decay : float
        AdamW's decoupled weight decay.
    clip : float
        Bound on the global gradient norm.
    eval_every : int
        Steps between evaluations (and CSV rows); the last step is always evaluated.
    checkpoint_every : int
        Steps between checkpoints (0: only by time and at the end).
    checkpoint_minutes : float
        Minutes between checkpoints (0: only by step count and at the end).
    """

    steps: int = 1000
    lr: float = 1e-3
    warmup: int = 100
    final_lr_fraction: float = 0.01
    weight_decay: float = 1e-4
    clip: float = 5.0
    eval_every: int = 250
    checkpoint_every: int = 250
    checkpoint_minutes: float = 10.0

    def __post_init__(self):
        for name in ("steps", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, "
                                 f"got {getattr(self, name)}")
        if self.warmup < 0 or self.checkpoint_every < 0 or self.checkpoint_minutes < 0:
            raise ValueError("--warmup, --checkpoint-every and --checkpoint-minutes must be >= 0")
        if not self.lr > 0 or not self.clip > 0:
            raise ValueError(f"--lr and --clip must be positive, got {self.lr} and {self.clip}")


@dataclass
class RunResult:
    """What `Trainer.run` ends with."""

    step: int
    interrupted: bool
    best: float | None
    best_step: int | None
    figures: dict = field(default_factory=dict)
    images_per_s: float = 0.0
    data_wait: float = 0.0
    data_wait_after_first: float = 0.0
    elapsed_s: float = 0.0
    time_limited: bool = False


class Trainer:
    """Train a `Task` under a `TrainConfig`, writing the run into ``out``.

    Files in ``out``: ``checkpoint.npz`` (`minilpr.train.checkpoint`), ``best.npz``
    (``task.save_best``), ``log.csv`` and ``curves.png`` (`minilpr.train.log`).

    Parameters
    ----------
    task : Task
    config : TrainConfig
    out : str or Path
    progress : bool
        Show a tqdm bar (loss, images/s, data-wait share, ETA).
    resume_hint : str
        The command that resumes this run, printed after Ctrl-C.
    say : callable
        Where one-line messages go (``print`` by default).
    plot : bool
        Redraw ``curves.png`` after every evaluation (a second or two each on a busy laptop).
    time_limit_s : float, optional
        A wall-clock cap: once the run's elapsed time (including the time before a resume)
        reaches it, the step in hand is finished, evaluated and checkpointed, and `run`
        returns with ``time_limited`` set, before ``config.steps``.
    """

    def __init__(self, task: Task, config: TrainConfig, out, progress: bool = True,
                 resume_hint: str = "", say=print, plot: bool = True,
                 time_limit_s: float | None = None):
        self.task = task
        self.config = config
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self.resume_hint = resume_hint
        self.say = say
        self.plot = plot
        if time_limit_s is not None and not time_limit_s > 0:
            raise ValueError(f"Trainer: time_limit_s must be positive, got {time_limit_s}")
        self.time_limit_s = time_limit_s
        self.groups = task.param_groups()
        self.optimizers = {}
        self.schedules = {}
        for group in self.groups:
            optimizer = AdamW(group.params, lr=config.lr * group.lr_scale,
                              weight_decay=config.weight_decay)
            self.optimizers[group.name] = optimizer
            self.schedules[group.name] = WarmupCosine(
                optimizer, config.steps, config.warmup, config.final_lr_fraction,
                group.start_step)
        self.step = 0
        self.best = None
        self.best_step = None
        self.elapsed = 0.0
        self.saved_step = None
        self.log = RunLog(self.out / "log.csv")
        self._critical = False
        self._pending_interrupt = False

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.npz"

    @property
    def best_path(self) -> Path:
        return self.out / "best.npz"

    def state(self) -> TrainingState:
        """The whole training state now (copies)."""
        return TrainingState(
            step=self.step, model=self.task.model.state_dict(),
            optimizers={name: opt.state_dict() for name, opt in self.optimizers.items()},
            schedules={name: s.state_dict() for name, s in self.schedules.items()},
            rngs={name: generator_state(g) for name, g in self.task.rngs().items()},
            config={"train": asdict(self.config), "task": self.task.config()},
            best=self.best,
            extra={"best_step": self.best_step, "elapsed_s": self.elapsed,
                   "best_metric": self.task.best_metric})

    def save(self) -> Path:
        """Write ``checkpoint.npz`` (atomically) and remember its step."""
        save_checkpoint(self.checkpoint_path, self.state())
        self.saved_step = self.step
        return self.checkpoint_path

    def resume(self, path=None) -> None:
        """Restore everything from a checkpoint (``out/checkpoint.npz`` by default)."""
        path = self.checkpoint_path if path is None else Path(path)
        state = load_checkpoint(path)
        self.task.model.load_state_dict(state.model)
        for name, optimizer in self.optimizers.items():
            if name not in state.optimizers:
                raise ValueError(f"{path}: no state for optimizer {name!r} (it has "
                                 f"{sorted(state.optimizers)}); was it saved by another recipe?")
            optimizer.load_state_dict(state.optimizers[name])
            self.schedules[name].load_state_dict(state.schedules[name])
        generators = self.task.rngs()
        missing = sorted(set(generators) - set(state.rngs))
        if missing:
            raise ValueError(f"{path}: no saved state for the random generators {missing}")
        for name, rng in generators.items():
            set_generator_state(rng, state.rngs[name])
        self.step = state.step
        self.best = state.best
        self.best_step = state.extra.get("best_step")
        self.elapsed = float(state.extra.get("elapsed_s", 0.0))
        self.saved_step = state.step
        self.log.truncate_after(self.step)

    def _snapshot(self):
        """What a forward/backward pass changes besides ``.grad``: generators and buffers."""
        return ({name: generator_state(g) for name, g in self.task.rngs().items()},
                {name: np.array(b, copy=True) for name, b in self.task.model.named_buffers()})

    def _restore(self, snapshot) -> None:
        generators, buffers = snapshot
        for name, rng in self.task.rngs().items():
            set_generator_state(rng, generators[name])
        self.task.model.load_state_dict(buffers, strict=False)

    def run(self) -> RunResult:
        """Train from ``self.step`` to ``config.steps``; returns after the end or a Ctrl-C.

        Raises
        ------
        TrainingDiverged
            On a NaN/inf loss or gradient norm (nothing is saved; the last checkpoint stays).
        """
        cfg = self.config
        progress = _progress_bar(self.progress, cfg.steps, self.step)
        window = _Window()
        figures = {}
        interrupted = time_limited = False
        previous_handler = self._install_sigint()
        last_save = time.monotonic()
        started = time.perf_counter() - self.elapsed
        in_step = False
        try:
            self.task.open(self.step)
            while self.step < cfg.steps:
                snapshot = self._snapshot()
                in_step = True
                step_start = time.perf_counter()
                batch = self.task.batch(self.step)
                waited = time.perf_counter() - step_start
                for group in self.groups:
                    group.frozen = self.step < group.start_step
                self.task.model.train()
                self.task.model.zero_grad()
                loss = float(self.task.loss_and_backward(batch))
                if not math.isfinite(loss):
                    raise TrainingDiverged(self._diverged(f"the loss is {loss}"))
                self._critical = True
                norm = self._update()
                in_step = False
                self._critical = False
                if self._pending_interrupt:
                    raise KeyboardInterrupt
                self.elapsed = time.perf_counter() - started
                window.add(loss, norm, self.task.batch_images(batch),
                           time.perf_counter() - step_start, waited)
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix_str(window.postfix(), refresh=False)
                evaluated = self.step % cfg.eval_every == 0 or self.step == cfg.steps
                if evaluated:
                    figures = self._evaluate(window)
                if self._checkpoint_due(last_save):
                    self.save()
                    last_save = time.monotonic()
                if self._out_of_time():
                    if not evaluated:
                        figures = self._evaluate(window)
                    time_limited = True
                    break
        except KeyboardInterrupt:
            interrupted = True
            self._critical = self._pending_interrupt = False
            if in_step:
                self._restore(snapshot)
            self.save()
            hint = f"; resume with: {self.resume_hint}" if self.resume_hint else ""
            self.say(f"interrupted: saved step {self.step} to {self.checkpoint_path}{hint}")
        finally:
            _restore_sigint(previous_handler)
            if progress is not None:
                progress.close()
            self.task.close()
        if not interrupted and self.saved_step != self.step:
            self.save()
        return RunResult(step=self.step, interrupted=interrupted, best=self.best,
                         best_step=self.best_step, figures=figures,
                         images_per_s=window.total_images_per_s(),
                         data_wait=window.total_wait_share(),
                         data_wait_after_first=window.wait_share_after_first(),
                         elapsed_s=self.elapsed, time_limited=time_limited)

    def _out_of_time(self) -> bool:
        return self.time_limit_s is not None and self.step < self.config.steps \
            and self.elapsed >= self.time_limit_s

    def _update(self) -> float:
        """Clip, step every unfrozen optimizer, step every schedule; the norm before clipping."""
        active = [p for g in self.groups if not g.frozen for p in g.params]
        norm = clip_grad_norm(active, self.config.clip)
        if not math.isfinite(norm):
            self._critical = False
            raise TrainingDiverged(self._diverged(f"the gradient norm is {norm}"))
        for group in self.groups:
            if not group.frozen:
                self.optimizers[group.name].step()
            self.schedules[group.name].step()
        self.step += 1
        return norm

    def _diverged(self, what: str) -> str:
        if self.saved_step is None:
            kept = "no checkpoint had been written yet"
        else:
            kept = f"the last good checkpoint {self.checkpoint_path} (step {self.saved_step}) " \
                   "is intact"
        return f"step {self.step + 1}: {what}; training stopped, {kept}"

    def _checkpoint_due(self, last_save: float) -> bool:
        cfg = self.config
        if self.step == cfg.steps:
            return True
        if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
            return True
        return bool(cfg.checkpoint_minutes) and \
            time.monotonic() - last_save >= 60 * cfg.checkpoint_minutes

    def _evaluate(self, window: "_Window") -> dict:
        try:
            figures = dict(self.task.evaluate())
        finally:
            self.task.model.train()
        row = {"step": self.step, "elapsed_s": round(self.elapsed, 1),
               "lr": self.optimizers[self.groups[0].name].lr, **window.row(), **figures}
        self.log.append(row)
        if self.plot:
            plot_curves(self.log.rows(), self.out / "curves.png")
        figure = figures.get(self.task.best_metric)
        if figure is not None and math.isfinite(figure) and (self.best is None
                                                              or figure > self.best):
            self.best, self.best_step = float(figure), self.step
            # Written beside, then renamed: a kill mid-write keeps the previous best weights.
            temp = self.best_path.with_name(".best.partial.npz")
            try:
                self.task.save_best(temp, figures, self.step)
                os.replace(temp, self.best_path)
            finally:
                temp.unlink(missing_ok=True)
        window.reset_row()
        return figures

    def _install_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def on_sigint(signum, frame):
            # Inside the parameter update, finish it first: the checkpoint needs whole steps.
            if self._critical:
                self._pending_interrupt = True
            else:
                raise KeyboardInterrupt

        return signal.signal(signal.SIGINT, on_sigint)


def _restore_sigint(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def _progress_bar(show: bool, total: int, initial: int):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, smoothing=0.1)


class _Window:
    """Running sums for the progress bar, the CSV row (since the last row) and the whole run."""

    def __init__(self):
        self.total_images = self.total_time = self.total_wait = 0.0
        self.first = None  # (seconds, waited) of the first step: it waits for workers to start
        self.recent = []
        self.reset_row()

    def reset_row(self):
        self.losses, self.norms = [], []
        self.images = self.time = self.wait = 0.0

    def add(self, loss, norm, images, seconds, waited):
        if self.first is None:
            self.first = (seconds, waited)
        self.losses.append(loss)
        self.norms.append(norm)
        self.images += images
        self.time += seconds
        self.wait += waited
        self.total_images += images
        self.total_time += seconds
        self.total_wait += waited
        self.recent = (self.recent + [(loss, images, seconds, waited)])[-20:]

    def postfix(self) -> str:
        loss = sum(r[0] for r in self.recent) / len(self.recent)
        seconds = sum(r[2] for r in self.recent)
        images = sum(r[1] for r in self.recent)
        wait = sum(r[3] for r in self.recent)
        return f"loss={loss:.4g} img/s={images / seconds:.0f} data-wait={100 * wait / seconds:.0f}%"

    def row(self) -> dict:
        return {"loss": sum(self.losses) / max(1, len(self.losses)),
                "grad_norm": sum(self.norms) / max(1, len(self.norms)),
                "images_per_s": self.images / self.time if self.time else 0.0,
                "data_wait": self.wait / self.time if self.time else 0.0}

    def total_images_per_s(self) -> float:
        return self.total_images / self.total_time if self.total_time else 0.0

    def total_wait_share(self) -> float:
        return self.total_wait / self.total_time if self.total_time else 0.0

    def wait_share_after_first(self) -> float:
        """The data-wait share without the first step (which waits for the workers' start)."""
        if self.first is None or self.total_time <= self.first[0]:
            return 0.0
        return (self.total_wait - self.first[1]) / (self.total_time - self.first[0])
