"""The ``minilpr`` command: one word per job, each handled by the module that owns it.

Each subcommand's own module parses the rest of the command line, so this file stays a table.
"""

from __future__ import annotations

import sys

from minilpr.dispatch import dispatch

# subcommand -> (module with a ``main(argv) -> int``, one-line help)
COMMANDS = {
    "demo": ("minilpr.demo",
             "read the example photos and plates shipped with minilpr (no arguments)"),
    "read": ("minilpr.read_command", "find and read the plates of photos: minilpr read IMAGE|DIR"),
    "gradcheck": ("minilpr.gradcheck_cases", "check every layer's backward pass numerically"),
    "bench": ("minilpr.bench",
              "benchmarks: minilpr bench {layers,locator,pipeline,recognizer,sequence,stn,synth}"),
    "synth": ("minilpr.data.writer", "write a synthetic data set: minilpr synth {plates,scenes}"),
    "anchors": ("minilpr.detect.anchors_cli", "k-means anchors of a data set's boxes"),
    "train": ("minilpr.train.commands", "train a model: minilpr train {recognizer,locator}"),
    "eval": ("minilpr.eval_command", "measure: minilpr eval {recognizer,locator,pipeline} ..."),
    "experiment": ("minilpr.train.experiment_cli",
                   "rerun the patent's experiments: minilpr experiment {stn,bilstm,fc}"),
}


def usage() -> str:
    lines = ["usage: minilpr COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "minilpr COMMAND --help tells more; minilpr --version says which minilpr."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--version":
        import minilpr

        print(f"minilpr {minilpr.__version__}")
        return 0
    return dispatch("minilpr", COMMANDS, argv, usage(), "command")

if __name__ == "__main__":
    sys.exit(main())
