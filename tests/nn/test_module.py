"""The Module contract: registration, names, modes, state dicts, the backward contract (every
layer of the library: no in-place writes, gradients of their own, wrong dout refused, backward
before forward refused) and their error messages."""

import numpy as np
import pytest

from minilpr.models.stn import IDENTITY_THETA, LocalisationConfig, SpatialTransformer
from minilpr.nn import (LSTM, Add, AffineGrid, BatchNorm2d, Bidirectional, Concat, Conv2d,
                        CrossEntropyLoss, Dropout, Flatten, GridSample, Identity, LeakyReLU,
                        Linear, LogSoftmax, LSTMCell, MaxPool2d, Module, Parameter, Sequential,
                        ToSequence, Upsample)


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


def every_layer():
    """Each layer of the library with a maker of small float32 inputs for it."""
    def images(seed, shape=(2, 2, 6, 5)):
        return (np.random.default_rng(seed).standard_normal(shape).astype(np.float32),)

    def pair(seed):
        return images(seed) + images(seed + 10)

    def sequence(seed):
        return images(seed, (5, 2, 3))

    def with_state(shape, state_shape):
        def make(seed):
            x, h, c = (images(seed + k, s)[0] for k, s in enumerate([shape] + [state_shape] * 2))
            return x, (h, c)
        return make

    def theta_and_size(seed):
        theta = IDENTITY_THETA + 0.2 * images(seed, (2, 2, 3))[0]
        return theta.astype(np.float32), (2, 1, 4, 5)

    def image_and_grid(seed):
        grid = np.random.default_rng(seed).uniform(-1.2, 1.2, (2, 3, 4, 2)).astype(np.float32)
        return images(seed, (2, 2, 4, 5)) + (grid,)

    tiny_stn = LocalisationConfig(in_size=(5, 9), channels=(3, 4, 3), pool_after=(0,), hidden=4)
    return {
        "Conv2d": (lambda: Conv2d(2, 3, 3, stride=(2, 1), padding=1, rng=0), images),
        "MaxPool2d": (lambda: MaxPool2d(3, stride=(2, 1), padding=1), images),
        "BatchNorm2d": (lambda: BatchNorm2d(2), images),
        "LeakyReLU": (lambda: LeakyReLU(0.1), images),
        "Linear": (lambda: Linear(5, 3, rng=0), images),
        "Dropout": (lambda: Dropout(0.5, rng=0), images),
        "LogSoftmax": (lambda: LogSoftmax(dim=1), images),
        "Add": (Add, pair),
        "Concat": (Concat, pair),
        "Upsample": (lambda: Upsample((2, 3)), images),
        "Flatten": (Flatten, images),
        "Identity": (Identity, images),
        "ToSequence": (ToSequence, lambda seed: images(seed, (2, 3, 1, 5))),
        "Sequential": (lambda: Sequential(Conv2d(2, 4, 3, padding=1, rng=0), BatchNorm2d(4),
                                          LeakyReLU(), MaxPool2d(2), Flatten(),
                                          Linear(4 * 3 * 2, 3, rng=1)), images),
        "LSTM": (lambda: LSTM(3, 4, num_layers=2, bidirectional=True, rng=0), sequence),
        "LSTM with a state": (lambda: LSTM(3, 4, num_layers=2, bidirectional=True, rng=0),
                              with_state((5, 2, 3), (4, 2, 4))),
        "LSTMCell": (lambda: LSTMCell(3, 4, rng=0), with_state((2, 3), (2, 4))),
        "Bidirectional": (lambda: Bidirectional(LSTM(3, 4, rng=0), LSTM(3, 4, rng=1)), sequence),
        "AffineGrid": (AffineGrid, theta_and_size),
        "GridSample": (GridSample, image_and_grid),
        "SpatialTransformer": (lambda: SpatialTransformer(tiny_stn, rng=0),
                               lambda seed: images(seed, (2, 1, 5, 9))),
    }


LAYERS = every_layer()


def as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def arrays(value) -> list:
    """The arrays of a nest of tuples, in order (sizes and other plain values left out)."""
    if isinstance(value, tuple):
        return [a for v in value for a in arrays(v)]
    return [value] if isinstance(value, np.ndarray) else []


def random_like(value, rng, dtype=np.float32):
    """A random gradient nested like a forward's output."""
    if isinstance(value, tuple):
        return tuple(random_like(v, rng, dtype) for v in value)
    return rng.standard_normal(value.shape).astype(dtype)


def first(value):
    return first(value[0]) if isinstance(value, tuple) else value


