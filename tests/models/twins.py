"""PyTorch twins of minilpr's models, loaded with the same weights by name.

The builders live in `minilpr.bench._twins` (the recogniser benchmark times them in the same
run); tests import them from here, after ``pytest.importorskip("torch")``.
"""

from minilpr.bench._twins import (torch_locator, torch_locator_twin_of, torch_recognizer,
                                  torch_state, torch_twin_of)

__all__ = ["torch_locator", "torch_locator_twin_of", "torch_recognizer", "torch_state",
           "torch_twin_of"]
