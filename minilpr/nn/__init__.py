"""The layer library: every layer with a hand-written forward and backward.

Nothing in here knows about licence plates.
"""

from minilpr.nn.module import Module, Parameter, Sequential
from minilpr.nn.gradcheck import FunctionPair, assert_gradcheck, gradcheck, relative_error
