"""`minilpr demo`: the shipped example photos and plates, read with given weights; bad inputs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minilpr.pipeline
from minilpr import demo
from minilpr.demo import EXAMPLES
from minilpr.demo_photos import PHOTOS, example_truth
from minilpr.models.recognizer import Recognizer, RecognizerConfig
from minilpr.models.weights import save_weights
from minilpr.pipeline import Plate
from minilpr.pipeline_eval import evaluate_pipeline, truth_folder
from minilpr.train.evaluate import crop_files
from tests.pipeline_fakes import untrained_locator_file

REPO = Path(__file__).resolve().parents[1]


def run_demo(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "minilpr", "demo", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    config = RecognizerConfig.preset("tiny", lstm_hidden=8, fc=(16,))
    path = tmp_path_factory.mktemp("weights") / "tiny.npz"
    save_weights(Recognizer(config, rng=np.random.default_rng(0)), path,
                 {"preset": "tiny", "data": {"images_seen": 0}})
    return path


def test_the_examples_are_plates_named_by_their_text():
    files = crop_files(EXAMPLES)
    assert len(files) >= 8
    assert len({f.stem for f in files}) == len(files)


def test_the_example_photos_are_a_yolo_folder_the_manifest_describes():
    manifest = json.loads((PHOTOS / "manifest.json").read_text(encoding="utf-8"))
    images = sorted(p.name for p in (PHOTOS / "images").iterdir())
    assert images == sorted(Path(f["file"]).name for f in manifest["files"])
    assert len(images) >= 4
    dataset, texts = truth_folder(PHOTOS)
    scenes = list(dataset)
    assert [s.path.name for s in scenes] == images and not dataset.skipped
    for scene, (path, truth) in zip(scenes, example_truth(PHOTOS)):
        assert scene.path.name == path.name
        assert texts(scene) == [t.text for t in truth]
        np.testing.assert_allclose(scene.boxes, [t.box for t in truth], atol=1.0)
        assert scene.image.shape == (480, 640, 3)


class TruthReader:
    """Reads each photo as exactly its manifest says (in the folder's order)."""

    def __init__(self):
        self.truth = iter(example_truth(PHOTOS))

    def read(self, image):
        _, truth = next(self.truth)
        return [Plate(t.text, 1.0, (), t.box, t.kind, 1.0) for t in truth]


def test_eval_pipeline_scores_the_truth_of_the_example_photos_as_perfect():
    report = evaluate_pipeline(TruthReader(), PHOTOS)
    n = sum(len(truth) for _, truth in example_truth(PHOTOS))
    assert (report.n_images, report.n_plates, report.n_texts) == (len(example_truth(PHOTOS)),
                                                                   n, n)
    assert report.recall == report.precision == report.plate_accuracy == 1.0
    assert not report.skipped


def test_demo_reads_the_photos_with_a_given_locator(tmp_path, tiny_weights):
    locator = untrained_locator_file(tmp_path / "locator.npz", found="few")
    result = run_demo("--locator", locator, "--recognizer", tiny_weights, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    truth = example_truth(PHOTOS)
    n = sum(len(plates) for _, plates in truth)
    for path, plates in truth:
        assert any(line.startswith(f"{path.name}: {len(plates)} plate(s), ") for line in lines)
    for _, plates in truth:
        for plate in plates:
            assert sum(line.startswith(f"  {plate.text} ") for line in lines) == 1
    assert any(f"of {n} plates read right" in line for line in lines)
    picture = tmp_path / "minilpr-demo.png"
    assert picture.stat().st_size > 100_000
    assert any(str(picture) in line for line in lines)
    assert (tmp_path / "minilpr-demo-plates.png").is_file()
    assert "no locator" not in result.stdout


def test_demo_without_a_locator_says_so_and_reads_the_plates(tmp_path, tiny_weights,
                                                             monkeypatch, capsys):
    monkeypatch.setattr(minilpr.pipeline, "SHIPPED_LOCATOR", tmp_path / "none.npz")
    monkeypatch.chdir(tmp_path)
    assert demo.main(["--weights", str(tiny_weights)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum("no locator" in line for line in lines) == 1
    assert "--locator" in next(line for line in lines if "no locator" in line)
    n = len(crop_files(EXAMPLES))
    assert sum(" read " in line and "confidence" in line for line in lines) == n
    assert any(f"of {n} read right" in line for line in lines)
    picture = tmp_path / "minilpr-demo-plates.png"
    assert picture.stat().st_size > 10_000 and str(picture) in lines[-1]
    assert not (tmp_path / "minilpr-demo.png").exists()


def test_demo_bad_inputs_get_one_line(tmp_path):
    missing = run_demo("--weights", tmp_path / "none.npz", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "none.npz" in missing.stderr
    no_folder = run_demo("--out", tmp_path / "typo" / "demo.png", cwd=tmp_path)
    assert no_folder.returncode == 2 and "does not exist" in no_folder.stderr
    bad_locator = tmp_path / "locator.npz"
    bad_locator.write_bytes(b"not a weight file")
    broken = run_demo("--locator", bad_locator, cwd=tmp_path)
    assert broken.returncode == 1 and broken.stderr.count("\n") == 1
    assert "locator.npz" in broken.stderr
