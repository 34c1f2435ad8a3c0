"""``minilpr synth``: files, manifest, reading back, refusing bad arguments and full folders."""

import json

import numpy as np
import pytest

import minilpr
from minilpr import cli
from minilpr.data import writer
from minilpr.data.crops import CropFolder
from minilpr.data.scenes import SceneConfig, render_scene
from minilpr.data.yolo import YoloFolder
from minilpr.pipeline_eval import yolo_texts


def _synth(*args) -> int:
    return writer.main([*map(str, args), "--quiet"])


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_plates_writes_a_crop_folder_and_manifest(tmp_path, capsys):
    out = tmp_path / "plates"
    assert _synth("plates", "--n", 6, "--out", out, "--seed", 3) == 0
    manifest = _manifest(out)
    assert manifest["minilpr_version"] == minilpr.__version__
    assert manifest["kind"] == "plates" and manifest["seed"] == 3 and manifest["n"] == 6
    assert manifest["size"] == [32, 220] and manifest["generator"]["name"] == "PlateGenerator"
    files = manifest["files"]
    assert len(files) == 6 and len({f["file"] for f in files}) == 6
    assert len(list(out.glob("*.png"))) == 6
    folder = CropFolder(out, grayscale=True)
    assert sorted(folder.texts) == sorted(f["text"] for f in files)
    assert folder[0].image.shape == (32, 220)
    assert "wrote 6 plates" in capsys.readouterr().out


def test_scenes_writes_images_yolo_labels_and_manifest(tmp_path):
    out = tmp_path / "scenes"
    assert _synth("scenes", "--n", 3, "--out", out, "--seed", 1, "--size", 128, 160) == 0
    manifest = _manifest(out)
    assert manifest["generator"]["height"] == 128 and manifest["generator"]["width"] == 160
    assert len(list((out / "images").glob("*.jpg"))) == 3
    assert len(list((out / "labels").glob("*.txt"))) == 3
    folder = YoloFolder(out / "images")
    assert len(folder) == 3
    for record, scene in zip(manifest["files"], folder):
        assert scene.image.shape == (128, 160, 3)
        boxes = np.array([p["box"] for p in record["plates"]])
        corners = np.array([p["corners"] for p in record["plates"]])
        np.testing.assert_allclose(scene.boxes, boxes, atol=0.02)
        np.testing.assert_allclose(scene.corners, corners, atol=0.02)
        assert all(len(p["text"]) in (7, 8) for p in record["plates"])
        # texts/NAME.txt: the plate numbers in the label file's order, as eval pipeline reads them
        label_file = out / record["labels"]
        assert yolo_texts(label_file, len(scene.boxes)) == [p["text"] for p in record["plates"]]


def test_classic_scenes_are_the_first_generators(tmp_path):
    out = tmp_path / "classic"
    assert _synth("scenes", "--n", 1, "--out", out, "--size", 96, 128, "--classic") == 0
    manifest = _manifest(out)
    assert manifest["generator"]["geometry"] == "classic"
    assert manifest["generator"]["typeface"] is None
    assert manifest["files"][0]["plates"] == [
        p.to_dict() for p in render_scene(np.random.default_rng([0, 0]),
                                          SceneConfig.classic(height=96, width=128)).plates]


def test_same_seed_gives_identical_files(tmp_path):
    for name in ("a", "b"):
        assert _synth("scenes", "--n", 2, "--out", tmp_path / name, "--seed", 9,
                      "--size", 96, 128) == 0
    for path in sorted((tmp_path / "a").rglob("*.*")):
        if path.name != "manifest.json":
            twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
            assert path.read_bytes() == twin.read_bytes(), path.name
    first, second = _manifest(tmp_path / "a"), _manifest(tmp_path / "b")
    assert first["files"] == second["files"]


