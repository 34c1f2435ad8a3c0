"""LSTMCell, LSTM (multi-layer, bidirectional) and Bidirectional: gradient checks over drawn
shapes, compositions against each other, errors. The step kernels against their NumPy
references are in test_lstm_cell.py."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn import LSTM, Bidirectional, LSTMCell, assert_gradcheck
from minilpr.nn.recurrent import StateAsInputs
from tests.conftest import GRAD_TOL

sizes = st.integers(1, 3)


def random_state(rng, shape):
    return rng.standard_normal(shape), rng.standard_normal(shape)


def copy_parameters(source, target, rename=lambda name: name):
    """Copy every parameter of ``source`` into ``target``'s parameter ``rename(name)``."""
    params = dict(target.named_parameters())
    for name, p in source.named_parameters():
        params[rename(name)].data[...] = p.data


@given(N=sizes, D=sizes, H=sizes, bias=st.booleans(), seed=st.integers(0, 2**16))
@example(N=1, D=1, H=1, bias=True, seed=0)
def test_lstm_cell_gradcheck(N, D, H, bias, seed):
    rng = np.random.default_rng(seed)
    cell = StateAsInputs(LSTMCell(D, H, bias=bias, rng=rng))
    x = rng.standard_normal((N, D))
    errors = assert_gradcheck(cell, (x, *random_state(rng, (N, H))), tol=GRAD_TOL,
                              input_names=["x", "h0", "c0"])
    expected = {"x", "h0", "c0", "layer.weight_ih", "layer.weight_hh"}
    expected |= {"layer.bias_ih", "layer.bias_hh"} if bias else set()
    assert set(errors) == expected


CONFIGS = {"uni": (1, False), "bidirectional": (1, True), "2-layer-bidirectional": (2, True)}


@pytest.mark.parametrize("config", CONFIGS)
@given(T=st.integers(1, 4), N=sizes, D=sizes, H=st.integers(1, 2), bias=st.booleans(),
       seed=st.integers(0, 2**16))
@example(T=1, N=1, D=1, H=1, bias=True, seed=0)
@example(T=4, N=3, D=3, H=2, bias=True, seed=1)
def test_lstm_gradcheck_with_initial_state(config, T, N, D, H, bias, seed):
    num_layers, bidirectional = CONFIGS[config]
    rng = np.random.default_rng(seed)
    lstm = LSTM(D, H, num_layers=num_layers, bias=bias, bidirectional=bidirectional, rng=rng)
    states = num_layers * (2 if bidirectional else 1)
    x = rng.standard_normal((T, N, D))
    errors = assert_gradcheck(StateAsInputs(lstm), (x, *random_state(rng, (states, N, H))),
                              tol=GRAD_TOL, input_names=["x", "h0", "c0"])
    assert len(errors) == 3 + len(lstm.parameters())


@pytest.mark.parametrize("config", CONFIGS)
def test_lstm_gradcheck_without_state_returns_dx_alone(config, rng):
    num_layers, bidirectional = CONFIGS[config]
    lstm = LSTM(2, 3, num_layers=num_layers, bidirectional=bidirectional,
                rng=rng).astype(np.float64)
    assert_gradcheck(lstm, rng.standard_normal((3, 2, 2)), tol=GRAD_TOL)
    out, _ = lstm.forward(rng.standard_normal((3, 2, 2)))
    assert isinstance(lstm.backward(np.ones_like(out)), np.ndarray)


def test_bidirectional_composition_gradcheck(rng):
    layer = Bidirectional(LSTM(2, 3, rng=rng), LSTM(2, 3, rng=rng))
    x = rng.standard_normal((4, 2, 2))
    assert_gradcheck(StateAsInputs(layer), (x, *random_state(rng, (2, 2, 3))), tol=GRAD_TOL,
                     input_names=["x", "h0", "c0"])
    assert_gradcheck(layer, x, tol=GRAD_TOL)


