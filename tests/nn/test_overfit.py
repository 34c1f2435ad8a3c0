"""A tiny CNN overfits 16 random images to near-zero loss with the hand-written optimizer.

Random labels on random images have no pattern to learn: the network can only memorise them.
If every layer's backward and the optimizer are right, the training loss falls from log(4)
to below 0.05 within `MAX_STEPS` = 100 full-batch steps (measured: 14 with Adam, 16 for the
residual net, 17 with Nesterov SGD); with the linear head frozen it takes longer (211 and 280
steps, within the 500 that test allows). A sign error or a missing gradient anywhere in the
chain stalls it. This is the end-to-end counterpart of the per-layer gradient checks.
"""

import numpy as np
import pytest

from minilpr.nn import (SGD, Adam, Add, BatchNorm2d, Conv2d, Flatten, LeakyReLU, Linear, MaxPool2d,
                        Module, Sequential, cross_entropy)

N, K, H, W = 16, 4, 12, 16
MAX_STEPS = 100  # the whole network needs 14-17 full-batch steps
TARGET_LOSS = 0.05


def random_batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, 1, H, W)).astype(np.float32)
    y = rng.integers(0, K, size=N)
    return x, y


def plain_cnn(seed=0):
    """conv 3×3 → BN → leaky ReLU → max pool 2 → flatten → linear: (N,1,12,16) → (N,K)."""
    return Sequential(
        Conv2d(1, 8, 3, padding=1, rng=seed),  # (N, 8, 12, 16)
        BatchNorm2d(8),
        LeakyReLU(0.01),
        MaxPool2d(2),                           # (N, 8, 6, 8)
        Flatten(),                              # (N, 384)
        Linear(8 * 6 * 8, K, rng=seed + 1),
    )


class TinyResidual(Module):
    """The plain CNN with one residual block after the stem, chained by hand both ways:

        stem:  h = leaky(bn1(conv1(x)))
        block: out = leaky(h + leaky(bn2(conv2(h))))
        head:  linear(flatten(pool(out)))
    """

    def __init__(self, seed=0):
        super().__init__()
        self.stem = Sequential(Conv2d(1, 8, 3, padding=1, rng=seed), BatchNorm2d(8), LeakyReLU())
        self.branch = Sequential(Conv2d(8, 8, 3, padding=1, rng=seed + 1), BatchNorm2d(8),
                                 LeakyReLU())
        self.add = Add()
        self.act = LeakyReLU()
        self.head = Sequential(MaxPool2d(2), Flatten(), Linear(8 * 6 * 8, K, rng=seed + 2))

    def forward(self, x):
        h = self.stem.forward(x)
        out = self.act.forward(self.add.forward(h, self.branch.forward(h)))
        return self.head.forward(out)

    def backward(self, dout):
        dsum = self.act.backward(self.head.backward(dout))
        dh_skip, dbranch = self.add.backward(dsum)
        # h feeds both the shortcut and the branch, so its gradient is the sum of the two.
        dh = dh_skip + self.branch.backward(dbranch)
        return self.stem.backward(dh)


def train(model, optimizer, x, y, steps=MAX_STEPS):
    """Full-batch training; returns the loss history (stops once below TARGET_LOSS)."""
    opt = optimizer
    history = []
    for _ in range(steps):
        logits = model.forward(x)
        loss, dlogits = cross_entropy(logits, y)
        history.append(loss)
        if loss < TARGET_LOSS:
            break
        opt.zero_grad()
        model.backward(dlogits)
        opt.step()
    return history


@pytest.mark.parametrize("make_model", [plain_cnn, TinyResidual], ids=["plain", "residual"])
def test_tiny_cnn_overfits_random_images_with_adam(make_model):
    x, y = random_batch()
    model = make_model()
    history = train(model, Adam(model.parameters(), lr=0.01), x, y)
    assert history[0] > 1.0  # a fresh model guesses: about log(4) = 1.39
    assert history[-1] < TARGET_LOSS, (f"loss {history[-1]:.3f} after {len(history)} steps "
                                       f"(started at {history[0]:.3f})")


def test_tiny_cnn_overfits_with_nesterov_sgd():
    x, y = random_batch(1)
    model = plain_cnn(1)
    history = train(model, SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True), x, y)
    assert history[-1] < TARGET_LOSS, f"loss {history[-1]:.3f} after {len(history)} steps"


@pytest.mark.parametrize("seed", [0, 1])
def test_conv_and_batchnorm_alone_memorise_through_a_frozen_head(seed):
    """A linear layer on 384 features can memorise 16 samples by itself, which would hide a
    broken conv or pool backward. Freeze it: now only the convolution and batch norm learn, so
    the loss reaches zero only if the gradient arrives intact through linear, flatten, max
    pool, leaky ReLU and batch norm."""
    x, y = random_batch(seed)
    model = plain_cnn(seed)
    conv, bn, head = model[0], model[1], model[5]
    frozen = head.weight.data.copy()
    history = train(model, Adam(conv.parameters() + bn.parameters(), lr=0.03), x, y, steps=500)
    assert history[-1] < TARGET_LOSS, f"loss {history[-1]:.3f} after {len(history)} steps"
    np.testing.assert_array_equal(head.weight.data, frozen)
