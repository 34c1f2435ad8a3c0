"""The run's record: one CSV row per evaluation, and a PNG of the curves drawn from it.

The CSV is the truth and the picture is redrawn from it after every row, so a resumed run's
curves continue the old ones. A resumed run first drops the rows written after the checkpoint
it resumes from (the killed run may have logged a little further than it saved).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

FIXED_COLUMNS = ("step", "elapsed_s", "lr", "loss", "grad_norm", "images_per_s", "data_wait")


class RunLog:
    """``log.csv`` of a run: `append` rows (dicts), `rows` reads them back as floats.

    The header is the fixed columns (`FIXED_COLUMNS`) followed by the evaluation figures of the
    first row, in the order given; later rows fill the same columns (a missing figure is left
    empty).
    """

    def __init__(self, path):
        self.path = Path(path)

    def rows(self) -> list[dict[str, float]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as file:
            return [{key: _number(value) for key, value in row.items()}
                    for row in csv.DictReader(file)]

    def header(self) -> list[str] | None:
        if not self.path.is_file():
            return None
        with self.path.open(newline="", encoding="utf-8") as file:
            return next(csv.reader(file), None)

    def append(self, row: dict) -> None:
        header = self.header()
        if header is None:
            header = list(FIXED_COLUMNS) + [k for k in row if k not in FIXED_COLUMNS]
            with self.path.open("w", newline="", encoding="utf-8") as file:
                csv.writer(file).writerow(header)
        with self.path.open("a", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, header, restval="", extrasaction="ignore")
            writer.writerow({k: _format(v) for k, v in row.items()})

    def truncate_after(self, step: int) -> None:
        """Drop the rows of steps after ``step`` (rewriting the file)."""
        header = self.header()
        if header is None:
            return
        with self.path.open(newline="", encoding="utf-8") as file:
            kept = [row for row in csv.DictReader(file) if float(row["step"]) <= step]
        with self.path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, header)
            writer.writeheader()
            writer.writerows(kept)


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def plot_curves(rows: list[dict[str, float]], path) -> None:
    """Draw the training loss (left) and every evaluation figure (right) against the step.

    Uses matplotlib's Agg canvas directly: no window, no global pyplot state.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter

    if not rows:
        return
    steps = [row["step"] for row in rows]
    figure = Figure(figsize=(10, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    loss_axes, figure_axes = figure.subplots(1, 2)
    loss_axes.plot(steps, [row["loss"] for row in rows], marker=".", label="training loss")
    if all(row["loss"] > 0 for row in rows):
        loss_axes.set_yscale("log")
        loss_axes.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        loss_axes.yaxis.set_minor_formatter(FormatStrFormatter("%.3g"))
    loss_axes.set_xlabel("step")
    loss_axes.set_title("training loss (mean since the last row)")
    names = [k for k in rows[0] if k not in FIXED_COLUMNS]
    for name in names:
        figure_axes.plot(steps, [row.get(name, math.nan) for row in rows], marker=".",
                         label=name)
    values = [row.get(name, math.nan) for row in rows for name in names]
    if values and all(0 <= v <= 1 for v in values if not math.isnan(v)):
        figure_axes.set_ylim(-0.02, 1.02)  # fractions: the whole range, so progress is honest
    figure_axes.set_xlabel("step")
    figure_axes.set_title("evaluation")
    if names:
        figure_axes.legend(fontsize=8)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, wspace=0.2)
    figure.savefig(Path(path))
