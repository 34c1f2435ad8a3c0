"""A training run's whole state in one ``.npz`` file, written so that a crash never loses it.

What a resumed run needs to continue *exactly* where the saved one stopped:

* the model's parameters and buffers (batch norm's running statistics);
* every optimizer's state (Adam's moments, its step count, its learning rate);
* every schedule's counter;
* the step number, the best validation figure so far, the run's configuration;
* the state of every random generator (dropout's masks, anything else the task draws): a
  NumPy ``bit_generator.state`` is a small dict of integers, kept as JSON.

The file is a plain ``.npz`` that loads with ``allow_pickle=False``: arrays under
``model/<name>`` and ``optim/<optimizer>/<key>``, everything else in one JSON string under
``meta``. Writing goes to a temporary file in the same folder, which then replaces the old
checkpoint in one ``os.replace`` — a rename, atomic on every file system we care about — so a
run killed mid-write leaves the previous checkpoint whole.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minilpr.models.weights import save_npz_atomically

FORMAT = "minilpr-training-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, or not one of ours; the message is one line."""


@dataclass
class TrainingState:
    """Everything saved in a checkpoint.

    Attributes
    ----------
    step : int
        Steps completed.
    model : dict of str -> ndarray
        ``model.state_dict()``.
    optimizers : dict of str -> dict
        ``optimizer.state_dict()`` per optimizer name (arrays plus ``step`` and ``lr``).
    schedules : dict of str -> dict
        ``schedule.state_dict()`` per name (JSON-able).
    rngs : dict of str -> dict
        ``generator.bit_generator.state`` per name (JSON-able).
    config : dict
        The run's configuration, JSON-able (``dataclasses.asdict`` of the configs).
    best : float or None
        The best validation figure so far.
    extra : dict
        Anything else JSON-able the loop keeps (elapsed time, the figure's name, ...).
    """

    step: int
    model: dict
    optimizers: dict = field(default_factory=dict)
    schedules: dict = field(default_factory=dict)
    rngs: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    best: float | None = None
    extra: dict = field(default_factory=dict)


def generator_state(rng: np.random.Generator) -> dict:
    """``rng``'s state as a JSON-able dict (a copy)."""
    return json.loads(json.dumps(rng.bit_generator.state))


def set_generator_state(rng: np.random.Generator, state: dict) -> None:
    """Put ``rng`` back into ``state`` (from `generator_state`), refusing another generator kind."""
    kind = type(rng.bit_generator).__name__
    if state.get("bit_generator") != kind:
        raise CheckpointError(f"a saved random state is for {state.get('bit_generator')}, "
                              f"but the generator is a {kind}")
    rng.bit_generator.state = state


def save_checkpoint(path, state: TrainingState) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file in the same folder, then rename).

    Returns
    -------
    Path
        ``path``. If anything fails, the old file at ``path`` (if any) is untouched and the
        temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{name}": np.asarray(value) for name, value in state.model.items()}
    optim_meta = {}
    for opt_name, opt_state in state.optimizers.items():
        optim_meta[opt_name] = {}
        for key, value in opt_state.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{opt_name}/{key}"] = value
            else:
                optim_meta[opt_name][key] = value
    meta = {"format": FORMAT, "version": VERSION, "step": int(state.step),
            "optimizers": optim_meta, "schedules": state.schedules, "rngs": state.rngs,
            "config": state.config, "best": state.best, "extra": state.extra}
    arrays["meta"] = np.array(json.dumps(meta, ensure_ascii=False))
    return save_npz_atomically(path, arrays)


def load_checkpoint(path) -> TrainingState:
    """Read a checkpoint written by `save_checkpoint`.

    Raises
    ------
    CheckpointError
        One line naming the file: missing, truncated/not a ``.npz``, or not a minilpr
        training checkpoint (e.g. a weights file).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise CheckpointError(f"{path}: not a minilpr training checkpoint (no 'meta'; "
                                      "a weights file is loaded with load_recognizer instead)")
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{path}: not a minilpr training checkpoint "
                                      f"(format {meta.get('format')!r})")
            if meta.get("version") != VERSION:
                raise CheckpointError(f"{path}: checkpoint version {meta.get('version')} "
                                      f"cannot be read by this minilpr (version {VERSION})")
            arrays = {name: data[name] for name in data.files if name != "meta"}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path}: truncated or not a .npz checkpoint ({error})") from None
    model = {name[len("model/"):]: value for name, value in arrays.items()
             if name.startswith("model/")}
    optimizers = {name: dict(values) for name, values in meta["optimizers"].items()}
    for name, value in arrays.items():
        if name.startswith("optim/"):
            _, opt_name, key = name.split("/", 2)
            optimizers.setdefault(opt_name, {})[key] = value
    return TrainingState(step=meta["step"], model=model, optimizers=optimizers,
                         schedules=meta["schedules"], rngs=meta["rngs"], config=meta["config"],
                         best=meta["best"], extra=meta["extra"])
