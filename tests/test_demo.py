"""`minilpr demo`: the shipped examples read with a weight file, and its bad inputs."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minilpr.demo import EXAMPLES
from minilpr.models.recognizer import Recognizer, RecognizerConfig
from minilpr.models.weights import save_weights
from minilpr.train.evaluate import crop_files

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


def test_demo_reads_every_example_and_draws_them(tmp_path, tiny_weights):
    result = run_demo("--weights", tiny_weights, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    n = len(crop_files(EXAMPLES))
    assert sum(" read " in line and "confidence" in line for line in lines) == n
    assert f"of {n} read right" in result.stdout
    picture = tmp_path / "minilpr-demo.png"
    assert picture.stat().st_size > 10_000 and str(picture) in lines[-1]


def test_demo_bad_inputs_get_one_line(tmp_path):
    missing = run_demo("--weights", tmp_path / "none.npz", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "none.npz" in missing.stderr
    no_folder = run_demo("--out", tmp_path / "typo" / "demo.png", cwd=tmp_path)
    assert no_folder.returncode == 2 and "does not exist" in no_folder.stderr
