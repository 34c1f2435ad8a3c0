"""`minilpr.budget`: the examples in its docstrings run as written."""

import doctest

import minilpr.budget


def test_the_docstring_examples_run(monkeypatch):
    monkeypatch.setenv("MINILPR_FAST", "0")  # the examples set it; the fixture puts it back
    result = doctest.testmod(minilpr.budget)
    assert result.attempted >= 4 and result.failed == 0


def test_the_module_docstring_calls_budget_with_its_own_keywords():
    assert "budget(full=2000, fast_value=50)" in minilpr.budget.__doc__
    assert minilpr.budget.budget(full=2000, fast_value=50) in (50, 2000)
