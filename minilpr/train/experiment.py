"""The patent's three experiments, rerun on a CPU: STN or not, BiLSTM depth × width, FC layers.

US 12,387,506 B2 justifies its design with three comparisons (its text after Table 4): the
network with and without the STN (96.1 % vs 94.6 % accuracy, average loss 0.40 vs 0.53),
Table 5 (one, two or three BiLSTM layers of 128, 256, 512 or 1024 hidden units) and Table 6
(one, two or three FC layers). `grid` lays each out as *cells* (one network each) at the
CPU-sized widths of a preset; `run_experiment` trains every cell × seed with the shared
`Trainer` and the recogniser's task, one after the other, and `minilpr.train.experiment_report`
turns the finished cells into a CSV, a summary, a Markdown table shaped like the patent's and
a plot.

Every cell sees the same data: one synthetic training stream (batch *i* drawn from
``(TRAIN_STREAM_SEED, i)`` whatever the cell or seed, every plate tilted, σ = 15° clipped to
±30°, the tilt the STN exists for) and one synthetic test split (the recogniser task's
validation set: a fixed seed, every plate kind, the same tilt). The seed of a cell changes only
its initial weights and dropout masks. Real crop folders (``val``) are measured, never trained on.

Widths: ``tiny`` divides every width of the patent by 8 and ``small`` by 4, so the patent's
128/256/512/1024 hidden units are 16/32/64/128 at ``tiny`` and 32/64/128/256 at ``small``.

Resumable cell by cell: each cell × seed trains in ``out/cells/<cell>/seed<k>/``; a folder with
a ``result.json`` is finished and skipped on a rerun, one with only a checkpoint (a killed run)
resumes from it. ``jobs`` > 1 trains that many cells at once, each in its own process with one
BLAS thread (two on a 2-core machine: the grid in half the time); the parent writes the reports.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from minilpr.models.plate_ctc import ctc_targets
from minilpr.models.recognizer import FC_WIDTH, Recognizer, RecognizerConfig
from minilpr.nn.ctc import CTCLoss
from minilpr.train.data import CHARSET, PlateBatches, validation_augment
from minilpr.train.evaluate import evaluate_recognizer
from minilpr.train.log import FIXED_COLUMNS
from minilpr.train.loop import TrainConfig, Trainer
from minilpr.train.recognizer import (EVAL_BATCH, INPUT_SIZE, RecognizerRecipe,
                                      RecognizerTask)

EXPERIMENTS = ("stn", "bilstm", "fc")
SCALES = {"tiny": 8, "small": 4}  # the preset's divisor of every width of the patent
# The training stream's seed: the same batches for every cell and seed.
TRAIN_STREAM_SEED = 20_261_202
SYNTHETIC = "synth"  # the name of the synthetic test split in the figures

PATENT_HIDDEN = (128, 256, 512, 1024)
LAYER_NAMES = {1: "One-BLSTM", 2: "Two-BLSTM", 3: "Three-BLSTM"}
FC_NAMES = {1: "One-FC", 2: "Two-FC", 3: "Three-FC"}
# The patent's (accuracy %, average loss): its text for the STN, Table 5 by (layers, hidden
# units) and Table 6 by the number of FC layers.
PATENT_STN = {"no-stn": (94.6, 0.53), "stn": (96.1, 0.40)}
PATENT_TABLE5 = {(1, 128): (90.0, 0.61), (1, 256): (93.1, 0.51), (1, 512): (91.5, 0.65),
                 (1, 1024): (91.5, 0.78), (2, 128): (89.2, 0.78), (2, 256): (90.7, 0.68),
                 (2, 512): (94.6, 0.53), (2, 1024): (91.5, 0.67), (3, 128): (90.7, 0.93),
                 (3, 256): (92.3, 0.72), (3, 512): (92.3, 0.93), (3, 1024): (93.1, 0.99)}
PATENT_TABLE6 = {1: (93.1, 0.49), 2: (94.6, 0.53), 3: (91.5, 0.97)}

# Per experiment: the step budget, the wall-clock cap per cell (minutes) and the seeds, chosen
# so that a default grid takes about 3 h on two cores with two cells at once (--jobs 2, 115-155
# plates/s each; docs/experiments.md). The tilted stream keeps a `tiny` network on CTC's blank
# plateau for ~3,000 steps, and only a learning rate still near its peak gets it off: with the
# cosine over 6,000 steps the first cell was still on it at 4,200 (character accuracy 18 %),
# over 12,000 it left at 3,000 (77 % at 4,800). The cap is a safety net, about twice a cell's
# expected time, so that the steps, not a loaded machine, end the cells.
DEFAULTS = {"stn": {"steps": 12000, "budget": 120.0, "seeds": 3},
            "bilstm": {"steps": 8000, "budget": 75.0, "seeds": 1},
            "fc": {"steps": 12000, "budget": 120.0, "seeds": 2}}


@dataclass(frozen=True)
class Cell:
    """One network of a grid.

    Attributes
    ----------
    name : str
        Its folder name and CSV key: ``"stn"``, ``"l2-h64"``, ``"fc2"``.
    label : str
        Its row in the patent's words: ``"Two-BLSTM, 64 hidden"``, ``"Two-FC (F1 = 128,
        F2 = 71)"``.
    overrides : tuple of (str, value)
        The `RecognizerConfig` fields the cell sets on the preset.
    row, column : str
        Where it sits in the patent-shaped table (column "" for a one-column table).
    patent : (float, float) or None
        The patent's accuracy (%) and average loss for the same cell.
    """

    name: str
    label: str
    overrides: tuple
    row: str
    column: str = ""
    patent: tuple[float, float] | None = None

    def model_config(self, scale: str) -> RecognizerConfig:
        """The cell's network at ``scale`` ("tiny" or "small")."""
        return RecognizerConfig.preset(scale, **dict(self.overrides))


