"""Where the tests find the real development photos: ``../shared/data/real`` beside the repo.

``MINILPR_REAL_DATA`` overrides it. Tests that use these photos skip when the folder is missing.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("MINILPR_REAL_DATA", REPO.parent / "shared" / "data" / "real"))
