"""The locator weights shipped inside the package: present, small, loadable, documented."""

import json

import numpy as np

from minilpr.data.imageio import imread
from minilpr.demo_photos import PHOTOS, example_truth
from minilpr.detect.boxes import box_iou
from minilpr.models.locator_weights import load_locator
from minilpr.models.weights import read_weights
from minilpr.pipeline import SHIPPED_LOCATOR, PlateReader


def test_the_shipped_locator_loads_and_is_small():
    assert SHIPPED_LOCATOR.is_file(), "minilpr/assets/weights/locator.npz is missing"
    assert SHIPPED_LOCATOR.stat().st_size <= 10 * 2 ** 20
    model, manifest = load_locator(SHIPPED_LOCATOR)
    size = manifest["input_size"][0]
    outs = model.forward(np.zeros((1, 3, size, size), np.float32))
    assert [o.shape[2] for o in outs] == [size // 8, size // 16, size // 32]


def test_the_manifest_holds_the_recipe_and_the_measured_figures():
    _, manifest = read_weights(SHIPPED_LOCATOR)
    assert manifest["command"].startswith("minilpr train locator")
    assert manifest["data"]["synthetic"] is True
    measured = manifest["measured"]
    for figure in ("synthetic_ap50", "real_ccpd_ap50", "real_ccpd_recall", "real_ccpd_precision"):
        assert 0.0 <= measured[figure] <= 1.0, figure
    json.dumps(manifest)


def test_the_shipped_locator_finds_the_example_plates_as_the_manifest_says():
    """A regression check on the six shipped synthetic photos: the manifest records how many of
    their plates the shipped locator found (IoU >= 0.5) when it was shipped."""
    _, manifest = read_weights(SHIPPED_LOCATOR)
    reader = PlateReader.load()
    found = 0
    for path, truths in example_truth(PHOTOS):
        boxes = np.array([p.box for p in reader.read(imread(path))]).reshape(-1, 4)
        for truth in truths:
            found += bool(len(boxes)) and box_iou(np.array([truth.box]), boxes).max() >= 0.5
    assert found == manifest["measured"]["examples_found"]
