"""The non-convolution layers and the losses against their PyTorch twins, in float32.

Each test loads the same weights into both, runs the same input and upstream gradient, and
compares outputs, input gradients and parameter gradients.
"""

import numpy as np
import pytest

from minilpr.nn import (BatchNorm2d, BCEWithLogitsLoss, CrossEntropyLoss, LeakyReLU, Linear,
                        LogSoftmax, MSELoss, Upsample)

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=rtol, atol=atol)


def twin_run(ours, theirs, x, dout):
    """Forward and backward through both; returns our output, our dx and torch's input tensor."""
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    out_t.backward(torch.tensor(dout))
    out = ours(x)
    dx = ours.backward(dout)
    close(out, out_t)
    close(dx, xt.grad)
    return out, dx


def test_batchnorm2d_train_step_and_eval(rng):
    ours = BatchNorm2d(3, momentum=0.2)
    ours.weight.data[...] = rng.uniform(0.5, 1.5, 3)
    ours.bias.data[...] = rng.standard_normal(3)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.2)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = (rng.standard_normal((4, 3, 5, 6)) * 3 + 2).astype(np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    twin_run(ours, theirs, x, dout)
    close(ours.weight.grad, theirs.weight.grad)
    close(ours.bias.grad, theirs.bias.grad, atol=1e-4)
    close(ours.running_mean, theirs.running_mean)
    close(ours.running_var, theirs.running_var)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 1

    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    x2 = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    twin_run(ours, theirs, x2, rng.standard_normal(x2.shape).astype(np.float32))
    close(ours.weight.grad, theirs.weight.grad)
    close(ours.bias.grad, theirs.bias.grad)


def test_batchnorm2d_without_affine(rng):
    ours, theirs = BatchNorm2d(2, affine=False), torch.nn.BatchNorm2d(2, affine=False)
    x = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    twin_run(ours, theirs, x, rng.standard_normal(x.shape).astype(np.float32))
    close(ours.running_var, theirs.running_var)


def test_leaky_relu(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    x[0, 0, 0, :2] = 0  # the kink too
    twin_run(LeakyReLU(0.1), torch.nn.LeakyReLU(0.1), x,
             rng.standard_normal(x.shape).astype(np.float32))


@pytest.mark.parametrize("shape", [(4, 6), (5, 3, 6)])
def test_linear(rng, shape):
    ours = Linear(6, 4, rng=rng)
    theirs = torch.nn.Linear(6, 4)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal(shape).astype(np.float32)
    twin_run(ours, theirs, x, rng.standard_normal(shape[:-1] + (4,)).astype(np.float32))
    close(ours.weight.grad, theirs.weight.grad)
    close(ours.bias.grad, theirs.bias.grad)


def test_log_softmax(rng):
    x = (rng.standard_normal((5, 2, 7)) * 4).astype(np.float32)
    twin_run(LogSoftmax(dim=2), torch.nn.LogSoftmax(dim=2), x,
             rng.standard_normal(x.shape).astype(np.float32))


def test_upsample(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    twin_run(Upsample(2), torch.nn.Upsample(scale_factor=2, mode="nearest"), x,
             rng.standard_normal((2, 3, 8, 10)).astype(np.float32))


def loss_twin(ours, theirs, x, target, target_t):
    xt = torch.tensor(x, requires_grad=True)
    loss_t = theirs(xt, target_t)
    loss_t.backward()
    loss = ours(x, target)
    assert loss == pytest.approx(loss_t.item(), rel=RTOL, abs=ATOL)
    close(ours.backward(), xt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy(rng, reduction):
    logits = (rng.standard_normal((6, 5)) * 3).astype(np.float32)
    targets = rng.integers(0, 5, size=6)
    loss_twin(CrossEntropyLoss(reduction), torch.nn.CrossEntropyLoss(reduction=reduction),
              logits, targets, torch.tensor(targets))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits(rng, reduction):
    logits = (rng.standard_normal((4, 3, 2)) * 5).astype(np.float32)
    targets = (rng.random((4, 3, 2)) > 0.5).astype(np.float32)
    loss_twin(BCEWithLogitsLoss(reduction), torch.nn.BCEWithLogitsLoss(reduction=reduction),
              logits, targets, torch.tensor(targets))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse(rng, reduction):
    pred = rng.standard_normal((4, 3)).astype(np.float32)
    target = rng.standard_normal((4, 3)).astype(np.float32)
    loss_twin(MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), pred, target,
              torch.tensor(target))