def grid(experiment: str, scale: str = "tiny", stn: str = "compact") -> list[Cell]:
    """The cells of ``experiment`` at ``scale``, in table order.

    * ``stn``: the preset without and with a spatial transformer of preset ``stn``;
    * ``bilstm``: 1, 2, 3 BiLSTM layers × the patent's 128/256/512/1024 hidden units divided by
      the scale's divisor (`SCALES`), without STN, as the patent's Table 5;
    * ``fc``: one FC layer (to the K = 71 classes), two (``1024w`` then K, the patent's) and
      three (``1024w``, ``1024w``, K: the patent's text does not say its three-FC widths),
      without STN, as Table 6.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {', '.join(EXPERIMENTS)}, got "
                         f"{experiment!r}")
    if scale not in SCALES:
        raise ValueError(f"--scale must be one of {', '.join(SCALES)}, got {scale!r}")
    divisor = SCALES[scale]
    if experiment == "stn":
        return [Cell("no-stn", "without STN", (), "without STN", patent=PATENT_STN["no-stn"]),
                Cell("stn", f"with STN ({stn})", (("stn", stn),), f"with STN ({stn})",
                     patent=PATENT_STN["stn"])]
    if experiment == "bilstm":
        return [Cell(f"l{layers}-h{units // divisor}",
                     f"{LAYER_NAMES[layers]}, {units // divisor} hidden",
                     (("lstm_layers", layers), ("lstm_hidden", units // divisor)),
                     LAYER_NAMES[layers], f"{units // divisor} (patent {units})",
                     PATENT_TABLE5[layers, units])
                for layers in (1, 2, 3) for units in PATENT_HIDDEN]
    k = RecognizerConfig.preset(scale).num_classes
    width = FC_WIDTH // divisor
    cells = []
    for n in (1, 2, 3):
        hidden = (width,) * (n - 1)
        widths = ", ".join(f"F{i + 1} = {f}" for i, f in enumerate(hidden + (k,)))
        cells.append(Cell(f"fc{n}", f"{FC_NAMES[n]} ({widths})", (("fc", hidden),),
                          f"{FC_NAMES[n]} ({widths})", patent=PATENT_TABLE6[n]))
    return cells


@dataclass(frozen=True)
class ExperimentPlan:
    """What decides an experiment's numbers; saved as ``experiment.json`` in its folder.

    Attributes
    ----------
    experiment : {"stn", "bilstm", "fc"}
    scale : {"tiny", "small"}
    steps : int
        The step budget of every cell.
    budget_minutes : float
        The wall-clock cap of every cell (0: none); a capped cell ends early, its steps and
        seconds recorded.
    seeds : int
        Seeds 0 … seeds − 1 per cell (initial weights and dropout).
    batch, lr, warmup : int, float, int
        The recogniser's recipe (AdamW, warm-up then cosine to 1 % of ``lr`` at ``steps``).
    eval_every : int
        Steps between evaluations (rows of the CSV); 0: a tenth of ``steps``.
    test_size : int
        Plates in the synthetic test split.
    val : tuple of str
        Real crop folders measured at every evaluation.
    stn : str
        The STN preset of the ``stn`` cell.
    stn_stage : int or None
        Steps the STN stays frozen at the identity; None: a quarter of ``steps``.
    """

    experiment: str
    scale: str = "tiny"
    steps: int = 3000
    budget_minutes: float = 30.0
    seeds: int = 3
    batch: int = 32
    lr: float = 1e-3
    warmup: int = 300
    eval_every: int = 0
    test_size: int = 1000
    val: tuple[str, ...] = ()
    stn: str = "compact"
    stn_stage: int | None = None

    def __post_init__(self):
        grid(self.experiment, self.scale, self.stn)
        for name in ("steps", "seeds", "batch", "test_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got "
                                 f"{getattr(self, name)}")
        if self.budget_minutes < 0 or self.eval_every < 0 or self.warmup < 0:
            raise ValueError("--budget, --eval-every and --warmup must be >= 0")
        if self.eval_every == 0:
            object.__setattr__(self, "eval_every", max(1, self.steps // 10))
        if self.stn_stage is None:
            object.__setattr__(self, "stn_stage", self.steps // 4)
        object.__setattr__(self, "val", tuple(str(v) for v in self.val))

    @property
    def cells(self) -> list[Cell]:
        return grid(self.experiment, self.scale, self.stn)

    def to_dict(self) -> dict:
        return {**asdict(self), "val": list(self.val)}

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentPlan":
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "val" else v) for k, v in d.items() if k in known})


class ExperimentTask(RecognizerTask):
    """`RecognizerTask` on the experiment's fixed data, with the test split's CTC loss.

    The training stream is `TRAIN_STREAM_SEED`'s, tilted like the test split (the recipe's
    seed only seeds the model, which the caller builds). `evaluate` adds ``<set>_loss``, the
    mean CTC loss per character (the training loss's units) of every set, to the accuracies;
    the synthetic test split is called `SYNTHETIC`.
    """

    best_metric = f"{SYNTHETIC}_accuracy"

    def __init__(self, recipe: RecognizerRecipe, model, command: str = ""):
        super().__init__(recipe, model=model, command=command)
        self.source = PlateBatches(seed=TRAIN_STREAM_SEED, batch_size=recipe.batch,
                                   size=INPUT_SIZE, augment=validation_augment())

    def config(self) -> dict:
        return {**super().config(), "train_stream": {"seed": TRAIN_STREAM_SEED,
                                                     "augment": asdict(self.source.augment)}}

    def validation_sets(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        sets = super().validation_sets()
        if "val" in sets:
            self._validation = {SYNTHETIC if k == "val" else k: v for k, v in sets.items()}
        return self._validation

    def evaluate(self) -> dict[str, float]:
        figures = {}
        for name, (images, texts) in self.validation_sets().items():
            kept = _LogitsKept(self.model)
            report = evaluate_recognizer(kept, images, texts, batch=EVAL_BATCH)
            figures[f"{name}_accuracy"] = report.plate_accuracy
            figures[f"{name}_char_accuracy"] = report.char_accuracy
            figures[f"{name}_loss"] = split_loss(kept.logits(), texts)
        return figures


class _LogitsKept:
    """A model that keeps every logits array it returns, so one pass gives reads and loss."""

    def __init__(self, model):
        self.model = model
        self._chunks = []

    @property
    def training(self) -> bool:
        return self.model.training

    def eval(self):
        self.model.eval()

    def train(self):
        self.model.train()

    def forward(self, x: np.ndarray) -> np.ndarray:
        logits = self.model.forward(x)  # (T, n, K)
        self._chunks.append(np.asarray(logits))
        return logits

    def logits(self) -> np.ndarray:
        """(T, N, K): every batch's logits, joined along N."""
        return np.concatenate(self._chunks, axis=1)


def split_loss(logits: np.ndarray, texts: list[str]) -> float:
    """Mean CTC loss per character of the plates whose labels are in the charset.

    ``logits : (T, N, K)``; a label with a character outside the charset has no CTC target and
    is left out (it still counts as wrong in the accuracies). NaN when no label is left.
    """
    keep = [i for i, text in enumerate(texts) if text and set(text) <= CHARSET]
    if not keep:
        return float("nan")
    targets, lengths = ctc_targets([texts[i] for i in keep])
    chosen = logits[:, keep]  # (T, N_kept, K)
    T, n, _ = chosen.shape
    return float(CTCLoss(blank=0).forward(chosen, targets, np.full(n, T, np.int64), lengths))


def cell_folder(out: Path, cell: Cell, seed: int) -> Path:
    return Path(out) / "cells" / cell.name / f"seed{seed}"


def run_cell(plan: ExperimentPlan, cell: Cell, seed: int, out, workers: int = 1,
             progress: bool = False, say=print) -> dict:
    """Train one cell × seed in its folder, or read its result if it is finished.

    Returns the cell's ``result.json`` as a dict: cell, seed, step reached, seconds,
    ``time_limited``, the last evaluation's figures, the model config and its parameters.
    Raises KeyboardInterrupt after a Ctrl-C (the Trainer has saved the cell's checkpoint).
    """
    folder = cell_folder(out, cell, seed)
    done = folder / "result.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    config = cell.model_config(plan.scale)
    recipe = RecognizerRecipe(preset=plan.scale, stn=config.stn, batch=plan.batch, seed=seed,
                              stn_stage=plan.stn_stage if config.stn else 0,
                              val_size=plan.test_size, val=plan.val, workers=workers)
    model = Recognizer(config, rng=np.random.default_rng(seed))
    task = ExperimentTask(recipe, model, command=f"minilpr experiment {plan.experiment} "
                                                 f"(cell {cell.name}, seed {seed})")
    train = TrainConfig(steps=plan.steps, lr=plan.lr, warmup=min(plan.warmup, plan.steps),
                        eval_every=plan.eval_every, checkpoint_every=plan.eval_every,
                        checkpoint_minutes=5.0)
    limit = 60 * plan.budget_minutes or None
    trainer = Trainer(task, train, folder, progress=progress, say=say, plot=False,
                      time_limit_s=limit, resume_hint="the same minilpr experiment command")
    if trainer.checkpoint_path.is_file():
        trainer.resume()
        say(f"  resuming {cell.name} seed {seed} from step {trainer.step}")
    else:
        trainer.log.path.unlink(missing_ok=True)  # rows of a run killed before its checkpoint
    record = {"cell": cell.name, "label": cell.label, "seed": seed}
    if trainer.step >= plan.steps or (limit is not None and trainer.elapsed >= limit):
        # killed after its last checkpoint, before this file: its last log row is its result
        rows = trainer.log.rows()
        record.update(step=trainer.step, seconds=round(trainer.elapsed, 1),
                      time_limited=trainer.step < plan.steps, images_per_s=None,
                      figures={k: v for k, v in (rows[-1] if rows else {}).items()
                               if k not in FIXED_COLUMNS})
    else:
        result = trainer.run()
        if result.interrupted:
            raise KeyboardInterrupt
        record.update(step=result.step, seconds=round(result.elapsed_s, 1),
                      time_limited=result.time_limited,
                      images_per_s=round(result.images_per_s, 1), figures=result.figures)
    record.update(config=config.to_dict(), parameters=model.num_parameters())
    temp = done.with_name(".result.partial.json")
    temp.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temp, done)
    return record


