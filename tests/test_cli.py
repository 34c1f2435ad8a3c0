"""The minilpr command dispatches, and says so clearly when asked for something it lacks."""

from minilpr.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 0
    assert "gradcheck" in capsys.readouterr().out


def test_unknown_command(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_version(capsys):
    import minilpr

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"minilpr {minilpr.__version__}"
