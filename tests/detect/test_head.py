"""The YOLO head: decoding, target assignment, and the loss with its hand-written gradient."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from minilpr.detect.boxes import box_iou, encode_boxes
from minilpr.detect.head import (assign_targets, decode_head, merge_head, sigmoid, split_head,
                                 yolo_loss_backward, yolo_loss_forward)
from minilpr.nn import FunctionPair, assert_gradcheck

from tests.conftest import GRAD_TOL

# A 32 × 32 input keeps the finite-difference gradient check affordable: 4², 2² and 1 cells.
INPUT = 32
STRIDES = (8, 16, 32)
GRIDS = [(INPUT // s, INPUT // s) for s in STRIDES]
ANCHORS = [np.array([[3.0, 2], [5, 4], [8, 5]]), np.array([[10.0, 7], [15, 9], [12, 15]]),
           np.array([[22.0, 12], [20, 20], [30, 25]])]
C = 4


def raw_like(rng, N, scale=1.0):
    return [scale * rng.standard_normal((N, len(a) * (5 + C), H, W))
            for a, (H, W) in zip(ANCHORS, GRIDS)]


def random_scene(rng, N, most=3):
    boxes, classes = [], []
    for _ in range(N):
        count = rng.integers(0, most + 1)
        corner = rng.uniform(0, INPUT * 0.6, size=(count, 2))
        size = rng.uniform(4, INPUT * 0.4, size=(count, 2))
        boxes.append(np.concatenate([corner, corner + size], axis=1))
        classes.append(rng.integers(0, C, size=count))
    return boxes, classes


def test_split_and_merge_are_inverse(rng):
    raw = rng.standard_normal((2, 3 * 9, 5, 7))
    split = split_head(raw, 3)
    assert split.shape == (2, 3, 5, 7, 9)
    assert split[1, 2, 4, 6, 8] == raw[1, 2 * 9 + 8, 4, 6]
    np.testing.assert_array_equal(merge_head(split), raw)
    with pytest.raises(ValueError, match="5 \\+ C"):
        split_head(rng.standard_normal((1, 16, 2, 2)), 3)


def test_decode_by_hand():
    raw = np.zeros((1, 2 * 6, 2, 3))
    raw[0, 6 + 2, 1, 2] = math.log(2)  # anchor 1, cell (1, 2): tw = log 2
    raw[0, 6 + 4, 1, 2] = 3.0  # its objectness logit
    raw[0, 6 + 5, 1, 2] = -1.0  # its one class logit
    boxes, objectness, probs = decode_head(raw, np.array([[4.0, 4], [10, 6]]), stride=16)
    assert boxes.shape == (1, 2, 2, 3, 4) and probs.shape == (1, 2, 2, 3, 1)
    # centre ((2 + 0.5) 16, (1 + 0.5) 16) = (40, 24); size (20, 6)
    np.testing.assert_allclose(boxes[0, 1, 1, 2], [30, 21, 50, 27])
    np.testing.assert_allclose(boxes[0, 0, 0, 0], [6, 6, 10, 10])
    assert objectness[0, 1, 1, 2] == pytest.approx(1 / (1 + math.exp(-3)))
    assert probs[0, 1, 1, 2, 0] == pytest.approx(1 / (1 + math.e))


def test_each_box_goes_to_its_best_anchor_at_that_scale_and_cell():
    anchors = [2 * a for a in ANCHORS]
    grids = [(64 // s, 64 // s) for s in STRIDES]
    boxes = [np.array([[10.0, 10, 17, 14], [5, 30, 45, 55]]), np.zeros((0, 4))]
    classes = [np.array([2, 1]), np.zeros(0, int)]
    targets = assign_targets(boxes, classes, anchors, STRIDES, grids, (64, 64), C)
    small, _, large = targets.scales
    # 7 × 4 is nearest the 6 × 4 anchor (scale 0, anchor 0); centre (13.5, 12) in cell (1, 1)
    assert np.argwhere(small.responsible).tolist() == [[0, 0, 1, 1]]
    np.testing.assert_allclose(small.offsets[0, 0, 1, 1], [13.5 / 8 - 1, 12 / 8 - 1])
    np.testing.assert_allclose(small.log_sizes[0, 0, 1, 1], [math.log(7 / 6), 0])
    assert small.weights[0, 0, 1, 1] == pytest.approx(2 - 28 / 64 ** 2)
    assert small.classes[0, 0, 1, 1].tolist() == [0, 0, 1, 0]
    # 40 × 25 is nearest 44 × 24 (scale 2, anchor 0); centre (25, 42.5) in cell (1, 0)
    assert np.argwhere(large.responsible).tolist() == [[0, 0, 1, 0]]
    assert large.classes[0, 0, 1, 0].tolist() == [0, 1, 0, 0]
    assert sum(s.responsible.sum() for s in targets.scales) == 2


def test_assignment_refuses_bad_classes():
    with pytest.raises(ValueError, match="class outside"):
        assign_targets([np.array([[1.0, 1, 9, 9]])], [np.array([4])], ANCHORS, STRIDES, GRIDS,
                       (INPUT, INPUT), C)


def reference_loss(raws, boxes, classes, ignore_threshold=0.5):
    """The loss written as the paper states it, one prediction at a time."""
    targets = assign_targets(boxes, classes, ANCHORS, STRIDES, GRIDS, (INPUT, INPUT), C)
    N, total = len(boxes), 0.0

    def bce(z, y):
        p = 1 / (1 + math.exp(-z))
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))

    for raw, anchors, stride, target in zip(raws, ANCHORS, STRIDES, targets.scales):
        decoded, _, _ = decode_head(raw, anchors, stride)
        _, _, H, W = raw.shape
        for n in range(N):
            for a in range(len(anchors)):
                for i in range(H):
                    for j in range(W):
                        t = raw[n, a * (5 + C):(a + 1) * (5 + C), i, j]
                        if target.responsible[n, a, i, j]:
                            w = target.weights[n, a, i, j]
                            ox, oy = target.offsets[n, a, i, j]
                            tw, th = target.log_sizes[n, a, i, j]
                            total += w * (bce(t[0], ox) + bce(t[1], oy))
                            total += w * 0.5 * ((t[2] - tw) ** 2 + (t[3] - th) ** 2)
                            total += bce(t[4], 1)
                            total += sum(bce(t[5 + c], target.classes[n, a, i, j, c])
                                         for c in range(C))
                            continue
                        best = box_iou(decoded[n, a, i, j], boxes[n]).max() if len(boxes[n]) \
                            else 0.0
                        if best <= ignore_threshold:
                            total += bce(t[4], 0)
    return total / N


@given(st.integers(0, 10_000), st.integers(1, 3))
def test_loss_value_matches_the_plain_reference(seed, N):
    rng = np.random.default_rng(seed)
    boxes, classes = random_scene(rng, N)
    raws = raw_like(rng, N)
    targets = assign_targets(boxes, classes, ANCHORS, STRIDES, GRIDS, (INPUT, INPUT), C)
    loss, cache = yolo_loss_forward(raws, targets, ANCHORS, STRIDES)
    assert loss == pytest.approx(reference_loss(raws, boxes, classes), rel=1e-12)
    assert loss == pytest.approx(sum(cache["parts"].values()), rel=1e-12)


def scene_with_every_kind_of_anchor(rng, N):
    """Raw outputs where some anchors are responsible, some ignored, the rest background.

    For each ground-truth box, the other anchors of its scale in its cell predict that very box
    (IoU 1 > 0.5: ignored unless responsible).
    """
    boxes, classes = random_scene(rng, N, most=2)
    boxes[0] = np.concatenate([boxes[0], [[4.0, 4, 15, 11]]])  # at least one box
    classes[0] = np.append(classes[0], 1)
    raws = raw_like(rng, N, scale=0.7)
    targets = assign_targets(boxes, classes, ANCHORS, STRIDES, GRIDS, (INPUT, INPUT), C)
    for n in range(N):
        for box in boxes[n]:
            for s, (anchors, stride, grid) in enumerate(zip(ANCHORS, STRIDES, GRIDS)):
                cells, offsets, log_sizes = encode_boxes(np.repeat(box[None], 3, 0), anchors,
                                                         stride, grid)
                i, j = cells[0]
                offsets = np.clip(offsets, 0.05, 0.95)
                for a in range(len(anchors)):
                    if rng.random() < 0.5:
                        continue
                    base = a * (5 + C)
                    raws[s][n, base:base + 2, i, j] = np.log(offsets[a] / (1 - offsets[a]))
                    raws[s][n, base + 2:base + 4, i, j] = log_sizes[a]
    return raws, targets


# Each example differences every raw entry twice (about 600 per image): a few examples suffice.
@settings(max_examples=6)
@given(st.integers(0, 10_000), st.integers(1, 2))
def test_loss_gradient_check(seed, N):
    rng = np.random.default_rng(seed)
    raws, targets = scene_with_every_kind_of_anchor(rng, N)
    _, cache = yolo_loss_forward(raws, targets, ANCHORS, STRIDES)
    ignored = sum(int(m.sum()) for m in cache["ignored"])
    responsible = sum(int(s.responsible.sum()) for s in targets.scales)
    background = sum(m.size for m in cache["ignored"]) - ignored - responsible
    assert responsible > 0 and background > 0
    assume(ignored > 0)
    # the ignore mask must not flip within the finite-difference step
    for raw, anchors, stride in zip(raws, ANCHORS, STRIDES):
        decoded = decode_head(raw, anchors, stride)[0]
        for n, gt in enumerate(targets.boxes):
            if len(gt):
                best = box_iou(decoded[n].reshape(-1, 4), gt).max(axis=1)
                assume(np.min(np.abs(best - 0.5)) > 1e-4)
    pair = FunctionPair(
        forward=lambda *r: yolo_loss_forward(r, targets, ANCHORS, STRIDES),
        backward=yolo_loss_backward)
    assert_gradcheck(pair, tuple(raws), tol=GRAD_TOL, seed=seed)


def test_gradient_by_kind_of_anchor(rng):
    raws, targets = scene_with_every_kind_of_anchor(rng, 2)
    _, cache = yolo_loss_forward(raws, targets, ANCHORS, STRIDES)
    for raw, grad, target, ignored in zip(raws, cache["grads"], targets.scales,
                                          cache["ignored"]):
        g, p = split_head(grad, 3), split_head(raw, 3)
        background = ~target.responsible & ~ignored
        assert np.all(g[ignored] == 0)  # ignored: no term at all
        np.testing.assert_allclose(g[background][:, 4], sigmoid(p[background][:, 4]) / 2)
        assert np.all(g[background][:, [0, 1, 2, 3, 5, 6, 7, 8]] == 0)
        np.testing.assert_allclose(g[target.responsible][:, 4],
                                   (sigmoid(p[target.responsible][:, 4]) - 1) / 2)


def test_ignore_threshold_one_punishes_every_non_responsible_anchor(rng):
    raws, targets = scene_with_every_kind_of_anchor(rng, 1)
    loose, loose_cache = yolo_loss_forward(raws, targets, ANCHORS, STRIDES, 0.5)
    strict, strict_cache = yolo_loss_forward(raws, targets, ANCHORS, STRIDES, 1.0)
    assert sum(m.sum() for m in strict_cache["ignored"]) == 0
    assert sum(m.sum() for m in loose_cache["ignored"]) > 0
    assert strict > loose and strict_cache["parts"]["noobj"] > loose_cache["parts"]["noobj"]


def test_perfect_prediction_has_small_box_and_class_loss():
    boxes, classes = [np.array([[4.0, 4, 15, 11]])], [np.array([1])]
    targets = assign_targets(boxes, classes, ANCHORS, STRIDES, GRIDS, (INPUT, INPUT), C)
    raws = [np.full((1, 3 * (5 + C), H, W), -12.0) for H, W in GRIDS]
    for s, target in enumerate(targets.scales):
        for n, a, i, j in np.argwhere(target.responsible):
            ox, oy = target.offsets[n, a, i, j]
            base = a * (5 + C)
            raws[s][n, base:base + 2, i, j] = np.log([ox / (1 - ox), oy / (1 - oy)])
            raws[s][n, base + 2:base + 4, i, j] = target.log_sizes[n, a, i, j]
            raws[s][n, base + 4, i, j] = 12.0
            raws[s][n, base + 5:base + 5 + C, i, j] = 24 * target.classes[n, a, i, j] - 12
    loss, cache = yolo_loss_forward(raws, targets, ANCHORS, STRIDES)
    parts = cache["parts"]
    assert parts["wh"] == 0 and parts["obj"] < 1e-5 and parts["cls"] < 1e-4
    every = sum(3 * H * W for H, W in GRIDS)
    assert parts["noobj"] == pytest.approx((every - 1) * math.log1p(math.exp(-12)), rel=1e-9)
    # BCE of the offsets at its minimum is the entropy of the target, not 0
    owner = targets.scales[1]  # 11 × 7 is nearest the 10 × 7 anchor, at stride 16
    ox, oy = owner.offsets[owner.responsible][0]

    def entropy(q):
        return -(q * math.log(q) + (1 - q) * math.log(1 - q))

    weight = owner.weights[owner.responsible][0]
    assert parts["xy"] == pytest.approx(weight * (entropy(ox) + entropy(oy)), rel=1e-9)
