"""docs/cli.md names every command, and every option of the parsers that can be built here."""

import pytest

from minilpr.cli import COMMANDS
from tests.paths import REPO

DOC = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")


def _options(parser):
    return [s for a in parser._actions for s in a.option_strings if s not in ("-h", "--help")]


def _parsers():
    from minilpr import demo, eval_command, read_command
    from minilpr.bench import pipeline as bench_pipeline

    yield "demo", demo.build_parser()
    yield "read", read_command.build_parser()
    yield "bench pipeline", bench_pipeline.build_parser()
    from minilpr.train import experiment_cli
    from minilpr.train import locator as train_locator
    from minilpr.train import recognizer as train_recognizer
    yield "experiment", experiment_cli.build_parser()
    yield "train recognizer", train_recognizer.build_parser()
    yield "train locator", train_locator.build_parser()
    evaluate = eval_command.build_parser()
    sub = next(a for a in evaluate._actions if a.dest == "what")
    for name, parser in sub.choices.items():
        yield f"eval {name}", parser


def test_every_command_has_a_section():
    for name in COMMANDS:
        assert f"## `minilpr {name}" in DOC, name


@pytest.mark.parametrize("name, parser", list(_parsers()), ids=lambda x: str(x)[:20])
def test_every_option_is_documented(name, parser):
    assert f"minilpr {name}" in DOC
    for option in _options(parser):
        assert f"`{option}" in DOC, (name, option)
