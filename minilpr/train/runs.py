"""What every ``minilpr train <model>`` command does around its task: resume, record, refuse.

* `resumed_options` -- a resumed run takes its saved options from ``config.json`` and refuses
  a change to any option that decides the maths (its *recipe*);
* `refuse_overwrite` -- a fresh run never starts over an old one;
* `command_line` -- the command that reproduces a run, every recipe option spelt out.
"""

from __future__ import annotations

import argparse
import json
import shlex
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
    ``multi_value`` (``nargs``), whose values follow one flag."""
    parts = list(words)
    for name in names:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        if value is None or skip(name, args):
            continue
        if name in multi_value:
            parts += [flag, *map(str, value)]
            continue
        for item in value if isinstance(value, list) else [value]:
            parts += [flag, str(item)]
    return " ".join(shlex.quote(p) for p in parts)
