"""``python -m minilpr ...`` runs the ``minilpr`` command."""

import sys

from minilpr.cli import main

if __name__ == "__main__":  # not when a spawned data worker imports this module
    sys.exit(main())
