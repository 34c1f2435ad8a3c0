"""``python -m minilpr ...`` runs the ``minilpr`` command."""

import sys

from minilpr.cli import main

sys.exit(main())
