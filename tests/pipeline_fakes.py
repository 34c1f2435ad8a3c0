"""Stand-ins for a trained locator: the pipeline's plumbing tested on boxes known exactly.

``FakeLocator`` answers every image with raw head outputs that decode (through the real
`minilpr.detect.detect`) to the boxes it was given; ``untrained_locator_file`` saves an untrained
``tiny`` locator the way ``minilpr train locator`` saves one.
"""

from __future__ import annotations

import numpy as np

from minilpr.detect.anchors import split_per_scale
from minilpr.detect.boxes import encode_boxes
from minilpr.detect.head import PLATE_COLOURS, merge_head
from minilpr.models.locator_weights import build_locator
from minilpr.models.weights import save_weights
from minilpr.models.recognizer import Recognizer
from minilpr.pipeline import PlateReader

STRIDES = (8, 16, 32)
# nine (w, h) anchors in input pixels, sorted by area, three per scale
ANCHORS = np.array([[12, 4], [20, 7], [28, 9], [40, 13], [56, 18], [72, 23], [96, 30],
                    [128, 40], [170, 54]], np.float64)
SURE = 20.0  # a logit whose sigmoid is 1 to 2e-9


def untrained_locator_file(path, size: int = 64, found: str = "few", seed: int = 0):
    """Save an untrained ``tiny`` locator with a complete manifest; returns the path.

    ``found`` sets objectness biases to -SURE so that the locator finds: "none", nothing
    anywhere; "few", a box in some stride-32 cells (their first anchor only, sure of it);
    "many", whatever the untrained weights find (dozens of boxes scoring about 0.29).
    """
    model = build_locator("tiny", seed=seed)
    quiet = {"none": ("head8", "head16", "head32"), "few": ("head8", "head16"),
             "many": ()}[found]
    head_bias = (3 * (5 + len(PLATE_COLOURS)),)
    for name, parameter in model.named_parameters():
        if name.startswith("neck.head") and parameter.data.shape == head_bias:
            objectness = parameter.data.reshape(3, -1)[:, 4]  # (A,) of (A, 5 + C)
            if name.split(".")[1] in quiet:
                objectness[:] = -SURE
            elif found == "few":
                objectness[:] = [SURE, -SURE, -SURE]
    manifest = {"backbone": "tiny", "input_size": [size, size], "anchors": ANCHORS.tolist(),
                "strides": list(STRIDES), "classes": list(PLATE_COLOURS)}
    return save_weights(model, path, manifest)


class FakeLocator:
    """Raw head outputs that decode to ``boxes`` (input pixels) with colours ``classes``.

    Each box is put on the stride-8 scale's first anchor, in the cell of its centre, with the
    exact offsets and log sizes `encode_boxes` gives; every other prediction has objectness
    ``σ(-SURE)``. Boxes must have different centre cells.
    """

    def __init__(self, boxes, classes, size: int):
        self.boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        self.classes = list(classes)
        self.size = size
        self.calls = 0

    def forward(self, x: np.ndarray):
        self.calls += 1
        assert x.shape == (1, 3, self.size, self.size) and x.dtype == np.float32
        per_scale = split_per_scale(ANCHORS, len(STRIDES))
        raws = []
        for scale, stride in enumerate(STRIDES):
            cells = self.size // stride
            out = np.zeros((1, 3, cells, cells, 5 + len(PLATE_COLOURS)))  # (N, A, H, W, 5 + C)
            out[..., 4] = -SURE
            out[..., 5:] = -SURE
            if scale == 0 and len(self.boxes):
                anchor = np.repeat(per_scale[0][:1], len(self.boxes), axis=0)
                where, offsets, log_sizes = encode_boxes(self.boxes, anchor, stride,
                                                         (cells, cells))
                for (i, j), offset, log_size, colour in zip(where, offsets, log_sizes,
                                                            self.classes):
                    offset = np.clip(offset, 1e-9, 1 - 1e-9)
                    out[0, 0, i, j, :2] = np.log(offset / (1 - offset))  # σ⁻¹
                    out[0, 0, i, j, 2:4] = log_size
                    out[0, 0, i, j, 4] = SURE
                    out[0, 0, i, j, 5 + colour] = SURE
            raws.append(merge_head(out))
        return raws


def fake_reader(boxes, classes, size: int = 416, **options) -> PlateReader:
    """A reader with a `FakeLocator` and the shipped recogniser."""
    from minilpr.models.weights import load_recognizer
    from minilpr.pipeline import SHIPPED_RECOGNIZER

    recognizer, _ = load_recognizer(SHIPPED_RECOGNIZER)
    return PlateReader(FakeLocator(boxes, classes, size), recognizer,
                       split_per_scale(ANCHORS, 3), STRIDES, (size, size), **options)


def tiny_recognizer(stn: str | None = None) -> Recognizer:
    """An untrained ``tiny`` recogniser, with an STN of config ``stn`` if given."""
    from dataclasses import replace

    from minilpr.models.recognizer import RecognizerConfig

    return Recognizer(replace(RecognizerConfig.preset("tiny"), stn=stn), rng=0).eval()
