"""An experiment's finished cells as a CSV, a summary, a Markdown table and a plot.

Everything is drawn from the cells' own ``log.csv`` files (one row per evaluation), in this
order: ``results.csv`` gathers the rows of every finished cell × seed; the summary is computed
from ``results.csv`` as read back (each cell × seed's last row, then the mean, min, max and
standard deviation over its seeds), so the table's numbers are the CSV's; ``table.md`` prints
the summary in the patent's shape; ``curves.png`` draws accuracy and loss against the step.

Files written into the experiment folder (each to a temporary name, then renamed):

    results.csv    experiment, scale, cell, seed, step, seconds, lr, train_loss, then per test
                   set ``<set>_accuracy``, ``<set>_char_accuracy``, ``<set>_loss``
    summary.json   the plan and, per cell, every seed's final figures and their statistics
    table.md       the Markdown tables
    curves.png     accuracy and loss vs step, one colour per cell, one line per seed
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from minilpr.train.experiment import (LAYER_NAMES, SCALES, SYNTHETIC, ExperimentPlan,
                                      cell_folder)
from minilpr.train.log import RunLog

LEADING = ("experiment", "scale", "cell", "seed", "step", "seconds", "lr", "train_loss")
LOG_NAMES = {"elapsed_s": "seconds", "loss": "train_loss"}
SKIPPED = ("grad_norm", "images_per_s", "data_wait")


def gather_rows(plan: ExperimentPlan, out) -> list[dict]:
    """Every evaluation row of every finished cell × seed in ``out``, in grid order."""
    rows = []
    for cell in plan.cells:
        seed = 0
        while (cell_folder(out, cell, seed) / "result.json").is_file():
            for row in RunLog(cell_folder(out, cell, seed) / "log.csv").rows():
                record = {"experiment": plan.experiment, "scale": plan.scale,
                          "cell": cell.name, "seed": seed}
                for key, value in row.items():
                    if key not in SKIPPED:
                        record[LOG_NAMES.get(key, key)] = value
                rows.append(record)
            seed += 1
    return rows


def write_csv(rows: list[dict], path) -> None:
    """``rows`` as a CSV: the `LEADING` columns, then the figures in first-seen order."""
    columns = list(LEADING)
    for row in rows:
        columns += [k for k in row if k not in columns]
    _atomic(Path(path), lambda file: _write_rows(file, columns, rows), newline="")


def _write_rows(file, columns, rows) -> None:
    writer = csv.DictWriter(file, columns, restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def read_csv(path) -> list[dict]:
    """``results.csv`` back: numbers as floats (seed and step as ints), names as strings."""
    with Path(path).open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        for key, value in row.items():
            if key in ("experiment", "scale", "cell"):
                continue
            number = float(value) if value not in ("", "nan") else math.nan
            row[key] = int(number) if key in ("seed", "step") else number
    return rows


def figure_names(rows: list[dict]) -> list[str]:
    """The evaluation columns: ``synth_*`` first, then each real folder's."""
    names = [k for k in (rows[0] if rows else {}) if k not in LEADING]
    return sorted(names, key=lambda k: (not k.startswith(SYNTHETIC + "_"), names.index(k)))


def evaluated_sets(names: list[str]) -> list[str]:
    """The test sets among figure names (each has a ``<set>_loss``): synthetic first."""
    return [n[:-len("_loss")] for n in names if n.endswith("_loss")]