def test_refuses_a_non_empty_folder_unless_forced(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("keep me")
    assert _synth("plates", "--n", 2, "--out", tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not empty" in err and "--force" in err
    assert not (tmp_path / "manifest.json").exists()
    assert _synth("plates", "--n", 2, "--out", tmp_path, "--force") == 0
    assert (tmp_path / "old.txt").read_text() == "keep me"
    assert len(_manifest(tmp_path)["files"]) == 2


@pytest.mark.parametrize("args, problem", [
    (["plates", "--n", "0", "--out", "X"], "--n must be at least 1"),
    (["scenes", "--n", "2", "--out", "X", "--size", "16", "16"], "too small"),
    (["scenes", "--n", "2", "--out", "X", "--max-plates", "0"], "--max-plates"),
    (["scenes", "--n", "2"], "required: --out"),
    (["plates", "--n", "two", "--out", "X"], "invalid int value"),
    (["pictures", "--n", "2", "--out", "X"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, problem):
    args = [str(tmp_path / "out") if a == "X" else a for a in args]
    assert writer.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("minilpr synth: error:") and problem in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_cli_dispatches_synth(tmp_path):
    assert cli.main(["synth", "plates", "--n", "1", "--out", str(tmp_path / "p"), "--quiet",
                     "--clean", "--color", "--size", "24", "94"]) == 0
    crop = CropFolder(tmp_path / "p")[0]
    assert crop.image.shape == (24, 94, 3)


def run_minilpr(*args, cwd=None):
    """``python -m minilpr ARGS`` in a subprocess: (exit status, stdout, stderr)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-m", "minilpr", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("make, problem", [
    (lambda t: ["plates", "--n", "1", "--out", t / "o", "--seed", "-1"],
     "--seed must be 0 or more, got -1"),
    (lambda t: ["plates", "--n", "0", "--out", t / "o"], "--n must be at least 1, got 0"),
    (lambda t: ["scenes", "--n", "-3", "--out", t / "o"], "--n must be at least 1, got -3"),
    (lambda t: ["plates", "--n", "1", "--out", t / "a_file" / "o"],
     "is under {t}/a_file, which is a file, not a folder"),
    (lambda t: ["plates", "--n", "1", "--out", t / "a_file" / "deeper" / "o"],
     "is under {t}/a_file, which is a file, not a folder"),
    (lambda t: ["plates", "--n", "1", "--out", t / "a_file"], "exists and is not a folder"),
    (lambda t: ["plates", "--n", "1", "--out", t / "nonexistent-parent" / "out"],
     "its parent folder {t}/nonexistent-parent does not exist"),
])
def test_bad_arguments_through_the_command(tmp_path, make, problem):
    (tmp_path / "a_file").write_text("not a folder")
    status, out, err = run_minilpr("synth", *make(tmp_path), "--quiet")
    assert status == 2 and out == ""
    line = one_line(err)
    assert line.startswith("minilpr synth: error:") and problem.format(t=tmp_path) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_an_unwritable_out_is_one_line(tmp_path):
    import os

    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out, problem = locked / "o", "cannot write into"
    elif os.path.isdir("/sys"):  # root may write anywhere but there
        out, problem = "/sys/minilpr-synth-test", "cannot prepare the folder"
    else:
        pytest.skip("no folder this user cannot write into")
    status, _, err = run_minilpr("synth", "plates", "--n", "1", "--out", out, "--quiet")
    assert status == 2 and problem in one_line(err) and str(out) in err


def test_writing_failures_midway_are_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "imwrite", full)
    assert _synth("plates", "--n", 2, "--out", tmp_path / "o") == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "No space left on device" in err


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("first, second", [("plates", "plates"), ("scenes", "scenes"),
                                           ("scenes", "plates"), ("plates", "scenes")])
def test_force_replaces_the_old_set_and_the_manifest_lists_every_data_file(tmp_path, first,
                                                                         second):
    size = ["--size", "64", "64"]
    assert _synth(first, "--n", 5, "--out", tmp_path, "--seed", 1, *size) == 0
    (tmp_path / "notes.md").write_text("kept")
    assert _synth(second, "--n", 2, "--out", tmp_path, "--seed", 2, "--force", *size) == 0
    manifest = _manifest(tmp_path)
    listed = {"manifest.json", "notes.md"}
    for record in manifest["files"]:
        listed |= {record["file"], *(record[key] for key in ("labels", "texts") if key in record)}
    assert set(_listing(tmp_path)) == listed
    assert (tmp_path / "notes.md").read_text() == "kept"
    if second == "plates":
        assert len(CropFolder(tmp_path, strict=False)) == 2
        assert not any((tmp_path / sub).exists() for sub in ("images", "labels", "texts"))
    else:
        assert len(YoloFolder(tmp_path / "images")) == 2


def test_force_refuses_image_files_no_manifest_lists(tmp_path):
    assert _synth("plates", "--n", 2, "--out", tmp_path, "--clean") == 0
    (tmp_path / "mine.png").write_bytes(b"a photo of mine")
    before = _listing(tmp_path)
    status, _, err = run_minilpr("synth", "plates", "--n", "1", "--out", tmp_path, "--force",
                                 "--quiet")
    line = one_line(err)
    assert status == 2 and "holds 1 image or label file(s) that no manifest.json lists" in line
    assert "(first: mine.png)" in line
    assert _listing(tmp_path) == before


def test_force_refuses_a_folder_left_without_its_manifest(tmp_path):
    assert _synth("scenes", "--n", 2, "--out", tmp_path, "--size", 64, 64) == 0
    (tmp_path / "manifest.json").unlink()
    assert _synth("scenes", "--n", 1, "--out", tmp_path, "--size", 64, 64, "--force") == 2
    assert len(list((tmp_path / "images").iterdir())) == 2


def test_force_never_deletes_outside_the_folder(tmp_path):
    out = tmp_path / "out"
    assert _synth("plates", "--n", 1, "--out", out, "--clean") == 0
    outside = tmp_path / "precious.png"
    outside.write_bytes(b"keep")
    manifest = _manifest(out)
    manifest["files"].append({"file": "../precious.png"})
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert _synth("plates", "--n", 1, "--out", out, "--clean", "--force") == 0
    assert outside.read_bytes() == b"keep"


def test_the_parent_is_not_created(tmp_path, capsys):
    assert _synth("plates", "--n", 1, "--out", tmp_path / "typo" / "out") == 2
    assert "parent folder" in capsys.readouterr().err and not (tmp_path / "typo").exists()
    assert _synth("plates", "--n", 1, "--out", tmp_path / "new", "--clean") == 0
