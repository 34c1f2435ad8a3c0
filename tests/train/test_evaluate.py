"""evaluate_recognizer, crop folders, the failure gallery and ``minilpr eval recognizer``."""

import json
import os
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest

from minilpr.data import charset, datasets
from minilpr.data.synth import PlateGenerator
from minilpr.train import metrics
from minilpr.train.evaluate import (DECODERS, RecognizerReport, crop_text, evaluate_recognizer,
                                    failure_gallery, load_crop_folder)
from tests.paths import REAL_DATA, REPO

T, K = 27, charset.NUM_CLASSES
MARGIN = 8.0
# the probability of the one high logit of a frame: every character's confidence
SURE = np.exp(MARGIN) / (np.exp(MARGIN) + K - 1)


def spell(text: str, margin: float = MARGIN) -> np.ndarray:
    """(T, K) logits whose best path reads ``text``: one character every third frame."""
    logits = np.zeros((T, K), np.float32)
    logits[:, charset.BLANK] = margin
    for i, index in enumerate(charset.encode(text)):
        logits[3 * i + 1, charset.BLANK] = 0.0
        logits[3 * i + 1, index] = margin
    return logits


class StandIn:
    """A "model" that reads ``reads[n]`` for the image whose top-left pixel is n / 1000."""

    def __init__(self, reads):
        self.reads = list(reads)
        self.training = True
        self.modes = []

    def eval(self):
        self.training = False
        self.modes.append("eval")
        return self

    def train(self, mode=True):
        self.training = mode
        self.modes.append("train")
        return self

    def forward(self, x):
        assert not self.training
        indices = np.rint(x[:, 0, 0, 0] * 1000).astype(int)
        return np.stack([spell(self.reads[i]) for i in indices], axis=1)  # (T, N, K)


def indexed_images(n: int) -> np.ndarray:
    images = np.zeros((n, 1, 32, 220), np.float32)
    images[:, 0, 0, 0] = np.arange(n) / 1000
    return images


TEXTS = ["皖A12345", "皖AD12345", "京B6789学", "苏E0G8K2", "皖A66666", "粤Z1234港", "川X90621"]
READS = ["皖A12345", "皖AD12345", "京B678学", "苏E068K2", "蒙A66666", "粤Z1234港", "川X906211"]


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_perfect_reader_scores_one(decoder):
    model = StandIn(TEXTS)
    report = evaluate_recognizer(model, indexed_images(7), TEXTS, decoder=decoder, batch=3)
    assert report.reads == TEXTS
    assert report.plate_accuracy == report.char_accuracy == 1.0
    assert report.failures == [] and report.confusions == []
    np.testing.assert_allclose(report.confidences, SURE, rtol=1e-6)
    assert model.modes[0] == "eval" and model.training   # handed back in training mode


def test_report_holds_the_metrics_of_its_reads():
    report = evaluate_recognizer(StandIn(READS), indexed_images(7), TEXTS, batch=2,
                                 names=[f"{t}.png" for t in TEXTS])
    assert report.reads == READS
    assert report.plate_accuracy == metrics.plate_accuracy(TEXTS, READS) == 3 / 7
    assert report.char_accuracy == pytest.approx(metrics.char_accuracy(TEXTS, READS))
    assert report.accuracy_without_province == 4 / 7
    assert report.confusions == metrics.confusions(TEXTS, READS, 20)
    assert report.per_position == metrics.per_position_accuracy(TEXTS, READS)
    assert report.total_edits == 4
    assert sorted(report.failures) == [2, 3, 4, 6]
    assert report.images_per_s > 0

    record = json.loads(report.to_json(reads=True))
    assert record["n"] == 7
    for key in ("plate_accuracy", "char_accuracy", "accuracy_without_province"):
        assert 0.0 <= record[key] <= 1.0 and record[key] == getattr(report, key)
    assert record["reads"][3] == {"truth": "苏E0G8K2", "read": "苏E068K2",
                                  "confidence": round(SURE, 4),
                                  "file": "苏E0G8K2.png"}
    assert record["per_province"]["皖"] == {"n": 3, "plate_accuracy": 2 / 3,
                                           "province_accuracy": 2 / 3}
    assert {"truth": "G", "read": "6", "count": 1} in record["confusions"]
    assert "reads" not in json.loads(report.to_json())

    text = report.format()
    for line in ("plate accuracy    42.86%", "G read as 6", "9 dropped", "extra 1",
                 "皖 read as 蒙"):
        assert line in text


