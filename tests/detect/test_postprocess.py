"""detect(): decoded, scored, thresholded and suppressed predictions per image."""

import numpy as np

from minilpr.detect.boxes import box_iou, encode_boxes
from minilpr.detect.postprocess import detect

STRIDES = (8, 16)
ANCHORS = [np.array([[8.0, 4], [12, 6]]), np.array([[30.0, 10], [40, 16]])]
GRIDS = [(8, 8), (4, 4)]
C = 4


def confident(raws, n, scale, anchor, box, colour, logit=8.0):
    """Make one prediction say ``box`` of ``colour`` with high confidence."""
    cells, offsets, log_sizes = encode_boxes(box[None], ANCHORS[scale][anchor][None],
                                             STRIDES[scale], GRIDS[scale])
    (i, j), base = cells[0], anchor * (5 + C)
    offsets = np.clip(offsets[0], 1e-6, 1 - 1e-6)
    raws[scale][n, base:base + 2, i, j] = np.log(offsets / (1 - offsets))
    raws[scale][n, base + 2:base + 4, i, j] = log_sizes[0]
    raws[scale][n, base + 4, i, j] = logit
    raws[scale][n, base + 5 + colour, i, j] = 8.0


def test_duplicates_merge_and_images_stay_apart():
    raws = [np.full((2, len(a) * (5 + C), H, W), -8.0) for a, (H, W) in zip(ANCHORS, GRIDS)]
    plate = np.array([10.0, 20, 42, 30])
    confident(raws, 0, 1, 0, plate, colour=1)
    # the same plate, less sure, seen by another scale
    confident(raws, 0, 0, 1, plate + 1, colour=2, logit=3.0)
    confident(raws, 1, 0, 0, np.array([40.0, 40, 48, 44]), colour=0)
    first, second = detect(raws, ANCHORS, STRIDES, score_threshold=0.5)
    assert len(first) == 1 and len(second) == 1
    np.testing.assert_allclose(first.boxes[0], plate, atol=1e-4)
    assert first.classes.tolist() == [1] and first.scores[0] > 0.99
    np.testing.assert_allclose(second.boxes[0], [40, 40, 48, 44], atol=1e-4)
    per_colour = detect(raws, ANCHORS, STRIDES, score_threshold=0.5, agnostic=False)[0]
    assert sorted(per_colour.classes.tolist()) == [1, 2]
    assert box_iou(per_colour.boxes[:1], per_colour.boxes[1:])[0, 0] > 0.7
    assert len(detect(raws, ANCHORS, STRIDES, score_threshold=0.9999999)[0]) == 0
