"""The locator against its PyTorch twin (`minilpr.bench._twins`, which `minilpr bench locator`
times), loaded with the same weights by name."""

import numpy as np
import pytest

from minilpr.models.locator import BackboneConfig, Locator

torch = pytest.importorskip("torch")

from tests.models.twins import torch_locator_twin_of  # noqa: E402

TINY = BackboneConfig(stem=4, stages=((8, 1), (8, 2), (12, 1), (16, 2), (16, 1)))


def test_locator_matches_its_torch_twin():
    ours = Locator(TINY, num_anchors=3, num_classes=4, rng=0).astype(np.float64)
    theirs = torch_locator_twin_of(ours)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 64, 96))
    outs = ours.forward(x)
    xt = torch.tensor(x, requires_grad=True)
    outs_t = theirs(xt)
    douts = tuple(rng.standard_normal(o.shape) for o in outs)
    for o, ot in zip(outs, outs_t):
        np.testing.assert_allclose(o, ot.detach().numpy(), rtol=1e-9, atol=1e-9)
    dx = ours.backward(douts)
    torch.autograd.backward(outs_t, [torch.tensor(d) for d in douts])
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, theirs_params[name].grad.numpy(), rtol=1e-7,
                                   atol=1e-9, err_msg=name)
    for name, buffer in ours.named_buffers():
        np.testing.assert_allclose(buffer, dict(theirs.named_buffers())[name].numpy(),
                                   rtol=1e-9, err_msg=name)