def summarise(plan: ExperimentPlan, rows: list[dict], out=None) -> dict:
    """Per cell, every seed's last row and the statistics of each figure over the seeds.

    Returns ``{"plan": ..., "cells": [{"cell", "label", "row", "column", "patent", "seeds",
    "steps", "seconds", "time_limited", "figures": {name: {"values", "mean", "min", "max",
    "std"}}}, ...]}`` (cells without a finished seed are left out; ``std`` is the sample
    standard deviation, 0 for one seed).
    """
    names = figure_names(rows)
    cells = []
    for cell in plan.cells:
        last = {}
        for row in rows:
            if row["cell"] == cell.name and row["step"] >= last.get(row["seed"], {"step": -1})[
                    "step"]:
                last[row["seed"]] = row
        if not last:
            continue
        finals = [last[s] for s in sorted(last)]
        limited = []
        for seed in sorted(last):
            result = cell_folder(out, cell, seed) / "result.json" if out is not None else None
            limited.append(bool(result and result.is_file() and json.loads(
                result.read_text(encoding="utf-8")).get("time_limited")))
        cells.append({
            "cell": cell.name, "label": cell.label, "row": cell.row, "column": cell.column,
            "patent": list(cell.patent) if cell.patent else None, "seeds": sorted(last),
            "steps": [r["step"] for r in finals], "seconds": [r["seconds"] for r in finals],
            "time_limited": limited,
            "figures": {name: _stats([r[name] for r in finals]) for name in names}})
    return {"plan": plan.to_dict(), "divisor": SCALES[plan.scale], "cells": cells}


def _stats(values: list[float]) -> dict:
    data = np.array(values, np.float64)
    return {"values": values, "mean": float(data.mean()), "min": float(data.min()),
            "max": float(data.max()),
            "std": float(data.std(ddof=1)) if len(data) > 1 else 0.0}


def formatted(stats: dict, percent: bool) -> str:
    """``mean`` or ``mean (min–max)``: percentages with one decimal, losses with three."""
    def number(v):
        if math.isnan(v):
            return "–"
        return f"{100 * v:.1f}" if percent else f"{v:.3f}"
    if stats["min"] == stats["max"]:
        return number(stats["mean"])
    return f"{number(stats['mean'])} ({number(stats['min'])}–{number(stats['max'])})"


def _set_name(name: str) -> str:
    return "synthetic" if name == SYNTHETIC else name


