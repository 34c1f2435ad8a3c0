"""Every benchmark answers a bad argument with one line on stderr and exit status 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minilpr import bench

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv, problem", [
    (["layers", "--batch", "-1"], "minilpr bench layers: error: argument --batch: must be at "
                                  "least 1, got -1"),
    (["recognizer", "--repeat", "0"], "minilpr bench recognizer: error: argument --repeat: "
                                      "must be at least 1, got 0"),
    (["sequence", "--hidden", "zero"], "minilpr bench sequence: error: argument --hidden: "
                                       "expected a positive integer, got 'zero'"),
    (["stn", "--batch", "0"], "minilpr bench stn: error: argument --batch: must be at least 1"),
    (["synth", "--n", "0"], "minilpr bench synth: error: argument --n: must be at least 1"),
    (["nonesuch"], "minilpr bench: unknown benchmark 'nonesuch'"),
])
def test_through_the_command(argv, problem):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "minilpr", "bench", *argv], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert problem in done.stderr


@pytest.mark.parametrize("argv, problem", [
    (["layers", "--repeat", "0"], "--repeat: must be at least 1, got 0"),
    (["layers", "--batch", "1.5"], "--batch: expected a positive integer, got '1.5'"),
    (["recognizer", "--batch", "-1"], "--batch: must be at least 1"),
    (["recognizer", "--threads", "0"], "--threads: must be at least 1"),
    (["recognizer", "--preset", "huge"], "invalid choice: 'huge'"),
    (["sequence", "--steps", "0"], "--steps: must be at least 1"),
    (["sequence", "--ctc-batch", "-2"], "--ctc-batch: must be at least 1"),
    (["sequence", "--repeat", "0"], "--repeat: must be at least 1"),
    (["sequence", "--classes", "1"], "--classes must be at least 2"),
    (["stn", "--repeat", "-5"], "--repeat: must be at least 1, got -5"),
    (["synth", "--repeat", "0"], "--repeat: must be at least 1"),
    (["synth", "--size", "0", "220"], "--size: must be at least 1, got 0"),
    (["synth", "--size", "4", "220"], "--size 4 220 is too small"),
    (["synth", "--batch", "3"], "unrecognized arguments: --batch 3"),
])
def test_every_subcommand_refuses_in_one_line(capsys, argv, problem):
    with pytest.raises(SystemExit) as done:
        bench.main(argv)
    assert done.value.code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and "\n" not in err and problem in err
    assert err.startswith(f"minilpr bench {argv[0]}: error: ")


def test_best_time_refuses_no_repeats():
    from minilpr.bench._common import best_time

    with pytest.raises(ValueError, match="repeat must be at least 1"):
        best_time(lambda: None, repeat=0)
