"""LSTM and LSTMCell against their PyTorch twins: same weights (copied by name), same outputs,
same gradients for the input, the initial states and every parameter."""

import numpy as np
import pytest

from minilpr.nn import LSTM, LSTMCell

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5  # float32


def to_torch(a):
    return torch.tensor(np.asarray(a), requires_grad=True)


def copy_into_torch(ours, theirs):
    ours_params = dict(ours.named_parameters())
    theirs_names = [name for name, _ in theirs.named_parameters()]
    assert theirs_names == list(ours_params), "parameter names differ from PyTorch's"
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(ours_params[name].data))


def assert_close(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what)


def run_without_state(ours, theirs, x, dout):
    """Forward and backward through both LSTMs with no initial state: (out, dx) from each."""
    out, _ = ours.forward(x)
    dx = ours.backward(dout)
    xt = to_torch(x)
    out_t, _ = theirs(xt)
    out_t.backward(torch.from_numpy(dout))
    return (out, dx), (out_t, xt.grad)


@pytest.mark.parametrize("num_layers, bidirectional, bias",
                         [(2, True, True), (1, True, True), (1, False, True), (2, False, False)])
@pytest.mark.parametrize("T, N", [(1, 1), (7, 3)])
def test_lstm_matches_torch(num_layers, bidirectional, bias, T, N):
    D, H = 5, 6
    rng = np.random.default_rng(T + N)
    ours = LSTM(D, H, num_layers=num_layers, bias=bias, bidirectional=bidirectional, rng=rng)
    theirs = torch.nn.LSTM(D, H, num_layers=num_layers, bias=bias, bidirectional=bidirectional)
    copy_into_torch(ours, theirs)
    S = num_layers * (2 if bidirectional else 1)
    x = rng.standard_normal((T, N, D)).astype(np.float32)
    h0, c0 = (rng.standard_normal((S, N, H)).astype(np.float32) for _ in range(2))
    dout = rng.standard_normal((T, N, S // num_layers * H)).astype(np.float32)
    dh_n, dc_n = (rng.standard_normal((S, N, H)).astype(np.float32) for _ in range(2))

    out, (h_n, c_n) = ours.forward(x, (h0, c0))
    dx, (dh0, dc0) = ours.backward((dout, (dh_n, dc_n)))

    xt, h0t, c0t = to_torch(x), to_torch(h0), to_torch(c0)
    out_t, (h_t, c_t) = theirs(xt, (h0t, c0t))
    torch.autograd.backward([out_t, h_t, c_t],
                            [torch.from_numpy(dout), torch.from_numpy(dh_n),
                             torch.from_numpy(dc_n)])
    assert_close(out, out_t, "out")
    assert_close(h_n, h_t, "h_n")
    assert_close(c_n, c_t, "c_n")
    assert_close(dx, xt.grad, "dx")
    assert_close(dh0, h0t.grad, "dh0")
    assert_close(dc0, c0t.grad, "dc0")
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(ours_params[name].grad, p.grad, name)


def test_lstm_without_state_matches_torch_with_zero_state():
    rng = np.random.default_rng(0)
    ours = LSTM(4, 3, num_layers=2, bidirectional=True, rng=rng)
    theirs = torch.nn.LSTM(4, 3, num_layers=2, bidirectional=True)
    copy_into_torch(ours, theirs)
    x = rng.standard_normal((5, 2, 4)).astype(np.float32)
    dout = rng.standard_normal((5, 2, 6)).astype(np.float32)
    (out, dx), (out_t, dx_t) = run_without_state(ours, theirs, x, dout)
    assert_close(out, out_t, "out")
    assert_close(dx, dx_t, "dx")


def test_lstm_cell_matches_torch():
    rng = np.random.default_rng(1)
    N, D, H = 3, 4, 5
    ours = LSTMCell(D, H, rng=rng)
    theirs = torch.nn.LSTMCell(D, H)
    copy_into_torch(ours, theirs)
    x = rng.standard_normal((N, D)).astype(np.float32)
    h, c, dh, dc = (rng.standard_normal((N, H)).astype(np.float32) for _ in range(4))
    h1, c1 = ours.forward(x, (h, c))
    dx, (dh0, dc0) = ours.backward((dh, dc))
    xt, ht, ct = to_torch(x), to_torch(h), to_torch(c)
    h1_t, c1_t = theirs(xt, (ht, ct))
    torch.autograd.backward([h1_t, c1_t], [torch.from_numpy(dh), torch.from_numpy(dc)])
    for a, b, what in [(h1, h1_t, "h"), (c1, c1_t, "c"), (dx, xt.grad, "dx"),
                       (dh0, ht.grad, "dh"), (dc0, ct.grad, "dc")]:
        assert_close(a, b, what)
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(ours_params[name].grad, p.grad, name)


@pytest.mark.slow
def test_patent_size_stack_matches_torch():
    rng = np.random.default_rng(2)
    ours = LSTM(1024, 512, num_layers=2, bidirectional=True, rng=rng)
    theirs = torch.nn.LSTM(1024, 512, num_layers=2, bidirectional=True)
    copy_into_torch(ours, theirs)
    x = rng.standard_normal((27, 2, 1024)).astype(np.float32)
    dout = rng.standard_normal((27, 2, 1024)).astype(np.float32)
    (out, dx), (out_t, dx_t) = run_without_state(ours, theirs, x, dout)
    assert_close(out, out_t, "out")
    assert_close(dx, dx_t, "dx")
    # The weight gradients sum T * N = 54 outer products of 512- and 1024-wide vectors, yet
    # they meet the file's float32 tolerance. Measured (seeds 2 and 3, one BLAS thread): at most
    # |ours - torch| = 4.3e-6 on gradients up to 13.6; with RTOL = 1e-4 an atol of 1.0e-6
    # would do, a 10x margin under ATOL = 1e-5. (out and dx: at most 1.6e-7.)
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(ours_params[name].grad, p.grad, name)
