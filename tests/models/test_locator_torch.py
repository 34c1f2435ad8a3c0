"""The locator against a PyTorch twin written from the YOLOv3 description, same weights."""

import numpy as np
import pytest

from minilpr.models.locator import BackboneConfig, Locator

torch = pytest.importorskip("torch")
nn = torch.nn

TINY = BackboneConfig(stem=4, stages=((8, 1), (8, 2), (12, 1), (16, 2), (16, 1)))


def cbl(c_in, c_out, k, stride=1):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1))


class TorchResidual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(cbl(c, c // 2, 1), cbl(c // 2, c, 3))

    def forward(self, x):
        return x + self.body(x)


class TorchBackbone(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.stem = cbl(3, config.stem, 3)
        stages, c = [], config.stem
        for width, units in config.stages:
            stages.append(nn.Sequential(cbl(c, width, 3, 2),
                                        *[TorchResidual(width) for _ in range(units)]))
            c = width
        self.stages = nn.Sequential(*stages)

    def forward(self, x):
        x, features = self.stem(x), []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features[-3:]


def conv_set(c_in, w):
    return nn.Sequential(cbl(c_in, w, 1), cbl(w, 2 * w, 3), cbl(2 * w, w, 1), cbl(w, 2 * w, 3),
                         cbl(2 * w, w, 1))


def head(w, out):
    return nn.Sequential(cbl(w, 2 * w, 3), nn.Conv2d(2 * w, out, 1))


class TorchNeck(nn.Module):
    def __init__(self, channels, out):
        super().__init__()
        c8, c16, c32 = channels
        self.set32, self.head32 = conv_set(c32, c32 // 2), head(c32 // 2, out)
        self.lateral16 = nn.Sequential(cbl(c32 // 2, c16 // 2, 1), nn.Upsample(scale_factor=2))
        self.set16, self.head16 = conv_set(c16 // 2 + c16, c16 // 2), head(c16 // 2, out)
        self.lateral8 = nn.Sequential(cbl(c16 // 2, c8 // 2, 1), nn.Upsample(scale_factor=2))
        self.set8, self.head8 = conv_set(c8 // 2 + c8, c8 // 2), head(c8 // 2, out)

    def forward(self, f8, f16, f32):
        x32 = self.set32(f32)
        x16 = self.set16(torch.cat([self.lateral16(x32), f16], 1))
        x8 = self.set8(torch.cat([self.lateral8(x16), f8], 1))
        return self.head8(x8), self.head16(x16), self.head32(x32)


class TorchLocator(nn.Module):
    def __init__(self, config, out):
        super().__init__()
        self.backbone = TorchBackbone(config)
        channels = tuple(w for w, _ in config.stages[-3:])
        self.neck = TorchNeck(channels, out)

    def forward(self, x):
        return self.neck(*self.backbone(x))


def test_locator_matches_its_torch_twin():
    ours = Locator(TINY, num_anchors=3, num_classes=4, rng=0).astype(np.float64)
    theirs = TorchLocator(TINY, 27).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
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
