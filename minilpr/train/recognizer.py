"""Training the recogniser: the task the shared `Trainer` runs, and ``minilpr train recognizer``.

One step: a batch of 32 × 220 gray plates (synthetic, optionally mixed with crop folders) →
``Recognizer.forward`` → logits (T = 27, N, K = 71) → CTC loss → ``backward``. With a spatial
transformer in front, the localisation net is its own parameter group at
`LOCALISATION_LR_SCALE` of the learning rate, optionally frozen at the identity for the first
``--stn-stage`` steps, so the recogniser learns to read before the STN learns where to look.

Validation: greedy-decoded exact-plate accuracy on a fixed synthetic set (every plate kind,
tilt spread to ±30°, the same plates in every run) and on each real crop folder given with
``--val``. Real crops measure; they are never trained on.

``--init WEIGHTS`` fine-tunes a recogniser weight file (the shipped one, say) with a fresh
optimiser and schedule; ``--detector-boxes P`` cuts a share P of the synthetic crops along a
detector's box errors (``AugmentConfig.p_detector_box``) instead of tightly, so the model reads
what the pipeline hands it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from minilpr.data.charset import CHARS
from minilpr.models.plate_ctc import ctc_targets
from minilpr.models.recognizer import Recognizer, RecognizerConfig
from minilpr.models.stn import CONFIGS as STN_PRESETS
from minilpr.models.stn import LOCALISATION_LR_SCALE
from minilpr.data.augment import AugmentConfig
from minilpr.models.weights import load_recognizer, provenance, save_weights
from minilpr.nn.ctc import CTCLoss
from minilpr.train.checkpoint import CheckpointError
from minilpr.train.data import (GENERATORS, PlateBatches, Prefetcher, every_kind,
                                validation_augment)
from minilpr.train.evaluate import evaluate_recognizer, load_crop_folder
from minilpr.train.loop import TrainConfig, Trainer, TrainingDiverged
from minilpr.train.runs import (add_loop_options, add_schedule_options, command_line,
                                refuse_overwrite, resumed_options, run_and_report,
                                write_run_config)
from minilpr.train.task import ParamGroup, Task
from minilpr.threads import limit_threads

INPUT_SIZE = (32, 220)
# The synthetic validation plates come from their own seed, the same in every run.
VALIDATION_SEED = 20_260_101
EVAL_BATCH = 64


@dataclass(frozen=True)
class RecognizerRecipe:
    """The recogniser task's options (the loop's are in `TrainConfig`).

    Attributes
    ----------
    preset : str
        ``RecognizerConfig.preset`` name: "patent", "small" or "tiny".
    stn : str or None
        Spatial-transformer preset in front of the network, or None.
    batch : int
        Images per step.
    seed : int
        Fixes the weights' initialisation, dropout and every training batch.
    stn_stage : int
        Steps the STN stays frozen at the identity (0: it trains from the start).
    val_size : int
        Plates in the synthetic validation set.
    val : tuple of str
        Real crop folders evaluated at every evaluation (never trained on).
    data : tuple of str
        Crop folders mixed into the training batches (none by default).
    data_share : float
        Fraction of each batch taken from ``data`` when it is given.
    workers : int
        Data worker processes (0: in-process).
    generator : str
        The synthetic plates' look: "realistic" (default) or "classic" (`PlateBatches`).
    detector_boxes : float
        Share of the synthetic crops cut along a detector-like box (``p_detector_box``).
    init : str or None
        A recogniser weight file the run starts from (`init_from`); None: fresh from ``seed``.
    """

    preset: str = "small"
    stn: str | None = None
    batch: int = 32
    seed: int = 0
    stn_stage: int = 0
    val_size: int = 2000
    val: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    data_share: float = 0.5
    workers: int = 1
    generator: str = "realistic"
    detector_boxes: float = 0.0
    init: str | None = None

    def __post_init__(self):
        if not 0 <= self.detector_boxes <= 1:
            raise ValueError(f"--detector-boxes must be in [0, 1], got {self.detector_boxes}")


def init_from(path, recipe: RecognizerRecipe) -> tuple[Recognizer, dict]:
    """The model a fine-tuning run starts from, and the file's provenance for the manifest.

    The file's preset must be the recipe's. Its STN must be too, with one exception: a file
    without an STN and a recipe with one (``--init W --stn PRESET``) starts a new spatial
    transformer in front of the file's recogniser. The STN's last layer starts at the identity,
    so the model reads exactly as the file's did, and the STN then learns where to look (the
    staged training of the patent: read first, then straighten); ``--stn-stage`` can hold it at
    the identity for the first steps.

    Raises
    ------
    ValueError
        One line: not a recogniser weight file (`WeightFileError` is a ValueError), or its
        preset or STN differ from the recipe's.
    """
    model, manifest = load_recognizer(path, rng=np.random.default_rng(recipe.seed))
    added = manifest.get("stn") is None and recipe.stn is not None
    for name, wanted in (("preset", recipe.preset), ("stn", recipe.stn)):
        if manifest.get(name) != wanted and not (name == "stn" and added):
            raise ValueError(f"--init {path}: its {name} is {manifest.get(name)!r}, but "
                             f"--{name} is {wanted!r}")
    origin = provenance(path, manifest)
    if added:
        with_stn = build_model(recipe.preset, recipe.stn, recipe.seed)
        # the file's every weight and running statistic; only the STN's are new (its own seed)
        with_stn.load_state_dict({**with_stn.state_dict(), **model.state_dict()})
        model, origin = with_stn, {**origin, "stn_added": recipe.stn}
    return model.train(), origin


def build_model(preset: str, stn: str | None, seed: int) -> Recognizer:
    """The recogniser of a preset (and STN preset), its weights drawn from ``seed``."""
    config = RecognizerConfig.preset(preset, stn=stn)
    return Recognizer(config, rng=np.random.default_rng(seed))


class RecognizerTask(Task):
    """The recogniser's training task for `Trainer`.

    Parameters
    ----------
    recipe : RecognizerRecipe
    model : Module, optional
        A ready model (tests pass a stand-in); built from the recipe by default.
    command : str
        The command line, recorded in the weights' manifest.
    init : dict, optional
        Where the weights started (`init_from`'s provenance), recorded in the manifest.
    """

    best_metric = "val_accuracy"

    def __init__(self, recipe: RecognizerRecipe, model=None, command: str = "",
                 init: dict | None = None):
        self.recipe = recipe
        self.command = command
        self.init = init
        self.model = build_model(recipe.preset, recipe.stn, recipe.seed) if model is None \
            else model
        self.ctc = CTCLoss(blank=0)
        self.source = PlateBatches(seed=recipe.seed, batch_size=recipe.batch, size=INPUT_SIZE,
                                   folders=tuple(recipe.data), folder_share=recipe.data_share,
                                   generator=recipe.generator,
                                   augment=replace(AugmentConfig(),
                                                   p_detector_box=recipe.detector_boxes))
        self.prefetcher = None
        self._validation = None

    def param_groups(self) -> list[ParamGroup]:
        stn = getattr(self.model, "stn", None)
        if stn is None:
            return [ParamGroup("model", self.model.parameters())]
        return [ParamGroup("model", self.model.recognizer_parameters()),
                ParamGroup("stn", stn.parameters(), lr_scale=LOCALISATION_LR_SCALE,
                           start_step=self.recipe.stn_stage)]

    def open(self, start_step: int) -> None:
        # Start the workers first: they import and warm up while the validation set is drawn.
        self.prefetcher = Prefetcher(self.source, start=start_step, workers=self.recipe.workers)
        self.validation_sets()

    def close(self) -> None:
        if self.prefetcher is not None:
            self.prefetcher.close()
            self.prefetcher = None

    def batch(self, step: int):
        images, texts = self.prefetcher.get(step)
        targets, lengths = ctc_targets(texts)
        return images, targets, lengths

    def loss_and_backward(self, batch) -> float:
        images, targets, lengths = batch
        logits = self.model.forward(images)  # (T, N, K)
        T, N, _ = logits.shape
        loss = self.ctc.forward(logits, targets, np.full(N, T, np.int64), lengths)
        self.model.backward(self.ctc.backward())
        return loss

    def validation_sets(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        """``{"val": synthetic, "<folder name>": real crops, ...}``, built once."""
        if self._validation is None:
            from minilpr.data.synth import PlateGenerator

            plates = PlateGenerator(seed=VALIDATION_SEED, size=INPUT_SIZE,
                                    augment=validation_augment(), kinds=every_kind())
            sets = {"val": plates.batch(self.recipe.val_size)}
            for folder in self.recipe.val:
                crops = load_crop_folder(folder, INPUT_SIZE)
                sets[Path(folder).name] = (crops.images, crops.texts)
            self._validation = sets
        return self._validation

    def evaluate(self) -> dict[str, float]:
        """Greedy-decoded plate and character accuracy on every validation set."""
        figures = {}
        for name, (images, texts) in self.validation_sets().items():
            report = evaluate_recognizer(self.model, images, texts, batch=EVAL_BATCH)
            figures[f"{name}_accuracy"] = report.plate_accuracy
            figures[f"{name}_char_accuracy"] = report.char_accuracy
        return figures

    def save_best(self, path: Path, figures: dict, step: int) -> None:
        manifest = {"preset": self.recipe.preset, "stn": self.recipe.stn,
                    "charset": "".join(CHARS), "input_size": list(INPUT_SIZE),
                    "command": self.command, "seed": self.recipe.seed, "step": step,
                    "data": {"synthetic": True, "generator": self.recipe.generator,
                             "folders": list(self.recipe.data),
                             "images_seen": step * self.recipe.batch},
                    "accuracy": figures}
        if self.init is not None:
            manifest["init"] = self.init
        save_weights(self.model, path, manifest)

    def config(self) -> dict:
        model_config = getattr(self.model, "config", None)
        return {"recipe": asdict(self.recipe),
                "model": model_config.to_dict() if hasattr(model_config, "to_dict") else None}


# Options that decide the maths: a resumed run must keep them (the others may change).
RECIPE_OPTIONS = ("preset", "stn", "stn_stage", "batch", "lr", "final_lr", "warmup",
                  "weight_decay", "clip", "seed", "data", "data_share", "generator",
                  "detector_boxes", "init")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minilpr train recognizer",
        description="Train the patent's plate recogniser (CNN + BiLSTM + CTC, optional STN) on "
                    "synthetic plates; writes checkpoint.npz, best.npz, log.csv, curves.png and "
                    "config.json into --out.",
        epilog="Real crop folders such as ../shared/data/real/lprnet-crops-dev are for --val "
               "only: never pass them to --data. Ctrl-C saves a checkpoint; continue with the "
               "same --out and --resume.")
    add = parser.add_argument
    add("--preset", default="small", choices=("patent", "small", "tiny"),
        help="network size: the patent's widths, ÷4 or ÷8 (default: small)")
    add("--stn", default=None, choices=tuple(STN_PRESETS), metavar="PRESET",
        help=f"put a spatial transformer of this preset ({', '.join(STN_PRESETS)}) in front")
    add("--stn-stage", type=int, default=0, metavar="STEPS",
        help="keep the STN frozen at the identity for the first STEPS steps, then let it "
             "warm up on its own (default: 0, it trains from the start)")
    add_schedule_options(parser, batch=32, unit="images", weight_decay=1e-4, clip=5.0,
                         lr_note=f"; the STN gets {LOCALISATION_LR_SCALE} of it")
    add("--seed", type=int, default=0,
        help="seeds the weights, dropout and every training batch (default: 0)")
    add("--out", type=Path, required=True, metavar="DIR", help="the run folder")
    add("--resume", action="store_true",
        help="continue the run in --out from its checkpoint.npz, with its saved options "
             "(--steps, --eval-every, --checkpoint-every, --checkpoint-minutes, --threads, "
             "--workers, --val and --val-size may change)")
    add("--val", action="append", default=[], metavar="DIR",
        help="a real crop folder (file name = plate) to measure at every evaluation; "
             "repeatable; evaluation only, never trained on")
    add("--val-size", type=int, default=RecognizerRecipe.val_size,
        help="plates in the fixed synthetic validation set (every kind, tilt to ±30°; "
             f"default: {RecognizerRecipe.val_size}, the issue's 2,000)")
    add("--data", action="append", default=[], metavar="DIR",
        help="a crop folder to mix into the training batches; repeatable; none by default")
    add("--generator", default="realistic", choices=GENERATORS,
        help="the synthetic plates' look: realistic (a mix of typefaces filling the slot, "
             "lean and off-centre framing) or classic (the first generator: Noto glyphs, no "
             "framing); default: realistic")
    add("--data-share", type=float, default=0.5, metavar="FRACTION",
        help="fraction of each batch taken from --data folders (default: 0.5)")
    add("--detector-boxes", type=float, default=0.0, metavar="FRACTION",
        help="fraction of the synthetic crops cut along a detector-like box (each side off by "
             "a normal error, as the shipped locator's boxes are) instead of tightly: what "
             "minilpr read hands the recogniser (default: 0, every crop tight)")
    add("--init", default=None, metavar="WEIGHTS",
        help="fine-tune: start from this recogniser weight file (e.g. "
             "minilpr/assets/weights/recognizer.npz) with a fresh optimiser and schedule; its "
             "--preset must match, and its --stn too unless the file has none: then --stn "
             "adds a new STN at the identity in front of it (default: fresh weights from "
             "--seed)")
    add_loop_options(parser, unit="batches")
    return parser


def _resumed_options(parser, argv, out: Path) -> argparse.Namespace:
    """The saved run's options, overridden by those given now; refuses a changed recipe."""
    return resumed_options(parser, argv, out, RECIPE_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.resume:
            args = _resumed_options(parser, argv, args.out)
        return _run(args)
    except (CheckpointError, TrainingDiverged, ValueError, FileNotFoundError) as error:
        print(f"minilpr train recognizer: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if not args.resume:
        refuse_overwrite(args.out)
    threads = limit_threads(args.threads)
    recipe = RecognizerRecipe(preset=args.preset, stn=args.stn, batch=args.batch, seed=args.seed,
                              stn_stage=args.stn_stage, val_size=args.val_size,
                              val=tuple(str(v) for v in args.val),
                              data=tuple(str(d) for d in args.data),
                              data_share=args.data_share, workers=args.workers,
                              generator=args.generator, detector_boxes=args.detector_boxes,
                              init=args.init)
    train = TrainConfig(steps=args.steps, lr=args.lr, warmup=args.warmup,
                        final_lr_fraction=args.final_lr, weight_decay=args.weight_decay,
                        clip=args.clip, eval_every=args.eval_every,
                        checkpoint_every=args.checkpoint_every,
                        checkpoint_minutes=args.checkpoint_minutes)
    command = _command_line(args)
    model, init = init_from(args.init, recipe) if args.init else (None, None)
    task = RecognizerTask(recipe, model=model, command=command, init=init)
    out = args.out
    trainer = Trainer(task, train, out, progress=not args.no_progress,
                      resume_hint=f"minilpr train recognizer --out {shlex.quote(str(out))} "
                                  "--resume")
    if args.resume:
        trainer.resume()
    write_run_config(out, args, train=asdict(train), recipe=asdict(recipe),
                     model=task.config()["model"], threads=threads, command=command)
    start = f" (weights from {args.init})" if args.init else ""
    print(f"training {args.preset}{' + STN ' + args.stn if args.stn else ''} from step "
          f"{trainer.step} to {args.steps}{start}; "
          f"{threads} BLAS thread(s), "
          f"{args.workers} data worker(s); run folder {out}")
    return run_and_report(trainer, task, rate_format=".0f")


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run: every option of the recipe spelt out."""
    def skip(name, args):
        return (name == "stn_stage" and not args.stn) or \
            (name == "data_share" and not args.data) or \
            (name == "detector_boxes" and not args.detector_boxes)
    return command_line(["minilpr", "train", "recognizer"], args, ("steps",) + RECIPE_OPTIONS,
                        skip)
