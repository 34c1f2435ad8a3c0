"""``minilpr train recognizer|locator ...``: hand the rest of the command line to the trainer."""

from __future__ import annotations

import sys

from minilpr.dispatch import dispatch

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
    return dispatch("minilpr train", TRAINERS, argv, usage(), "model")
