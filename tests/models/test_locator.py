"""The locator network: Darknet-53's counts against published ones, shapes, and gradients."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilpr.models.locator import (BackboneConfig, Locator, Residual, YoloNeck, darknet53,
                                    small_locator)
from minilpr.nn import Add, BatchNorm2d, Concat, Conv2d, Upsample, assert_gradcheck

from tests.conftest import GRAD_TOL

TINY = BackboneConfig(stem=2, stages=((4, 1), (4, 1), (4, 1), (6, 1), (8, 1)))


def count(model, kind):
    return sum(isinstance(module, kind) for _, module in model.named_modules())


def darknet53_table_count():
    """Parameters of Darknet-53 without its classifier, from the YOLOv3 paper's Table 1:
    (filters, size) per convolution, each followed by batch norm (gamma and beta)."""
    layers = [(32, 3)]
    for filters, units in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
        layers.append((filters, 3))  # the stride-2 convolution
        layers += [(filters // 2, 1), (filters, 3)] * units
    total, channels = 0, 3
    for filters, size in layers:
        total += size * size * channels * filters + 2 * filters
        channels = filters
    return len(layers), total


@pytest.mark.slow
def test_darknet53_counts_match_the_published_yolov3():
    model = darknet53(num_classes=80)
    # yolov3.weights (darknet's own file for 80 classes) holds 62,001,757 floats after its
    # header: every convolution's weights, and per filter either batch norm's gamma, beta,
    # running mean and variance, or (the three output convolutions) a bias.
    params = sum(p.data.size for p in model.parameters())
    running = sum(np.size(v) for name, v in model.named_buffers() if "running" in name)
    assert params + running == 62_001_757
    assert count(model, Conv2d) == 75 and count(model, BatchNorm2d) == 72
    assert count(model, Add) == 23 and count(model, Upsample) == 2 and count(model, Concat) == 2
    layers, table_params = darknet53_table_count()
    backbone = model.backbone
    assert count(backbone, Conv2d) == layers == 52
    assert sum(p.data.size for p in backbone.parameters()) == table_params
    assert count(backbone, Residual) == 23


@pytest.mark.slow
def test_darknet53_forward_at_a_small_input():
    model = darknet53(rng=0).eval()
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 96)).astype(np.float32)
    outs = model.forward(x)
    assert [o.shape for o in outs] == [(1, 27, 8, 12), (1, 27, 4, 6), (1, 27, 2, 3)]
    assert all(o.dtype == np.float32 and np.all(np.isfinite(o)) for o in outs)


def test_small_locator_shapes_and_size():
    model = small_locator(rng=0).eval()
    outs = model.forward(np.zeros((2, 3, 96, 64), np.float32))
    assert [o.shape for o in outs] == [(2, 27, 12, 8), (2, 27, 6, 4), (2, 27, 3, 2)]
    assert sum(p.data.size for p in model.parameters()) < 2_500_000  # Darknet-53: 61.6M
    with pytest.raises(ValueError, match="multiples of 32"):
        model.forward(np.zeros((1, 3, 100, 64), np.float32))


@settings(max_examples=4)
@given(st.integers(0, 1000), st.sampled_from([(1, 2, 2), (2, 1, 2), (1, 2, 3)]))
def test_neck_gradcheck(seed, shape):
    """The upsample/concatenate paths: every feature and parameter gets its whole gradient.

    Batch norm in training mode normalises each channel over N·h·w values at the coarsest
    scale. At (1, 1, 3) (three values) 2 of 143 seeds tried put a channel's three values almost
    on top of each other; the loss then curves so sharply that centred differences cannot
    resolve it (errors 0.05-0.15 at eps 1e-5 that shrink with eps); over two values (2, 1, 1)
    1 seed of 25 missed 1e-6. Every case here keeps at least four values per channel: 0 of 25
    seeds each failed at (2, 1, 2) and (1, 2, 3).
    """
    N, h, w = shape
    rng = np.random.default_rng(seed)
    neck = YoloNeck((4, 6, 8), out_channels=5, rng=seed)
    inputs = (rng.standard_normal((N, 4, 4 * h, 4 * w)), rng.standard_normal((N, 6, 2 * h, 2 * w)),
              rng.standard_normal((N, 8, h, w)))
    assert_gradcheck(neck, inputs, tol=GRAD_TOL, seed=seed, max_elements=6,
                     input_names=["f8", "f16", "f32"])


@pytest.mark.slow
def test_tiny_locator_gradcheck():
    model = Locator(TINY, num_anchors=1, num_classes=1, rng=3)
    x = np.random.default_rng(3).standard_normal((1, 3, 64, 64))
    assert_gradcheck(model, x, tol=GRAD_TOL, seed=3, max_elements=4)