def test_the_grammar_decoder_reads_only_plates():
    invalid = ["京A1234", "京AAAAAA", "京A12345"]
    greedy = evaluate_recognizer(StandIn(invalid), indexed_images(3), invalid)
    grammar = evaluate_recognizer(StandIn(invalid), indexed_images(3), invalid,
                                  decoder="grammar")
    assert greedy.reads == invalid
    assert grammar.reads[2] == "京A12345"
    assert all(r == "" or charset.validate_plate(r) is None for r in grammar.reads)


def test_labels_outside_the_charset_count_wrong():
    texts = ["京A12345", "京A1234O"]
    report = evaluate_recognizer(StandIn(["京A12345", "京A12340"]), indexed_images(2), texts)
    assert report.plate_accuracy == 0.5 and report.unknown_labels == [(1, "京A1234O")]
    assert "labels outside the charset" in report.format()


def test_bad_arguments_are_refused():
    model, images = StandIn(TEXTS), indexed_images(7)
    with pytest.raises(ValueError, match="float32"):
        evaluate_recognizer(model, images.astype(np.float64), TEXTS)
    with pytest.raises(ValueError, match="7 images but 6 texts"):
        evaluate_recognizer(model, images, TEXTS[:6])
    with pytest.raises(ValueError, match="decoder must be one of"):
        evaluate_recognizer(model, images, TEXTS, decoder="viterbi")
    with pytest.raises(ValueError, match="no images"):
        evaluate_recognizer(model, images[:0], [])

    class WrongK(StandIn):
        def forward(self, x):
            return np.zeros((T, len(x), 66), np.float32)

    with pytest.raises(ValueError, match=r"logits of shape \(27, 7, 66\)"):
        evaluate_recognizer(WrongK(TEXTS), images, TEXTS)


def test_crop_text():
    assert crop_text("dir/皖A12345.jpg") == "皖A12345"
    assert crop_text("皖A12345_2.png") == "皖A12345"
    assert crop_text("皖A12345_x_3.png") == "皖A12345"


def write_crop_folder(folder, n=6, seed=0):
    """Synthetic gray crops as PNG (lossless), Unicode names; returns (images, texts) of the
    generator's own batch for the same seed."""
    images, texts = PlateGenerator(seed=seed).batch(n)
    twin = PlateGenerator(seed=seed)
    taken = set()
    for _ in range(n):
        sample = twin.sample()
        datasets.imwrite(folder / datasets.crop_file_name(sample.text, taken), sample.image)
    return images, texts


def test_load_crop_folder_reproduces_the_generator_batch(tmp_path):
    images, texts = write_crop_folder(tmp_path)
    data = load_crop_folder(tmp_path)
    order = np.argsort(texts, kind="stable")   # the folder is read in file-name order
    assert data.texts == [texts[i] for i in order]
    np.testing.assert_array_equal(data.images, images[order])
    assert data.skipped == []


