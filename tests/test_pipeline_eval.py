"""``minilpr eval pipeline``: the figures on folders whose truth is known, and its command line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minilpr.data.ccpd import CCPDLabel, ccpd_name, clockwise_to_ccpd
from minilpr.data.imageio import imwrite
from minilpr.data.scenes import SceneConfig, render_scene
from minilpr.data.yolo import YoloLabels, write_yolo_labels, xyxy_to_yolo
from minilpr.detect.boxes import boxes_to_letterbox, letterbox_geometry
from minilpr.pipeline import Plate
from minilpr.pipeline_eval import PipelineReport, evaluate_pipeline, yolo_texts
from tests.pipeline_fakes import fake_reader, untrained_locator_file
from tests.paths import REPO


def _plate(box, text, score=0.9):
    return Plate(text, 0.9, (0.9,) * len(text), tuple(box), "blue", score)


def test_the_figures_count_matches_reads_and_misses():
    report = PipelineReport()
    truth = np.array([[0, 0, 100, 30], [200, 0, 300, 30], [0, 100, 100, 130]], float)
    plates = [_plate([1, 1, 100, 30], "京A12345"),  # found, read right
              _plate([201, 0, 300, 31], "京A12346", 0.8),  # found, misread
              _plate([2, 0, 100, 30], "京A12345", 0.1),  # a second box on plate 0: false
              _plate([500, 500, 600, 530], "沪B00000")]  # on nothing
    report.add("a.jpg", plates, truth, ["京A12345", "京A12347", None])
    report.add("b.jpg", [], np.zeros((0, 4)), [])
    assert (report.n_images, report.n_plates, report.n_detections) == (2, 3, 4)
    assert report.recall == 2 / 3 and report.precision == 2 / 4
    assert report.n_texts == 2 and report.plate_accuracy == 1 / 2
    assert report.misreads == [("a.jpg", "京A12347", "京A12346")]
    record = report.to_dict()
    assert {"n_images", "n_plates", "recall", "precision", "plate_accuracy"} <= set(record)


@pytest.fixture(scope="module")
def scene():
    config = SceneConfig(height=240, width=320, max_plates=1, letterbox_probability=0.0,
                         kind_weights={"blue": 1.0})
    return render_scene(np.random.default_rng(5), config)


def _yolo_folder(root, scene, texts_line):
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "texts").mkdir()
    imwrite(root / "images" / "one.png", scene.image)
    boxes = xyxy_to_yolo(scene.boxes, scene.image.shape[:2])
    write_yolo_labels(root / "labels" / "one.txt",
                      YoloLabels(np.zeros(len(boxes), np.int64), boxes, None))
    (root / "texts" / "one.txt").write_text(texts_line, encoding="utf-8")
    return root


def test_a_yolo_folder_with_texts(tmp_path, scene):
    folder = _yolo_folder(tmp_path / "yolo", scene, scene.texts[0] + "\n")
    geometry = letterbox_geometry(scene.image.shape[:2], 416)
    wrong = np.array([[10, 10, 60, 25]], float)  # a false alarm far from the plate
    reader = fake_reader(boxes_to_letterbox(np.concatenate([scene.boxes, wrong]), geometry),
                         [0, 0])
    report = evaluate_pipeline(reader, folder)
    assert (report.n_images, report.n_plates, report.n_detections) == (1, 1, 2)
    assert report.recall == 1 and report.precision == 0.5 and report.n_texts == 1
    read = [p for p in reader.read(scene.image) if p.box[0] > 100][0].text
    assert report.plate_accuracy == float(read == scene.texts[0])


def test_ccpd_names_give_the_truth(tmp_path, scene):
    plate = scene.plates[0]
    label = CCPDLabel(area=1.0, tilt=(90, 90), box=plate.box,
                      corners=clockwise_to_ccpd(plate.corners), text=plate.text, brightness=100,
                      blur=10)
    (tmp_path / "ccpd").mkdir()
    imwrite(tmp_path / "ccpd" / ccpd_name(label), scene.image)
    (tmp_path / "ccpd" / "holiday.jpg").write_bytes(b"")  # not a CCPD name: skipped
    geometry = letterbox_geometry(scene.image.shape[:2], 416)
    report = evaluate_pipeline(fake_reader(boxes_to_letterbox(np.rint(scene.boxes), geometry),
                                           [0]), tmp_path / "ccpd")
    assert report.n_images == 1 and report.recall == 1 and report.precision == 1
    assert [f for f, _ in report.skipped] == [str(tmp_path / "ccpd" / "holiday.jpg")]


def test_yolo_texts_must_match_the_labels(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "texts").mkdir()
    labels = tmp_path / "labels" / "a.txt"
    assert yolo_texts(labels, 2) == [None, None]
    (tmp_path / "texts" / "a.txt").write_text("京A12345\n\n", encoding="utf-8")
    assert yolo_texts(labels, 2) == ["京A12345", None]
    with pytest.raises(ValueError, match="2 plate numbers for 3 boxes"):
        yolo_texts(labels, 3)


def test_the_command_prints_the_json_last(tmp_path, scene):
    folder = _yolo_folder(tmp_path / "yolo", scene, scene.texts[0] + "\n")
    locator = untrained_locator_file(tmp_path / "few.npz", found="few")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "minilpr", "eval", "pipeline", "--data",
                             str(folder), "--json", "--locator", str(locator)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.splitlines()[-1])
    assert record["n_images"] == 1 and record["n_plates"] == 1
    for key in ("recall", "precision", "plate_accuracy"):
        assert 0 <= record[key] <= 1
    assert "plate accuracy" in result.stdout


def test_bad_command_lines_exit_2(tmp_path, capsys):
    from minilpr.eval_command import main

    assert main(["pipeline", "--data", str(tmp_path / "nowhere")]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["pipeline", "--data", str(tmp_path), "--threads", "0"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


def test_help_explains_every_option(capsys):
    from minilpr.eval_command import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "what").choices["pipeline"]
    assert all(action.help for action in sub._actions)
