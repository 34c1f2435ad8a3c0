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
