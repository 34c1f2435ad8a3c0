"""NMS against a brute-force reference that follows the rules literally."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.detect.nms import nms


def scalar_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def brute_force_nms(boxes, scores, iou_threshold, score_threshold, classes, top_k):
    """Keep a box when no better-ranked kept box of its class overlaps it too much."""
    ranked = sorted((i for i in range(len(boxes)) if scores[i] >= score_threshold),
                    key=lambda i: (-scores[i], i))
    kept = []
    for i in ranked:
        if all(scalar_iou(boxes[i], boxes[j]) <= iou_threshold
               or (classes is not None and classes[i] != classes[j]) for j in kept):
            kept.append(i)
    return kept[:top_k] if top_k is not None else kept


@given(st.integers(0, 100_000), st.integers(0, 40), st.sampled_from([0.0, 0.3, 0.5, 0.7]),
       st.sampled_from([0.0, 0.2, 0.6]), st.booleans(), st.sampled_from([None, 1, 3]))
def test_nms_matches_brute_force(seed, count, iou_threshold, score_threshold, per_class, top_k):
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 60, size=(count, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(5, 40, size=(count, 2))], axis=1)
    # coarse scores so that ties happen, and the tie rule is checked too
    scores = rng.integers(0, 10, size=count) / 10
    classes = rng.integers(0, 3, size=count) if per_class else None
    kept = nms(boxes, scores, iou_threshold, score_threshold, classes, top_k)
    expected = brute_force_nms(boxes, scores, iou_threshold, score_threshold, classes, top_k)
    assert kept.tolist() == expected


def test_nms_by_hand():
    boxes = np.array([[0.0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 9]])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    assert nms(boxes, scores, 0.5, classes=np.array([0, 1, 0, 0])).tolist() == [3, 1, 2]
    assert nms(boxes, scores, 0.5, score_threshold=0.75).tolist() == [3]
    assert nms(boxes, scores, 0.95).tolist() == [3, 0, 1, 2]
    assert nms(boxes, scores, 0.5, top_k=1).tolist() == [3]
    assert nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []


def test_nms_names_mismatched_inputs():
    with pytest.raises(ValueError, match="2 boxes but 3 scores"):
        nms(np.zeros((2, 4)), np.zeros(3))
