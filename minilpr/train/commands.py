"""``minilpr train recognizer|locator ...``: hand the rest of the command line to the trainer."""

from __future__ import annotations

import importlib
import sys

# what -> (module with a ``main(argv) -> int``, one-line help)
TRAINERS = {
    "recognizer": ("minilpr.train.recognizer", "the plate recogniser (CNN + BiLSTM + CTC)"),
    "locator": ("minilpr.train.locator", "the plate locator (YOLO)"),
}


def usage() -> str:
    lines = ["usage: minilpr train {recognizer,locator} [OPTIONS...]", "", "what to train:"]
    lines += [f"  {name:<11} {help_}" for name, (_, help_) in TRAINERS.items()]
    lines += ["", "minilpr train recognizer --help lists the options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    what, rest = argv[0], argv[1:]
    if what not in TRAINERS:
        print(f"minilpr train: unknown model {what!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(TRAINERS[what][0])
    except ModuleNotFoundError as error:
        if error.name != TRAINERS[what][0]:
            raise
        print(f"minilpr train {what}: not available in this version ({error})", file=sys.stderr)
        return 2
    return int(module.main(rest) or 0)
