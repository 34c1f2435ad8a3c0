"""``minilpr bench pipeline`` times every stage of a read and refuses bad arguments."""

import json

import pytest

from minilpr.bench import available, pipeline
from minilpr.pipeline import STAGES


def test_json_has_every_stage(capsys):
    assert pipeline.main(["--backbone", "tiny", "--input-size", "64", "--size", "160x120",
                          "--repeat", "1", "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.splitlines()[-1])
    assert list(result["stages_ms"]) == list(STAGES)
    assert all(ms >= 0 for ms in result["stages_ms"].values())
    assert result["total_ms"] == pytest.approx(sum(result["stages_ms"].values()))
    assert result["size"] == [160, 120] and result["plates"] >= 1
    assert result["threads"] == 1     # the default: one thread (the suite runs two at once)
    assert "pipeline" in available()


@pytest.mark.parametrize("option", ["--repeat", "--threads"])
def test_a_count_of_zero_is_refused_in_one_line(capsys, option):
    with pytest.raises(SystemExit) as caught:
        pipeline.main([option, "0"])
    err = capsys.readouterr().err.strip()
    assert caught.value.code == 2 and "\n" not in err and f"{option}: must be at least 1" in err


@pytest.mark.parametrize("args, message", [
    (["--input-size", "50"], "multiple of 32"),
    (["--seed", "-1"], "--seed must be at least 0"),
])
def test_bad_arguments_exit_2(capsys, args, message):
    assert pipeline.main(args) == 2
    assert message in capsys.readouterr().err


def test_a_bad_size_is_refused(capsys):
    with pytest.raises(SystemExit) as caught:
        pipeline.main(["--size", "640"])
    assert caught.value.code == 2 and "WIDTHxHEIGHT" in capsys.readouterr().err
