"""What every ``minilpr train <model>`` command does around its task: resume, record, refuse.

* `resumed_options` -- a resumed run takes its saved options from ``config.json`` and refuses
  a change to any option that decides the maths (its *recipe*);
* `refuse_overwrite` -- a fresh run never starts over an old one;
* `command_line` -- the command that reproduces a run, every recipe option spelt out;
* `write_run_config`, `run_and_report` -- ``config.json`` written, the run made, its summary
  printed (the last line: ``done: step ...``);
* `add_schedule_options`, `add_loop_options` -- the options every trainer takes (the step
  budget, AdamW and its schedule; evaluation, checkpoints, threads, workers), defaults per model.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

from minilpr.train.checkpoint import CheckpointError


def resumed_options(parser: argparse.ArgumentParser, argv: list[str], out: Path,
                    recipe_options: tuple[str, ...]) -> argparse.Namespace:
    """The saved run's options, overridden by those given now; refuses a changed recipe."""
    config_path = out / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{config_path}: no such file; is {out} a training run folder?")
    saved = json.loads(config_path.read_text(encoding="utf-8"))["options"]
    parser.set_defaults(**{k: v for k, v in saved.items()
                           if k not in ("out", "resume", "no_progress")})
    args = parser.parse_args(argv)
    for name in recipe_options:
        # An option newer than the saved run counts as its default.
        used = saved.get(name, parser.get_default(name))
        if getattr(args, name) != used:
            raise ValueError(f"--resume: --{name.replace('_', '-')} is {getattr(args, name)!r} "
                             f"but the run used {used!r}; a resumed run keeps its recipe")
    return args


def refuse_overwrite(out: Path) -> None:
    """Raise ValueError when ``out`` already holds a run."""
    if (out / "checkpoint.npz").exists():
        raise ValueError(f"{out} already holds a run (checkpoint.npz); continue it with "
                         "--resume, or choose another --out")


def command_line(words: list[str], args: argparse.Namespace, names: tuple[str, ...],
                 skip=lambda name, args: False, multi_value: tuple[str, ...] = ()) -> str:
    """``words`` then ``--name value`` for every option of ``names`` that is set and not
    skipped; a list repeats its flag (``action="append"``), except the options of
    ``multi_value`` (``nargs``), whose values follow one flag (a list of such lists, from
    ``nargs`` with ``action="append"``, repeats the flag per list)."""
    parts = list(words)
    for name in names:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        if value is None or skip(name, args):
            continue
        if name in multi_value:
            groups = value if value and isinstance(value[0], (list, tuple)) else [value]
            for group in groups:
                parts += [flag, *map(str, group)]
            continue
        for item in value if isinstance(value, list) else [value]:
            parts += [flag, str(item)]
    return " ".join(shlex.quote(p) for p in parts)


def add_schedule_options(parser: argparse.ArgumentParser, batch: int, unit: str,
                         weight_decay: float, clip: float, lr_note: str = "") -> None:
    """``--steps --batch --lr --final-lr --warmup --weight-decay --clip``, with this model's
    defaults (``unit`` names what a batch holds: "images", "scenes")."""
    add = parser.add_argument
    add("--steps", type=int, default=20000, help="optimizer steps in the run (default: 20000)")
    add("--batch", type=int, default=batch, help=f"{unit} per step (default: {batch})")
    add("--lr", type=float, default=1e-3,
        help=f"peak learning rate of AdamW (default: 1e-3){lr_note}")
    add("--final-lr", type=float, default=0.01, metavar="FRACTION",
        help="the cosine ends at this fraction of the peak rate (default: 0.01)")
    add("--warmup", type=int, default=500,
        help="warm-up steps, from 10%% of the rate to all of it (default: 500)")
    add("--weight-decay", type=float, default=weight_decay,
        help=f"AdamW weight decay (default: {weight_decay:.0e})".replace("e-0", "e-"))
    add("--clip", type=float, default=clip,
        help=f"clip the global gradient norm to this (default: {clip:g})")


def add_loop_options(parser: argparse.ArgumentParser, unit: str) -> None:
    """``--eval-every --checkpoint-every --checkpoint-minutes --threads --workers
    --no-progress``: how the shared loop runs, the same for every model."""
    add = parser.add_argument
    add("--eval-every", type=int, default=1000,
        help="steps between evaluations, CSV rows and curve plots (default: 1000)")
    add("--checkpoint-every", type=int, default=1000,
        help="steps between checkpoints; 0 for time only (default: 1000)")
    add("--checkpoint-minutes", type=float, default=10.0,
        help="also checkpoint every this many minutes; 0 for steps only (default: 10)")
    add("--threads", type=int, default=None,
        help="BLAS threads (default: MINILPR_BLAS_THREADS, else 1 — the fastest on a busy "
             "2-core laptop by a factor of five; see docs/training.md)")
    add("--workers", type=int, default=1,
        help=f"data worker processes making {unit} ahead; 0 makes them in the training "
             "process (default: 1)")
    add("--no-progress", action="store_true", help="no progress bar (for logs)")


def write_run_config(out: Path, args: argparse.Namespace, **facts) -> None:
    """``out/config.json``: the command line's options (paths as text), then ``facts``."""
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    (out / "config.json").write_text(json.dumps({"options": options, **facts}, indent=2,
                                                ensure_ascii=False), encoding="utf-8")


def run_and_report(trainer, task, rate_format: str = ".1f") -> int:
    """Run ``trainer`` and print its one-line summary; 130 when Ctrl-C stopped it, else 0."""
    started = time.perf_counter()
    result = trainer.run()
    if result.interrupted:
        return 130
    best = "none" if result.best is None else f"{result.best:.4f} at step {result.best_step}"
    print(f"done: step {result.step} in {time.perf_counter() - started:.1f} s, "
          f"{result.images_per_s:{rate_format}} images/s, data wait "
          f"{100 * result.data_wait:.1f} % of step time "
          f"({100 * result.data_wait_after_first:.1f} % after the first step); "
          f"best {task.best_metric} {best}; weights {trainer.best_path}")
    return 0
