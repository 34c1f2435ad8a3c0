"""The pure maths of every layer, as forward/backward function pairs.

Layers (``Conv2d``, ``BatchNorm2d``, ...) keep state and call these; tests, lessons and
`minilpr.nn.gradcheck.FunctionPair` call them directly. Each pair lives in its family's module
(``conv.py``, ``norm.py``, ...) beside the class that uses it; this module gathers them into one
namespace: ``import minilpr.nn.functional as F``.
"""

from minilpr.nn.spatial import (affine_grid, affine_grid_backward, affine_grid_forward,
                                grid_sample, grid_sample_backward, grid_sample_forward)
from minilpr.nn.norm import batchnorm2d_backward, batchnorm2d_forward
from minilpr.nn.activation import (leaky_relu_backward, leaky_relu_forward, log_softmax,
                                   log_softmax_backward, log_softmax_forward, softmax,
                                   softmax_backward, softmax_forward)
from minilpr.nn.linear import linear_backward, linear_forward
from minilpr.nn.dropout import dropout_backward, dropout_forward
from minilpr.nn.shape import (from_sequence, to_sequence, upsample_nearest_backward,
                              upsample_nearest_forward)
from minilpr.nn.losses import bce_with_logits, cross_entropy, mse_loss
from minilpr.nn.conv import col2im, conv2d_backward, conv2d_forward, im2col
from minilpr.nn.pool import maxpool2d_backward, maxpool2d_forward
from minilpr.nn.lstm_cell import (lstm_cell_backward, lstm_cell_forward, lstm_direction_backward,
                                  lstm_direction_forward)
from minilpr.nn.recurrent import lstm_backward, lstm_forward
from minilpr.nn.ctc import (ctc_loss, ctc_loss_backward, ctc_loss_forward,
                             ctc_loss_with_logits_backward, ctc_loss_with_logits_forward)
