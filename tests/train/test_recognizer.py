"""The recogniser's training task and ``minilpr train recognizer``."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minilpr.data.charset import encode
from minilpr.data.datasets import imwrite
from minilpr.models.recognizer import Recognizer, RecognizerConfig
from minilpr.models.weights import load_recognizer
from minilpr.train.loop import TrainConfig, Trainer
from minilpr.train.recognizer import (RECIPE_OPTIONS, RecognizerRecipe, RecognizerTask,
                                      _command_line, build_parser, ctc_targets, main)
from tests.train.standin import StandInRecognizer

REPO = Path(__file__).resolve().parents[2]


def test_ctc_targets_pad_with_the_blank():
    targets, lengths = ctc_targets(["京A12345", "粤B1234学", "沪C"])
    assert lengths.tolist() == [7, 7, 2]
    assert targets.shape == (3, 7) and targets.dtype == np.int64
    assert targets[2, :2].tolist() == encode("沪C").tolist() and targets[2, 2:].tolist() == [0] * 5


def test_task_trains_and_evaluates_a_stand_in(tmp_path):
    recipe = RecognizerRecipe(batch=4, val_size=6, workers=0)
    task = RecognizerTask(recipe, model=StandInRecognizer(np.random.default_rng(0)))
    assert [g.name for g in task.param_groups()] == ["model"]
    config = TrainConfig(steps=3, warmup=1, eval_every=3, checkpoint_every=0,
                         checkpoint_minutes=0)
    trainer = Trainer(task, config, tmp_path, progress=False, plot=False)
    result = trainer.run()
    assert result.step == 3 and not result.interrupted
    assert set(result.figures) == {"val_accuracy", "val_char_accuracy"}
    assert 0 <= result.figures["val_char_accuracy"] <= 1
    assert trainer.best_path.is_file() and trainer.checkpoint_path.is_file()
    assert task.prefetcher is None  # closed


def test_the_stn_is_its_own_group_at_its_learning_rate_scale():
    recipe = RecognizerRecipe(stn="compact", stn_stage=5, workers=0, val_size=2)
    task = RecognizerTask(recipe, model=StandInRecognizer(np.random.default_rng(0), "compact"))
    model_group, stn_group = task.param_groups()
    assert stn_group.name == "stn" and stn_group.lr_scale == 0.1 and stn_group.start_step == 5
    ids = {id(p) for p in model_group.params}
    assert ids.isdisjoint(id(p) for p in stn_group.params)
    assert len(ids) + len(stn_group.params) == len(task.model.parameters())


def test_validation_set_is_fixed_and_covers_every_kind():
    a = RecognizerTask(RecognizerRecipe(val_size=40, seed=1, workers=0),
                       model=StandInRecognizer(np.random.default_rng(0)))
    b = RecognizerTask(RecognizerRecipe(val_size=40, seed=2, workers=0),
                       model=StandInRecognizer(np.random.default_rng(0)))
    (images_a, texts_a), = a.validation_sets().values()
    (images_b, texts_b), = b.validation_sets().values()
    assert texts_a == texts_b and np.array_equal(images_a, images_b)  # whatever the seed
    assert any(len(t) == 8 for t in texts_a)  # green (new-energy) plates are there


def test_help_explains_every_option():
    parser = build_parser()
    for action in parser._actions:
        assert action.help, action.option_strings
    text = parser.format_help()
    for option in ("--preset", "--stn", "--steps", "--batch", "--lr", "--warmup", "--seed",
                   "--out", "--resume", "--val", "--val-size", "--eval-every",
                   "--checkpoint-every", "--threads", "--workers", "--stn-stage", "--clip",
                   "--data"):
        assert option in text


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "minilpr", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=REPO)


def test_cli_help_through_python_m():
    done = run_cli("train", "recognizer", "--help")
    assert done.returncode == 0 and "--stn-stage" in done.stdout


def test_tiny_run_end_to_end_and_resume(tmp_path):
    crops = tmp_path / "crops"
    crops.mkdir()
    for text in ("京A12345", "沪B0C123"):
        imwrite(crops / f"{text}.png", np.full((24, 94), 128, np.uint8))
    out = tmp_path / "run"
    done = run_cli("train", "recognizer", "--preset", "tiny", "--steps", "3", "--batch", "4",
                   "--val-size", "4", "--val", str(crops), "--eval-every", "3", "--warmup", "1",
                   "--workers", "0", "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert {"checkpoint.npz", "best.npz", "log.csv", "curves.png", "config.json"} <= \
        {p.name for p in out.iterdir()}
    assert done.stdout.strip().splitlines()[-1].startswith("done: step 3 ")
    header = (out / "log.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "val_accuracy" in header and "crops_accuracy" in header
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert saved["options"]["preset"] == "tiny" and saved["model"]["preset"] == "tiny"
    model, manifest = load_recognizer(out / "best.npz")
    assert model.config.preset == "tiny" and manifest["step"] == 3
    assert manifest["command"].startswith("minilpr train recognizer --steps 3 --preset tiny")
    assert set(manifest["accuracy"]) == {"val_accuracy", "val_char_accuracy", "crops_accuracy",
                                         "crops_char_accuracy"}

    assert main(["--out", str(out), "--resume", "--lr", "0.5"]) == 1  # the recipe is kept
    assert main(["--out", str(out), "--preset", "tiny"]) == 1  # no fresh run over an old one

    done = run_cli("train", "recognizer", "--out", str(out), "--resume", "--steps", "4",
                   "--workers", "1", "--no-progress")  # a spawned worker under python -m
    assert done.returncode == 0, done.stderr
    assert "from step 3 to 4" in done.stdout and "1 data worker(s)" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("done: step 4 ")


def test_resume_refuses_a_changed_recipe_in_one_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"options": {
        **vars(build_parser().parse_args(["--out", str(tmp_path)])), "out": str(tmp_path),
        "val": [], "data": []}}, default=str))
    assert main(["--out", str(tmp_path), "--resume", "--lr", "0.5"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--lr is 0.5 but the run used 0.001" in err


def test_resume_without_a_run_folder(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "none"), "--resume"]) == 1
    assert "config.json: no such file" in capsys.readouterr().err


def recogniser_for(kind):
    rng = np.random.default_rng(0)
    if kind == "stand-in with STN":
        return StandInRecognizer(rng, "compact")
    return Recognizer(RecognizerConfig.preset("tiny"), rng=rng)


@pytest.mark.parametrize("kind", ["stand-in with STN", "tiny"])
def test_resume_with_workers_is_bit_identical_to_an_uninterrupted_run(tmp_path, kind):
    recipe = RecognizerRecipe(batch=3, val_size=2, workers=0, stn_stage=2)
    config = TrainConfig(steps=4, warmup=1, eval_every=4, checkpoint_every=0,
                         checkpoint_minutes=0)

    def trainer(name, recipe=recipe):
        task = RecognizerTask(recipe, model=recogniser_for(kind))
        return Trainer(task, config, tmp_path / name, progress=False, plot=False,
                       say=lambda line: None)

    whole = trainer("whole")
    whole.run()
    first = trainer("split")
    original = first.task.loss_and_backward
    calls = []

    def interrupted_at_the_third_step(batch):
        calls.append(1)
        loss = original(batch)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return loss

    first.task.loss_and_backward = interrupted_at_the_third_step
    assert first.run().step == 2
    second = trainer("split", RecognizerRecipe(**{**vars(recipe), "workers": 1}))
    second.resume()
    second.run()
    a, b = whole.state(), second.state()
    assert a.model.keys() == b.model.keys()
    for name in a.model:
        assert np.array_equal(a.model[name], b.model[name]), name
    for opt in a.optimizers:
        for key, value in a.optimizers[opt].items():
            assert np.array_equal(value, b.optimizers[opt][key]), (opt, key)
    assert a.rngs == b.rngs and a.schedules == b.schedules


def test_the_recorded_command_reproduces_the_recipe():
    args = build_parser().parse_args(["--out", "x", "--stn", "half", "--stn-stage", "7",
                                      "--lr", "0.003", "--data", "a b", "--data", "c",
                                      "--steps", "99", "--threads", "1",
                                      "--detector-boxes", "0.3", "--init", "w 1.npz"])
    words = shlex.split(_command_line(args))
    assert words[:3] == ["minilpr", "train", "recognizer"]
    again = build_parser().parse_args(words[3:] + ["--out", "y"])
    for name in RECIPE_OPTIONS + ("steps",):
        assert getattr(again, name) == getattr(args, name), name


def test_init_starts_from_the_weight_file_and_records_it(tmp_path, capsys):
    tiny = ["--preset", "tiny", "--batch", "2", "--val-size", "2", "--warmup", "1",
            "--workers", "0", "--no-progress"]
    first = tmp_path / "first"
    assert main([*tiny, "--steps", "2", "--eval-every", "2", "--seed", "3",
                 "--out", str(first)]) == 0
    start, _ = load_recognizer(first / "best.npz")
    # at a negligible learning rate the fine-tune ends where the file began, not at seed 0
    second = tmp_path / "second"
    assert main([*tiny, "--steps", "1", "--eval-every", "1", "--lr", "1e-12",
                 "--weight-decay", "0", "--detector-boxes", "0.5",
                 "--init", str(first / "best.npz"), "--out", str(second)]) == 0
    tuned, manifest = load_recognizer(second / "best.npz")
    assert manifest["init"] == {"path": str(first / "best.npz"), "step": 2, "images_seen": 4}
    assert "--init" in manifest["command"] and "--detector-boxes 0.5" in manifest["command"]
    fresh = Recognizer(RecognizerConfig.preset("tiny"), rng=np.random.default_rng(0))
    for (name, a), (_, b), (_, c) in zip(start.named_parameters(), tuned.named_parameters(),
                                         fresh.named_parameters()):
        np.testing.assert_allclose(b.data, a.data, rtol=0, atol=1e-9, err_msg=name)
        assert a.data.size == 1 or not np.allclose(c.data, a.data), name
    capsys.readouterr()
    with_stn = tmp_path / "with-stn"
    assert main([*tiny, "--steps", "1", "--eval-every", "1", "--stn", "compact",
                 "--init", str(first / "best.npz"), "--out", str(with_stn)]) == 0
    for source, args, message in (
            (first, ["--preset", "small"], "its preset is 'tiny', but --preset is 'small'"),
            (with_stn, ["--preset", "tiny", "--stn", "half"],
             "its stn is 'compact', but --stn is 'half'"),
            (with_stn, ["--preset", "tiny"], "its stn is 'compact', but --stn is None"),
            (first, ["--preset", "tiny", "--detector-boxes", "1.5"],
             "--detector-boxes must be in [0, 1], got 1.5")):
        assert main([*tiny, *args, "--init", str(source / "best.npz"),
                     "--out", str(tmp_path / "bad")]) == 1
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and message in err, err


def test_init_with_stn_puts_a_new_stn_at_the_identity_in_front_of_the_file(tmp_path):
    from minilpr.train.recognizer import init_from
    from minilpr.models.weights import save_weights

    plain = Recognizer(RecognizerConfig.preset("tiny"), rng=np.random.default_rng(5)).eval()
    path = save_weights(plain, tmp_path / "plain.npz",
                        {"preset": "tiny", "stn": None, "step": 9,
                         "data": {"images_seen": 288}})
    model, origin = init_from(path, RecognizerRecipe(preset="tiny", stn="compact", seed=1))
    assert origin == {"path": str(path), "step": 9, "images_seen": 288, "stn_added": "compact"}
    assert model.stn is not None and model.training
    stn_names = {n for n, _ in model.named_parameters() if n.startswith("stn.")}
    assert stn_names and model.state_dict().keys() - stn_names == plain.state_dict().keys()
    state = model.state_dict()
    for name, value in plain.state_dict().items():
        assert np.array_equal(state[name], value), name
    # at the identity the STN changes nothing: the same logits as the file's model
    x = np.random.default_rng(2).random((3, 1, 32, 220)).astype(np.float32)
    np.testing.assert_allclose(model.eval().forward(x), plain.forward(x), rtol=1e-5, atol=1e-5)
