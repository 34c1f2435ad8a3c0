"""A tiny locator, its k-means anchors and the YOLO loss overfit four scenes end to end.

Every piece meets here: anchors from `kmeans_anchors`, targets from `assign_targets`, the loss
and its gradient, the network's backward, Adam, then `detect` on what it learned. A wrong sign
or a transposed layout anywhere stalls the loss or misplaces the boxes.
"""

import numpy as np
import pytest

from minilpr.detect import assign_targets, detect, kmeans_anchors, xyxy_to_xywh, yolo_loss_forward
from minilpr.detect.boxes import box_iou
from minilpr.models.locator import STRIDES, BackboneConfig, Locator
from minilpr.nn import Adam

SIZE = 64
TINY = BackboneConfig(stem=8, stages=((16, 1), (16, 1), (24, 1), (32, 1), (32, 1)))
STEPS = 250


def plate_scenes(seed=0):
    """Grey noise with one or two bright plate-shaped rectangles: (4, 3, 64, 64) and boxes."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 0.1, size=(4, 3, SIZE, SIZE))
    boxes = [np.array([[6.0, 8, 30, 16]]), np.array([[20.0, 30, 56, 42]]),
             np.array([[4.0, 40, 20, 46], [34, 6, 62, 16]]), np.array([[10.0, 18, 50, 32]])]
    for n, image_boxes in enumerate(boxes):
        for x1, y1, x2, y2 in image_boxes.astype(int):
            images[n, :, y1:y2, x1:x2] += 1.5
    return images.astype(np.float32), boxes


@pytest.mark.slow
def test_tiny_locator_overfits_four_scenes():
    images, boxes = plate_scenes()
    classes = [np.zeros(len(b), np.int64) for b in boxes]
    sizes = np.concatenate([xyxy_to_xywh(b)[:, 2:] for b in boxes])
    # nine anchors need nine distinct sizes: the five boxes and slightly flatter copies
    anchors = kmeans_anchors(np.concatenate([sizes, sizes * [1.2, 0.8]]), 9).per_scale
    grids = [(SIZE // s, SIZE // s) for s in STRIDES]
    targets = assign_targets(boxes, classes, anchors, STRIDES, grids, (SIZE, SIZE), 1)
    model = Locator(TINY, num_anchors=3, num_classes=1, rng=0)
    optimizer = Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(STEPS):
        raws = model.forward(images)
        loss, cache = yolo_loss_forward(raws, targets, anchors, STRIDES)
        losses.append(loss)
        optimizer.zero_grad()
        model.backward(tuple(g.astype(np.float32) for g in cache["grads"]))
        optimizer.step()
    assert losses[-1] < 0.05 * losses[0], (losses[0], losses[-1])
    found = detect(model.eval().forward(images), anchors, STRIDES, score_threshold=0.3)
    for detections, truth in zip(found, boxes):
        assert len(detections) == len(truth)
        assert np.all(box_iou(truth, detections.boxes).max(axis=1) > 0.5)  # a hit at AP@0.5