@pytest.mark.parametrize("name", list(LAYERS))
def test_no_call_overwrites_an_earlier_result_or_its_arguments(name):
    """Buffers reused between calls (the convolution's workspace) must never back an array
    handed to the caller, and no layer may write into its input or into dout."""
    make, inputs = LAYERS[name]
    layer, rng = make(), np.random.default_rng(0)
    x1 = inputs(1)
    x1_saved = [a.copy() for a in arrays(x1)]
    out1 = layer(*x1)
    out1_saved = [o.copy() for o in arrays(out1)]
    dout1 = random_like(out1, rng)
    dout1_saved = [d.copy() for d in arrays(dout1)]
    dx1 = layer.backward(dout1)
    dx1_saved = [d.copy() for d in arrays(dx1)]
    out2 = layer(*inputs(2))
    layer.backward(random_like(out2, rng))
    for now, saved in [(out1, out1_saved), (dx1, dx1_saved), (x1, x1_saved),
                       (dout1, dout1_saved)]:
        for a, b in zip(arrays(now), saved, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradients_are_arrays_of_their_own(name):
    """Fan-out gradients are summed by hand (``da += ...``): no returned gradient may share
    memory with dout or with another returned gradient."""
    make, inputs = LAYERS[name]
    layer = make()
    out = layer(*inputs(0))
    dout = random_like(out, np.random.default_rng(1))
    grads = arrays(layer.backward(dout))
    assert grads
    for i, g in enumerate(grads):
        assert not any(np.shares_memory(g, d) for d in arrays(dout)), f"gradient {i} is a view"
        assert not any(np.shares_memory(g, other) for other in grads[i + 1:])


def test_fan_out_gradients_can_be_accumulated_into(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    dout = rng.standard_normal((2, 3))
    add, concat = Add(), Concat(1)
    add(a, b)
    da, db = add.backward(dout)
    da += 1.0  # a route summing another branch into da must leave db (and dout) alone
    np.testing.assert_array_equal(db, dout)
    concat(a, b)
    ga, gb = concat.backward(np.concatenate([dout, dout], axis=1))
    ga += 1.0
    np.testing.assert_array_equal(gb, dout)


@pytest.mark.parametrize("name", list(LAYERS))
def test_backward_refuses_a_dout_of_the_wrong_shape(name):
    # NumPy would broadcast a (1, ...) gradient against a (2, ...) output without a word.
    make, inputs = LAYERS[name]
    layer = make()
    out = first(layer(*inputs(0)))
    dout = np.ones((1,) + out.shape[1:], np.float32)
    with pytest.raises(ValueError, match="has shape .*, expected"):
        layer.backward(dout)


@pytest.mark.parametrize("name", list(LAYERS))
def test_backward_refuses_a_float64_dout_in_a_float32_layer(name):
    make, inputs = LAYERS[name]
    layer = make()
    out = layer(*inputs(0))
    # A Sequential's last child refuses it: the message names the layer that holds the output.
    who = "Linear" if name == "Sequential" else type(layer).__name__
    with pytest.raises(TypeError, match=f"{who}.backward: "
                                        r"\w+ is float64 but the forward's output was float32"):
        layer.backward(random_like(out, np.random.default_rng(0), np.float64))


@pytest.mark.parametrize("name", list(LAYERS))
def test_backward_before_forward_and_twice_are_refused(name):
    make, inputs = LAYERS[name]
    layer = make()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones(3, np.float32))
    out = layer(*inputs(0))
    dout = random_like(out, np.random.default_rng(0))
    layer.backward(dout)
    with pytest.raises(RuntimeError, match="before forward .or twice for one forward."):
        layer.backward(dout)


def test_a_nested_output_names_its_gradients(rng):
    lstm = LSTM(3, 4, rng=0)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    out, (h_n, c_n) = lstm(x)
    with pytest.raises(ValueError, match=r"LSTM.backward: dc_n has shape \(2, 4\), expected "
                                         r"\(1, 2, 4\)"):
        lstm.backward((None, (None, np.zeros((2, 4), np.float32))))
    with pytest.raises(ValueError, match=r"takes dout or \(dout, \(dh_n, dc_n\)\)"):
        lstm.backward((out, h_n, c_n))
    cell = LSTMCell(3, 4, rng=0)
    cell(x[0])
    with pytest.raises(TypeError, match="LSTMCell.backward: dc is float64"):
        cell.backward((None, np.zeros((2, 4))))


def test_a_loss_takes_a_number_as_dout(rng):
    loss = CrossEntropyLoss()
    loss(rng.standard_normal((3, 4)).astype(np.float32), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="CrossEntropyLoss.backward: dout must be a number"):
        loss.backward(np.ones((3, 4), np.float32))
    assert loss.backward(np.float32(2.0)).shape == (3, 4)


def test_non_arrays_get_a_one_line_type_error():
    with pytest.raises(TypeError, match="Linear needs a NumPy array, got list"):
        Linear(2, 1)([[1.0, 2.0]])
    with pytest.raises(TypeError, match="BatchNorm2d expects a floating-point ndarray"):
        BatchNorm2d(1)(np.ones((2, 1, 2, 2), np.int64))
    layer = LeakyReLU()
    layer(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="needs a NumPy array dout, got float"):
        layer.backward(1.0)


def test_assigning_an_array_to_a_parameter_is_refused():
    layer = Scale(2)
    with pytest.raises(TypeError, match="cannot assign a ndarray to parameter 'weight' of Scale"):
        layer.weight = np.zeros(2, np.float32)
    layer.weight.data = np.full(2, 3.0, np.float32)  # the way to replace the values
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
