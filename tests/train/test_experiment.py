"""``minilpr experiment``: the grids, a toy run's files, skipping and resuming, the table = CSV."""

import csv
import json
import os
import re

import numpy as np
import pytest

import minilpr.train.experiment as experiment
from minilpr.models.plate_ctc import ctc_targets
from minilpr.models.recognizer import RecognizerConfig
from minilpr.nn.ctc import CTCLoss
from minilpr.train.data import validation_augment
from minilpr.train.experiment import (ExperimentPlan, ExperimentTask, check_plan, grid,
                                      plan_with_defaults, run_cell, run_experiment,
                                      select_cells, split_loss)
from minilpr.train.experiment_cli import build_parser, main
from minilpr.train.recognizer import RecognizerRecipe
from tests.train.standin import StandInRecognizer

TOY_CELLS = ["l1-h16", "l2-h16"]


def toy_plan(**changes) -> ExperimentPlan:
    options = dict(experiment="bilstm", scale="tiny", steps=2, budget_minutes=0, seeds=2,
                   batch=2, warmup=1, eval_every=1, test_size=4)
    return ExperimentPlan(**{**options, **changes})


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiment")
    lines = []
    results = run_experiment(toy_plan(), out, cells=TOY_CELLS, workers=0, say=lines.append)
    return out, results, lines


def test_the_grids_and_their_widths():
    assert [c.name for c in grid("stn")] == ["no-stn", "stn"]
    assert grid("stn")[1].model_config("tiny").stn == "compact"
    assert grid("stn")[0].patent == (94.6, 0.53) and grid("stn")[1].patent == (96.1, 0.40)
    tiny, small = grid("bilstm", "tiny"), grid("bilstm", "small")
    assert len(tiny) == 12
    assert sorted({c.model_config("tiny").lstm_hidden for c in tiny}) == [16, 32, 64, 128]
    assert sorted({c.model_config("small").lstm_hidden for c in small}) == [32, 64, 128, 256]
    assert sorted({c.model_config("tiny").lstm_layers for c in tiny}) == [1, 2, 3]
    best = [c for c in tiny if c.name == "l2-h64"][0]
    assert best.patent == (94.6, 0.53) and best.column == "64 (patent 512)"
    # the patent's default network is the two-layer, 512-unit cell scaled: the preset itself
    assert best.model_config("tiny") == RecognizerConfig.preset("tiny")
    assert [c.model_config("tiny").fc for c in grid("fc")] == [(), (128,), (128, 128)]
    assert [c.model_config("small").fc for c in grid("fc", "small")] == [(), (256,), (256, 256)]
    assert grid("fc")[1].label == "Two-FC (F1 = 128, F2 = 71)"
    assert all(c.model_config("tiny").stn is None for c in grid("bilstm") + grid("fc"))


def test_bad_names_are_refused_in_one_line():
    with pytest.raises(ValueError, match="experiment must be one of stn, bilstm, fc"):
        grid("lstm")
    with pytest.raises(ValueError, match="--scale must be one of tiny, small"):
        ExperimentPlan("stn", scale="patent")
    with pytest.raises(ValueError, match="--cells: l9-h1 not in the bilstm grid"):
        select_cells(toy_plan(), ["l9-h1"])
    with pytest.raises(ValueError, match="--steps must be at least 1"):
        ExperimentPlan("fc", steps=0)


def test_defaults_fill_what_is_not_given():
    plan = plan_with_defaults("stn", steps=None, budget_minutes=None, seeds=None)
    assert (plan.steps, plan.budget_minutes, plan.seeds) == (12000, 120.0, 3)
    assert plan.eval_every == 1200 and plan.stn_stage == 3000
    plan = plan_with_defaults("bilstm", steps=40, seeds=None)
    assert plan.steps == 40 and plan.eval_every == 4 and plan.seeds == 1


