"""Training the locator: the task the shared `Trainer` runs, and ``minilpr train locator``.

One step: a batch of synthetic street scenes letterboxed into S × S (416 by default), or a
C × C window of each (``--crop``: the network is convolutional, so it learns at the scale it
will see at S for (C / S)² of the cost) → ``Locator.forward`` → three raw outputs at strides 8, 16, 32 → `assign_targets` (each plate to
its best anchor) → `yolo_loss_forward` → its gradient → ``Locator.backward``.

The nine anchors come from k-means (`kmeans_anchors`, distance 1 − IoU) on the boxes of a
seeded sample of scenes drawn the way the training scenes are; they are fixed for the run,
saved in its ``config.json`` and checkpoint, reused as they are by ``--resume`` (even if the
scene generator has changed since), and written into the weights' manifest.

``--init WEIGHTS`` fine-tunes: the run starts from a locator weight file's weights and anchors
(the shipped ones, say) with a fresh optimiser and schedule, so the scene generator can change
without training from scratch; the file's path and step go into the new manifest.

Validation: AP@0.5, recall and precision (score ≥ 0.25, IoU ≥ 0.5) on a fixed held-out set of
synthetic scenes (the same in every run) and on each photo folder given with ``--val``
(CCPD-named photos or YOLO folders). Real photos measure; they are never trained on.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from minilpr.detect.anchors import kmeans_anchors, split_per_scale
from minilpr.detect.boxes import boxes_to_letterbox, letterbox, xyxy_to_xywh
from minilpr.detect.head import PLATE_COLOURS, assign_targets, yolo_loss_backward, \
    yolo_loss_forward
from minilpr.models.locator import STRIDES
from minilpr.models.locator_weights import (BACKBONES, INPUT_SCALE, build_locator,
                                            load_locator, to_input)
from minilpr.models.weights import provenance, save_weights
from minilpr.train.checkpoint import CheckpointError
from minilpr.train.data import Prefetcher, batch_rng
from minilpr.train.locator_eval import PhotoSet, evaluate_locator, load_photo_folder
from minilpr.train.loop import TrainConfig, Trainer, TrainingDiverged
from minilpr.train.runs import (add_loop_options, add_schedule_options, command_line,
                                refuse_overwrite, resumed_options, run_and_report,
                                write_run_config)
from minilpr.train.task import Task
from minilpr.threads import limit_threads

# The held-out scenes and the anchor sample come from seeds of their own, the same every run.
VALIDATION_SEED = 20_261_201
ANCHOR_SEED = 20_261_202
# charset.KINDS -> PLATE_COLOURS: white and black plates are "other"
COLOUR_OF_KIND = {"blue": 0, "yellow": 1, "green": 2, "white": 3, "black": 3}
EVAL_BATCH = 8
MIN_BOX_PX = 2.0


@dataclass(frozen=True)
class LocatorRecipe:
    """The locator task's options (the loop's are in `TrainConfig`).

    Attributes
    ----------
    backbone : str
        A name of `BACKBONES`: "small" (what a CPU trains), "darknet53" (YOLOv3's), "tiny"
        (tests).
    size : int
        S, the square input side, a multiple of 32 (416 for the patent's YOLOv3).
    scene_shapes : tuple of (H, W)
        The scenes' sizes before the letterbox, one drawn per scene; empty draws them at S × S.
    crop : int or None
        C: train on a C × C window of each letterboxed scene (a multiple of 32, at most S),
        chosen to hold a plate most of the time; None trains on the whole S × S input.
        Validation always sees the whole input.
    max_plates : int
        Each scene holds 1 .. max_plates plates.
    batch : int
    seed : int
        Fixes the weights' initialisation and every training batch.
    anchor_scenes : int
        Scenes whose boxes the k-means clusters into the nine anchors.
    val_size : int
        Scenes in the synthetic validation set.
    val : tuple of str
        Photo folders evaluated at every evaluation (never trained on).
    score_threshold : float
        Where recall and precision are read.
    workers : int
        Data worker processes (0: in-process).
    init : str or None
        A locator weight file the run starts from (`init_from`); None starts from ``seed``.
    """

    backbone: str = "small"
    size: int = 416
    scene_shapes: tuple[tuple[int, int], ...] = ()
    crop: int | None = None
    max_plates: int = 3
    batch: int = 8
    seed: int = 0
    anchor_scenes: int = 200
    val_size: int = 200
    val: tuple[str, ...] = ()
    score_threshold: float = 0.25
    workers: int = 1
    init: str | None = None

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"--backbone must be one of {', '.join(BACKBONES)}, got "
                             f"{self.backbone!r}")
        if self.size < 64 or self.size % 32:
            raise ValueError(f"--size must be a multiple of 32 and at least 64, got {self.size}")
        for shape in self.scene_shapes:
            if len(shape) != 2 or min(shape) < 64:
                raise ValueError(f"--scene-size must be at least 64 × 64, got {tuple(shape)}")
        if self.crop is not None and (self.crop < 64 or self.crop % 32 or self.crop > self.size):
            raise ValueError(f"--crop must be a multiple of 32 from 64 to --size {self.size}, "
                             f"got {self.crop}")
        for name in ("batch", "anchor_scenes", "val_size", "max_plates"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got "
                                 f"{getattr(self, name)}")


@dataclass(frozen=True)
class SceneBatches:
    """Locator batches: synthetic scenes letterboxed into the input, with boxes and colours.

    Batch ``i`` is a pure function of ``(seed, i)`` (`batch_rng`); the object is a frozen
    dataclass of plain values, so it pickles to `Prefetcher` workers.

    Parameters
    ----------
    seed : int
    batch_size : int
    size : int
        S, the square input side.
    scene_shapes : tuple of (H, W)
        The drawn scenes' sizes, one drawn per scene (S × S when empty).
    max_plates : int
    crop : int or None
        C: return a C × C window of each letterboxed scene (`crop_window`) instead of all of it.
    """

    seed: int
    batch_size: int
    size: int = 416
    scene_shapes: tuple[tuple[int, int], ...] = ()
    max_plates: int = 3
    crop: int | None = None

    def make(self, index: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """Batch ``index``.

        Returns
        -------
        images : (N, S, S, 3) uint8 RGB, or (N, C, C, 3) with ``crop``
        boxes : N arrays of (M_n, 4) float64, xyxy in input pixels
        classes : N arrays of (M_n,) int64, indices into ``PLATE_COLOURS``
        """
        from minilpr.data.scenes import SceneConfig, render_scene

        shapes = self.scene_shapes or ((self.size, self.size),)
        configs = [SceneConfig(height=h, width=w, max_plates=self.max_plates) for h, w in shapes]
        rng = batch_rng(self.seed, index)
        images, boxes, classes = [], [], []
        for _ in range(self.batch_size):
            # one size draws no number: a run with one size sees the scenes it always did
            config = configs[rng.integers(len(configs))] if len(configs) > 1 else configs[0]
            scene = render_scene(rng, config)
            image, geometry = letterbox(scene.image, self.size)
            scene_boxes = boxes_to_letterbox(scene.boxes, geometry)
            scene_classes = np.array([COLOUR_OF_KIND[p.kind] for p in scene.plates], np.int64)
            if self.crop is not None:
                image, scene_boxes, scene_classes = crop_window(rng, image, scene_boxes,
                                                                scene_classes, self.crop)
            kept = np.all(scene_boxes[:, 2:] - scene_boxes[:, :2] >= MIN_BOX_PX, axis=1)
            images.append(image)
            boxes.append(scene_boxes[kept])
            classes.append(scene_classes[kept])
        return np.stack(images), boxes, classes


def crop_window(rng: np.random.Generator, image: np.ndarray, boxes: np.ndarray,
                classes: np.ndarray, crop: int, p_plate: float = 0.85, min_visible: float = 0.6):
    """A ``crop × crop`` window of ``image`` and the boxes in it, in the window's pixels.

    With probability ``p_plate`` the window is placed so that a plate drawn at random lies
    wholly inside it (when it fits), else anywhere: most windows teach plates, some teach only
    background. A box cut by the window's edge is kept, clipped, when at least ``min_visible``
    of its area is inside, and dropped otherwise (a sliver of plate is not a plate).

    Parameters
    ----------
    image : (S, S, 3) uint8
    boxes : (M, 4) float64, xyxy in image pixels
    classes : (M,) int64
    crop : int
        C ≤ S.

    Returns
    -------
    window : (C, C, 3) uint8
    boxes : (M', 4) float64, xyxy in window pixels
    classes : (M',) int64
    """
    height, width = image.shape[:2]
    x_range, y_range = [0, width - crop], [0, height - crop]
    if len(boxes) and rng.random() < p_plate:
        x1, y1, x2, y2 = boxes[rng.integers(len(boxes))]
        if x2 - x1 <= crop and y2 - y1 <= crop:
            x_range = [max(0, int(np.ceil(x2)) - crop), min(width - crop, int(x1))]
            y_range = [max(0, int(np.ceil(y2)) - crop), min(height - crop, int(y1))]
    x0 = int(rng.integers(x_range[0], max(x_range) + 1))
    y0 = int(rng.integers(y_range[0], max(y_range) + 1))
    shifted = boxes - np.array([x0, y0, x0, y0], np.float64)
    clipped = np.clip(shifted, 0, crop)
    area = np.prod(shifted[:, 2:] - shifted[:, :2], axis=1)
    visible = np.prod(np.maximum(clipped[:, 2:] - clipped[:, :2], 0), axis=1)
    kept = visible >= min_visible * area
    return np.ascontiguousarray(image[y0:y0 + crop, x0:x0 + crop]), clipped[kept], classes[kept]


def init_from(path, recipe: LocatorRecipe):
    """The model, anchors and provenance a fine-tuning run starts from.

    Returns
    -------
    model : Locator, in training mode
    anchors : (9, 2) float64, the file's
    provenance : dict
        ``path``, ``step`` and ``images_seen`` of the file, for the new manifest.

    Raises
    ------
    ValueError
        One line: the file is not a locator weight file (`WeightFileError`, a ValueError), or
        its backbone, input size or classes differ from the recipe's.
    """
    model, manifest = load_locator(path)
    if manifest["backbone"] != recipe.backbone:
        raise ValueError(f"--init {path}: a {manifest['backbone']} locator, but --backbone is "
                         f"{recipe.backbone}")
    if list(manifest["input_size"]) != [recipe.size, recipe.size]:
        raise ValueError(f"--init {path}: trained at input {manifest['input_size']}, but --size "
                         f"is {recipe.size}")
    if list(manifest["classes"]) != list(PLATE_COLOURS):
        raise ValueError(f"--init {path}: classes {manifest['classes']}, this minilpr has "
                         f"{list(PLATE_COLOURS)}")
    anchors = np.concatenate(manifest["anchors_per_scale"]).astype(np.float64)
    return model.train(), anchors, provenance(path, manifest)


def fit_anchors(recipe: LocatorRecipe) -> np.ndarray:
    """(9, 2) anchors (w, h in input pixels, by area) from k-means on a sample of scenes."""
    sample = SceneBatches(ANCHOR_SEED, recipe.anchor_scenes, recipe.size, recipe.scene_shapes,
                          recipe.max_plates)
    _, boxes, _ = sample.make(0)
    sizes = xyxy_to_xywh(np.concatenate(boxes))[:, 2:]  # (M, 2)
    return kmeans_anchors(sizes, 9, seed=0).anchors


class LocatorTask(Task):
    """The locator's training task for `Trainer`.

    Parameters
    ----------
    recipe : LocatorRecipe
    anchors : (9, 2) array, optional
        The run's anchors (a resumed run passes its saved ones); by default `fit_anchors`.
    model : Locator, optional
        Built from the recipe by default.
    command : str
        The command line, recorded in the weights' manifest.
    init : dict, optional
        Where the weights started (`init_from`'s provenance), recorded in the manifest.
    """

    best_metric = "val_ap50"

    def __init__(self, recipe: LocatorRecipe, anchors=None, model=None, command: str = "",
                 init: dict | None = None):
        self.recipe = recipe
        self.command = command
        self.init = init
        self.model = build_locator(recipe.backbone, recipe.seed) if model is None else model
        self.anchors = fit_anchors(recipe) if anchors is None else \
            np.asarray(anchors, np.float64).reshape(9, 2)
        self.per_scale = split_per_scale(self.anchors, len(STRIDES))
        self.source = SceneBatches(recipe.seed, recipe.batch, recipe.size, recipe.scene_shapes,
                                   recipe.max_plates, recipe.crop)
        self.prefetcher = None
        self._validation = None

    def open(self, start_step: int) -> None:
        # Start the workers first: they warm up while the validation scenes are drawn.
        self.prefetcher = Prefetcher(self.source, start=start_step, workers=self.recipe.workers)
        self.validation_sets()

    def close(self) -> None:
        if self.prefetcher is not None:
            self.prefetcher.close()
            self.prefetcher = None

    def batch(self, step: int):
        images, boxes, classes = self.prefetcher.get(step)
        return to_input(images), boxes, classes

    def loss_and_backward(self, batch) -> float:
        x, boxes, classes = batch
        raws = self.model.forward(x)  # three (N, A (5 + C), S / s, S / s)
        grids = [raw.shape[2:] for raw in raws]
        size = x.shape[2:]  # S × S, or C × C with --crop
        targets = assign_targets(boxes, classes, self.per_scale, STRIDES, grids, size,
                                 len(PLATE_COLOURS))
        loss, cache = yolo_loss_forward([raw.astype(np.float64) for raw in raws], targets,
                                        self.per_scale, STRIDES)
        self.model.backward(tuple(g.astype(np.float32)
                                  for g in yolo_loss_backward(1.0, cache)))
        return loss

    def validation_sets(self) -> dict[str, PhotoSet]:
        """``{"val": held-out scenes, "<folder name>": photos, ...}``, built once."""
        if self._validation is None:
            held_out = SceneBatches(VALIDATION_SEED, self.recipe.val_size, self.recipe.size,
                                    self.recipe.scene_shapes, self.recipe.max_plates)
            images, boxes, classes = held_out.make(0)
            sets = {"val": PhotoSet(images, boxes, classes, [None] * len(images),
                                    [None] * len(images))}
            for folder in self.recipe.val:
                sets[Path(folder).name] = load_photo_folder(folder, self.recipe.size)
            self._validation = sets
        return self._validation

    def evaluate(self) -> dict[str, float]:
        """AP@0.5, AP@0.5:0.95, recall and precision on every validation set."""
        figures = {}
        for name, photos in self.validation_sets().items():
            report, _, _ = evaluate_locator(self.model, photos, self.per_scale, STRIDES,
                                            EVAL_BATCH, self.recipe.score_threshold)
            figures[f"{name}_ap50"] = report.ap50
            figures[f"{name}_ap50_95"] = report.ap50_95
            figures[f"{name}_recall"] = report.recall
            figures[f"{name}_precision"] = report.precision
        return figures

    def save_best(self, path: Path, figures: dict, step: int) -> None:
        recipe = self.recipe
        manifest = {"backbone": recipe.backbone, "input_size": [recipe.size, recipe.size],
                    "input_scale": INPUT_SCALE, "anchors": self.anchors.tolist(),
                    "strides": list(STRIDES), "classes": list(PLATE_COLOURS),
                    "recipe": asdict(recipe), "command": self.command, "seed": recipe.seed,
                    "step": step,
                    "data": {"synthetic": True, "images_seen": step * recipe.batch,
                             "val": list(recipe.val)},
                    "figures": figures}
        if self.init is not None:
            manifest["init"] = self.init
        save_weights(self.model, path, manifest)

    def config(self) -> dict:
        return {"recipe": asdict(self.recipe), "anchors": self.anchors.tolist(),
                "strides": list(STRIDES)}


# Options that decide the maths: a resumed run must keep them (the others may change).
RECIPE_OPTIONS = ("backbone", "size", "scene_size", "crop", "max_plates", "batch", "lr",
                  "final_lr", "warmup", "weight_decay", "clip", "seed", "anchor_scenes", "init")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minilpr train locator",
        description="Train the YOLOv3 plate locator on synthetic street scenes generated on the "
                    "fly; writes checkpoint.npz, best.npz (weights + manifest with the anchors), "
                    "log.csv, curves.png and config.json into --out.",
        epilog="Real photo folders such as ../shared/data/real/ccpd-scenes are for --val only: "
               "they are never trained on. Ctrl-C saves a checkpoint; continue with the same "
               "--out and --resume.")
    add = parser.add_argument
    add("--backbone", default="small", choices=tuple(BACKBONES),
        help="small: the CPU-sized Darknet (default); darknet53: YOLOv3's own (far too slow "
             "to train here); tiny: for tests and smoke runs")
    add("--size", type=int, default=416,
        help="the square input side in pixels, a multiple of 32 (default: 416)")
    add("--scene-size", type=int, nargs=2, action="append", default=None, metavar=("H", "W"),
        help="draw the scenes at H × W and letterbox them into the input, as photos are "
             "(e.g. 416 258 for CCPD's 1160 × 720 portrait frames at the input's scale); "
             "repeatable: each scene draws one of the sizes; default: at the input size")
    add("--crop", type=int, default=None, metavar="C",
        help="train on a C × C window of each letterboxed scene (a multiple of 32, at most "
             "--size; the window holds a plate most of the time): the plates keep the scale "
             "they have at --size for (C / size)² of the cost; validation sees the whole "
             "input (default: the whole input)")
    add("--max-plates", type=int, default=3, help="most plates per scene (default: 3)")
    add("--anchor-scenes", type=int, default=200,
        help="scenes whose plate boxes k-means clusters into the nine anchors (default: 200)")
    add_schedule_options(parser, batch=8, unit="scenes", weight_decay=5e-4, clip=10.0)
    add("--seed", type=int, default=0,
        help="seeds the weights and every training scene (default: 0)")
    add("--init", default=None, metavar="WEIGHTS",
        help="fine-tune: start from this locator weight file's weights and anchors (e.g. "
             "minilpr/assets/weights/locator.npz) with a fresh optimiser and schedule; its "
             "backbone and --size must match (default: fresh weights from --seed)")
    add("--out", type=Path, required=True, metavar="DIR", help="the run folder")
    add("--resume", action="store_true",
        help="continue the run in --out from its checkpoint.npz, with its saved options and "
             "anchors (--steps, --eval-every, --checkpoint-every, --checkpoint-minutes, "
             "--threads, --workers, --val, --val-size and --score-threshold may change)")
    add("--val", action="append", default=[], metavar="DIR",
        help="a photo folder to measure at every evaluation: CCPD-named photos or a YOLO "
             "folder (images/ + labels/); repeatable; evaluation only, never trained on")
    add("--val-size", type=int, default=200,
        help="scenes in the fixed held-out synthetic validation set (default: 200)")
    add("--score-threshold", type=float, default=0.25,
        help="recall and precision count detections scoring at least this (default: 0.25)")
    add_loop_options(parser, unit="scenes")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        anchors = None
        if args.resume:
            args = resumed_options(parser, argv, args.out, RECIPE_OPTIONS)
            anchors = json.loads((args.out / "config.json").read_text(encoding="utf-8"))[
                "anchors"]
        return _run(args, anchors)
    except (CheckpointError, TrainingDiverged, ValueError, FileNotFoundError) as error:
        print(f"minilpr train locator: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, anchors) -> int:
    if not args.resume:
        refuse_overwrite(args.out)
    for folder in args.val:
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"--val {folder}: no such folder")
    threads = limit_threads(args.threads)
    scene_shapes = tuple(tuple(shape) for shape in args.scene_size or ())
    recipe = LocatorRecipe(backbone=args.backbone, size=args.size, scene_shapes=scene_shapes,
                           crop=args.crop, max_plates=args.max_plates,
                           batch=args.batch, seed=args.seed, anchor_scenes=args.anchor_scenes,
                           val_size=args.val_size, val=tuple(str(v) for v in args.val),
                           score_threshold=args.score_threshold, workers=args.workers,
                           init=args.init)
    train = TrainConfig(steps=args.steps, lr=args.lr, warmup=args.warmup,
                        final_lr_fraction=args.final_lr, weight_decay=args.weight_decay,
                        clip=args.clip, eval_every=args.eval_every,
                        checkpoint_every=args.checkpoint_every,
                        checkpoint_minutes=args.checkpoint_minutes)
    command = _command_line(args)
    model = init = None
    if args.init is not None:
        model, init_anchors, init = init_from(args.init, recipe)
        anchors = init_anchors if anchors is None else anchors
    task = LocatorTask(recipe, anchors=anchors, model=model, command=command, init=init)
    out = args.out
    trainer = Trainer(task, train, out, progress=not args.no_progress,
                      resume_hint=f"minilpr train locator --out {shlex.quote(str(out))} --resume")
    if args.resume:
        trainer.resume()
    write_run_config(out, args, train=asdict(train), recipe=asdict(recipe),
                     anchors=task.anchors.tolist(), strides=list(STRIDES), threads=threads,
                     command=command)
    window = f" on {args.crop}×{args.crop} windows" if args.crop else ""
    start = f" (weights from {args.init})" if args.init else ""
    print(f"training the {args.backbone} locator at {args.size}×{args.size}{window} from step "
          f"{trainer.step} to {args.steps}{start}; anchors {_format_anchors(task.anchors)}; "
          f"{threads} BLAS thread(s), {args.workers} data worker(s); run folder {out}")
    return run_and_report(trainer, task)


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run: every option of the recipe spelt out."""
    return command_line(["minilpr", "train", "locator"], args, ("steps",) + RECIPE_OPTIONS,
                        multi_value=("scene_size",))


def _format_anchors(anchors: np.ndarray) -> str:
    return " ".join(f"{w:.0f}×{h:.0f}" for w, h in anchors)
