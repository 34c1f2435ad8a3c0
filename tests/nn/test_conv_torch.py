"""Conv2d and MaxPool2d against their PyTorch twins: same weights, same outputs and gradients."""

import numpy as np
import pytest

from minilpr.nn import Conv2d, MaxPool2d

torch = pytest.importorskip("torch")

F32 = dict(rtol=1e-4, atol=1e-5)


def torch_grads(module, x, dout):
    """Forward and backward of a torch module; returns (out, dx) as NumPy arrays."""
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("C, F, kernel, stride, padding, H, W", [
    (3, 4, 3, 1, 1, 9, 11),
    (2, 5, 1, 1, 0, 4, 7),
    (4, 6, 3, (2, 1), 1, 16, 11),   # the residual blocks' Convolution3
    (4, 6, 3, (4, 2), 1, 32, 22),   # the residual blocks' shortcut, Convolution5
    (3, 2, (3, 2), 2, (1, 0), 7, 8),
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(rng, C, F, kernel, stride, padding, H, W, bias):
    ours = Conv2d(C, F, kernel, stride, padding, bias=bias, rng=rng)
    theirs = torch.nn.Conv2d(C, F, kernel, stride, padding, bias=bias)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, C, H, W)).astype(np.float32)
    out = ours(x)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    expected_out, expected_dx = torch_grads(theirs, x, dout)
    np.testing.assert_allclose(out, expected_out, **F32)
    np.testing.assert_allclose(ours.backward(dout), expected_dx, **F32)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **F32)
    if bias:
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), **F32)


@pytest.mark.parametrize("kernel, stride, padding, H, W", [
    (2, None, 0, 2, 55),            # the patent's pools
    (2, 2, 0, 7, 9),
    (3, 2, 1, 9, 8),
    (3, (2, 1), 1, 8, 7),
    ((3, 2), (4, 2), (1, 1), 13, 9),
])
@pytest.mark.parametrize("ties", [False, True])
def test_maxpool2d_matches_torch_including_ties(rng, kernel, stride, padding, H, W, ties):
    x = rng.standard_normal((2, 3, H, W)).astype(np.float32)
    if ties:
        x = np.round(x).astype(np.float32)  # many equal maxima: the winner must agree too
    ours = MaxPool2d(kernel, stride, padding)
    theirs = torch.nn.MaxPool2d(kernel, stride, padding)
    out = ours(x)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    expected_out, expected_dx = torch_grads(theirs, x, dout)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_allclose(ours.backward(dout), expected_dx, **F32)


def test_maxpool2d_argmax_equals_torch_indices(rng):
    from minilpr.nn.pool import maxpool2d_forward
    x = np.round(rng.standard_normal((2, 3, 9, 8))).astype(np.float32)
    _, (argmax, _) = maxpool2d_forward(x, 3, (2, 1), 1)
    _, indices = torch.nn.functional.max_pool2d(torch.tensor(x), 3, (2, 1), 1,
                                                return_indices=True)
    np.testing.assert_array_equal(argmax, indices.numpy())
