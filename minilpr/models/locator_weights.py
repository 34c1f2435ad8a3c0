"""The locator's backbones by name, and its weight files.

A locator weight file (`minilpr.models.weights.save_weights`, kind "locator") carries in its
manifest what turns the three raw outputs into boxes: ``backbone`` (a name of `BACKBONES`),
``input_size`` (H, W), ``anchors`` ((9, 2) w, h in input pixels, sorted by area), ``strides``,
``classes`` (the plate colours) and ``input_scale`` (how pixels become inputs). The network
itself knows none of this; `load_locator` hands it back with the model.
"""

from __future__ import annotations

import numpy as np

from minilpr.detect.anchors import split_per_scale
from minilpr.detect.head import PLATE_COLOURS
from minilpr.models.locator import DARKNET53, SMALL, BackboneConfig, Locator
from minilpr.models.weights import (WeightFileError, _check_kind_and_charset, _load_state,
                                    read_weights)

# "tiny" is for tests and smoke runs: it trains in seconds and finds nothing useful.
BACKBONES = {
    "small": SMALL,
    "darknet53": DARKNET53,
    "tiny": BackboneConfig(stem=8, stages=((8, 1), (16, 1), (16, 1), (24, 1), (32, 1))),
}
INPUT_SCALE = "RGB / 255, letterboxed with grey 114"
REQUIRED = ("backbone", "input_size", "anchors", "strides", "classes")


def build_locator(backbone: str, seed: int = 0, num_classes: int = len(PLATE_COLOURS)) -> Locator:
    """A locator with three anchors per scale, its weights drawn from ``seed``."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
    return Locator(BACKBONES[backbone], num_anchors=3, num_classes=num_classes,
                   rng=np.random.default_rng(seed))


def to_input(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 in [0, 1], the locator's input."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255


def load_locator(path) -> tuple[Locator, dict]:
    """Build the locator a weight file describes and load its weights.

    Returns
    -------
    (Locator, manifest)
        The model in eval mode; ``manifest["anchors_per_scale"]`` is added as three (3, 2)
        arrays for `minilpr.detect.detect`.

    Raises
    ------
    WeightFileError
        One line naming the file: anything `read_weights` refuses, another kind of model, a
        manifest without the facts of ``REQUIRED`` or with ones that make no sense, arrays that
        do not fit the backbone it names. The kind is checked before any model is built.
    """
    state, manifest = read_weights(path)
    _check_kind_and_charset(path, manifest, "locator")
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise WeightFileError(f"{path}: the manifest records no {', '.join(missing)}")
    backbone = manifest["backbone"]
    if backbone not in BACKBONES:
        raise WeightFileError(f"{path}: unknown backbone {backbone!r}; this minilpr knows "
                              f"{', '.join(BACKBONES)}")
    strides, classes = manifest["strides"], manifest["classes"]
    if not (isinstance(strides, list) and len(strides) == 3
            and all(isinstance(s, int) and s > 0 for s in strides)):
        raise WeightFileError(f"{path}: strides must be three positive integers, got {strides!r}")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise WeightFileError(f"{path}: classes must be a list of names, got {classes!r}")
    anchors = _anchors(path, manifest["anchors"], 3 * len(strides))
    model = build_locator(backbone, num_classes=len(classes))
    _load_state(path, model, state)
    manifest["anchors_per_scale"] = split_per_scale(anchors, len(strides))
    return model.eval(), manifest


def _anchors(path, anchors, count: int) -> np.ndarray:
    """The manifest's anchors as a (count, 2) float64 array of positive sizes, or refuse."""
    try:
        array = np.asarray(anchors, np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != (count, 2):
        raise WeightFileError(f"{path}: anchors must be ({count}, 2) widths and heights, got "
                              f"{np.shape(anchors) if array is not None else repr(anchors)[:40]}")
    if not (np.isfinite(array).all() and (array > 0).all()):
        raise WeightFileError(f"{path}: anchors must be positive and finite")
    return array
