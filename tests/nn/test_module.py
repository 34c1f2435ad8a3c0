"""The Module contract: registration, names, modes, state dicts and their error messages."""

import numpy as np
import pytest

from minilpr.nn import Module, Parameter, Sequential


class Scale(Module):
    """y = w * x + b elementwise over the last axis; the smallest layer with parameters."""

    def __init__(self, n):
        super().__init__()
        self.weight = Parameter(np.ones(n, dtype=np.float32))
        self.bias = Parameter(np.zeros(n, dtype=np.float32))
        self.register_buffer("calls", np.zeros(1, dtype=np.float32))
        self._x = None

    def forward(self, x):
        self._x = x
        self.calls = self.calls + 1  # reassigning a buffer keeps it a buffer
        return x * self.weight.data + self.bias.data

    def backward(self, dout):
        x = self._need_forward(self._x)
        self._x = None
        self.weight.grad += (dout * x).reshape(-1, x.shape[-1]).sum(0)
        self.bias.grad += dout.reshape(-1, x.shape[-1]).sum(0)
        return dout * self.weight.data


def test_named_parameters_follow_pytorch_dotted_names():
    net = Sequential(Scale(3), Sequential(Scale(3), Scale(3)))
    names = [name for name, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.1.weight", "1.1.bias"]
    assert [name for name, _ in net.named_buffers()] == ["0.calls", "1.0.calls", "1.1.calls"]


def test_buffer_survives_reassignment_and_is_saved():
    layer = Scale(2)
    layer.forward(np.ones((1, 2), np.float32))
    assert "calls" in dict(layer.named_buffers())
    assert layer.state_dict()["calls"][0] == 1


def test_train_eval_reach_every_child():
    net = Sequential(Scale(2), Sequential(Scale(2)))
    net.eval()
    assert not any(m.training for _, m in net.named_modules())
    net.train()
    assert all(m.training for _, m in net.named_modules())


def test_state_dict_round_trip_copies_values():
    a, b = Sequential(Scale(4), Scale(4)), Sequential(Scale(4), Scale(4))
    a[0].weight.data[:] = np.arange(4)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b[0].weight.data, np.arange(4))
    a[0].weight.data[:] = 7  # the state dict was a copy, not a view
    assert b[0].weight.data[0] == 0


def test_load_state_dict_names_the_missing_and_unexpected_keys():
    net = Sequential(Scale(2))
    state = net.state_dict()
    state["0.extra"] = np.zeros(1)
    del state["0.bias"]
    with pytest.raises(KeyError, match=r"missing keys \['0.bias'\].*unexpected keys \['0.extra'\]"):
        net.load_state_dict(state)


def test_load_state_dict_rejects_wrong_shape_and_changes_nothing():
    net = Sequential(Scale(2), Scale(2))
    state = net.state_dict()
    state["0.weight"] = np.full(2, 5.0)
    state["1.weight"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"'1.weight' has shape \(3,\) in the state but \(2,\)"):
        net.load_state_dict(state)
    assert net[0].weight.data[0] == 1  # nothing was copied before the check failed


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Scale.backward called before forward"):
        Scale(2).backward(np.ones((1, 2)))


def test_zero_grad_and_astype():
    layer = Scale(3)
    layer.forward(np.ones((2, 3), np.float32))
    layer.backward(np.ones((2, 3), np.float32))
    assert layer.weight.grad.sum() == 6
    layer.zero_grad()
    assert layer.weight.grad.sum() == 0
    layer.astype(np.float64)
    assert layer.weight.data.dtype == np.float64 and layer.weight.grad.dtype == np.float64
    assert layer.calls.dtype == np.float64


def test_sequential_backward_runs_in_reverse():
    net = Sequential(Scale(2), Scale(2))
    net[0].weight.data[:] = 2
    net[1].weight.data[:] = 3
    x = np.ones((1, 2), np.float32)
    np.testing.assert_array_equal(net.forward(x), 6 * x)
    np.testing.assert_array_equal(net.backward(np.ones((1, 2), np.float32)), 6 * x)
    np.testing.assert_array_equal(net[0].weight.grad, [3, 3])  # upstream of layer 0 is w1 = 3


def test_parameter_refuses_integer_data():
    with pytest.raises(TypeError, match="floating-point"):
        Parameter(np.arange(3))
