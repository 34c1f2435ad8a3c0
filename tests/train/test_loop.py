"""The shared training loop: bit-identical resume, Ctrl-C, the NaN guard, staged groups, logs."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minilpr.train.checkpoint import load_checkpoint
from minilpr.train.loop import TrainConfig, Trainer, TrainingDiverged
from minilpr.train.task import module_generators
from tests.train.standin import ToyTask

CONFIG = TrainConfig(steps=12, lr=1e-2, warmup=3, eval_every=4, checkpoint_every=5,
                     checkpoint_minutes=0)


def trainer(tmp_path, name="run", config=CONFIG, plot=False, **task_options):
    return Trainer(ToyTask(**task_options), config, tmp_path / name, progress=False,
                   say=lambda line: None, plot=plot)


def assert_same_training_state(a: Trainer, b: Trainer):
    """Every parameter, buffer, optimizer array, schedule and generator, bit for bit."""
    sa, sb = a.state(), b.state()
    assert sa.step == sb.step
    assert sa.model.keys() == sb.model.keys()
    for name in sa.model:
        assert np.array_equal(sa.model[name], sb.model[name]), name
    assert sa.optimizers.keys() == sb.optimizers.keys()
    for opt in sa.optimizers:
        assert sa.optimizers[opt].keys() == sb.optimizers[opt].keys()
        for key, value in sa.optimizers[opt].items():
            assert np.array_equal(value, sb.optimizers[opt][key]), (opt, key)
    assert sa.schedules == sb.schedules
    assert sa.rngs == sb.rngs
    assert sa.best == sb.best


@pytest.mark.parametrize("front_start", [0, 7])
def test_resume_after_ctrl_c_is_bit_identical(tmp_path, front_start):
    whole = trainer(tmp_path, "whole", front_start=front_start)
    whole.run()
    first = trainer(tmp_path, "split", front_start=front_start, interrupt_at=6)
    result = first.run()
    assert result.interrupted and result.step == 6
    second = trainer(tmp_path, "split", front_start=front_start)
    second.resume()
    assert second.step == 6
    second.run()
    assert_same_training_state(whole, second)
    assert [r["step"] for r in second.log.rows()] == [4, 8, 12]


def test_resume_from_a_periodic_checkpoint_drops_later_log_rows(tmp_path):
    whole = trainer(tmp_path, "whole")
    whole.run()
    crashed = trainer(tmp_path, "split", nan_at=8)  # evaluated at 4 and 8, saved at 5
    with pytest.raises(TrainingDiverged):
        crashed.run()
    assert [r["step"] for r in crashed.log.rows()] == [4, 8]
    resumed = trainer(tmp_path, "split")
    resumed.resume()
    assert resumed.step == 5 and [r["step"] for r in resumed.log.rows()] == [4]
    resumed.run()
    assert_same_training_state(whole, resumed)
    assert [r["step"] for r in resumed.log.rows()] == [4, 8, 12]


def test_interrupt_mid_step_saves_the_state_before_the_step(tmp_path):
    # The interrupt comes after the forward pass: batch norm's statistics and the dropout
    # generator have moved; the checkpoint must hold the state at the start of the step.
    run = trainer(tmp_path, interrupt_at=3)
    messages = []
    run.say = messages.append
    result = run.run()
    assert result.interrupted and result.step == 3
    assert run.task.closed
    reference = trainer(tmp_path, "reference", stop_before=3)
    reference.run()
    saved = load_checkpoint(run.checkpoint_path)
    ref = reference.state()
    for name in ref.model:
        assert np.array_equal(saved.model[name], ref.model[name]), name
    assert saved.rngs == ref.rngs
    assert len(messages) == 1 and "interrupted: saved step 3" in messages[0]


def test_resume_hint_is_printed(tmp_path):
    run = trainer(tmp_path, interrupt_at=1)
    messages = []
    run.say, run.resume_hint = messages.append, "minilpr train toy --out run --resume"
    run.run()
    assert messages[0].endswith("resume with: minilpr train toy --out run --resume")


def test_nan_loss_stops_with_one_line_and_keeps_the_checkpoint(tmp_path):
    run = trainer(tmp_path, nan_at=7)
    with pytest.raises(TrainingDiverged) as info:
        run.run()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("step 8: the loss is nan")
    assert f"{run.checkpoint_path} (step 5) is intact" in message
    saved = load_checkpoint(run.checkpoint_path)
    assert saved.step == 5
    assert run.task.closed


def test_nan_before_any_checkpoint_says_so(tmp_path):
    run = trainer(tmp_path, nan_at=0)
    with pytest.raises(TrainingDiverged, match="step 1: the loss is nan.*no checkpoint"):
        run.run()
    assert not run.checkpoint_path.exists()


def test_nonfinite_gradient_is_caught(tmp_path):
    run = trainer(tmp_path)
    original = run.task.loss_and_backward

    def poisoned(batch):
        loss = original(batch)
        run.task.model.body[4].weight.grad[0, 0] = np.inf
        return loss

    run.task.loss_and_backward = poisoned
    with pytest.raises(TrainingDiverged, match="step 1: the gradient norm is"):
        run.run()


def test_frozen_group_does_not_move_until_its_start(tmp_path):
    run = trainer(tmp_path, config=TrainConfig(**{**vars(CONFIG), "steps": 5}), front_start=5)
    before = run.task.model.front.weight.data.copy()
    body_before = run.task.model.body[4].weight.data.copy()
    run.run()
    assert np.array_equal(run.task.model.front.weight.data, before)
    assert not np.array_equal(run.task.model.body[4].weight.data, body_before)
    assert run.optimizers["stn"].step_count == 0
    assert run.schedules["stn"].lr_at(4) == 0 and run.schedules["stn"].lr_at(5) > 0


def test_evaluations_log_curves_and_best(tmp_path):
    run = trainer(tmp_path, plot=True)
    result = run.run()
    rows = run.log.rows()
    assert [r["step"] for r in rows] == [4, 8, 12]
    assert {"loss", "lr", "images_per_s", "data_wait", "accuracy"} <= set(rows[0])
    assert result.best == max(r["accuracy"] for r in rows)
    assert run.best_path.is_file()
    assert (run.out / "curves.png").stat().st_size > 1000
    assert not list(run.out.glob(".*"))  # no temporary files left behind
    assert 0 <= result.data_wait < 1 and result.images_per_s > 0


def test_checkpoints_every_n_steps_and_at_the_end(tmp_path):
    run = trainer(tmp_path)
    saved = []
    original = run.save
    run.save = lambda: saved.append(run.step) or original()
    run.run()
    assert saved == [5, 10, 12]


def test_model_generators_are_found():
    task = ToyTask()
    assert list(module_generators(task.model)) == ["body.3.rng"]


def test_a_real_ctrl_c_saves_and_returns(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen([sys.executable, "-m", "tests.train.interrupt_child",
                              str(tmp_path / "run")], cwd=repo, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(repo)})
    try:
        for line in child.stdout:
            if line.strip() == "step 4":
                break
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "interrupted: saved step 4" in out and "resume with: RESUME-HINT" in out
    assert "returned interrupted=True step=4" in out
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").step == 4


def test_a_failing_open_still_closes_the_task(tmp_path):
    run = trainer(tmp_path)

    def broken_open(step):
        raise ValueError("no such validation folder")

    run.task.open = broken_open
    with pytest.raises(ValueError, match="no such validation folder"):
        run.run()
    assert run.task.closed
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class TenSecondSteps:
    """A stand-in for the ``time`` module whose clock moves 10 s whenever a batch is drawn."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def monotonic(self):
        return self.now


