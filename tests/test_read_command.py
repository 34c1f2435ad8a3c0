"""``minilpr read`` through a subprocess and in process: the JSON lines, the exit statuses, the
folder walk, the drawings, and a line naming the file for each input that cannot be read."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minilpr.data.imageio import imread, imwrite
from minilpr.data.scenes import SceneConfig, render_scene
from minilpr.read_command import build_parser, collect_images, main
from tests.pipeline_fakes import untrained_locator_file
from tests.paths import REPO


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two locators (one finds a few boxes, one nothing) and a folder of good and bad files."""
    root = tmp_path_factory.mktemp("read")
    few = untrained_locator_file(root / "few.npz", found="few")
    none = untrained_locator_file(root / "none.npz", found="none")
    photos = root / "photos"
    (photos / "sub" / "深").mkdir(parents=True)
    scene = render_scene(np.random.default_rng(1), SceneConfig(height=120, width=160))
    imwrite(photos / "car.png", scene.image)
    imwrite(photos / "sub" / "深" / "京A12345.jpg", scene.image)
    (photos / "sub" / "empty.jpg").write_bytes(b"")
    (photos / "sub" / "notes.txt").write_text("not an image, and not looked at")
    (photos / "sub" / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    os.symlink("..", photos / "sub" / "loop")
    (root / "nothing").mkdir()
    return {"root": root, "few": few, "none": none, "photos": photos,
            "good": [photos / "car.png", photos / "sub" / "深" / "京A12345.jpg"],
            "bad": [photos / "sub" / "empty.jpg", photos / "sub" / "zz.png"]}


def run(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "minilpr", "read", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


def test_the_folder_walk_is_recursive_sorted_and_survives_a_link_loop(files):
    found = collect_images([files["photos"], files["root"] / "nothing",
                            files["root"] / "missing.jpg"])
    paths = [p for p, _ in found]
    assert paths[:4] == [files["good"][0], *files["bad"], files["good"][1]]
    assert [problem for _, problem in found[:4]] == [None] * 4
    assert found[4][0] == files["root"] / "nothing" and "no image files" in found[4][1]
    assert found[5] == (files["root"] / "missing.jpg", "no such file or folder")
    assert len(found) == 6


def test_json_lines_one_per_image_with_errors_naming_each_file(files):
    result = run(files["photos"], files["root"] / "nothing", files["root"] / "missing.jpg",
                 "--json", "--locator", files["few"])
    assert result.returncode == 1, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in records] == [str(p) for p in (
        files["good"][0], *files["bad"], files["good"][1], files["root"] / "nothing",
        files["root"] / "missing.jpg")]
    height, width = imread(files["good"][0]).shape[:2]
    for record in (records[0], records[3]):
        assert set(record) == {"file", "plates"} and record["plates"]
        for plate in record["plates"]:
            assert set(plate) >= {"text", "confidence", "box", "type", "score"}
            x1, y1, x2, y2 = plate["box"]
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
            assert 0 <= plate["confidence"] <= 1 and isinstance(plate["text"], str)
    for record in (records[1], records[2], records[4], records[5]):
        assert set(record) == {"file", "error"} and record["error"]
    assert records[1]["error"] == "empty file"
    errors = result.stderr.splitlines()
    assert len(errors) == 4 and all(e.startswith("minilpr read: ") for e in errors)
    assert str(files["bad"][1]) in errors[1] and "京A12345" not in result.stderr


def test_no_plate_is_not_an_error_and_the_text_output_says_so(files, capsys):
    assert main([str(files["good"][0]), "--locator", str(files["none"])]) == 0
    assert capsys.readouterr().out == f"{files['good'][0]}: no plate found\n"


def test_text_lines_and_drawings(files, capsys, tmp_path):
    out = tmp_path / "drawn"
    twin = tmp_path / "car.png"
    twin.write_bytes(files["good"][0].read_bytes())
    assert main([str(files["good"][0]), str(twin), str(files["good"][1]), "--locator",
                 str(files["few"]), "--draw", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all("confidence" in line and " box " in line for line in lines)
    assert sorted(p.name for p in out.iterdir()) == ["car-2.png", "car.png", "京A12345.png"]
    drawn = imread(out / "car.png")
    assert drawn.shape == imread(files["good"][0]).shape
    assert not np.array_equal(drawn, imread(files["good"][0]))


def test_min_confidence_leaves_out_unsure_reads(files, capsys):
    assert main([str(files["good"][0]), "--locator", str(files["few"]), "--json",
                 "--min-confidence", "1"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert all(p["confidence"] >= 1 for p in record["plates"])


@pytest.mark.parametrize("args, message", [
    (["--min-confidence", "1.5"], "--min-confidence must be in [0, 1]"),
    (["--min-score", "-1"], "--min-score must be in [0, 1]"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--locator", "nowhere.npz"], "--locator nowhere.npz: no such file"),
    (["--decoder", "best"], "invalid choice"),
    (["--draw", "no/such/folder"], "the folder no/such does not exist"),
])
def test_bad_arguments_exit_2_in_one_line(files, capsys, args, message):
    argv = [str(files["good"][0]), *args]
    if "--locator" not in args:
        argv += ["--locator", str(files["few"])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_weights_of_the_wrong_kind_exit_2(files, capsys):
    from minilpr.pipeline import SHIPPED_RECOGNIZER

    assert main([str(files["good"][0]), "--locator", str(SHIPPED_RECOGNIZER)]) == 2
    err = capsys.readouterr().err
    assert str(SHIPPED_RECOGNIZER) in err and err.count("\n") == 1


def test_without_shipped_locator_the_error_says_how_to_pass_one(files, monkeypatch, capsys,
                                                              tmp_path):
    from minilpr import pipeline

    monkeypatch.setattr(pipeline, "SHIPPED_LOCATOR", tmp_path / "no-locator.npz")
    assert main([str(files["good"][0])]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--locator W" in captured.err and captured.err.count("\n") == 1


def test_help_explains_every_option():
    parser = build_parser()
    text = parser.format_help()
    for action in parser._actions:
        assert action.help, action.dest
    for option in ("--json", "--draw", "--decoder", "--no-stn", "--min-confidence",
                   "--locator", "--recognizer", "--threads", "--min-score"):
        assert option in text
    result = run("--help")
    assert result.returncode == 0 and "IMAGE|DIR" in result.stdout


def test_minilpr_lists_read():
    from minilpr.cli import COMMANDS

    assert COMMANDS["read"][0] == "minilpr.read_command"


def test_gray_rgba_16_bit_and_tiny_images_are_read(files, tmp_path, capsys):
    import cv2

    rgb = imread(files["good"][0])
    gray = tmp_path / "gray.png"
    imwrite(gray, rgb[:, :, 0])
    cv2.imwrite(str(tmp_path / "rgba.png"), np.dstack([rgb, np.full(rgb.shape[:2], 200,
                                                                    np.uint8)]))
    cv2.imwrite(str(tmp_path / "deep.png"), rgb.astype(np.uint16) * 257)
    imwrite(tmp_path / "tiny.png", rgb[:8, :8])
    os.symlink("self.jpg", tmp_path / "self.jpg")
    names = ["gray.png", "rgba.png", "deep.png", "tiny.png"]
    assert main([str(tmp_path / n) for n in names] + ["--locator", str(files["few"]),
                                                      "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in records] == [str(tmp_path / n) for n in names]
    assert all("plates" in r for r in records)
    assert records[1]["plates"] == records[2]["plates"]  # the same RGB once read
    assert all(0 <= v <= 8 for p in records[3]["plates"] for v in p["box"])
    assert main([str(tmp_path / "self.jpg"), "--locator", str(files["few"])]) == 1
    assert "symbolic link to nothing" in capsys.readouterr().err