def _run_share(plan: ExperimentPlan, share: list, out, workers: int) -> None:
    """A job process's cells × seeds, one after the other (`run_experiment` with ``jobs`` > 1).

    Each finished cell leaves its ``result.json``, which the parent reads. On Ctrl-C (which
    reaches every process of the terminal) the cell in progress saves its checkpoint and the
    process ends with status 130; an error ends it with status 1 after one line on stderr.
    """
    import sys

    from minilpr.threads import limit_threads

    limit_threads(1)
    try:
        for cell, seed in share:
            run_cell(plan, cell, seed, out, workers=workers, progress=False,
                     say=lambda line, c=cell.name, k=seed: print(f"  [{c} seed {k}] "
                                                                 f"{line.strip()}", flush=True))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 -- the parent reports the status
        print(f"minilpr experiment: {error}", file=sys.stderr, flush=True)
        sys.exit(1)


def run_experiment(plan: ExperimentPlan, out, cells: list[str] | None = None,
                   workers: int = 1, progress: bool = False, say=print,
                   jobs: int = 1) -> list[dict]:
    """Train every cell × seed of ``plan`` not yet finished in ``out``, then write the reports.

    Parameters
    ----------
    plan : ExperimentPlan
    out : str or Path
        The experiment folder; ``experiment.json`` in it must hold the same plan (apart from
        ``seeds``, which may grow or shrink).
    cells : list of str, optional
        Only these cells (by name); all by default.
    workers : int
        Data worker processes per cell (0: in-process).
    jobs : int
        Cells trained at once, each in a process of its own (1: one after the other, here).

    Returns
    -------
    list of dict
        The ``result.json`` of every cell × seed run or skipped, in grid order.
    """
    from minilpr.train.experiment_report import write_reports

    out = Path(out)
    check_plan(plan, out)
    chosen = select_cells(plan, cells)
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    pairs = [(cell, seed) for cell in chosen for seed in range(plan.seeds)]
    todo = []
    for number, (cell, seed) in enumerate(pairs, 1):
        if (cell_folder(out, cell, seed) / "result.json").is_file():
            say(f"[{number}/{len(pairs)}] {cell.name} seed {seed}: finished, skipped")
        else:
            todo.append(number)

    def report(number: int, record: dict) -> None:
        figures = record["figures"]
        say(f"[{number}/{len(pairs)}] {record['cell']} seed {record['seed']}: {record['step']} "
            f"steps in {record['seconds']:.0f} s"
            f"{' (time limit)' if record['time_limited'] else ''}; synthetic accuracy "
            f"{figures.get(SYNTHETIC + '_accuracy', float('nan')):.1%}, loss "
            f"{figures.get(SYNTHETIC + '_loss', float('nan')):.3f}")
        # the CSV and table after every cell; the slower plot only after long cells
        write_reports(plan, out, plot=record["seconds"] > 60)

    if jobs == 1 or len(todo) <= 1:
        for number in todo:
            cell, seed = pairs[number - 1]
            report(number, run_cell(plan, cell, seed, out, workers=workers, progress=progress,
                                    say=say))
    else:
        _run_in_processes(plan, out, pairs, todo, min(jobs, len(todo)), workers, report)
    write_reports(plan, out)
    return [json.loads((cell_folder(out, cell, seed) / "result.json").read_text(encoding="utf-8"))
            for cell, seed in pairs]


