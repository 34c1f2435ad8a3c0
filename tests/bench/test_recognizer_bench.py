"""``minilpr bench recognizer`` runs end to end and reports what the issue asks for."""

import json
import subprocess
import sys

import pytest

from minilpr.bench import recognizer


def test_json_reports_both_rates_and_the_twin(capsys):
    pytest.importorskip("torch")
    assert recognizer.main(["--preset", "tiny", "--batch", "2", "--repeat", "1", "--stn",
                            "compact", "--profile", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    for key in ("train_images_per_s", "infer_images_per_s", "torch_train_images_per_s",
                "torch_infer_images_per_s", "train_time_ratio", "infer_time_ratio"):
        assert result[key] > 0, key
    assert result["stn"] == "compact" and result["batch"] == 2 and "kernel" in result["blas"]
    assert {"stn", "res1", "lstm", "ctc"} <= set(result["profile_ms"])


def test_without_torch_the_twin_is_left_out(capsys):
    assert recognizer.main(["--preset", "tiny", "--batch", "1", "--repeat", "1", "--no-torch",
                            "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["train_images_per_s"] > 0 and "torch_train_images_per_s" not in result


def test_minilpr_does_not_import_torch():
    code = ("import sys, minilpr.bench.recognizer, minilpr.models.recognizer, "
            "minilpr.models.weights, minilpr.bench._twins; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
