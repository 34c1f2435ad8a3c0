"""minilpr: a from-scratch NumPy/Numba Chinese licence-plate recogniser, written to be read.

The package is a house of small rooms (see docs/architecture.md):
``nn`` the layer library, ``data`` charset and synthetic plates, ``models`` the networks,
``detect`` anchors and YOLO decoding, ``train`` the loops, ``pipeline`` image in, plates out.
``minilpr demo`` is the main job: the shipped models reading example photos and plates.
"""

__version__ = "0.1.0"
