"""PyTorch twins of minilpr's models (recogniser, locator), for parity tests and benchmarks.

A twin is built from the same config, layer by layer, with the same dotted parameter names, so
``twin.load_state_dict(torch_state(model))`` gives it minilpr's weights exactly. torch is
imported inside the functions: minilpr itself never needs it.
"""

from __future__ import annotations

import numpy as np


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_state(model) -> dict:
    """A minilpr module's ``state_dict`` as torch tensors, same names."""
    import torch
    return {name: torch.from_numpy(np.array(value)) for name, value in model.state_dict().items()}


def torch_recognizer(config):
    """A ``torch.nn.Module`` computing what ``Recognizer(config)`` computes.

    Parameters
    ----------
    config : RecognizerConfig

    Returns
    -------
    torch.nn.Module
        ``forward(x (N, C, H, W)) -> logits (T, N, K)``; parameter names as minilpr's.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    from minilpr.models.stn import CONFIGS as STN_CONFIGS

    slope = config.negative_slope

    class Residual(nn.Module):
        def __init__(self, c_in, filters):
            super().__init__()
            f1, f2, f3, f4 = filters
            self.pool = nn.MaxPool2d(2)
            self.conv1, self.act1 = nn.Conv2d(c_in, f1, 3, padding=1), nn.LeakyReLU(slope)
            self.conv2, self.act2 = nn.Conv2d(f1, f2, 1), nn.LeakyReLU(slope)
            self.conv3 = nn.Conv2d(f2, f3, 3, stride=(2, 1), padding=1)
            self.act3 = nn.LeakyReLU(slope)
            self.conv4, self.act4 = nn.Conv2d(f3, f4, 3, padding=1), nn.LeakyReLU(slope)
            self.conv5 = nn.Conv2d(c_in, f4, 3, stride=(4, 2), padding=1)
            self.act5, self.act_out = nn.LeakyReLU(slope), nn.LeakyReLU(slope)

        def forward(self, x):
            main = self.pool(x)
            for conv, act in ((self.conv1, self.act1), (self.conv2, self.act2),
                              (self.conv3, self.act3), (self.conv4, self.act4)):
                main = act(conv(main))
            return self.act_out(main + self.act5(self.conv5(x)))

    class Localisation(nn.Module):
        def __init__(self, loc):
            super().__init__()
            self.in_size = loc.in_size
            layers, c_in = [], 1
            for i, c in enumerate(loc.channels):
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.LeakyReLU(loc.negative_slope)]
                if i in loc.pool_after:
                    layers.append(nn.MaxPool2d(2))
                c_in = c
            self.features = nn.Sequential(*layers)
            self.regressor = nn.Sequential(nn.Flatten(), nn.Linear(loc.fc_in, loc.hidden),
                                           nn.LeakyReLU(loc.negative_slope),
                                           nn.Dropout(loc.dropout), nn.Linear(loc.hidden, 6))

        def forward(self, x):
            return self.regressor(self.features(x)).view(-1, 2, 3)

    class STN(nn.Module):
        def __init__(self, loc):
            super().__init__()
            self.localisation = Localisation(loc)

        def forward(self, x):
            gray = x if x.shape[1] == 1 else torch.einsum(
                "nchw,c->nhw", x, torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype))[:, None]
            if tuple(gray.shape[2:]) != tuple(self.localisation.in_size):
                eye = torch.eye(2, 3, dtype=x.dtype).expand(len(x), 2, 3)
                grid = F.affine_grid(eye, (len(x), 1, *self.localisation.in_size),
                                     align_corners=False)
                gray = F.grid_sample(gray, grid, align_corners=False)
            theta = self.localisation(gray)
            grid = F.affine_grid(theta, x.shape, align_corners=False)
            return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                                 align_corners=False)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            ch = config.channels
            self.stn = None if config.stn is None else STN(STN_CONFIGS[config.stn])
            self.conv1 = nn.Conv2d(config.in_channels, ch["conv1"], 3, padding=1)
            self.bn1, self.act1 = nn.BatchNorm2d(ch["conv1"]), nn.LeakyReLU(slope)
            self.res1, self.act_res1 = Residual(ch["conv1"], ch["res1"]), nn.LeakyReLU(slope)
            self.res2 = Residual(ch["res1"][-1], ch["res2"])
            self.bn2, self.act2 = nn.BatchNorm2d(ch["res2"][-1]), nn.LeakyReLU(slope)
            self.conv2, self.act3 = nn.Conv2d(ch["res2"][-1], ch["conv2"], 1), nn.LeakyReLU(slope)
            self.conv3 = nn.Conv2d(ch["conv2"], ch["conv3"], 3, padding=1)
            self.act4, self.pool = nn.LeakyReLU(slope), nn.MaxPool2d(2)
            self.lstm = nn.LSTM(ch["conv3"], config.lstm_hidden, num_layers=config.lstm_layers,
                                bidirectional=True)
            fc, width = [], 2 * config.lstm_hidden
            for f in config.fc:
                fc.append(nn.Linear(width, f))
                if config.fc_activation:
                    fc.append(nn.LeakyReLU(slope))
                fc.append(nn.Dropout(config.dropout))
                width = f
            fc.append(nn.Linear(width, config.num_classes))
            self.fc = nn.Sequential(*fc)

        def forward(self, x):
            if self.stn is not None:
                x = self.stn(x)
            x = self.act1(self.bn1(self.conv1(x)))
            x = self.act2(self.bn2(self.res2(self.act_res1(self.res1(x)))))
            x = self.pool(self.act4(self.conv3(self.act3(self.conv2(x)))))  # (N, C, 1, T)
            seq = x[:, :, 0, :].permute(2, 0, 1)  # (T, N, C)
            return self.fc(self.lstm(seq)[0])  # (T, N, K)

    return Twin()


def torch_twin_of(model):
    """The twin of a minilpr `Recognizer`, holding its weights, in its dtype and mode."""
    import torch
    twin = torch_recognizer(model.config)
    dtype = model.conv1.weight.data.dtype
    twin.to(torch.float64 if dtype == np.float64 else torch.float32)
    twin.load_state_dict(torch_state(model))
    twin.train(model.training)
    return twin


def torch_locator(backbone, out_channels: int):
    """A ``torch.nn.Module`` computing what ``Locator(backbone, ...)`` computes.

    Conv2d (no bias) → BatchNorm2d → LeakyReLU(0.1) blocks, the residual units, the neck's
    ×2 nearest upsampling and concatenation (upsampled map first) and the three heads, in the
    order of `minilpr.models.locator`, so the parameter names are minilpr's.

    Parameters
    ----------
    backbone : BackboneConfig
    out_channels : int
        ``A (5 + C)`` raw outputs per cell.

    Returns
    -------
    torch.nn.Module
        ``forward(x (N, 3, H, W)) -> (N, out, H / s, W / s)`` for s = 8, 16, 32.
    """
    import torch
    from torch import nn

    from minilpr.models.locator import LEAKY_SLOPE

    def cbl(c_in, c_out, k, stride=1):
        return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                             nn.BatchNorm2d(c_out), nn.LeakyReLU(LEAKY_SLOPE))

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(cbl(c, c // 2, 1), cbl(c // 2, c, 3))

        def forward(self, x):
            return x + self.body(x)

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = cbl(3, backbone.stem, 3)
            stages, c = [], backbone.stem
            for width, units in backbone.stages:
                stages.append(nn.Sequential(cbl(c, width, 3, 2),
                                            *[Residual(width) for _ in range(units)]))
                c = width
            self.stages = nn.Sequential(*stages)

        def forward(self, x):
            x, features = self.stem(x), []
            for stage in self.stages:
                x = stage(x)
                features.append(x)
            return features[-3:]

    def conv_set(c_in, w):
        return nn.Sequential(cbl(c_in, w, 1), cbl(w, 2 * w, 3), cbl(2 * w, w, 1),
                             cbl(w, 2 * w, 3), cbl(2 * w, w, 1))

    def head(w):
        return nn.Sequential(cbl(w, 2 * w, 3), nn.Conv2d(2 * w, out_channels, 1))

    def lateral(c_in, c_out):
        return nn.Sequential(cbl(c_in, c_out, 1), nn.Upsample(scale_factor=2, mode="nearest"))

    class Neck(nn.Module):
        def __init__(self):
            super().__init__()
            c8, c16, c32 = (width for width, _ in backbone.stages[-3:])
            w8, w16, w32 = c8 // 2, c16 // 2, c32 // 2
            self.set32, self.head32 = conv_set(c32, w32), head(w32)
            self.lateral16 = lateral(w32, w16)
            self.set16, self.head16 = conv_set(w16 + c16, w16), head(w16)
            self.lateral8 = lateral(w16, w8)
            self.set8, self.head8 = conv_set(w8 + c8, w8), head(w8)

        def forward(self, f8, f16, f32):
            x32 = self.set32(f32)
            x16 = self.set16(torch.cat([self.lateral16(x32), f16], 1))
            x8 = self.set8(torch.cat([self.lateral8(x16), f8], 1))
            return self.head8(x8), self.head16(x16), self.head32(x32)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.neck = Backbone(), Neck()

        def forward(self, x):
            return self.neck(*self.backbone(x))

    return Twin()


def torch_locator_twin_of(model):
    """The twin of a minilpr `Locator`, holding its weights, in its dtype and mode."""
    import torch
    out_channels = model.num_anchors * (5 + model.num_classes)
    twin = torch_locator(model.backbone.config, out_channels)
    dtype = model.backbone.stem[0].weight.data.dtype
    twin.to(torch.float64 if dtype == np.float64 else torch.float32)
    twin.load_state_dict(torch_state(model))
    twin.train(model.training)
    return twin
