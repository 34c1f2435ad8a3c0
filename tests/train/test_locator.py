"""The locator's training task, ``minilpr train locator`` and ``minilpr eval locator``."""

import json
import os
import pickle
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minilpr.data.charset import KINDS
from minilpr.detect.head import PLATE_COLOURS
from minilpr.models.locator_weights import build_locator, load_locator
from minilpr.models.weights import WeightFileError
from minilpr.train.locator import (COLOUR_OF_KIND, RECIPE_OPTIONS, LocatorRecipe, LocatorTask,
                                   SceneBatches, _command_line, build_parser, main)
from minilpr.train.loop import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[2]
TINY = ["--backbone", "tiny", "--size", "64", "--batch", "2", "--val-size", "3",
        "--anchor-scenes", "12", "--warmup", "1", "--workers", "0", "--no-progress"]


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "minilpr", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=REPO)


def test_scene_batches_are_a_pure_function_of_seed_and_index():
    source = SceneBatches(seed=3, batch_size=2, size=64)
    images, boxes, classes = source.make(5)
    again = pickle.loads(pickle.dumps(source)).make(5)  # as a spawned worker sees it
    assert np.array_equal(images, again[0])
    assert all(np.array_equal(a, b) for a, b in zip(boxes, again[1]))
    assert all(np.array_equal(a, b) for a, b in zip(classes, again[2]))
    assert not np.array_equal(images, source.make(6)[0])
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.uint8
    for image_boxes, image_classes in zip(boxes, classes):
        assert len(image_boxes) == len(image_classes) >= 1
        assert np.all(image_boxes >= 0) and np.all(image_boxes <= 64)
        assert np.all(image_boxes[:, 2:] > image_boxes[:, :2])
        assert np.all((0 <= image_classes) & (image_classes < len(PLATE_COLOURS)))


def test_a_wide_scene_is_letterboxed_with_its_boxes():
    images, boxes, _ = SceneBatches(seed=0, batch_size=1, size=64,
                                       scene_shapes=((64, 128),)).make(0)
    assert images.shape == (1, 64, 64, 3)
    # a 64 × 128 scene fills rows 16 .. 48 of the input; its plates stay inside them
    assert np.all(boxes[0][:, [1, 3]] >= 16) and np.all(boxes[0][:, [1, 3]] <= 48)
    assert np.all(images[0, :16] == 114) and np.all(images[0, 48:] == 114)


def test_every_scene_kind_has_a_colour():
    assert set(COLOUR_OF_KIND) == set(KINDS)
    assert [PLATE_COLOURS[COLOUR_OF_KIND[k]] for k in ("blue", "yellow", "green", "white")] == \
        ["blue", "yellow", "green", "other"]


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    recipe = LocatorRecipe(backbone="tiny", size=64, batch=2, val_size=2, anchor_scenes=12,
                           workers=0)
    config = TrainConfig(steps=4, warmup=1, eval_every=4, checkpoint_every=0,
                         checkpoint_minutes=0)
    anchors = LocatorTask(recipe).anchors

    def trainer(name, recipe=recipe):
        return Trainer(LocatorTask(recipe, anchors=anchors), config, tmp_path / name,
                       progress=False, plot=False, say=lambda line: None)

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
    second = trainer("split", LocatorRecipe(**{**vars(recipe), "workers": 1}))
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


def test_help_explains_every_option():
    parser = build_parser()
    for action in parser._actions:
        assert action.help, action.option_strings
    text = parser.format_help()
    for option in ("--backbone", "--size", "--steps", "--batch", "--lr", "--warmup", "--seed",
                   "--out", "--resume", "--val", "--eval-every", "--checkpoint-every",
                   "--threads", "--workers", "--val-size", "--anchor-scenes", "--scene-size"):
        assert option in text
    assert "small" in text and "darknet53" in text


