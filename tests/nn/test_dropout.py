"""Dropout: inverted scaling, the drop rate, eval pass-through, the mask reused by backward."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import Dropout, assert_gradcheck
from minilpr.nn.dropout import dropout_forward
from tests.conftest import GRAD_TOL

shapes = st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple)


@given(shape=shapes, p=st.sampled_from([0.0, 0.1, 0.5, 0.9]), seed=st.integers(0, 2**16))
@example(shape=(1,), p=0.5, seed=0)
@example(shape=(1, 3, 5, 7), p=0.3, seed=1)
def test_gradcheck(shape, p, seed):
    rng = np.random.default_rng(seed)
    assert_gradcheck(Dropout(p, rng=seed), rng.standard_normal(shape), tol=GRAD_TOL,
                     seed=seed + 1)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_drop_rate_and_scaling(p):
    x = np.ones(200_000, dtype=np.float32)
    out = Dropout(p, rng=0)(x)
    dropped = np.mean(out == 0)
    # 200k Bernoulli draws: the standard error of the rate is below 0.0012.
    assert abs(dropped - p) < 0.006
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-6)
    assert abs(out.mean() - 1) < 0.03  # the expected value is kept
    assert out.dtype == np.float32


def test_backward_uses_the_forward_mask(rng):
    layer = Dropout(0.5, rng=1).astype(np.float64)
    x = rng.standard_normal((8, 9)) + 3  # no zeros of its own
    out = layer(x)
    dout = rng.standard_normal(x.shape)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx, dout * out / x, rtol=1e-12)


def test_each_forward_draws_a_new_mask():
    layer = Dropout(0.5, rng=0)
    x = np.ones((10, 10), dtype=np.float32)
    assert not np.array_equal(layer(x), layer(x))


def test_eval_is_the_identity(rng):
    layer = Dropout(0.7, rng=0).eval()
    x = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), x)
    dout = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(dout), dout)


def test_p_zero_is_the_identity_in_training(rng):
    x = rng.standard_normal((3, 4))
    out, mask = dropout_forward(x, 0.0, rng)
    assert mask is None and out is x


def test_rng_is_kept_for_replay():
    generator = np.random.default_rng(5)
    assert Dropout(0.2, rng=generator).rng is generator


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_probability_is_validated(p):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        Dropout(p)


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="Dropout.backward called before forward"):
        Dropout().backward(np.ones(3))
