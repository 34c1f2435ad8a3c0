"""The recogniser weights shipped inside the package: present, small, loadable, documented."""

import json

import numpy as np

from minilpr.data.charset import CHARS
from minilpr.demo import EXAMPLES
from minilpr.eval_command import SHIPPED_WEIGHTS
from minilpr.models.weights import load_recognizer, read_weights
from minilpr.train.evaluate import evaluate_recognizer, load_crop_folder


def test_the_shipped_weights_load_and_are_small():
    assert SHIPPED_WEIGHTS.is_file(), "minilpr/assets/weights/recognizer.npz is missing"
    assert SHIPPED_WEIGHTS.stat().st_size <= 10 * 2 ** 20
    model, manifest = load_recognizer(SHIPPED_WEIGHTS)
    assert manifest["charset"] == "".join(CHARS)
    assert manifest["kind"] == "recognizer"
    x = np.zeros((1, 1, 32, 220), np.float32)
    assert model.forward(x).shape == (27, 1, len(CHARS))


def test_the_manifest_holds_the_recipe_and_the_measured_figures():
    _, manifest = read_weights(SHIPPED_WEIGHTS)
    assert manifest["command"].startswith("minilpr train recognizer")
    assert manifest["data"]["synthetic"] is True and manifest["data"]["folders"] == []
    measured = manifest["measured"]
    for figure in ("synthetic_val_accuracy", "real_dev_accuracy", "real_dev_char_accuracy"):
        assert 0.0 <= measured[figure] <= 1.0, figure
    json.dumps(manifest)  # plain JSON all the way down


def test_the_shipped_weights_read_the_shipped_examples_as_the_manifest_says():
    """A regression check: the examples are synthetic plates like the validation set, so the
    shipped model must read most of them; the manifest records how many it read when shipped."""
    model, manifest = load_recognizer(SHIPPED_WEIGHTS)
    crops = load_crop_folder(EXAMPLES)
    report = evaluate_recognizer(model, crops.images, crops.texts)
    right = sum(r == t for r, t in zip(report.reads, report.texts))
    assert right == manifest["measured"]["examples_read"]