def test_a_time_limit_stops_after_the_step_that_reaches_it(tmp_path, monkeypatch):
    import minilpr.train.loop as loop

    clock = TenSecondSteps()
    monkeypatch.setattr(loop, "time", clock)
    run = Trainer(ToyTask(), CONFIG, tmp_path / "run", progress=False, say=lambda line: None,
                  plot=False, time_limit_s=25)
    draw = run.task.batch
    run.task.batch = lambda step: (setattr(clock, "now", clock.now + 10), draw(step))[1]
    result = run.run()
    assert result.time_limited and not result.interrupted
    assert result.step == 3 and result.elapsed_s == 30  # 20 s < 25 s after step 2
    assert [r["step"] for r in run.log.rows()] == [3]  # the last step is evaluated
    assert load_checkpoint(run.checkpoint_path).step == 3


def test_without_a_time_limit_the_same_clock_runs_every_step(tmp_path, monkeypatch):
    import minilpr.train.loop as loop

    clock = TenSecondSteps()
    monkeypatch.setattr(loop, "time", clock)
    run = trainer(tmp_path)
    draw = run.task.batch
    run.task.batch = lambda step: (setattr(clock, "now", clock.now + 10), draw(step))[1]
    result = run.run()
    assert result.step == CONFIG.steps and not result.time_limited


def test_a_time_limit_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="time_limit_s must be positive"):
        Trainer(ToyTask(), CONFIG, tmp_path / "run", progress=False, time_limit_s=0)