def test_load_crop_folder_skips_bad_files_with_one_warning_each(tmp_path):
    write_crop_folder(tmp_path, n=3)
    (tmp_path / "京A11111.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "_1.png").write_bytes((tmp_path / os.listdir(tmp_path)[0]).read_bytes())
    (tmp_path / "README.txt").write_text("not an image")
    ok, png = cv2.imencode(".png", np.full((24, 94), 128, np.uint8))
    png.tofile(str(tmp_path / "京A1234O.png"))   # a label outside the charset is kept
    with pytest.warns(datasets.BadFileWarning) as caught:
        data = load_crop_folder(tmp_path)
    assert len(caught) == 2
    assert len(data.texts) == 4 and "京A1234O" in data.texts
    assert sorted(p.name for p, _ in data.skipped) == ["_1.png", "京A11111.jpg"]
    assert any("corrupt JPEG (no marker at byte 2)" in problem for _, problem in data.skipped)


def test_load_crop_folder_refuses_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_crop_folder(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="no image files"):
        load_crop_folder(tmp_path)


def test_failure_gallery_draws_the_failures(tmp_path):
    images = PlateGenerator(seed=1).batch(7)[0]
    images[:, 0, 0, 0] = np.arange(7) / 1000
    report = evaluate_recognizer(StandIn(READS), images, TEXTS)
    out = tmp_path / "failures.png"
    assert failure_gallery(report, images, out, max_items=3, columns=2) == 3
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape[1] > picture.shape[0]
    perfect = RecognizerReport.from_reads(TEXTS, TEXTS)
    assert failure_gallery(perfect, images, tmp_path / "none.png") == 0
    assert cv2.imread(str(tmp_path / "none.png")) is not None


@pytest.mark.skipif(not (REAL_DATA / "lprnet-crops-dev").is_dir(),
                    reason="the real dev crops are not on this machine")
def test_the_real_dev_crops_load():
    data = load_crop_folder(REAL_DATA / "lprnet-crops-dev")
    assert data.images.shape == (200, 1, 32, 220) and data.skipped == []
    assert all(metrics.is_known(t) for t in data.texts)


def run_cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "minilpr.cli", "eval", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


def test_cli_bad_input_gives_one_line_and_status_2(tmp_path):
    crops = tmp_path / "crops"
    crops.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    write_crop_folder(crops, n=2)
    cases = [(["recognizer", "--data", tmp_path / "missing"], "no such folder"),
             (["recognizer", "--data", empty, "--weights", tmp_path / "none.npz"],
              "no image files"),
             (["recognizer", "--data", crops, "--batch", "0"], "--batch must be at least 1"),
             (["recognizer", "--data", crops, "--weights", tmp_path / "none.npz"],
              "no such file"),
             (["recognizer", "--data", crops, "--decoder", "viterbi"], "invalid choice"),
             (["recognizer"], "--data")]
    for args, message in cases:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_cli_without_shipped_weights_says_so(tmp_path, monkeypatch):
    from minilpr import eval_command

    write_crop_folder(tmp_path, n=1)
    monkeypatch.setattr(eval_command, "SHIPPED_WEIGHTS", tmp_path / "recognizer.npz")
    with pytest.raises(eval_command._UsageError, match="no shipped weights yet"):
        eval_command._check(eval_command.build_parser().parse_args(
            ["recognizer", "--data", str(tmp_path)]))


def test_cli_help_explains_every_option():
    result = run_cli("recognizer", "--help")
    assert result.returncode == 0
    for option in ("--data", "--weights", "--decoder", "--beam-width", "--batch", "--threads",
                   "--top", "--gallery", "--json"):
        assert option in result.stdout


def test_cli_reads_a_crop_folder_with_a_tiny_model(tmp_path):
    weights_module = pytest.importorskip(
        "minilpr.models.weights",
        reason="the recogniser's weight files (minilpr.models.weights) are not merged yet")
    from minilpr.models.recognizer import Recognizer, RecognizerConfig

    crops = tmp_path / "crops"
    crops.mkdir()
    write_crop_folder(crops, n=5)
    (crops / "京A11111.jpg").write_bytes(b"")   # unreadable: one line, the rest evaluated
    model = Recognizer(RecognizerConfig.preset("tiny", lstm_hidden=8, fc=()), rng=0)
    weights = tmp_path / "tiny.npz"
    weights_module.save_weights(model, weights)
    gallery = tmp_path / "gallery.png"
    result = run_cli("recognizer", "--data", crops, "--weights", weights, "--json",
                     "--gallery", gallery, "--decoder", "grammar", "--batch", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("京A11111.jpg") == 1
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["n"] == 5 and len(last["reads"]) == 5
    assert 0.0 <= last["plate_accuracy"] <= 1.0 and 0.0 <= last["char_accuracy"] <= 1.0
    assert last["skipped"][0]["file"] == "京A11111.jpg"
    for heading in ("plate accuracy", "char accuracy", "w/o province", "per position",
                    "per province", "top confusions", "images/s"):
        assert heading in result.stdout
    assert cv2.imread(str(gallery)) is not None


def test_cli_refuses_weights_that_do_not_load(tmp_path):
    pytest.importorskip("minilpr.models.weights")
    write_crop_folder(tmp_path, n=1)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not a whole zip file")
    result = run_cli("recognizer", "--data", tmp_path, "--weights", bad)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot load" in result.stderr, result.stderr
