"""The README's two set-up commands are the ones CI runs, word for word."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return [b.strip() for b in blocks[:2]]


def test_readme_has_two_setup_commands_and_ci_runs_them():
    install, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install in ci, "the README's install command is not what .ci/run runs"
    assert tests in ci, "the README's test command is not what .ci/run runs"
