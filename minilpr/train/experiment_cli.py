"""``minilpr experiment stn|bilstm|fc``: rerun one of the patent's experiments on this CPU.

Parses the command line into an `ExperimentPlan` and hands it to `run_experiment`
(`minilpr.train.experiment`), which trains the grid's cells one by one with the shared
`Trainer`; `--report-only` redraws the reports from the cells already finished.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from minilpr.models.stn import CONFIGS as STN_PRESETS
from minilpr.train.checkpoint import CheckpointError
from minilpr.train.experiment import (DEFAULTS, EXPERIMENTS, SCALES, check_plan,
                                      plan_with_defaults, run_experiment, select_cells)
from minilpr.train.loop import TrainingDiverged


def build_parser() -> argparse.ArgumentParser:
    defaults = "; ".join(f"{name} {d['steps']} steps, {d['budget']:g} min, {d['seeds']} seed(s)"
                         for name, d in DEFAULTS.items())
    parser = argparse.ArgumentParser(
        prog="minilpr experiment",
        description="Rerun one of the patent's experiments on synthetic tilted plates: stn "
                    "(with and without the spatial transformer), bilstm (Table 5: 1-3 BiLSTM "
                    "layers x 4 widths) or fc (Table 6: 1-3 FC layers). Every cell trains "
                    "with the same step budget on the same synthetic stream and is tested on "
                    "the same fixed synthetic split (and any --val folders); --out receives "
                    "results.csv, summary.json, table.md and curves.png.",
        epilog=f"Defaults per experiment: {defaults}. Rerunning the same command skips the "
               "finished cells and resumes a killed one from its checkpoint. Real crop "
               "folders such as ../shared/data/real/lprnet-crops-dev are measured only, "
               "never trained on. See docs/experiments.md.")
    add = parser.add_argument
    add("experiment", choices=EXPERIMENTS, help="which experiment: stn, bilstm or fc")
    add("--scale", default="tiny", choices=tuple(SCALES),
        help="network widths: tiny (the patent's ÷ 8: hidden units 16/32/64/128 stand for "
             "128/256/512/1024) or small (÷ 4: 32/64/128/256); default: tiny")
    add("--steps", type=int, default=None, metavar="N",
        help="the step budget of every cell (default: per experiment, see below)")
    add("--budget", type=float, default=None, metavar="MINUTES",
        help="wall-clock cap per cell: a cell still short of --steps after this many minutes "
             "stops there, its steps and seconds recorded; 0 for no cap (default: per "
             "experiment)")
    add("--seeds", type=int, default=None, metavar="K",
        help="seeds 0..K-1 per cell (initial weights and dropout; the data are the same "
             "for every seed); may grow on a rerun (default: per experiment)")
    add("--out", type=Path, default=None, metavar="DIR",
        help="the experiment folder (default: runs/experiments/EXPERIMENT-SCALE)")
    add("--val", action="append", default=[], metavar="DIR",
        help="a real crop folder (file name = plate) measured at every evaluation; "
             "repeatable; never trained on")
    add("--test-size", type=int, default=1000, metavar="N",
        help="plates in the fixed synthetic test split (every kind, tilt to ±30°; "
             "default: 1000)")
    add("--batch", type=int, default=32, help="plates per step (default: 32)")
    add("--lr", type=float, default=1e-3,
        help="peak AdamW learning rate, cosine to 1%% of it at --steps (default: 1e-3)")
    add("--warmup", type=int, default=300, help="warm-up steps (default: 300)")
    add("--eval-every", type=int, default=0, metavar="STEPS",
        help="steps between evaluations, one CSV row each (default: a tenth of --steps)")
    add("--stn", default="compact", choices=tuple(STN_PRESETS), metavar="PRESET",
        help=f"the STN preset of the stn experiment's STN cell ({', '.join(STN_PRESETS)}; "
             "default: compact)")
    add("--stn-stage", type=int, default=None, metavar="STEPS",
        help="the STN stays frozen at the identity for the first STEPS steps (default: a "
             "quarter of --steps)")
    add("--cells", nargs="+", default=None, metavar="NAME",
        help="train only these cells (names as in results.csv, e.g. l2-h64 or fc2); two "
             "processes given disjoint --cells can share one --out")
    add("--report-only", action="store_true",
        help="train nothing: rewrite results.csv, summary.json, table.md and curves.png "
             "from the cells already finished")
    add("--threads", type=int, default=None,
        help="BLAS threads (default: MINILPR_BLAS_THREADS, else 1, the fastest on a busy "
             "2-core laptop)")
    add("--workers", type=int, default=1,
        help="data worker processes per cell; 0 makes batches in the training process "
             "(default: 1)")
    add("--jobs", type=int, default=min(2, os.cpu_count() or 1),
        help="cells trained at once, each in its own process with one BLAS thread (default: "
             "2 where there are two cores or more, which halves the grid's wall clock; 1 "
             "trains them one after the other in this process)")
    add("--no-progress", action="store_true", help="no progress bar (for logs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    out = args.out or Path("runs") / "experiments" / f"{args.experiment}-{args.scale}"
    try:
        plan = plan_with_defaults(
            args.experiment, scale=args.scale, steps=args.steps, budget_minutes=args.budget,
            seeds=args.seeds, batch=args.batch, lr=args.lr, warmup=args.warmup,
            eval_every=args.eval_every, test_size=args.test_size,
            val=tuple(str(v) for v in args.val), stn=args.stn, stn_stage=args.stn_stage)
        for folder in plan.val:
            if not Path(folder).is_dir():
                raise FileNotFoundError(f"--val {folder}: no such folder")
        select_cells(plan, args.cells)
        if args.report_only:
            from minilpr.train.experiment_report import write_reports

            summary = write_reports(plan, out)
            print(f"{len(summary['cells'])} cell(s) finished; reports in {out}")
            return 0
        from minilpr.threads import limit_threads

        check_plan(plan, out)
        threads = limit_threads(args.threads)
        cells = select_cells(plan, args.cells)
        print(f"minilpr experiment {plan.experiment} ({plan.scale}): {len(cells)} cell(s) × "
              f"{plan.seeds} seed(s), {plan.steps} steps"
              + (f" or {plan.budget_minutes:g} min" if plan.budget_minutes else "")
              + " each; "
              + (f"{args.jobs} cells at once, 1 BLAS thread each" if args.jobs > 1
                 else f"{threads} BLAS thread(s)") + f"; folder {out}")
        run_experiment(plan, out, cells=args.cells, workers=args.workers,
                       progress=not args.no_progress and args.jobs == 1, jobs=args.jobs)
    except KeyboardInterrupt:
        print("minilpr experiment: interrupted; every cell in progress saved its checkpoint; "
              "rerun the same command to continue", file=sys.stderr)
        return 130
    except (CheckpointError, TrainingDiverged, ValueError, FileNotFoundError,
            RuntimeError) as error:
        print(f"minilpr experiment: {error}", file=sys.stderr)
        return 1
    print(f"done: {out / 'table.md'}, {out / 'results.csv'}, {out / 'curves.png'}")
    return 0