def test_tiny_run_end_to_end_then_eval_and_resume(tmp_path):
    scenes = tmp_path / "scenes"
    done = run_cli("synth", "scenes", "--n", "3", "--out", str(scenes), "--size", "96", "96")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "run"
    done = run_cli("train", "locator", *TINY, "--steps", "3", "--eval-every", "3",
                   "--val", str(scenes), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert {"checkpoint.npz", "best.npz", "log.csv", "curves.png", "config.json"} <= \
        {p.name for p in out.iterdir()}
    assert done.stdout.strip().splitlines()[-1].startswith("done: step 3 ")
    header = (out / "log.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert {"val_ap50", "val_recall", "val_precision", "scenes_ap50", "scenes_recall"} <= \
        set(header)
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    model, manifest = load_locator(out / "best.npz")
    assert manifest["anchors"] == saved["anchors"] and len(manifest["anchors"]) == 9
    areas = [w * h for w, h in manifest["anchors"]]
    assert areas == sorted(areas)
    assert manifest["strides"] == [8, 16, 32] and manifest["input_size"] == [64, 64]
    assert manifest["classes"] == list(PLATE_COLOURS) and manifest["backbone"] == "tiny"
    assert manifest["step"] == 3 and manifest["recipe"]["size"] == 64
    assert manifest["command"].startswith("minilpr train locator --steps 3 --backbone tiny")
    assert "val_ap50" in manifest["figures"] and "scenes_recall" in manifest["figures"]

    gallery = tmp_path / "misses.png"
    done = run_cli("eval", "locator", "--data", str(scenes), "--weights", str(out / "best.npz"),
                   "--json", "--gallery", str(gallery))
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["n_images"] == 3 and record["n_plates"] >= 3
    for key in ("ap50", "ap50_95", "recall", "precision"):
        assert 0 <= record[key] <= 1, key
    assert record["images_per_s"] > 0 and gallery.is_file()

    assert main(["--out", str(out), "--resume", "--lr", "0.5"]) == 1  # the recipe is kept
    assert main(["--out", str(out), *TINY]) == 1  # no fresh run over an old one
    done = run_cli("train", "locator", "--out", str(out), "--resume", "--steps", "4",
                   "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "from step 3 to 4" in done.stdout
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["anchors"] == \
        saved["anchors"]


@pytest.mark.parametrize("args, message", [
    (["--size", "100"], "--size must be a multiple of 32"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--scene-size", "32", "100"], "--scene-size must be at least 64"),
    (["--val", "/no/such/folder"], "--val /no/such/folder: no such folder"),
])
def test_bad_training_options_fail_in_one_line(tmp_path, capsys, args, message):
    assert main(["--out", str(tmp_path / "run"), "--workers", "0", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err


@pytest.mark.parametrize("case, message", [
    ("no data", "--data {tmp}/none: no such folder"),
    ("no weights", "--weights {tmp}/missing.npz: no such file"),
    ("bad batch", "--batch must be at least 1"),
    ("not weights", "not a minilpr weight file"),
])
def test_bad_eval_inputs_fail_in_one_line(tmp_path, capsys, case, message):
    from minilpr.eval_command import main as eval_main
    not_weights = tmp_path / "w.npz"
    np.savez(not_weights, a=np.zeros(2))
    args = {"no data": ["--data", str(tmp_path / "none"), "--weights", str(not_weights)],
            "no weights": ["--data", str(tmp_path), "--weights", str(tmp_path / "missing.npz")],
            "bad batch": ["--data", str(tmp_path), "--weights", str(not_weights), "--batch", "0"],
            "not weights": ["--data", str(tmp_path), "--weights", str(not_weights)]}[case]
    assert eval_main(["locator", *args]) == (1 if case == "not weights" else 2)
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message.format(tmp=tmp_path) in err


def test_load_locator_refuses_another_kind(tmp_path):
    from minilpr.models.recognizer import Recognizer, RecognizerConfig
    from minilpr.models.weights import save_weights
    path = save_weights(Recognizer(RecognizerConfig.preset("tiny"), rng=0), tmp_path / "r.npz")
    with pytest.raises(WeightFileError, match="not a 'locator'"):
        load_locator(path)


def test_eval_locator_help_explains_every_option(capsys):
    from minilpr.eval_command import main as eval_main
    with pytest.raises(SystemExit) as done:
        eval_main(["locator", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for option in ("--data", "--weights", "--score-threshold", "--batch", "--threads",
                   "--gallery", "--json"):
        assert option in text


def test_eval_locator_without_shipped_weights_says_so(tmp_path, monkeypatch, capsys):
    from minilpr import eval_command
    monkeypatch.setattr(eval_command, "SHIPPED_LOCATOR", tmp_path / "locator.npz")
    assert eval_command.main(["locator", "--data", str(tmp_path)]) == 2
    assert "no shipped locator weights yet" in capsys.readouterr().err


def test_the_recorded_command_reproduces_the_recipe():
    args = build_parser().parse_args(["--out", "x", "--scene-size", "1160", "720", "--lr",
                                      "0.003", "--steps", "99", "--backbone", "darknet53"])
    words = shlex.split(_command_line(args))
    assert words[:3] == ["minilpr", "train", "locator"]
    again = build_parser().parse_args(words[3:] + ["--out", "y"])
    for name in RECIPE_OPTIONS + ("steps",):
        assert getattr(again, name) == getattr(args, name), name


def test_anchors_are_fixed_by_the_recipe_and_cover_the_boxes():
    from minilpr.detect.anchors import wh_iou
    from minilpr.detect.boxes import xyxy_to_xywh
    from minilpr.train.locator import fit_anchors
    recipe = LocatorRecipe(size=64, anchor_scenes=16, seed=1)
    anchors = fit_anchors(recipe)
    assert np.array_equal(anchors, fit_anchors(LocatorRecipe(size=64, anchor_scenes=16, seed=2)))
    assert anchors.shape == (9, 2) and np.all(np.diff(anchors.prod(axis=1)) >= 0)
    _, boxes, _ = SceneBatches(seed=7, batch_size=8, size=64).make(0)
    sizes = xyxy_to_xywh(np.concatenate(boxes))[:, 2:]
    assert wh_iou(sizes, anchors).max(axis=1).mean() > 0.6  # training boxes fit their anchors


def _coordinate_image(size: int) -> np.ndarray:
    """(size, size, 3) uint8 whose pixel (y, x) is (x, y, 0): a window tells where it was cut."""
    y, x = np.mgrid[:size, :size]
    return np.stack([x, y, np.zeros_like(x)], axis=2).astype(np.uint8)


def test_crop_windows_cut_the_image_and_its_boxes_alike():
    from minilpr.train.locator import crop_window
    image = _coordinate_image(100)
    boxes = np.array([[10.0, 10.0, 30.0, 20.0], [60.0, 70.0, 90.0, 80.0], [0.0, 45.0, 99.0, 55.0]])
    classes = np.array([0, 1, 2])
    with_plate = 0
    for seed in range(200):
        window, kept, kept_classes = crop_window(np.random.default_rng(seed), image, boxes,
                                                 classes, 64)
        assert window.shape == (64, 64, 3) and window.flags.c_contiguous
        x0, y0 = int(window[0, 0, 0]), int(window[0, 0, 1])
        assert np.array_equal(window, image[y0:y0 + 64, x0:x0 + 64])
        shifted = boxes - [x0, y0, x0, y0]
        clipped = np.clip(shifted, 0, 64)
        inside = np.prod(np.maximum(clipped[:, 2:] - clipped[:, :2], 0), axis=1) \
            / np.prod(shifted[:, 2:] - shifted[:, :2], axis=1)
        assert np.array_equal(kept, clipped[inside >= 0.6])
        assert np.array_equal(kept_classes, classes[inside >= 0.6])
        with_plate += len(kept) > 0
    assert with_plate >= 0.8 * 200  # p_plate = 0.85 places most windows around a plate


def test_crop_window_rule_on_a_known_offset():
    from minilpr.train.locator import crop_window

    class WindowAt20x0:
        """p_plate never fires; the window's corner is drawn as x0 = 20, then y0 = 0."""

        def __init__(self):
            self.draws = [20, 0]

        def random(self):
            return 1.0

        def integers(self, low, high):
            return self.draws.pop(0)

    boxes = np.array([[70.0, 0.0, 90.0, 10.0],   # 14 of its 20 px inside (x < 84): kept, clipped
                      [75.0, 20.0, 95.0, 30.0],  # 9 of 20 px inside: dropped
                      [30.0, 30.0, 40.0, 40.0]])  # wholly inside: shifted
    window, kept, classes = crop_window(WindowAt20x0(), _coordinate_image(100), boxes,
                                        np.array([0, 1, 2]), 64)
    assert tuple(window[0, 0, :2]) == (20, 0)
    assert np.array_equal(kept, [[50.0, 0.0, 64.0, 10.0], [10.0, 30.0, 20.0, 40.0]])
    assert np.array_equal(classes, [0, 2])


def test_cropped_batches_are_windows_of_the_size_asked():
    images, boxes, classes = SceneBatches(seed=1, batch_size=3, size=128, crop=64).make(0)
    assert images.shape == (3, 64, 64, 3)
    for image_boxes in boxes:
        assert np.all(image_boxes >= 0) and np.all(image_boxes <= 64)


def test_init_starts_from_the_weight_file_and_records_it(tmp_path, capsys):
    first = tmp_path / "first"
    assert main([*TINY, "--steps", "2", "--eval-every", "2", "--seed", "3",
                 "--out", str(first)]) == 0
    start, start_manifest = load_locator(first / "best.npz")
    # a fine-tune at a negligible learning rate ends where it began: the file's weights, not
    # the seed's (seed 0 here, 3 there), and the file's anchors
    second = tmp_path / "second"
    assert main([*TINY, "--steps", "1", "--eval-every", "1", "--lr", "1e-12", "--weight-decay", "0",
                 "--init", str(first / "best.npz"), "--out", str(second)]) == 0
    tuned, manifest = load_locator(second / "best.npz")
    assert manifest["anchors"] == start_manifest["anchors"]
    assert manifest["init"] == {"path": str(first / "best.npz"), "step": 2, "images_seen": 4}
    fresh = build_locator("tiny", seed=0)
    for (name, a), (_, b), (_, c) in zip(start.named_parameters(), tuned.named_parameters(),
                                         fresh.named_parameters()):
        np.testing.assert_allclose(b.data, a.data, rtol=0, atol=1e-9, err_msg=name)
        assert a.data.size == 1 or not np.allclose(c.data, a.data), name
    assert "--init" in manifest["command"]
    capsys.readouterr()
    # another backbone or input size is refused in one line
    for args, message in ((["--backbone", "small"], "a tiny locator, but --backbone is small"),
                          (["--size", "96"], "trained at input [64, 64], but --size is 96")):
        changed = [*TINY, *args, "--init", str(first / "best.npz"),
                   "--out", str(tmp_path / "bad")]
        assert main(changed) == 1
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and message in err, err
