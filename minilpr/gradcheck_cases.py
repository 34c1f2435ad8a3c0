"""The cases ``minilpr gradcheck`` runs: every layer and model part, on a small float64 example.

It sits above ``nn`` and ``models`` (it checks both), so nothing in ``nn`` depends on it.

Each case is a function that takes a seeded ``numpy.random.Generator`` and returns
``(target, inputs, options)`` for `minilpr.nn.gradcheck.gradcheck`. Register one with
``@case("Name")``; the command prints a table of the worst error of every tensor.
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

from minilpr.models.recognizer import ResidualBlock
from minilpr.models.stn import IDENTITY_THETA, LocalisationConfig, SpatialTransformer
from minilpr.nn.activation import LeakyReLU, LogSoftmax
from minilpr.nn.conv import Conv2d
from minilpr.nn.ctc import CTCLoss
from minilpr.nn.dropout import Dropout
from minilpr.nn.gradcheck import FunctionPair, gradcheck
from minilpr.nn.linear import Linear
from minilpr.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from minilpr.nn.module import Sequential
from minilpr.nn.norm import BatchNorm2d
from minilpr.nn.pool import MaxPool2d
from minilpr.nn.recurrent import LSTM, LSTMCell, StateAsInputs
from minilpr.nn.shape import Add, Concat, Flatten, Identity, ToSequence, Upsample
from minilpr.nn.spatial import (affine_grid_backward, affine_grid_forward, grid_sample_backward,
                                grid_sample_forward, unnormalise)

CASES: dict[str, Callable] = {}
TOLERANCE = 1e-6


def case(name: str):
    """Register a gradient-check case under ``name`` (what ``minilpr gradcheck NAME`` takes)."""
    def register(make: Callable) -> Callable:
        if name in CASES:
            raise ValueError(f"gradcheck case {name!r} is registered twice")
        CASES[name] = make
        return make
    return register


def run(names: list[str] | None = None, seed: int = 0) -> list[tuple[str, str, float]]:
    """Run the named cases (all when ``names`` is empty); rows of (case, tensor, rel. error)."""
    unknown = [n for n in names or [] if n not in CASES]
    if unknown:
        raise SystemExit(f"minilpr gradcheck: unknown layer(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(sorted(CASES))}")
    rows = []
    for name in names or list(CASES):
        target, inputs, options = CASES[name](np.random.default_rng(seed))
        for tensor, err in gradcheck(target, inputs, seed=seed, **options).items():
            rows.append((name, tensor, err))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minilpr gradcheck",
        description="Check every layer's hand-written backward against centred differences "
                    f"(float64; pass when the relative error is below {TOLERANCE:g}).")
    parser.add_argument("layers", nargs="*", help="layers to check (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="list the layers and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(CASES))
        return 0
    rows = run(args.layers, seed=args.seed)
    width = max([len(r[0]) for r in rows] + [5])
    twidth = max([len(r[1]) for r in rows] + [6])
    print(f"{'layer':<{width}}  {'tensor':<{twidth}}  {'rel. error':>10}  result")
    failures = 0
    for layer, tensor, err in rows:
        ok = err < TOLERANCE
        failures += not ok
        print(f"{layer:<{width}}  {tensor:<{twidth}}  {err:>10.2e}  {'pass' if ok else 'FAIL'}")
    print(f"{len(rows) - failures} passed, {failures} failed")
    return 1 if failures else 0


@case("BatchNorm2d")
def _batchnorm2d(rng):
    bn = BatchNorm2d(3)
    bn.weight.data[...] = rng.uniform(0.5, 1.5, 3)
    bn.bias.data[...] = rng.standard_normal(3)
    return bn, (rng.standard_normal((2, 3, 3, 4)) * 2 + 1,), {}


@case("LeakyReLU")
def _leaky_relu(rng):
    x = rng.standard_normal((2, 3, 4))
    return LeakyReLU(0.1), (x + 0.1 * np.sign(x),), {}  # no entry within eps of the kink


@case("Linear")
def _linear(rng):
    return Linear(5, 4, rng=rng), (rng.standard_normal((2, 3, 5)),), {}


@case("Dropout")
def _dropout(rng):
    return Dropout(0.3, rng=rng), (rng.standard_normal((3, 8)),), {}


@case("Add")
def _add(rng):
    return (Add(), (rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2))),
            {"input_names": ["a", "b"]})


@case("Concat")
def _concat(rng):
    xs = tuple(rng.standard_normal((2, c, 2, 3)) for c in (1, 3, 2))
    return Concat(1), xs, {}


@case("Upsample")
def _upsample(rng):
    return Upsample((2, 3)), (rng.standard_normal((1, 2, 3, 2)),), {}


@case("Flatten")
def _flatten(rng):
    return Flatten(), (rng.standard_normal((2, 3, 2, 2)),), {}


@case("Identity")
def _identity(rng):
    return Identity(), (rng.standard_normal((2, 3, 1)),), {}


@case("ToSequence")
def _to_sequence(rng):
    return ToSequence(), (rng.standard_normal((2, 3, 1, 5)),), {}


@case("LogSoftmax")
def _log_softmax(rng):
    return LogSoftmax(dim=-1), (rng.standard_normal((3, 5)) * 3,), {}


@case("CrossEntropyLoss")
def _cross_entropy(rng):
    logits = rng.standard_normal((4, 5)) * 2
    return (CrossEntropyLoss(), (logits, rng.integers(0, 5, size=4)),
            {"input_names": ["logits", "targets"]})


@case("BCEWithLogitsLoss")
def _bce_with_logits(rng):
    logits = rng.standard_normal((3, 4)) * 3
    return (BCEWithLogitsLoss(), (logits, rng.random((3, 4))),
            {"wrt": [0], "input_names": ["logits", "targets"]})


@case("MSELoss")
def _mse(rng):
    pred = rng.standard_normal((3, 4))
    return (MSELoss(), (pred, rng.standard_normal((3, 4))),
            {"wrt": [0], "input_names": ["input", "target"]})


@case("Conv2d")
def _conv2d(rng):
    layer = Conv2d(2, 3, kernel_size=3, stride=(2, 1), padding=1, rng=rng)
    return layer, rng.standard_normal((2, 2, 5, 4)), {}


@case("MaxPool2d")
def _maxpool2d(rng):
    # Distinct values 0.01 apart: no ties, and no ±eps nudge can change a window's winner.
    x = rng.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7) * 0.01
    return MaxPool2d(kernel_size=3, stride=(2, 1), padding=1), x, {}


def _kink_free_grid(rng, N, H, W, H_out, W_out):
    """Sampling points at least 0.1 pixel from every pixel centre (align_corners=False).

    Bilinear interpolation has kinks at whole-pixel positions, where centred differences
    and the one-sided analytic slope disagree; some points lie outside the image.
    """
    ix = rng.integers(-2, W + 1, (N, H_out, W_out)) + rng.uniform(0.1, 0.9, (N, H_out, W_out))
    iy = rng.integers(-2, H + 1, (N, H_out, W_out)) + rng.uniform(0.1, 0.9, (N, H_out, W_out))
    return np.stack([(2 * ix + 1) / W - 1, (2 * iy + 1) / H - 1], axis=-1)


@case("affine_grid")
def _affine_grid(rng):
    pair = FunctionPair(lambda theta: affine_grid_forward(theta, (2, 1, 3, 5)),
                        affine_grid_backward)
    return pair, (rng.standard_normal((2, 2, 3)),), {"input_names": ["theta"]}


@case("grid_sample")
def _grid_sample(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    grid = _kink_free_grid(rng, 2, 4, 5, 3, 4)
    return (FunctionPair(grid_sample_forward, grid_sample_backward), (x, grid),
            {"input_names": ["x", "grid"]})


@case("SpatialTransformer")
def _spatial_transformer(rng):
    config = LocalisationConfig(in_size=(5, 9), channels=(3, 4, 3), hidden=4,
                                negative_slope=0.2)
    stn = SpatialTransformer(config, in_channels=3, rng=int(rng.integers(2**31)))
    stn.astype(np.float64)
    x = rng.uniform(0, 1, (2, 3, 5, 9))
    last = stn.localisation.regressor[-1]
    dropout_rng = stn.localisation.regressor[3].rng
    masks = dropout_rng.bit_generator.state
    # Off the identity (whose samples sit on pixel centres, the kinks), redrawn until every
    # sample is clear of a kink by far more than a finite-difference step moves it, under the
    # dropout masks that gradcheck will replay.
    while True:
        last.weight.data[...] = rng.standard_normal(last.weight.shape)
        last.bias.data[...] = IDENTITY_THETA.ravel() + 0.1 * rng.standard_normal(6)
        dropout_rng.bit_generator.state = masks
        stn.forward(x)
        ix, iy = unnormalise(stn.grid[..., 0], 9), unnormalise(stn.grid[..., 1], 5)  # pixels
        if min(np.abs(ix - np.round(ix)).min(), np.abs(iy - np.round(iy)).min()) > 1e-3:
            break
    dropout_rng.bit_generator.state = masks
    return stn, (x,), {}


@case("LSTMCell")
def _lstm_cell(rng):
    N, D, H = 2, 3, 4
    inputs = (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H)))
    return StateAsInputs(LSTMCell(D, H, rng=rng)), inputs, {"input_names": ["x", "h0", "c0"]}


@case("LSTM")
def _lstm(rng):
    T, N, D, H, L = 3, 2, 3, 2, 2
    inputs = (rng.standard_normal((T, N, D)), rng.standard_normal((2 * L, N, H)),
              rng.standard_normal((2 * L, N, H)))
    layer = LSTM(D, H, num_layers=L, bidirectional=True, rng=rng)
    return StateAsInputs(layer), inputs, {"input_names": ["x", "h0", "c0"]}


@case("CTCLoss")
def _ctc_loss(rng):
    T, N, K = 6, 3, 4
    targets = np.array([[1, 1, 2], [3, 0, 0], [2, 3, 0]])  # a repeat, a short and a 2-label one
    inputs = (rng.standard_normal((T, N, K)), targets, np.array([6, 4, 5]), np.array([3, 1, 2]))
    return CTCLoss(reduction="mean"), inputs, {"input_names": ["logits", "targets",
                                                               "input_lengths", "target_lengths"]}


@case("Sequential")
def _sequential(rng):
    # A tiny CNN end to end: the chain rule through six layers, parameters by dotted name.
    net = Sequential(Conv2d(1, 3, 3, stride=(2, 1), padding=1, rng=rng), BatchNorm2d(3),
                     LeakyReLU(0.1), MaxPool2d(2), Flatten(), Linear(3 * 2 * 2, 4, rng=rng))
    return net, rng.standard_normal((2, 1, 8, 5)), {}


@case("ResidualBlock")
def _residual_block(rng):
    # Table 2's block at small widths: two branches with strides (2, 1) and (4, 2), the sum.
    block = ResidualBlock(2, (3, 2, 3, 4), negative_slope=0.1, rng=rng)
    return block, rng.standard_normal((1, 2, 7, 6)), {}
