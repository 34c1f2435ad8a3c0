"""``minilpr train``: the dispatcher to each model's trainer."""

import pytest

from minilpr.cli import main


def test_train_lists_what_it_trains(capsys):
    assert main(["train"]) == 0
    out = capsys.readouterr().out
    assert "recognizer" in out and "locator" in out


def test_unknown_model(capsys):
    assert main(["train", "dragon"]) == 2
    assert "unknown model 'dragon'" in capsys.readouterr().err


def test_a_trainer_that_is_not_installed_says_so(capsys, monkeypatch):
    from minilpr.train import commands

    monkeypatch.setitem(commands.TRAINERS, "locator",
                        ("minilpr.train.no_such_trainer", "a trainer this copy lacks"))
    assert main(["train", "locator"]) == 2
    assert "not available" in capsys.readouterr().err


def test_recognizer_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", "recognizer", "--help"])
    assert done.value.code == 0
    assert "--stn-stage" in capsys.readouterr().out