def test_every_cell_sees_the_same_tilted_stream_whatever_its_seed():
    tasks = [ExperimentTask(RecognizerRecipe(seed=seed, batch=3, workers=0, val_size=2),
                            StandInRecognizer(np.random.default_rng(seed)))
             for seed in (0, 1)]
    first, second = (t.source.make(5) for t in tasks)
    assert first[1] == second[1] and np.array_equal(first[0], second[0])
    assert tasks[0].source.augment == validation_augment()
    assert list(tasks[0].validation_sets()) == ["synth"]


def test_split_loss_is_the_ctc_loss_of_the_known_labels():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((27, 3, 71)).astype(np.float32)
    texts = ["京A12345", "粤B1234学", "京A1234?"]  # the last has a character outside the charset
    targets, lengths = ctc_targets(texts[:2])
    expected = CTCLoss().forward(logits[:, :2], targets, np.full(2, 27), lengths)
    assert split_loss(logits, texts) == pytest.approx(float(expected), rel=1e-12)
    assert np.isnan(split_loss(logits[:, 2:], texts[2:]))


def test_a_toy_run_writes_a_well_formed_csv_table_and_plot(toy_run):
    out, results, _ = toy_run
    assert [(r["cell"], r["seed"], r["step"]) for r in results] == \
        [("l1-h16", 0, 2), ("l1-h16", 1, 2), ("l2-h16", 0, 2), ("l2-h16", 1, 2)]
    with (out / "results.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0])[:8] == ["experiment", "scale", "cell", "seed", "step", "seconds", "lr",
                                 "train_loss"]
    assert {"synth_accuracy", "synth_char_accuracy", "synth_loss"} <= set(rows[0])
    assert [(r["cell"], r["seed"], r["step"]) for r in rows] == \
        [(c, s, t) for c in TOY_CELLS for s in "01" for t in "12"]
    for row in rows:
        assert 0 <= float(row["synth_accuracy"]) <= 1 and float(row["synth_loss"]) > 0
        assert float(row["seconds"]) >= 0 and float(row["train_loss"]) > 0
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "| One-BLSTM, 16 hidden |" in table and "| Two-BLSTM, 16 hidden |" in table
    assert "| patent (Table 5, ACC % / loss) |" in table and "89.2 / 0.78" in table
    assert "min–max" in table
    assert (out / "curves.png").stat().st_size > 5000
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [c["cell"] for c in summary["cells"]] == TOY_CELLS
    assert summary["cells"][0]["seeds"] == [0, 1] and summary["cells"][0]["steps"] == [2, 2]
    assert not list(out.rglob(".*partial*"))


