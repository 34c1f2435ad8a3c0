"""The gradient-check harness itself must be able to fail."""

import numpy as np
import pytest

from minilpr.nn import (BatchNorm2d, Conv2d, Dropout, FunctionPair, Linear, Module, Parameter,
                        Sequential, assert_gradcheck, gradcheck, relative_error)


def square_pair(wrong=False):
    def forward(x):
        return x * x, x

    def backward(dout, x):
        return dout * (x if wrong else 2 * x)  # the wrong one forgets the factor 2

    return FunctionPair(forward, backward)


def test_correct_backward_passes(rng):
    errors = gradcheck(square_pair(), rng.standard_normal((3, 4)))
    assert errors["x"] < 1e-9


def test_wrong_backward_fails(rng):
    with pytest.raises(AssertionError, match="x: "):
        assert_gradcheck(square_pair(wrong=True), rng.standard_normal((3, 4)))


class Affine(Module):
    def __init__(self, forget_bias_grad=False):
        super().__init__()
        self.weight = Parameter(np.array([[1.0, 2.0], [3.0, -1.0]]))
        self.bias = Parameter(np.array([0.5, -0.5]))
        self.forget_bias_grad = forget_bias_grad
        self._x = None

    def forward(self, x):
        self._x = x
        return x @ self.weight.data.T + self.bias.data

    def backward(self, dout):
        x = self._need_forward(self._x)
        self.weight.grad += dout.T @ x
        if not self.forget_bias_grad:
            self.bias.grad += dout.sum(0)
        return dout @ self.weight.data


def test_module_parameters_are_checked_by_name(rng):
    errors = gradcheck(Affine(), rng.standard_normal((5, 2)))
    assert list(errors) == ["x", "weight", "bias"]
    assert max(errors.values()) < 1e-9
    bad = gradcheck(Affine(forget_bias_grad=True), rng.standard_normal((5, 2)))
    assert bad["bias"] == pytest.approx(1.0) and bad["weight"] < 1e-9


def test_integer_inputs_are_not_differentiated(rng):
    pair = FunctionPair(lambda x, k: (x * k, k), lambda dout, k: (dout * k,))
    errors = gradcheck(pair, (rng.standard_normal(4), np.arange(4)))
    assert list(errors) == ["input0"] and errors["input0"] < 1e-9


def test_max_elements_checks_a_subset(rng):
    errors = gradcheck(square_pair(wrong=True), rng.standard_normal(100), max_elements=5)
    assert errors["x"] > 0.1


def test_relative_error_is_normwise_and_zero_safe():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0
    assert relative_error(np.array([1.0, 0.0]), np.array([1.0, 1e-3])) == pytest.approx(1e-3)
    assert relative_error(np.zeros(2), np.array([1e-10, 0.0]), floor=1e-3) == pytest.approx(1e-7)


class ShiftThenCenter(Module):
    """y = (x + b) - mean(x + b): the gradient to ``b`` is exactly zero, as for a conv bias
    followed by batch norm; ``wrong_bias_grad`` adds a small but real mistake to it."""

    def __init__(self, wrong_bias_grad=0.0):
        super().__init__()
        self.bias = Parameter(np.array([0.3, -0.2]))
        self.wrong_bias_grad = wrong_bias_grad
        self._x = None

    def forward(self, x):
        self._x = x
        z = x + self.bias.data
        return z - z.mean(axis=0)

    def backward(self, dout):
        self._need_forward(self._x)
        self.bias.grad += self.wrong_bias_grad * dout.sum(0)
        return dout - dout.mean(axis=0)


def test_a_zero_gradient_is_not_drowned_in_round_off(rng):
    errors = gradcheck(ShiftThenCenter(), rng.standard_normal((5, 2)) * 10)
    assert errors["bias"] < 1e-6 and errors["x"] < 1e-6


def test_a_small_mistake_in_a_zero_gradient_still_fails(rng):
    errors = gradcheck(ShiftThenCenter(wrong_bias_grad=1e-4), rng.standard_normal((5, 2)) * 10)
    assert errors["bias"] > 1e-3


def test_random_draws_are_replayed(rng):
    class Noisy(Module):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(1)
            self._mask = None

        def forward(self, x):
            self._mask = self.rng.random(x.shape) > 0.5
            return x * self._mask

        def backward(self, dout):
            return dout * self._mask

    assert gradcheck(Noisy(), rng.standard_normal(20))["x"] < 1e-9


def test_nested_outputs_get_nested_upstream_gradients(rng):
    def forward(x):
        return (2 * x, (x * x, 3 * x)), x

    def backward(dout, x):
        d_double, (d_square, d_triple) = dout
        return 2 * d_double + 2 * x * d_square + 3 * d_triple

    assert gradcheck(FunctionPair(forward, backward), rng.standard_normal((2, 3)))["x"] < 1e-9


def test_a_nan_gradient_fails_instead_of_being_skipped(rng):
    # A forward that returns NaN makes every numeric entry NaN: that must read as a failure,
    # not as "no entries checked".
    pair = FunctionPair(lambda x: (x * np.nan, x), lambda dout, x: dout * 0.0)
    errors = gradcheck(pair, rng.standard_normal(4))
    assert not errors["x"] < 1e-6
    with pytest.raises(AssertionError, match="x: nan"):
        assert_gradcheck(pair, rng.standard_normal(4))
    pair = FunctionPair(lambda x: (2 * x, x), lambda dout, x: dout * np.nan)
    assert not gradcheck(pair, rng.standard_normal(4), max_elements=2)["x"] < 1e-6


@pytest.mark.parametrize("training", [True, False])
def test_the_module_is_left_as_it_was_found(rng, training):
    net = Sequential(Conv2d(2, 3, 3, padding=1, rng=rng), BatchNorm2d(3), Dropout(0.3, rng=1))
    net.train(training)
    x = rng.standard_normal((2, 2, 4, 5)).astype(np.float32)
    net.forward(x)  # moves the running statistics once, and leaves a cache
    net.backward(np.ones((2, 3, 4, 5), np.float32))
    net.forward(x)
    before = net.state_dict()
    grads = [p.grad.copy() for p in net.parameters()]
    rng_state = net[2].rng.bit_generator.state
    assert_gradcheck(net, x.astype(np.float64), tol=1e-6)
    after = net.state_dict()
    assert list(after) == list(before)
    for name in before:  # values and dtypes: float32 weights, the same running statistics
        assert after[name].dtype == before[name].dtype, name
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    for p, g in zip(net.parameters(), grads):
        assert p.grad.dtype == np.float32
        np.testing.assert_array_equal(p.grad, g)
    assert all(m.training == training for _, m in net.named_modules())
    assert net[2].rng.bit_generator.state == rng_state
    net.backward(np.ones((2, 3, 4, 5), np.float32))  # the cache of the caller's forward is back


def test_a_failing_check_also_leaves_the_module_as_found(rng):
    layer = Linear(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        gradcheck(layer, (rng.standard_normal((2, 4)),))  # the wrong width fails in forward
    assert layer.weight.data.dtype == layer.weight.grad.dtype == np.float32