def run_and_backward(module, x, state, dout, dh, dc):
    module.zero_grad()
    out, (h_n, c_n) = module.forward(x, state)
    dx, (dh0, dc0) = module.backward((dout, (dh, dc)))
    return out, h_n, c_n, dx, dh0, dc0


def test_bidirectional_flag_equals_the_written_out_composition(rng):
    T, N, D, H = 5, 2, 3, 4
    fused = LSTM(D, H, bidirectional=True, rng=rng).astype(np.float64)
    composed = Bidirectional(LSTM(D, H), LSTM(D, H)).astype(np.float64)
    copy_parameters(fused, composed, lambda name: ("reverse_rnn." + name[:-len("_reverse")]
                                                  if name.endswith("_reverse")
                                                  else "forward_rnn." + name))
    x = rng.standard_normal((T, N, D))
    state = random_state(rng, (2, N, H))
    grads = (rng.standard_normal((T, N, 2 * H)), *random_state(rng, (2, N, H)))
    for a, b in zip(run_and_backward(fused, x, state, *grads),
                    run_and_backward(composed, x, state, *grads)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    composed_grads = dict(composed.named_parameters())
    for name, p in fused.named_parameters():
        twin = ("reverse_rnn." + name[:-len("_reverse")] if name.endswith("_reverse")
                else "forward_rnn." + name)
        np.testing.assert_allclose(p.grad, composed_grads[twin].grad, rtol=1e-12, atol=1e-12)


def test_two_layers_equal_two_stacked_one_layer_lstms(rng):
    T, N, D, H = 4, 3, 2, 3
    stack = LSTM(D, H, num_layers=2, bidirectional=True, rng=rng).astype(np.float64)
    first = LSTM(D, H, bidirectional=True).astype(np.float64)
    second = LSTM(2 * H, H, bidirectional=True).astype(np.float64)
    for name, p in stack.named_parameters():
        layer = first if "_l0" in name else second
        getattr(layer, name.replace("_l1", "_l0")).data[...] = p.data
    x = rng.standard_normal((T, N, D))
    h0, c0 = random_state(rng, (4, N, H))
    out, (h_n, c_n) = stack.forward(x, (h0, c0))
    mid, (h_a, c_a) = first.forward(x, (h0[:2], c0[:2]))
    out2, (h_b, c_b) = second.forward(mid, (h0[2:], c0[2:]))
    np.testing.assert_allclose(out, out2, rtol=1e-12)
    np.testing.assert_allclose(h_n, np.concatenate([h_a, h_b]), rtol=1e-12)
    np.testing.assert_allclose(c_n, np.concatenate([c_a, c_b]), rtol=1e-12)


def test_cell_equals_a_one_step_lstm(rng):
    N, D, H = 3, 4, 5
    cell = LSTMCell(D, H, rng=rng).astype(np.float64)
    lstm = LSTM(D, H).astype(np.float64)
    copy_parameters(cell, lstm, lambda name: name + "_l0")
    x = rng.standard_normal((N, D))
    h, c = random_state(rng, (N, H))
    h1, c1 = cell.forward(x, (h, c))
    out, (h_n, c_n) = lstm.forward(x[None], (h[None], c[None]))
    np.testing.assert_allclose(h1, out[0], rtol=1e-12)
    np.testing.assert_allclose(c1, c_n[0], rtol=1e-12)
    dh, dc = random_state(rng, (N, H))
    dx, (dh0, dc0) = cell.backward((dh, dc))
    dx2, (dh02, dc02) = lstm.backward((dh[None], (None, dc[None])))
    np.testing.assert_allclose(dx, dx2[0], rtol=1e-12)
    np.testing.assert_allclose(dh0, dh02[0], rtol=1e-12)
    np.testing.assert_allclose(dc0, dc02[0], rtol=1e-12)


def test_bidirectional_composition_takes_a_state_gradient_alone(rng):
    layer = Bidirectional(LSTM(2, 3, rng=rng), LSTM(2, 3, rng=rng)).astype(np.float64)
    x, dh_n = rng.standard_normal((4, 2, 2)), rng.standard_normal((2, 2, 3))
    layer.forward(x)
    dx = layer.backward((None, (dh_n, None)))
    layer.forward(x)
    np.testing.assert_array_equal(dx, layer.backward((np.zeros((4, 2, 6)), (dh_n, None))))
    layer.forward(x)
    with pytest.raises(ValueError, match=r"dout has shape \(4, 2, 3\), expected \(4, 2, 6\)"):
        layer.backward(np.zeros((4, 2, 3)))


def test_dout_alone_means_zero_gradient_for_the_final_state(rng):
    lstm = LSTM(2, 3, bidirectional=True, rng=rng).astype(np.float64)
    x = rng.standard_normal((4, 2, 2))
    dout = rng.standard_normal((4, 2, 6))
    lstm.forward(x)
    dx = lstm.backward(dout)
    lstm.forward(x)
    zeros = np.zeros((2, 2, 3))
    np.testing.assert_array_equal(dx, lstm.backward((dout, (zeros, zeros))))


def test_gradients_accumulate_over_backward_calls(rng):
    lstm = LSTM(2, 3, rng=rng).astype(np.float64)
    x, dout = rng.standard_normal((3, 2, 2)), rng.standard_normal((3, 2, 3))
    lstm.forward(x)
    lstm.backward(dout)
    once = {name: p.grad.copy() for name, p in lstm.named_parameters()}
    lstm.forward(x)
    lstm.backward(dout)
    for name, p in lstm.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[name], rtol=1e-12)


