"""Where plates meet CTC: plate strings in as CTC targets, the plate grammar out as an automaton.

`minilpr.nn` knows nothing about plates, and `minilpr.data` nothing about networks; the
recogniser needs the two joined at both ends of its CTC head, and this module is the joint:

* `ctc_targets` encodes plate strings with the charset (`minilpr.data.charset.encode`) into the
  ``(targets, target_lengths)`` pair `minilpr.nn.CTCLoss` takes;
* `plate_automaton` builds the `minilpr.nn.automaton.Automaton` that
  `minilpr.nn.decode.constrained_beam_search` follows, from the plate patterns that
  `minilpr.data.grammar` states as plain data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from minilpr.data.charset import BLANK, NUM_CLASSES, encode
from minilpr.data.grammar import plate_patterns
from minilpr.nn.ctc_inputs import pad_targets
from minilpr.nn.automaton import Automaton


def ctc_targets(plates: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """CTC targets of a batch of plate strings.

    Parameters
    ----------
    plates : sequence of N str
        Plate numbers such as ``"皖A12345"`` (7 characters) or ``"沪AD12345"`` (8); any string
        of charset characters is accepted (``validate_plate`` checks the plate rules).

    Returns
    -------
    targets : (N, L_max) int64
        Row ``n`` holds the class indices of plate ``n`` in its first ``L_n`` entries, padded
        with the blank (never read by the loss): the padded form `CTCLoss` takes.
    target_lengths : (N,) int64
        ``L_n = len(plates[n])``.

    Raises
    ------
    ValueError
        Naming the plate and the first of its characters outside the charset.

    Examples
    --------
    >>> targets, target_lengths = ctc_targets(["皖A12345", "沪AD12345"])
    >>> targets.shape, target_lengths.tolist()
    ((2, 8), [7, 8])
    """
    if isinstance(plates, str):
        raise TypeError(f"ctc_targets: expected a list of plate strings, got the single string "
                        f"{plates!r}; pass [{plates!r}]")
    labels = []
    for n, plate in enumerate(plates):
        try:
            labels.append(encode(plate))
        except (TypeError, ValueError) as error:
            reason = str(error).removeprefix("encode: ")
            raise type(error)(f"ctc_targets: plate {n} of the batch: {reason}") from None
    return pad_targets(labels, blank=BLANK)


@lru_cache(maxsize=1)
def plate_automaton() -> Automaton:
    """The automaton accepting exactly the plate numbers ``validate_plate`` accepts.

    Returns
    -------
    Automaton
        Over the ``NUM_CLASSES`` class indices of the charset (the blank never appears), built
        from `minilpr.data.grammar.plate_patterns` by the subset construction.
    """
    return Automaton.from_patterns(plate_patterns(), NUM_CLASSES)
