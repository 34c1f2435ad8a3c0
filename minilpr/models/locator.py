"""The YOLOv3 plate locator's network: a Darknet-style backbone and the three-scale neck.

The network only maps an image to three raw tensors; what they mean (anchors, cells, boxes,
the loss) lives in `minilpr.detect`. Built from `minilpr.nn` layers only.

* **Backbone** (YOLOv3, Table 1): a 3×3 stem convolution, then five stages, each a 3×3 stride-2
  convolution that halves the size and doubles the channels, followed by residual units
  (1×1 halving the channels, 3×3 restoring them, plus the input). `DARKNET53` has 1, 2, 8, 8, 4
  units — 52 convolutions (the 53rd layer of the classifier is not used). The last three stages
  are the features at strides 8, 16 and 32.
* **Neck**: at stride 32 a set of five convolutions (1×1, 3×3, 1×1, 3×3, 1×1); its output is
  reduced by a 1×1 convolution, upsampled ×2 and concatenated with the stride-16 features (the
  upsampled map first, as darknet's route layer), then another set of five; the same again down
  to stride 8. This is how the coarse, semantic map informs the finer ones.
* **Heads**: at each scale a 3×3 convolution then a 1×1 convolution (with bias, no batch norm)
  to ``A (5 + C)`` channels.

Every convolution but the heads' last is convolution (no bias) → batch norm → leaky ReLU 0.1.

Shapes: ``x : (N, 3, H, W)`` with H, W multiples of 32 -> three raw outputs
``(N, A (5 + C), H / s, W / s)`` for s = 8, 16, 32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minilpr.nn.activation import LeakyReLU
from minilpr.nn.conv import Conv2d
from minilpr.nn.init import default_rng
from minilpr.nn.module import Module, Sequential
from minilpr.nn.norm import BatchNorm2d
from minilpr.nn.shape import Add, Concat, Upsample

LEAKY_SLOPE = 0.1
STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class BackboneConfig:
    """A Darknet-style backbone.

    Attributes
    ----------
    stem : int
        Filters of the first 3×3 convolution.
    stages : tuple of (channels, residual units)
        One entry per stride-2 stage; the last three give the strides 8, 16, 32.
    """

    stem: int = 32
    stages: tuple[tuple[int, int], ...] = ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4))


DARKNET53 = BackboneConfig()
# A backbone two cores can train in hours: the same five stages, an eighth of the width, one
# or two units each.
SMALL = BackboneConfig(stem=8, stages=((16, 1), (32, 1), (64, 2), (128, 2), (256, 1)))


def conv_bn_leaky(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                  rng=None) -> Sequential:
    """Conv (no bias, padding ``k // 2``) → BatchNorm2d → LeakyReLU(0.1).

    ``H_out = (H + 2 (k // 2) - k) // stride + 1``: the same size for stride 1, half for 2.
    """
    return Sequential(Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                             bias=False, rng=rng),
                      BatchNorm2d(out_channels), LeakyReLU(LEAKY_SLOPE))


class Residual(Module):
    """``x + conv3x3(conv1x1(x))``; the 1×1 halves the channels, the 3×3 restores them.

    Shapes: ``x : (N, C, H, W)`` -> ``(N, C, H, W)``.
    """

    def __init__(self, channels: int, rng=None):
        super().__init__()
        rng = default_rng(rng)
        self.body = Sequential(conv_bn_leaky(channels, channels // 2, 1, rng=rng),
                               conv_bn_leaky(channels // 2, channels, 3, rng=rng))
        self.add = Add()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.add.forward(x, self.body.forward(x))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dskip, dbody = self.add.backward(dout)
        # x feeds both the shortcut and the body: its gradient is the sum of the two.
        return dskip + self.body.backward(dbody)


class Backbone(Module):
    """A Darknet-style feature extractor (see `BackboneConfig`).

    Shapes: ``x : (N, 3, H, W)`` -> the last three stages' outputs
    ``(N, c_3, H / 8, W / 8), (N, c_4, H / 16, W / 16), (N, c_5, H / 32, W / 32)``.
    """

    def __init__(self, config: BackboneConfig = DARKNET53, rng=None):
        super().__init__()
        rng = default_rng(rng)
        self.config = config
        self.stem = conv_bn_leaky(3, config.stem, 3, rng=rng)
        stages, channels = [], config.stem
        for width, units in config.stages:
            stages.append(Sequential(conv_bn_leaky(channels, width, 3, 2, rng=rng),
                                     *[Residual(width, rng) for _ in range(units)]))
            channels = width
        self.stages = Sequential(*stages)
        self.out_channels = tuple(width for width, _ in config.stages[-3:])

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self.stem.forward(x)
        features = []
        for stage in self.stages:
            x = stage.forward(x)
            features.append(x)
        return tuple(features[-3:])

    def backward(self, dout) -> np.ndarray:
        """``dout`` = the gradients of the three features -> the image's gradient."""
        n_stages = len(self.stages)
        taps = dict(zip(range(n_stages - 3, n_stages), dout))
        grad = None
        for index in reversed(range(n_stages)):
            if index in taps:
                # A tapped stage feeds both the neck and the next stage: the gradients add.
                grad = taps[index] if grad is None else grad + taps[index]
            grad = self.stages[index].backward(grad)
        return self.stem.backward(grad)


def conv_set(in_channels: int, width: int, rng=None) -> Sequential:
    """YOLOv3's five convolutions 1×1 (width), 3×3 (2 width), 1×1, 3×3, 1×1 (width)."""
    return Sequential(conv_bn_leaky(in_channels, width, 1, rng=rng),
                      conv_bn_leaky(width, 2 * width, 3, rng=rng),
                      conv_bn_leaky(2 * width, width, 1, rng=rng),
                      conv_bn_leaky(width, 2 * width, 3, rng=rng),
                      conv_bn_leaky(2 * width, width, 1, rng=rng))


def head(width: int, out_channels: int, rng=None) -> Sequential:
    """3×3 conv-BN-leaky to 2 width, then a 1×1 convolution with bias to the raw outputs."""
    return Sequential(conv_bn_leaky(width, 2 * width, 3, rng=rng),
                      Conv2d(2 * width, out_channels, 1, bias=True, rng=rng))


class YoloNeck(Module):
    """The three-scale fusion (upsample ×2 + concatenate) and the three heads.

    Parameters
    ----------
    in_channels : (c_8, c_16, c_32)
        Channels of the backbone's three features.
    out_channels : int
        ``A (5 + C)`` raw outputs per cell.

    Shapes: ``(N, c_8, 4h, 4w), (N, c_16, 2h, 2w), (N, c_32, h, w)`` ->
    ``(N, out, 4h, 4w), (N, out, 2h, 2w), (N, out, h, w)``. Each scale's width is half its
    features' channels (512, 256, 128 for Darknet-53).
    """

    def __init__(self, in_channels: tuple[int, int, int], out_channels: int, rng=None):
        super().__init__()
        rng = default_rng(rng)
        c8, c16, c32 = in_channels
        w8, w16, w32 = c8 // 2, c16 // 2, c32 // 2
        self.set32 = conv_set(c32, w32, rng)
        self.head32 = head(w32, out_channels, rng)
        self.lateral16 = Sequential(conv_bn_leaky(w32, w16, 1, rng=rng), Upsample(2))
        self.concat16 = Concat(1)
        self.set16 = conv_set(w16 + c16, w16, rng)
        self.head16 = head(w16, out_channels, rng)
        self.lateral8 = Sequential(conv_bn_leaky(w16, w8, 1, rng=rng), Upsample(2))
        self.concat8 = Concat(1)
        self.set8 = conv_set(w8 + c8, w8, rng)
        self.head8 = head(w8, out_channels, rng)

    def forward(self, f8: np.ndarray, f16: np.ndarray, f32: np.ndarray):
        x32 = self.set32.forward(f32)
        x16 = self.set16.forward(self.concat16.forward(self.lateral16.forward(x32), f16))
        x8 = self.set8.forward(self.concat8.forward(self.lateral8.forward(x16), f8))
        return self.head8.forward(x8), self.head16.forward(x16), self.head32.forward(x32)

    def backward(self, dout):
        """``dout`` = the gradients of the three raw outputs -> those of the three features."""
        d8, d16, d32 = dout
        dlateral8, df8 = self.concat8.backward(self.set8.backward(self.head8.backward(d8)))
        # x16 feeds its own head and the upsampling path to stride 8: the gradients add.
        dx16 = self.head16.backward(d16) + self.lateral8.backward(dlateral8)
        dlateral16, df16 = self.concat16.backward(self.set16.backward(dx16))
        dx32 = self.head32.backward(d32) + self.lateral16.backward(dlateral16)
        return df8, df16, self.set32.backward(dx32)


class Locator(Module):
    """Backbone + neck: an image to the three raw head outputs.

    Parameters
    ----------
    backbone : BackboneConfig
        `DARKNET53` (YOLOv3 itself) or `SMALL` (what a CPU trains).
    num_anchors : int
        Anchors per scale (3).
    num_classes : int
        C (4 plate colours).
    rng : Generator or int, optional
        Seeds every initialisation.

    Shapes: ``x : (N, 3, H, W)``, H and W multiples of 32 -> a tuple of three
    ``(N, A (5 + C), H / s, W / s)``, s = 8, 16, 32 (the order of `STRIDES`).
    """

    kind = "locator"  # what `save_weights` records in the manifest

    def __init__(self, backbone: BackboneConfig = SMALL, num_anchors: int = 3,
                 num_classes: int = 4, rng=None):
        super().__init__()
        rng = default_rng(rng)
        self.num_anchors, self.num_classes = num_anchors, num_classes
        self.backbone = Backbone(backbone, rng)
        self.neck = YoloNeck(self.backbone.out_channels, num_anchors * (5 + num_classes), rng)

    def forward(self, x: np.ndarray):
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"Locator expects (N, 3, H, W) with H and W multiples of 32, got "
                             f"shape {x.shape}")
        return self.neck.forward(*self.backbone.forward(x))

    def backward(self, dout) -> np.ndarray:
        return self.backbone.backward(self.neck.backward(dout))


def darknet53(num_anchors: int = 3, num_classes: int = 4, rng=None) -> Locator:
    """YOLOv3 exactly: the Darknet-53 backbone with the three-scale neck (about 62M parameters;
    buildable and checkable here, not meant to train on a CPU)."""
    return Locator(DARKNET53, num_anchors, num_classes, rng)


def small_locator(num_anchors: int = 3, num_classes: int = 4, rng=None) -> Locator:
    """The CPU-sized locator: the `SMALL` backbone with the same neck."""
    return Locator(SMALL, num_anchors, num_classes, rng)
