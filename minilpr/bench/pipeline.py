"""``minilpr bench pipeline``: one photo read end to end, the time of each stage.

A street scene of ``--size`` (640 × 480 by default) drawn by `minilpr.data.scenes.render_scene`
is read ``--repeat`` times after one warm-up read (JIT compilation, first allocations), and the
best time of each stage of `minilpr.pipeline.STAGES` is kept: letterbox, locator forward,
decode + NMS, crop, recogniser forward, CTC decoding. The issue's target: at most 100 ms warm
on 2 cores.

Until a trained locator is shipped (or given with ``--locator``), an untrained one of
``--backbone`` stands in: the locator's forward then costs what a trained one's does, but what
it finds is noise, so the crop, recogniser and decoding stages are timed on the scene's true
plate boxes instead, and decode + NMS on whatever the untrained network scores above 0.25.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from minilpr.bench._common import BenchParser, blas_description, positive_int

PROG = "minilpr bench pipeline"


def _size(text: str) -> tuple[int, int]:
    """"640x480" -> (640, 480): width, height."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got "
                                         f"{text!r}") from None
    if width < 32 or height < 32:
        raise argparse.ArgumentTypeError(f"the scene must be at least 32x32, got {text!r}")
    return width, height


def build_parser() -> argparse.ArgumentParser:
    parser = BenchParser(
        prog=PROG, description="Read one street scene end to end and time each stage (the "
                               "best of --repeat reads after a warm-up one).")
    parser.add_argument("--size", type=_size, default=(640, 480), metavar="WxH",
                        help="the scene's width and height in pixels (default 640x480)")
    parser.add_argument("--repeat", type=positive_int, default=10, metavar="N",
                        help="timed reads after the warm-up one; the best of each stage is "
                             "kept (default 10)")
    parser.add_argument("--locator", type=Path, metavar="W",
                        help="a locator weight file; default: the shipped one, else an "
                             "untrained locator of --backbone")
    parser.add_argument("--recognizer", type=Path, metavar="W",
                        help="a recogniser weight file (default: the shipped one)")
    parser.add_argument("--backbone", default="small", choices=("tiny", "small", "darknet53"),
                        help="the untrained stand-in's backbone when there is no locator "
                             "(default small, the one trained for shipping)")
    parser.add_argument("--input-size", type=int, default=416, metavar="S",
                        help="the untrained stand-in's input size, a multiple of 32 "
                             "(default 416)")
    parser.add_argument("--decoder", choices=("greedy", "beam", "grammar"), default="greedy",
                        help="CTC decoding (default greedy)")
    parser.add_argument("--seed", type=int, default=0, help="the scene's seed (default 0)")
    parser.add_argument("--threads", type=positive_int, default=1, metavar="N",
                        help="BLAS/OpenMP and OpenCV threads (default 1: on a busy 2-core "
                             "machine more is slower; 2 on a quiet one)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object as the last line")
    return parser


def stand_in_reader(backbone: str, size: int, recognizer, decoder: str):
    """A `PlateReader` with an untrained locator and nine plate-shaped anchors (a trained
    locator's come from k-means and travel in its weight file)."""
    from minilpr.detect.anchors import split_per_scale
    from minilpr.models.locator import STRIDES
    from minilpr.models.locator_weights import build_locator
    from minilpr.models.weights import load_recognizer
    from minilpr.pipeline import SHIPPED_RECOGNIZER, PlateReader

    model, _ = load_recognizer(recognizer or SHIPPED_RECOGNIZER)
    widths = np.geomspace(0.04, 0.5, 9) * size  # plate-shaped anchors, 3.1 : 1
    anchors = np.stack([widths, widths / 3.1], axis=1)
    return PlateReader(build_locator(backbone), model, split_per_scale(anchors, len(STRIDES)),
                       STRIDES, (size, size), decoder=decoder)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.input_size < 32 or args.input_size % 32:
        print(f"{PROG}: error: --input-size must be a positive multiple of 32, got "
              f"{args.input_size}", file=sys.stderr)
        return 2
    if args.seed < 0:
        print(f"{PROG}: error: --seed must be at least 0, got {args.seed}", file=sys.stderr)
        return 2

    from minilpr.data.scenes import SceneConfig, render_scene
    from minilpr.pipeline import SHIPPED_LOCATOR, STAGES, Laps, PlateReader
    from minilpr.threads import limit_threads

    limit_threads(args.threads)
    cv2.setNumThreads(args.threads)
    width, height = args.size
    scene = render_scene(np.random.default_rng(args.seed),
                         SceneConfig(height=height, width=width, letterbox_probability=0.0))
    trained = args.locator is not None or SHIPPED_LOCATOR.is_file()
    try:
        reader = (PlateReader.load(args.locator, args.recognizer, decoder=args.decoder)
                  if trained else
                  stand_in_reader(args.backbone, args.input_size, args.recognizer, args.decoder))
    except (OSError, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    best = {stage: float("inf") for stage in STAGES}
    for attempt in range(args.repeat + 1):
        if trained:
            seconds = reader.read(scene.image, trace=True).seconds
        else:  # the untrained locator's boxes are noise: read the true ones
            laps = Laps()
            reader.locate(scene.image, laps)
            seconds = {**laps.seconds,
                       **reader.read(scene.image, trace=True, boxes=scene.boxes).seconds}
        if attempt:
            best = {stage: min(best[stage], seconds[stage]) for stage in STAGES}
    plates = len(reader.read(scene.image, boxes=None if trained else scene.boxes))
    total = sum(best.values())
    locator = str(args.locator or SHIPPED_LOCATOR) if trained else \
        f"untrained {args.backbone} (no trained locator; crops from the true boxes)"
    print(f"BLAS: {blas_description()}")
    print(f"scene {width}×{height} (seed {args.seed}), {len(scene.plates)} plate(s); locator "
          f"{locator}, input {reader.input_size[1]}×{reader.input_size[0]}; {plates} plate(s) "
          f"read; decoder {args.decoder}; best of {args.repeat}\n")
    print(f"{'stage':<12} {'ms':>8}")
    for stage in STAGES:
        print(f"{stage:<12} {best[stage] * 1e3:8.1f}")
    print(f"{'total':<12} {total * 1e3:8.1f}   (target: at most 100 ms)")
    if not trained:
        print("\nuntrained, nearly every prediction scores above 0.25, so NMS sifts thousands "
              "of boxes: 'detect' is far slower than it is for a trained locator")
    if args.json:
        print(json.dumps({"size": [width, height], "repeat": args.repeat, "locator": locator,
                          "input_size": list(reader.input_size), "decoder": args.decoder,
                          "plates": plates, "stages_ms": {s: best[s] * 1e3 for s in STAGES},
                          "total_ms": total * 1e3, "blas": blas_description(),
                          "threads": args.threads},
                         ensure_ascii=False))
    return 0
