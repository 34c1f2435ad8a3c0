"""``minilpr anchors`` and the box-size readers behind it."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minilpr.data.datasets import YoloLabels, imwrite, write_yolo_labels
from minilpr.data.writer import main as synth_main
from minilpr.detect.anchors_cli import main
from minilpr.detect.box_sizes import box_sizes

ROOT = Path(__file__).resolve().parents[2]
CCPD_NAME = ("0130387931034-92_78-208&514_430&581-440&588_205&575_185&501_420&514"
             "-0_0_24_12_31_25_32-134-19.jpg")


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                   "")]),
           "MPLBACKEND": "Agg"}
    command = [sys.executable, "-c", "import sys; from minilpr.cli import main; sys.exit(main())",
               "anchors", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_cli_on_generated_scenes(tmp_path):
    scenes = tmp_path / "scenes"
    assert synth_main(["scenes", "--n", "6", "--out", str(scenes), "--quiet", "--size", "208",
                       "416"]) == 0
    plot = tmp_path / "anchors.png"
    result = run_cli("--data", scenes, "-k", "3", "--plot", plot, "--seed", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(YOLO folder), letterboxed to 416×416" in out
    assert "stride  8:" in out and "stride 32:" in out and "mean IoU by k: 1:" in out
    assert plot.stat().st_size > 10_000
    # the printed anchors are those of the same k-means on the same sizes
    wh, _ = box_sizes(scenes)
    from minilpr.detect.anchors import kmeans_anchors

    fit = kmeans_anchors(wh, 3, seed=1)
    assert "anchors = " + ", ".join(f"{w:.0f},{h:.0f}" for w, h in fit.anchors) in out
    assert f"mean IoU {fit.mean_iou:.4f}" in out


def test_cli_names_bad_data(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "missing")]) == 2
    assert "missing does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    assert main(["--data", str(empty)]) == 2
    assert "no boxes found" in capsys.readouterr().err
    table = tmp_path / "boxes.csv"
    table.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["--data", str(table)]) == 2
    assert "no column x1, x2, y1, y2" in capsys.readouterr().err
    assert main(["--data", str(table), "-k", "0"]) == 2
    assert "-k must be at least 1" in capsys.readouterr().err


def test_yolo_sizes_are_letterboxed(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    imwrite(tmp_path / "images" / "a.png", np.zeros((100, 200, 3), np.uint8))
    # a 40 × 20 pixel box in a 200 × 100 image; the letterbox scales by 416 / 200
    write_yolo_labels(tmp_path / "labels" / "a.txt",
                      YoloLabels(np.array([0]), np.array([[0.5, 0.5, 0.2, 0.2]])))
    wh, kind = box_sizes(tmp_path)
    assert kind == "YOLO folder"
    np.testing.assert_allclose(wh, [[40 * 416 / 200, 20 * 208 / 100]])


def test_ccpd_and_csv_sizes_agree(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    imwrite(photos / CCPD_NAME, np.zeros((1160, 720, 3), np.uint8))
    wh, kind = box_sizes(photos)
    assert kind == "CCPD folder"
    scale = 416 / 1160
    np.testing.assert_allclose(wh, [[222 * 258 / 720, 67 * scale]])
    table = tmp_path / "boxes.csv"
    table.write_text("x1,y1,x2,y2\n208,514,430,581\n", encoding="utf-8")
    np.testing.assert_allclose(box_sizes(table)[0], wh)
    sized = tmp_path / "sized.csv"
    sized.write_text("x1,y1,x2,y2,image_h,image_w\n208,514,430,581,416,832\n", encoding="utf-8")
    np.testing.assert_allclose(box_sizes(sized)[0], [[111, 33.5]])


@pytest.mark.parametrize("k", [1, 9])
def test_cli_in_process_prints_k_anchors(tmp_path, capsys, k):
    table = tmp_path / "boxes.csv"
    rng = np.random.default_rng(k)
    corner = rng.uniform(0, 300, size=(60, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(20, 200, size=(60, 2))], axis=1)
    rows = "".join(",".join(f"{v:.1f}" for v in box) + "\n" for box in boxes)
    table.write_text("x1,y1,x2,y2\n" + rows, encoding="utf-8")
    assert main(["--data", str(table), "-k", str(k)]) == 0
    line = [s for s in capsys.readouterr().out.splitlines() if s.startswith("anchors = ")][0]
    assert line.count(",") == 2 * k - 1