# Seconds the jobs get to save their checkpoints on a Ctrl-C before it is passed on to them.
INTERRUPT_GRACE_SECONDS = 10.0


def _run_in_processes(plan, out, pairs, todo, jobs: int, workers: int, report) -> None:
    """Train the cells × seeds numbered ``todo`` in ``jobs`` processes, round-robin, and
    ``report`` each as its ``result.json`` appears."""
    import multiprocessing
    import time

    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked BLAS state
    shares = [todo[k::jobs] for k in range(jobs)]
    processes = [context.Process(target=_run_share,
                                 args=(plan, [pairs[n - 1] for n in share], out, workers))
                 for share in shares]
    for process in processes:
        process.start()
    waiting = list(todo)

    def collect() -> None:
        for number in list(waiting):
            path = cell_folder(out, *pairs[number - 1]) / "result.json"
            if path.is_file():
                waiting.remove(number)
                report(number, json.loads(path.read_text(encoding="utf-8")))

    try:
        while any(p.is_alive() for p in processes):
            time.sleep(2.0)
            collect()
    except KeyboardInterrupt:
        # A Ctrl-C in a terminal reaches every process of the group, and each job saves its
        # cell's checkpoint. A SIGINT sent to this process alone (kill -INT) does not: after a
        # grace period for the saves, pass it on to any job still running, so that none is left
        # training with nobody waiting for it.
        deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS   # one grace period for all
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        for process in processes:
            process.join()
        raise
    collect()
    failed = [p.exitcode for p in processes if p.exitcode]
    if 130 in failed or -2 in failed:
        raise KeyboardInterrupt
    if failed:
        raise RuntimeError(f"a job process failed (exit status {failed[0]}); its message is "
                           "above")


