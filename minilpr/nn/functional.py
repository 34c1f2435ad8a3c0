"""The pure maths of every layer, as forward/backward function pairs.

Layers (``Conv2d``, ``BatchNorm2d``, ...) keep state and call these; tests, lessons and
`minilpr.nn.gradcheck.FunctionPair` call them directly. Each pair lives in its family's module
(``conv.py``, ``norm.py``, ...) beside the class that uses it; this module gathers them into one
namespace: ``import minilpr.nn.functional as F``.
"""
