"""The shared argument checks: `pair` and `check_float`."""

import numpy as np
import pytest

from minilpr.nn import conv
from minilpr.nn.checks import check_float, pair
from minilpr.nn.kernels.conv import conv_output_size


@pytest.mark.parametrize("value, expected", [(3, (3, 3)), ((2, 1), (2, 1)), ([4, 2], (4, 2)),
                                             (np.int64(5), (5, 5)), (0, (0, 0))])
def test_pair_reads_an_int_or_a_pair(value, expected):
    assert pair(value, "size") == expected
    assert all(type(v) is int for v in pair(value, "size"))


@pytest.mark.parametrize("value", [1.5, 2.0, (1, 2, 3), (1,), True, "3", None, (1, 2.0)])
def test_pair_refuses_other_kinds(value):
    with pytest.raises(TypeError, match=r"stride must be an int or a pair of ints \(height, "
                                        r"width\), got"):
        pair(value, "stride")


def test_pair_checks_the_lower_bound():
    assert pair((1, 2), "k", low=1) == (1, 2)
    with pytest.raises(ValueError, match=r"k must be a positive integer or a pair of them, got "
                                         r"\(0, 2\)"):
        pair((0, 2), "k", low=1)
    with pytest.raises(ValueError, match="p must be an integer >= 0"):
        pair(-1, "p", low=0)


def test_check_float():
    x = np.zeros(2, np.float32)
    assert check_float("x", x) is x
    with pytest.raises(TypeError, match="lstm: x must be a floating-point ndarray, got int64"):
        check_float("lstm: x", np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="got list"):
        check_float("x", [1.0])


def test_one_home_for_the_output_size():
    assert conv.conv_output_size is conv_output_size and conv.pair is pair
    assert conv_output_size(7, 3, 2, 1) == 4 and conv_output_size(5, 2, 2, 0) == 2