def select_cells(plan: ExperimentPlan, names: list[str] | None) -> list[Cell]:
    """The plan's cells named in ``names`` (all when None), refusing an unknown name."""
    cells = plan.cells
    if not names:
        return cells
    known = {c.name for c in cells}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--cells: {', '.join(unknown)} not in the {plan.experiment} grid "
                         f"({', '.join(c.name for c in cells)})")
    return [c for c in cells if c.name in names]


def check_plan(plan: ExperimentPlan, out: Path) -> None:
    """Write ``out/experiment.json``, or refuse a plan that differs from the one saved there.

    Only ``seeds`` may change between runs into the same folder: the finished cells' numbers
    depend on everything else.
    """
    path = Path(out) / "experiment.json"
    if path.is_file():
        saved = ExperimentPlan.from_dict(json.loads(path.read_text(encoding="utf-8")))
        if saved.experiment != plan.experiment:
            raise ValueError(f"{out} holds the {saved.experiment} experiment, not "
                             f"{plan.experiment}; choose another --out")
        for name in (f.name for f in fields(ExperimentPlan)):
            if name != "seeds" and getattr(saved, name) != getattr(plan, name):
                flag = {"budget_minutes": "budget"}.get(name, name).replace("_", "-")
                raise ValueError(f"{out}: this experiment ran with --{flag} "
                                 f"{getattr(saved, name)!r}, not {getattr(plan, name)!r}; keep "
                                 "it, or choose another --out")
        if saved.seeds >= plan.seeds:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".experiment.{os.getpid()}.partial.json")
    temp.write_text(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temp, path)


def plan_with_defaults(experiment: str, **options) -> ExperimentPlan:
    """`ExperimentPlan` with the experiment's `DEFAULTS` for every option given as None."""
    defaults = DEFAULTS[experiment] if experiment in DEFAULTS else {}
    chosen = {"steps": defaults.get("steps"), "budget_minutes": defaults.get("budget"),
              "seeds": defaults.get("seeds")}
    chosen.update({k: v for k, v in options.items() if v is not None})
    return ExperimentPlan(experiment=experiment, **chosen)
