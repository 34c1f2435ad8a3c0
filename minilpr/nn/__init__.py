"""The layer library: every layer with a hand-written forward and backward.

Nothing in here knows about licence plates. The pure forward/backward functions behind the
layers are gathered in `minilpr.nn.functional`.
"""

from minilpr.nn.module import Module, Parameter, Sequential
from minilpr.nn.conv import Conv2d
from minilpr.nn.pool import MaxPool2d
from minilpr.nn.norm import BatchNorm2d
from minilpr.nn.activation import LeakyReLU, LogSoftmax, log_softmax, softmax
from minilpr.nn.linear import Linear
from minilpr.nn.dropout import Dropout
from minilpr.nn.shape import Add, Concat, Flatten, Identity, ToSequence, Upsample
from minilpr.nn.recurrent import LSTM, Bidirectional, LSTMCell
from minilpr.nn.spatial import AffineGrid, GridSample, affine_grid, grid_sample
from minilpr.nn.losses import (BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, bce_with_logits,
                               cross_entropy, mse_loss)
from minilpr.nn.ctc import CTCAlignmentWarning, CTCLoss, ctc_loss, ctc_preflight
from minilpr.nn.decode import (Automaton, constrained_beam_search, greedy_decode,
                               prefix_beam_search)
from minilpr.nn.optim import SGD, Adam, AdamW, clip_grad_norm
from minilpr.nn.schedule import ConstantLR, CosineLR, LinearWarmup, StepLR
from minilpr.nn.gradcheck import FunctionPair, assert_gradcheck, gradcheck, relative_error
