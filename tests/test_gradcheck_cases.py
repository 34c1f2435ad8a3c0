"""``minilpr gradcheck``: every registered case passes, and the table says so (or says FAIL)."""

import pytest

from minilpr import gradcheck_cases
from minilpr.cli import main
from minilpr.nn import FunctionPair

LAYER_LIBRARY = ["Conv2d", "MaxPool2d", "BatchNorm2d", "LeakyReLU", "Linear", "Dropout", "Add",
                 "Concat", "Upsample", "Flatten", "Identity", "ToSequence", "LogSoftmax",
                 "CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss", "Sequential"]


def test_every_layer_of_the_library_has_a_case():
    missing = [name for name in LAYER_LIBRARY if name not in gradcheck_cases.CASES]
    assert not missing, f"no gradcheck case for {missing}"


def test_all_cases_pass_and_the_table_has_one_row_per_tensor(capsys):
    assert main(["gradcheck"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["layer", "tensor", "rel.", "error", "result"]
    rows = [line.split() for line in lines[1:-1]]
    assert all(row[-1] == "pass" and float(row[-2]) < 1e-6 for row in rows)
    names = [row[:2] for row in rows]
    assert ["Conv2d", "x"] in names and ["Conv2d", "weight"] in names
    assert ["Sequential", "5.bias"] in names  # parameters by dotted name, as PyTorch gives them
    assert lines[-1] == f"{len(rows)} passed, 0 failed"


def test_a_wrong_backward_is_reported_as_fail(monkeypatch, capsys):
    wrong = FunctionPair(lambda x: (x * x, x), lambda dout, x: dout * x)  # forgets the 2
    monkeypatch.setitem(gradcheck_cases.CASES, "Square",
                        lambda rng: (wrong, rng.standard_normal(4), {}))
    assert main(["gradcheck", "Square", "Linear"]) == 1
    out = capsys.readouterr().out
    assert "Square" in out and "FAIL" in out and out.splitlines()[-1].endswith("1 failed")


def test_an_unknown_layer_is_named_in_the_error():
    with pytest.raises(SystemExit, match="unknown layer\\(s\\) Conv3d; choose from"):
        main(["gradcheck", "Conv3d"])


def test_list_prints_the_case_names(capsys):
    assert main(["gradcheck", "--list"]) == 0
    assert capsys.readouterr().out.split() == list(gradcheck_cases.CASES)

