"""``minilpr anchors``: k-means anchors of a data set, printed (and plotted).

::

    minilpr anchors --data data/scenes -k 9 --plot anchors.png
    minilpr anchors --data ../shared/data/real/ccpd-geometry/ccpd_geometry.csv

``--data`` is a YOLO folder (``images/`` + ``labels/``), a folder of CCPD-named photos, or a CSV
of pixel boxes (`minilpr.detect.box_sizes`). Sizes are measured in the letterboxed input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from minilpr.detect.anchors import SCALE_STRIDES, kmeans_anchors, mean_iou_curve
from minilpr.detect.box_sizes import CCPD_IMAGE_SIZE, box_sizes


class _ArgumentError(Exception):
    """A bad command line or data set: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _ArgumentError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minilpr anchors",
                     description="k-means (1 - IoU) anchors of the boxes of a data set.")
    parser.add_argument("--data", type=Path, required=True,
                        help="a YOLO folder, a folder of CCPD photos, or a CSV of boxes")
    parser.add_argument("-k", type=int, default=9, help="number of anchors (default 9)")
    parser.add_argument("--seed", type=int, default=0, help="k-means++ seed (default 0)")
    parser.add_argument("--size", type=int, default=416,
                        help="the square network input the boxes are letterboxed to (416)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                        default=CCPD_IMAGE_SIZE,
                        help="image size of CSV rows without image_h/image_w columns "
                             f"(default CCPD's {CCPD_IMAGE_SIZE[0]} {CCPD_IMAGE_SIZE[1]})")
    parser.add_argument("--plot", type=Path, metavar="OUT.png",
                        help="draw the clusters and the mean-IoU-vs-k curve (k = 1..12)")
    return parser


def format_anchors(fit, strides=SCALE_STRIDES) -> str:
    """The anchors, by scale, and one darknet-style line ``w,h, w,h, ...`` to paste."""
    lines = [f"anchors (w × h, input pixels, by area), mean IoU {fit.mean_iou:.4f}:"]
    for stride, group in zip(strides, fit.per_scale):
        cells = "  ".join(f"{w:6.1f} × {h:5.1f}" for w, h in group)
        lines.append(f"  stride {stride:>2}: {cells}")
    lines.append("anchors = " + ", ".join(f"{w:.0f},{h:.0f}" for w, h in fit.anchors))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run ``minilpr anchors``; returns the exit status (0 done, 2 bad arguments or data)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        if args.k < 1:
            raise _ArgumentError(f"-k must be at least 1, got {args.k}")
        if args.size < 32:
            raise _ArgumentError(f"--size must be at least 32, got {args.size}")
        try:
            wh, kind = box_sizes(args.data, args.size, tuple(args.image_size))
        except (OSError, ValueError) as error:
            raise _ArgumentError(str(error)) from None
        usable = np.all(wh > 0, axis=1)
        if not usable.all():
            print(f"minilpr anchors: left out {int((~usable).sum())} boxes of zero size",
                  file=sys.stderr)
        wh = wh[usable]
        if len(wh) == 0:
            raise _ArgumentError(f"--data {args.data}: no boxes found")
        try:
            fit = kmeans_anchors(wh, args.k, seed=args.seed)
        except ValueError as error:
            raise _ArgumentError(f"--data {args.data}: {error}") from None
    except _ArgumentError as error:
        print(f"minilpr anchors: error: {error}", file=sys.stderr)
        return 2
    print(f"{len(wh)} boxes from {args.data} ({kind}), letterboxed to {args.size}×{args.size}")
    print(format_anchors(fit))
    if args.plot is not None:
        from minilpr.detect.anchors_plot import plot_anchors

        ks = range(1, min(12, len(np.unique(wh, axis=0))) + 1)
        curve = mean_iou_curve(wh, ks, seed=args.seed)
        print("mean IoU by k: " + ", ".join(f"{k}: {v:.3f}" for k, v in curve.items()))
        plot_anchors(wh, fit, curve, args.plot, title=str(args.data))
        print(f"wrote {args.plot}")
    return 0