def test_float32_path_stays_float32_and_agrees_with_float64(rng):
    lstm32 = LSTM(3, 4, num_layers=2, bidirectional=True, rng=rng)
    lstm64 = LSTM(3, 4, num_layers=2, bidirectional=True).astype(np.float64)
    copy_parameters(lstm32, lstm64)
    x = rng.standard_normal((6, 2, 3))
    dout = rng.standard_normal((6, 2, 8))
    out32, (h32, c32) = lstm32.forward(x.astype(np.float32))
    dx32 = lstm32.backward(dout.astype(np.float32))
    out64, _ = lstm64.forward(x)
    dx64 = lstm64.backward(dout)
    assert out32.dtype == h32.dtype == c32.dtype == dx32.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in lstm32.parameters())
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for (name, p32), p64 in zip(lstm32.named_parameters(), lstm64.parameters()):
        np.testing.assert_allclose(p32.grad, p64.grad, rtol=1e-4, atol=1e-5, err_msg=name)


def test_parameter_names_shapes_and_init_follow_pytorch():
    H = 4
    lstm = LSTM(3, H, num_layers=2, bidirectional=True, rng=0)
    names = [name for name, _ in lstm.named_parameters()]
    expected = [f"{kind}_l{layer}{suffix}" for layer in (0, 1) for suffix in ("", "_reverse")
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == expected
    assert lstm.weight_ih_l0.shape == (4 * H, 3)
    assert lstm.weight_ih_l1_reverse.shape == (4 * H, 2 * H)
    assert lstm.weight_hh_l1.shape == (4 * H, H)
    assert lstm.bias_hh_l0_reverse.shape == (4 * H,)
    bound = 1 / math.sqrt(H)
    for p in lstm.parameters():
        assert p.data.dtype == np.float32
        assert np.abs(p.data).max() <= bound
    again = LSTM(3, H, num_layers=2, bidirectional=True, rng=0)
    for p, q in zip(lstm.parameters(), again.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert [n for n, _ in LSTMCell(3, H).named_parameters()] == [
        "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert [n for n, _ in LSTM(3, H, bias=False).named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0"]


def test_patent_size_stack_is_constructible_and_outputs_1024(rng):
    lstm = LSTM(1024, 512, num_layers=2, bidirectional=True, rng=rng)
    assert lstm.weight_ih_l1.shape == (2048, 1024)
    out, (h_n, c_n) = lstm.forward(rng.standard_normal((2, 1, 1024)).astype(np.float32))
    assert out.shape == (2, 1, 1024) and h_n.shape == c_n.shape == (4, 1, 512)


@pytest.mark.parametrize("make", [lambda fb: LSTM(2, 3, forget_bias=fb),
                                  lambda fb: LSTMCell(2, 3, forget_bias=fb)])
def test_forget_bias_sets_the_total_forget_gate_bias(make):
    module = make(1.0)
    params = dict(module.named_parameters())
    for b_ih in [n for n in params if n.startswith("bias_ih")]:
        total = params[b_ih].data + params[b_ih.replace("bias_ih", "bias_hh")].data
        np.testing.assert_allclose(total[3:6], 1.0)
        assert not np.allclose(total[:3], 1.0)
    with pytest.raises(ValueError, match="needs bias=True"):
        LSTM(2, 3, bias=False, forget_bias=1.0)


def test_forward_errors_are_clear(rng):
    lstm = LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"shape \(T, N, 3\)"):
        lstm.forward(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(T, N, 3\)"):
        lstm.forward(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match="empty"):
        lstm.forward(np.zeros((0, 2, 3), np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        lstm.forward(np.zeros((5, 2, 3), np.int64))
    with pytest.raises(TypeError, match="float64 input but computes in float32"):
        lstm.forward(np.zeros((5, 2, 3)))
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 2, 4\)"):
        lstm.forward(x, (np.zeros((1, 2, 4), np.float32), np.zeros((2, 2, 4), np.float32)))
    with pytest.raises(TypeError, match="c0 is float64"):
        lstm.forward(x, (np.zeros((2, 2, 4), np.float32), np.zeros((2, 2, 4))))
    with pytest.raises(ValueError, match="pair"):
        lstm.forward(x, np.zeros((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        LSTMCell(3, 4).forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        LSTM(3, 4, num_layers=1.5)


def test_a_batch_first_input_is_refused_where_it_can_be_told_apart(rng):
    lstm = LSTM(3, 4, rng=0)
    N, T = 2, 5
    batch_first = rng.standard_normal((N, T, 3)).astype(np.float32)
    h0 = np.zeros((1, N, 4), np.float32)
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 5, 4\), got \(1, 2, 4\) — x "
                                         r"looks batch-first \(N, T, D\) with N = 2.*"
                                         r"x.transpose\(1, 0, 2\)"):
        lstm.forward(batch_first, (h0, h0))
    out, _ = lstm.forward(batch_first.transpose(1, 0, 2), (h0, h0))  # the layout it takes
    assert out.shape == (T, N, 4)
    with pytest.raises(ValueError, match=r"shape \(T, N, 3\) — time, batch, features — got "
                                         r"\(2, 3\); the sequence layout is time-first"):
        lstm.forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="ToSequence"):
        lstm.forward(np.zeros((2, 3, 1, 5), np.float32))  # a CNN's map fed in directly
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 5, 4\), got \(1, 3, 4\)$"):
        lstm.forward(batch_first, (np.zeros((1, 3, 4), np.float32),) * 2)  # no false hint


def test_backward_errors_are_clear(rng):
    lstm = LSTM(3, 4)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        lstm.backward(np.zeros((5, 2, 4), np.float32))
    x = np.zeros((5, 2, 3), np.float32)
    lstm.forward(x)
    with pytest.raises(ValueError, match=r"dout has shape \(5, 2, 8\), expected \(5, 2, 4\)"):
        lstm.backward(np.zeros((5, 2, 8), np.float32))
    lstm.forward(x)
    with pytest.raises(ValueError, match=r"dout or \(dout, \(dh_n, dc_n\)\)"):
        lstm.backward((np.zeros((5, 2, 4), np.float32),))
    lstm.forward(x)
    lstm.backward(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(RuntimeError, match="twice"):
        lstm.backward(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        LSTMCell(3, 4).backward(np.zeros((2, 4), np.float32))