def markdown_table(summary: dict) -> str:
    """The summary in the patent's shape (Table 5 as layers × hidden units), then every cell."""
    plan = ExperimentPlan.from_dict(summary["plan"])
    cells = summary["cells"]
    lines = [f"# minilpr experiment {plan.experiment} ({plan.scale}: every width of the patent "
             f"÷ {summary['divisor']})", "",
             f"Each cell trained for {plan.steps} steps of {plan.batch} plates"
             + (f" or {plan.budget_minutes:g} minutes, whichever came first"
                if plan.budget_minutes else "")
             + f", then evaluated on {plan.test_size} fixed synthetic test plates (tilt to "
               "±30°)" + (" and on " + ", ".join(Path(v).name for v in plan.val)
                          if plan.val else "") + ". A figure is the mean over the seeds, "
             "with the lowest and highest seed in brackets (min–max); ACC is plate accuracy "
             "(%), loss the mean CTC loss per character on the same plates.", ""]
    if not cells:
        return "\n".join(lines + ["No cell has finished yet.", ""])
    sets = evaluated_sets(list(cells[0]["figures"]))
    if plan.experiment == "bilstm":
        lines += _layers_by_units(cells, sets)
    header = ["cell", "patent ACC / loss", "seeds", "steps", "minutes"]
    for s in sets:
        header += [f"{_set_name(s)} ACC", f"{_set_name(s)} char ACC", f"{_set_name(s)} loss"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in cells:
        figures = c["figures"]
        patent = f"{c['patent'][0]:.1f} / {c['patent'][1]:.2f}" if c["patent"] else "–"
        steps = _spread(c["steps"], "{:d}") + (" (time limit)" if any(c["time_limited"]) else "")
        minutes = _spread([s / 60 for s in c["seconds"]], "{:.1f}")
        row = [c["label"], patent, str(len(c["seeds"])), steps, minutes]
        for s in sets:
            row += [formatted(figures[f"{s}_accuracy"], True),
                    formatted(figures[f"{s}_char_accuracy"], True),
                    formatted(figures[f"{s}_loss"], False)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines + [""])


def _spread(values: list, form: str) -> str:
    """``low`` or ``low–high`` of ``values``, each written with ``form``."""
    low, high = form.format(min(values)), form.format(max(values))
    return low if low == high else f"{low}–{high}"


def _layers_by_units(cells: list[dict], sets: list[str]) -> list[str]:
    """Table 5's shape: a row per BiLSTM depth, a column per width; ``ACC / loss``."""
    columns = list(dict.fromkeys(c["column"] for c in cells))
    lines = []
    tables = [("patent (Table 5, ACC % / loss)", None)] + [(f"{_set_name(s)} ACC / loss", s)
                                                            for s in sets]
    for title, s in tables:
        lines += [f"| {title} | " + " | ".join(columns) + " |",
                  "|---|" + "---|" * len(columns)]
        for row_name in LAYER_NAMES.values():
            entries = []
            for column in columns:
                found = [c for c in cells if c["row"] == row_name and c["column"] == column]
                if not found:
                    entries.append("")
                elif s is None:
                    entries.append(f"{found[0]['patent'][0]:.1f} / {found[0]['patent'][1]:.2f}")
                else:
                    f = found[0]["figures"]
                    entries.append(f"{formatted(f[f'{s}_accuracy'], True)} / "
                                   f"{formatted(f[f'{s}_loss'], False)}")
            if any(entries):
                lines.append(f"| {row_name} | " + " | ".join(entries) + " |")
        lines.append("")
    return lines


def plot_experiment(rows: list[dict], path, title: str = "") -> None:
    """Accuracy and loss against the step: one colour per cell, one line per seed.

    Panels: synthetic plate accuracy, synthetic test loss, training loss, then each real
    folder's plate accuracy. Uses the Agg canvas directly (no window, no pyplot state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = figure_names(rows)
    panels = [(f"{SYNTHETIC}_accuracy", "synthetic test: plate (—), character (--) accuracy"),
              (f"{SYNTHETIC}_loss", "synthetic test: CTC loss per character"),
              ("train_loss", "training loss (mean since the last row)")]
    panels += [(f"{s}_accuracy", f"{s}: plate (—), character (--) accuracy")
               for s in evaluated_sets(names) if s != SYNTHETIC]
    figure = Figure(figsize=(4.2 * len(panels), 3.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    colours = _colours(len(cells))
    for ax, (key, panel_title) in zip(axes, panels):
        for cell, colour in zip(cells, colours):
            seeds = sorted({r["seed"] for r in rows if r["cell"] == cell})
            for seed in seeds:
                mine = [r for r in rows if r["cell"] == cell and r["seed"] == seed]
                steps = [r["step"] for r in mine]
                ax.plot(steps, [r.get(key, math.nan) for r in mine], color=colour, marker=".",
                        lw=1, alpha=0.8, label=cell if seed == seeds[0] else None)
                if key.endswith("_accuracy"):
                    char_key = key[:-len("accuracy")] + "char_accuracy"
                    ax.plot(steps, [r.get(char_key, math.nan) for r in mine], color=colour,
                            ls="--", lw=0.8, alpha=0.8)
        if key.endswith("_accuracy"):
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_title(panel_title, fontsize=9)
    axes[0].legend(fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.subplots_adjust(left=0.05, right=0.98, bottom=0.14, top=0.84, wspace=0.25)
    temp = Path(path).with_name(f".curves.{os.getpid()}.partial.png")
    figure.savefig(temp)
    os.replace(temp, path)


def _colours(n: int) -> list:
    from matplotlib import colormaps

    palette = colormaps["tab10" if n <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(n)]


def write_reports(plan: ExperimentPlan, out, plot: bool = True) -> dict:
    """Write ``results.csv``, ``summary.json``, ``table.md`` and (with ``plot``) ``curves.png``;
    returns the summary."""
    out = Path(out)
    write_csv(gather_rows(plan, out), out / "results.csv")
    rows = read_csv(out / "results.csv")
    summary = summarise(plan, rows, out)
    _atomic(out / "summary.json", lambda f: f.write(json.dumps(summary, indent=2,
                                                               ensure_ascii=False)))
    _atomic(out / "table.md", lambda f: f.write(markdown_table(summary)))
    if plot and rows:
        plot_experiment(rows, out / "curves.png",
                        f"minilpr experiment {plan.experiment} ({plan.scale})")
    return summary


def _atomic(path: Path, write, newline=None) -> None:
    # a name of this process's own: two processes given disjoint --cells share the folder
    temp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with temp.open("w", encoding="utf-8", newline=newline) as file:
        write(file)
    os.replace(temp, path)
