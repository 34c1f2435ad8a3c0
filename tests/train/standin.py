"""Small stand-ins the training tests run in milliseconds.

* `ToyTask`: a conv + batch norm + dropout classifier on random 4 × 4 images, with a second
  parameter group (the conv) that can start late like the STN. Batch ``i`` is drawn from
  ``batch_rng(seed, i)``, as the real tasks do. It can raise KeyboardInterrupt before a chosen
  step, or KeyboardInterrupt or a NaN loss after a step's forward pass (when batch norm and
  dropout have moved).
* `StandInRecognizer`: the recogniser's interface — (N, 1, 32, 220) → logits (27, N, 71),
  ``stn``, ``recognizer_parameters()`` — with one strided conv and one linear layer.
"""

import numpy as np

from minilpr.models.stn import SpatialTransformer
from minilpr.nn import BatchNorm2d, Conv2d, CrossEntropyLoss, Dropout, Flatten, LeakyReLU, Linear
from minilpr.nn.module import Module, Sequential
from minilpr.train.data import batch_rng
from minilpr.train.task import ParamGroup, Task


class ToyNet(Module):
    def __init__(self, rng):
        super().__init__()
        self.front = Conv2d(1, 2, 3, padding=1, rng=rng)
        self.body = Sequential(BatchNorm2d(2), LeakyReLU(), Flatten(), Dropout(0.3, rng=rng),
                               Linear(32, 3, rng=rng))

    def forward(self, x):
        return self.body.forward(self.front.forward(x))

    def backward(self, dout):
        return self.front.backward(self.body.backward(dout))


class ToyTask(Task):
    best_metric = "accuracy"

    def __init__(self, seed=0, front_start=0, interrupt_at=None, nan_at=None, stop_before=None):
        self.seed = seed
        self.model = ToyNet(np.random.default_rng(seed))
        self.loss = CrossEntropyLoss()
        self.front_start = front_start
        self.interrupt_at = interrupt_at
        self.nan_at = nan_at
        self.stop_before = stop_before
        self.val = self.batch(10**6)
        self.opened_at = None
        self.closed = False
        self.evaluations = 0

    def param_groups(self):
        return [ParamGroup("model", self.model.body.parameters()),
                ParamGroup("stn", self.model.front.parameters(), lr_scale=0.1,
                           start_step=self.front_start)]

    def open(self, start_step):
        self.opened_at = start_step

    def close(self):
        self.closed = True

    def batch(self, step):
        if step == self.stop_before:
            raise KeyboardInterrupt
        rng = batch_rng(self.seed, step)
        x = rng.standard_normal((8, 1, 4, 4)).astype(np.float32)
        y = (x[:, 0, :2].sum((1, 2)) > 0).astype(np.int64) + (x[:, 0, 3, 3] > 1)
        return x, y, step

    def loss_and_backward(self, batch):
        x, y, step = batch
        loss = self.loss.forward(self.model.forward(x), y)
        if step == self.interrupt_at:
            raise KeyboardInterrupt
        if step == self.nan_at:
            return float("nan")
        self.model.backward(self.loss.backward())
        return loss

    def evaluate(self):
        self.evaluations += 1
        self.model.eval()
        x, y, _ = self.val
        return {"accuracy": float((self.model.forward(x).argmax(1) == y).mean())}


class StandInRecognizer(Module):
    """The recogniser's interface with two layers.

    (N, 1, 32, 220) → conv 32 × 8, stride (1, 8) → (N, 8, 1, 27) → (27, N, 8) → (27, N, 71).
    """

    kind = "recognizer"  # what a weight file's manifest calls it (minilpr.models.weights)

    def __init__(self, rng, stn=None):
        super().__init__()
        self.stn = None if stn is None else SpatialTransformer(stn, rng=rng)
        self.conv = Conv2d(1, 8, (32, 8), stride=(1, 8), rng=rng)
        self.fc = Linear(8, 71, rng=rng)
        self.drop = Dropout(0.1, rng=rng)

    def recognizer_parameters(self):
        return self.conv.parameters() + self.fc.parameters()

    def forward(self, x):
        if self.stn is not None:
            x = self.stn.forward(x)
        features = self.conv.forward(x)  # (N, 8, 1, 27)
        N, C, _, T = features.shape
        sequence = features[:, :, 0].transpose(2, 0, 1).reshape(T * N, C)  # (T*N, C)
        logits = self.fc.forward(self.drop.forward(sequence))  # (T*N, 71)
        return logits.reshape(T, N, -1)  # (T, N, 71)

    def backward(self, dlogits):
        T, N, K = dlogits.shape
        dsequence = self.drop.backward(self.fc.backward(dlogits.reshape(T * N, K)))
        dfeatures = dsequence.reshape(T, N, -1).transpose(1, 2, 0)[:, :, None]  # (N, C, 1, T)
        dx = self.conv.backward(np.ascontiguousarray(dfeatures))
        return dx if self.stn is None else self.stn.backward(dx)
