"""Run by test_loop.py in a subprocess: a toy training that a real SIGINT interrupts.

The task announces each step on stdout and sleeps in its forward pass from step 3 on, so the
parent can send SIGINT while a step is in flight.
"""

import sys
import time

from minilpr.train.loop import TrainConfig, Trainer
from tests.train.standin import ToyTask


class SlowToyTask(ToyTask):
    def loss_and_backward(self, batch):
        step = batch[2]
        print(f"step {step}", flush=True)
        if step >= 3:
            time.sleep(0.5)
        return super().loss_and_backward(batch)


config = TrainConfig(steps=1000, eval_every=1000, checkpoint_every=0, checkpoint_minutes=0)
result = Trainer(SlowToyTask(), config, sys.argv[1], progress=False,
                 resume_hint="RESUME-HINT", plot=False).run()
print(f"returned interrupted={result.interrupted} step={result.step}", flush=True)