def test_the_tables_numbers_are_the_csvs(toy_run):
    out, _, _ = toy_run
    with (out / "results.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    table = (out / "table.md").read_text(encoding="utf-8").splitlines()
    header = [h.strip() for h in next(line for line in table
                                      if line.startswith("| cell |")).strip("|").split("|")]
    for cell, label in zip(TOY_CELLS, ("One-BLSTM, 16 hidden", "Two-BLSTM, 16 hidden")):
        last = {}
        for row in rows:
            if row["cell"] == cell and int(row["step"]) >= int(last.get(row["seed"],
                                                                        {"step": -1})["step"]):
                last[row["seed"]] = row
        line = next(line for line in table if line.startswith(f"| {label} |"))
        entries = dict(zip(header, (e.strip() for e in line.strip("|").split("|"))))
        for column, key, scale, digits in (("synthetic ACC", "synth_accuracy", 100, 1),
                                           ("synthetic char ACC", "synth_char_accuracy", 100, 1),
                                           ("synthetic loss", "synth_loss", 1, 3)):
            values = [scale * float(r[key]) for r in last.values()]
            numbers = [float(x) for x in re.findall(r"\d+\.\d+", entries[column])]
            assert numbers[0] == round(float(np.mean(values)), digits), (cell, column)
            if len(numbers) == 3:
                assert numbers[1:] == [round(min(values), digits), round(max(values), digits)]
            else:
                assert round(min(values), digits) == round(max(values), digits)
        assert entries["seeds"] == "2" and entries["steps"] == "2"


def test_a_rerun_skips_the_finished_cells(toy_run, monkeypatch):
    out, first, _ = toy_run
    calls = []
    monkeypatch.setattr(experiment.Trainer, "run", lambda self: calls.append(self) or 1 / 0)
    lines = []
    again = run_experiment(toy_plan(), out, cells=TOY_CELLS, workers=0, say=lines.append)
    assert calls == []
    assert again == first
    assert sum("finished, skipped" in line for line in lines) == 4


def test_a_changed_plan_is_refused_but_more_seeds_are_welcome(toy_run, tmp_path):
    out, _, _ = toy_run
    with pytest.raises(ValueError, match=r"ran with --steps 2, not 3; keep it"):
        check_plan(toy_plan(steps=3), out)
    with pytest.raises(ValueError, match="ran with --budget 0"):
        check_plan(toy_plan(budget_minutes=5), out)
    fresh = tmp_path / "copy"
    check_plan(toy_plan(), fresh)
    check_plan(toy_plan(seeds=5), fresh)
    assert json.loads((fresh / "experiment.json").read_text())["seeds"] == 5


def test_a_killed_cell_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    plan = toy_plan(steps=4, seeds=1)
    cell = select_cells(plan, ["l1-h16"])[0]
    whole = run_cell(plan, cell, 0, tmp_path / "whole", workers=0, say=lambda line: None)

    draw = ExperimentTask.batch

    def killed_at_step_2(self, step):
        if step == 2:
            raise KeyboardInterrupt
        return draw(self, step)

    monkeypatch.setattr(ExperimentTask, "batch", killed_at_step_2)
    with pytest.raises(KeyboardInterrupt):
        run_cell(plan, cell, 0, tmp_path / "killed", workers=0, say=lambda line: None)
    folder = experiment.cell_folder(tmp_path / "killed", cell, 0)
    assert (folder / "checkpoint.npz").is_file() and not (folder / "result.json").exists()
    monkeypatch.setattr(ExperimentTask, "batch", draw)
    lines = []
    resumed = run_cell(plan, cell, 0, tmp_path / "killed", workers=0, say=lines.append)
    assert any("resuming l1-h16 seed 0 from step 2" in line for line in lines)
    assert resumed["step"] == 4
    assert resumed["figures"] == whole["figures"]  # bit-identical training, the same reads
    with (folder / "log.csv").open(newline="", encoding="utf-8") as file:
        assert [row["step"] for row in csv.DictReader(file)] == ["1", "2", "3", "4"]


def test_a_cell_killed_after_its_last_checkpoint_is_not_trained_again(tmp_path, monkeypatch):
    plan = toy_plan(seeds=1)
    cell = select_cells(plan, ["l1-h16"])[0]
    whole = run_cell(plan, cell, 0, tmp_path, workers=0, say=lambda line: None)
    (experiment.cell_folder(tmp_path, cell, 0) / "result.json").unlink()
    monkeypatch.setattr(experiment.Trainer, "run", lambda self: 1 / 0)
    again = run_cell(plan, cell, 0, tmp_path, workers=0, say=lambda line: None)
    assert again["step"] == whole["step"] == 2 and not again["time_limited"]
    assert again["figures"] == pytest.approx(whole["figures"], rel=1e-5)  # the log's 6 digits


def test_the_wall_clock_cap_ends_a_cell_early_and_says_so(tmp_path):
    plan = toy_plan(steps=50, seeds=1, budget_minutes=1e-6)
    results = run_experiment(plan, tmp_path, cells=["l1-h16"], workers=0,
                             say=lambda line: None)
    assert results[0]["step"] == 1 and results[0]["time_limited"]
    assert "| 1 (time limit) |" in (tmp_path / "table.md").read_text(encoding="utf-8")


def test_the_minilpr_command_dispatches_to_it(capsys):
    from minilpr.cli import main as minilpr_main

    with pytest.raises(SystemExit) as exit_info:
        minilpr_main(["experiment", "--help"])
    assert exit_info.value.code == 0
    assert "usage: minilpr experiment" in capsys.readouterr().out


def test_help_explains_every_option():
    parser = build_parser()
    for action in parser._actions:
        assert action.help, action.dest
    text = parser.format_help()
    for option in ("--scale", "--budget", "--steps", "--seeds", "--out", "--val", "--cells",
                   "--report-only"):
        assert option in text


def test_cli_report_only_and_bad_input(toy_run, tmp_path, capsys):
    out, _, _ = toy_run
    args = ["bilstm", "--steps", "2", "--budget", "0", "--seeds", "2", "--batch", "2",
            "--warmup", "1", "--eval-every", "1", "--test-size", "4", "--out", str(out)]
    assert main(args + ["--report-only"]) == 0
    assert "2 cell(s) finished" in capsys.readouterr().out
    assert main(args + ["--val", str(tmp_path / "nowhere")]) == 1
    assert "--val" in capsys.readouterr().err
    assert main(["fc", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "holds the bilstm experiment, not fc; choose another --out")


def test_cli_trains_a_chosen_cell(tmp_path, capsys):
    out = tmp_path / "stn"
    code = main(["stn", "--cells", "no-stn", "--steps", "2", "--budget", "0", "--seeds", "1",
                 "--batch", "2", "--warmup", "1", "--eval-every", "1", "--test-size", "4",
                 "--workers", "0", "--no-progress", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "1 cell(s) × 1 seed(s), 2 steps each" in printed and "done:" in printed
    assert (out / "cells" / "no-stn" / "seed0" / "result.json").is_file()
    assert not (out / "cells" / "stn").exists()
    plan = json.loads((out / "experiment.json").read_text(encoding="utf-8"))
    assert plan["experiment"] == "stn" and plan["steps"] == 2 and plan["stn_stage"] == 0
    assert "| without STN | 94.6 / 0.53 | 1 | 2 |" in (out / "table.md").read_text("utf-8")


def test_jobs_train_cells_in_parallel_processes_to_the_same_numbers(toy_run, tmp_path):
    _, sequential, _ = toy_run
    lines = []
    parallel = run_experiment(toy_plan(), tmp_path, cells=TOY_CELLS, workers=0,
                              say=lines.append, jobs=2)
    # every cell is a pure function of its seed: two processes reach the sequential figures
    assert [(r["cell"], r["seed"], r["step"], r["figures"]) for r in parallel] == \
        [(r["cell"], r["seed"], r["step"], r["figures"]) for r in sequential]
    assert sorted(int(line.split("/")[0].strip("[")) for line in lines) == [1, 2, 3, 4]
    with (tmp_path / "results.csv").open(newline="", encoding="utf-8") as file:
        assert len(list(csv.DictReader(file))) == 8
    with pytest.raises(ValueError, match="--jobs must be at least 1"):
        run_experiment(toy_plan(), tmp_path, cells=TOY_CELLS, jobs=0)


@pytest.mark.slow
def test_a_sigint_to_the_runner_alone_stops_every_job_with_its_checkpoint(tmp_path):
    """kill -INT of the runner (not of its process group, as a terminal's Ctrl-C would) still
    stops the cells' processes, each with its checkpoint, instead of waiting for them forever."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "grid"
    command = [sys.executable, "-m", "minilpr", "experiment", "stn", "--steps", "100000",
               "--budget", "0", "--seeds", "1", "--jobs", "2", "--test-size", "8",
               "--batch", "2", "--eval-every", "50", "--workers", "0", "--no-progress",
               "--out", str(out)]
    runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    logs = [out / "cells" / cell / "seed0" / "log.csv" for cell in ("no-stn", "stn")]
    deadline = time.monotonic() + 240
    while not all(log.is_file() for log in logs) and time.monotonic() < deadline:
        assert runner.poll() is None, runner.stdout.read()
        time.sleep(0.5)
    assert all(log.is_file() for log in logs), "the cells never started training"
    runner.send_signal(signal.SIGINT)           # the runner only: its jobs get nothing
    try:
        output, _ = runner.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(runner.pid, signal.SIGKILL)
        raise AssertionError("the runner did not stop its jobs") from None
    assert runner.returncode == 130, output
    for log in logs:
        assert (log.parent / "checkpoint.npz").is_file(), output
    assert "interrupted" in output
