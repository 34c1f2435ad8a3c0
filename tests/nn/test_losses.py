"""Cross-entropy, BCE-with-logits, MSE: hand-computed values, gradients, stability, errors."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import (BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, assert_gradcheck,
                        bce_with_logits, cross_entropy, mse_loss)
from tests.conftest import GRAD_TOL

reductions = st.sampled_from(["mean", "sum"])
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


@given(N=st.integers(1, 6), K=st.integers(1, 7), reduction=reductions,
       seed=st.integers(0, 2**16))
@example(N=1, K=2, reduction="mean", seed=0)
def test_cross_entropy_gradcheck(N, K, reduction, seed):
    rng = np.random.default_rng(seed)
    logits, targets = rng.standard_normal((N, K)) * 2, rng.integers(0, K, size=N)
    assert_gradcheck(CrossEntropyLoss(reduction), (logits, targets), tol=GRAD_TOL, seed=seed + 1)


def test_cross_entropy_hand_computed():
    loss, _ = cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(math.log(2))
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    expected = [-3 + math.log(math.e + math.e**2 + math.e**3), math.log(3)]
    assert cross_entropy(logits, np.array([2, 0]), "sum")[0] == pytest.approx(sum(expected))
    assert cross_entropy(logits, np.array([2, 0]), "mean")[0] == pytest.approx(sum(expected) / 2)


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    logits, targets = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    _, grad = cross_entropy(logits, targets, "sum")
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(grad, softmax - np.eye(3)[targets], rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(logits, targets)[1], grad / 4, rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    loss, grad = cross_entropy(np.array([[1000.0, -1000.0]], dtype=np.float32), np.array([1]))
    assert loss == pytest.approx(2000.0) and grad.dtype == np.float32
    np.testing.assert_allclose(grad, [[1.0, -1.0]])


def test_cross_entropy_errors():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\), got values from 0 to 3"):
        cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        cross_entropy(logits, np.array([-1, 0]))
    with pytest.raises(TypeError, match="integer class indices"):
        cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"expects \(2,\) targets"):
        cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(N, K\) logits"):
        cross_entropy(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        cross_entropy(logits, np.array([0, 1]), "none")


@given(shape=shapes, reduction=reductions, seed=st.integers(0, 2**16))
@example(shape=(1,), reduction="mean", seed=0)
def test_bce_with_logits_gradcheck(shape, reduction, seed):
    rng = np.random.default_rng(seed)
    logits, targets = rng.standard_normal(shape) * 3, rng.random(shape)
    assert_gradcheck(BCEWithLogitsLoss(reduction), (logits, targets), tol=GRAD_TOL,
                     seed=seed + 1, wrt=[0])


def test_bce_with_logits_hand_computed():
    z = np.array([0.0, 2.0, -1.0])
    y = np.array([1.0, 0.0, 1.0])
    expected = [math.log(2), math.log(1 + math.e**2), math.log(1 + math.e)]
    assert bce_with_logits(z, y, "sum")[0] == pytest.approx(sum(expected))
    sigmoid = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(bce_with_logits(z, y)[1], (sigmoid - y) / 3, rtol=1e-12)


def test_bce_with_logits_is_stable_for_huge_logits():
    z = np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    loss, grad = bce_with_logits(z, y, "sum")
    assert loss == pytest.approx(2000.0) and grad.dtype == np.float32
    np.testing.assert_allclose(grad, [0.0, 0.0, 1.0, -1.0])


@given(shape=shapes, reduction=reductions, seed=st.integers(0, 2**16))
def test_mse_gradcheck(shape, reduction, seed):
    rng = np.random.default_rng(seed)
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    assert_gradcheck(MSELoss(reduction), (pred, target), tol=GRAD_TOL, seed=seed + 1, wrt=[0])


def test_mse_hand_computed():
    pred, target = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 4.0]])
    assert mse_loss(pred, target, "sum")[0] == pytest.approx(13.0)
    loss, grad = mse_loss(pred, target)
    assert loss == pytest.approx(13.0 / 4)
    np.testing.assert_allclose(grad, [[0.0, 1.0], [1.5, 0.0]])


@pytest.mark.parametrize("function", [bce_with_logits, mse_loss])
def test_elementwise_losses_need_matching_shapes(function):
    with pytest.raises(ValueError, match=r"input has shape \(2, 3\) but target has shape \(3,\)"):
        function(np.zeros((2, 3)), np.zeros(3))


def test_modules_scale_by_the_upstream_gradient(rng):
    logits, targets = rng.standard_normal((3, 4)), np.array([0, 3, 1])
    module = CrossEntropyLoss()
    loss = module(logits, targets)
    assert isinstance(loss, float) and loss == cross_entropy(logits, targets)[0]
    np.testing.assert_allclose(module.backward(2.5), 2.5 * cross_entropy(logits, targets)[1])
    with pytest.raises(RuntimeError, match="CrossEntropyLoss.backward called before forward"):
        module.backward()
    with pytest.raises(ValueError, match="reduction"):
        MSELoss("avg")
