"""Plate strings as CTC targets; the plate automaton itself is tested in tests/data/test_grammar.py."""

import numpy as np
import pytest

from minilpr.data.charset import decode, encode
from minilpr.models.plate_ctc import ctc_targets, plate_automaton
from minilpr.nn import CTCLoss
from minilpr.nn.ctc_inputs import pad_targets


def test_ctc_targets_pads_the_encoded_plates_for_the_loss(rng):
    plates = ["皖A12345", "沪AD12345", "粤Z1234港"]
    targets, target_lengths = ctc_targets(plates)
    assert targets.dtype == target_lengths.dtype == np.int64
    assert targets.shape == (3, 8) and target_lengths.tolist() == [7, 8, 7]
    for n, plate in enumerate(plates):
        assert decode(targets[n, :target_lengths[n]]) == plate
    assert targets[0, 7] == targets[2, 7] == 0  # padded with the blank
    expected, _ = pad_targets([encode(plate) for plate in plates])
    np.testing.assert_array_equal(targets, expected)
    logits = rng.standard_normal((27, 3, 71))
    assert np.isfinite(CTCLoss()(logits, targets, np.full(3, 27), target_lengths))
    assert all(plate_automaton().matches(targets[n, :target_lengths[n]]) for n in range(3))


def test_ctc_targets_names_the_plate_and_the_character():
    with pytest.raises(ValueError, match=r"plate 1 of the batch: character 'O' .* position 6"):
        ctc_targets(["京A12345", "京A1234O"])
    with pytest.raises(TypeError, match=r"single string '京A12345'; pass \['京A12345'\]"):
        ctc_targets("京A12345")
