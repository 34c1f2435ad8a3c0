"""Detection metrics: matching, VOC all-point AP, recall/precision, per colour."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilpr.detect.metrics import (average_precision, evaluate_detections, match_image)

PLATE = np.array([[0.0, 0, 10, 10]])


def test_match_takes_the_best_free_truth_and_refuses_a_duplicate():
    truth = np.array([[0.0, 0, 10, 10], [20, 0, 30, 10]])
    boxes = np.array([[0.0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 10], [50, 50, 60, 60]])
    hit, matched = match_image(boxes, [0.9, 0.8, 0.7, 0.95], truth)
    assert hit.tolist() == [True, False, True, False]
    assert matched.tolist() == [0, 2]


def test_match_lets_a_lower_score_take_the_box_the_higher_one_left():
    truth = np.array([[0.0, 0, 10, 10], [6, 0, 16, 10]])
    # the first detection overlaps both; it takes the one of higher IoU, the second the other
    boxes = np.array([[1.0, 0, 11, 10], [6, 0, 16, 10]])
    hit, matched = match_image(boxes, [0.9, 0.5], truth)
    assert hit.tolist() == [True, True] and matched.tolist() == [0, 1]


def test_ap_by_hand():
    # ranks: TP, FP, TP with 3 plates: precision 1, 1/2, 2/3; recall 1/3, 1/3, 2/3
    # envelope at the two TPs: max(1, .5, 2/3) = 1 and 2/3 -> AP = 1/3 + 1/3 * 2/3 = 5/9
    assert average_precision([0.9, 0.8, 0.7], [True, False, True], 3) == pytest.approx(5 / 9)
    # an FP ranked first: precision 0, 1/2, 2/3 -> AP = (2/3 + 2/3) / 2
    assert average_precision([0.9, 0.8, 0.7], [False, True, True], 2) == pytest.approx(2 / 3)
    assert average_precision([0.5], [True], 1) == 1.0
    assert average_precision([], [], 4) == 0.0 and average_precision([0.3], [False], 0) == 0.0


def brute_force_ap(scores, hits, n_truth):
    """Σ over true positives of (1 / n_truth) × the best precision at that rank or later."""
    order = sorted(range(len(scores)), key=lambda k: -scores[k])
    ranked = [hits[k] for k in order]
    total = 0.0
    for k, hit in enumerate(ranked):
        if hit:
            total += max(sum(ranked[:j + 1]) / (j + 1) for j in range(k, len(ranked))) / n_truth
    return total


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=12), st.integers(0, 5))
def test_ap_matches_a_brute_force_reference(pairs, extra):
    scores = [s + 1e-6 * k for k, (s, _) in enumerate(pairs)]  # distinct: ties are stable
    hits = [h for _, h in pairs]
    n_truth = sum(hits) + extra
    if n_truth == 0:
        return
    assert average_precision(scores, hits, n_truth) == pytest.approx(
        brute_force_ap(scores, hits, n_truth), abs=1e-12)


def brute_force_best_tp(boxes, truth, threshold):
    """The most true positives any one-to-one matching allows (an upper bound on greedy)."""
    from minilpr.detect.boxes import box_iou
    iou = box_iou(boxes, truth) if len(boxes) and len(truth) else np.zeros((len(boxes), 0))
    r = min(len(boxes), len(truth))
    best = 0
    for chosen in itertools.combinations(range(len(boxes)), r):
        for perm in itertools.permutations(range(len(truth)), r):
            best = max(best, sum(iou[k, m] >= threshold for k, m in zip(chosen, perm)))
    return best


boxes_strategy = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(2, 12),
                                    st.integers(2, 12)), max_size=4).map(
    lambda bs: np.array([[x, y, x + w, y + h] for x, y, w, h in bs], np.float64).reshape(-1, 4))


@settings(max_examples=60, deadline=None)
@given(boxes_strategy, boxes_strategy, st.data())
def test_matching_is_one_to_one_and_above_the_threshold(boxes, truth, data):
    from minilpr.detect.boxes import box_iou
    scores = np.array(data.draw(st.lists(st.floats(0, 1), min_size=len(boxes),
                                         max_size=len(boxes))))
    hit, matched = match_image(boxes, scores, truth, 0.5)
    used = matched[matched >= 0]
    assert len(set(used.tolist())) == len(used) == hit.sum()
    for m, k in enumerate(matched):
        if k >= 0:
            assert hit[k] and box_iou(boxes[k:k + 1], truth[m:m + 1])[0, 0] >= 0.5
    assert hit.sum() <= brute_force_best_tp(boxes, truth, 0.5)
    if hit.sum() == 0:
        assert brute_force_best_tp(boxes, truth, 0.5) == 0


def test_report_on_two_images():
    truths = [(np.array([[0.0, 0, 10, 10]]), np.array([0])),
              (np.array([[0.0, 0, 10, 10], [20, 20, 40, 30]]), np.array([1, 0]))]
    detections = [
        (np.array([[0.0, 0, 10, 10], [50, 50, 60, 60]]), np.array([0.9, 0.6]), np.array([0, 0])),
        (np.array([[0.0, 0, 10, 9], [20, 20, 40, 30]]), np.array([0.8, 0.1]), np.array([0, 0])),
    ]
    report = evaluate_detections(detections, truths, score_threshold=0.25)
    assert (report.n_images, report.n_plates, report.n_detections) == (2, 3, 3)
    assert (report.true_positives, report.false_positives, report.misses) == (2, 1, 1)
    assert report.recall == pytest.approx(2 / 3) and report.precision == pytest.approx(2 / 3)
    # ranked 0.9 TP, 0.8 TP, 0.6 FP, 0.1 TP: AP = 1/3 + 1/3 + 1/3 * 3/4
    assert report.ap50 == pytest.approx(1 / 3 + 1 / 3 + 0.25)
    # at IoU 0.95 the 10 × 9 box (IoU 0.9) misses: ranked TP, FP, FP, TP -> 1/3 + 1/3 * 2/4
    assert report.ap50_95 < report.ap50
    assert report.per_colour["blue"].n_plates == 2 and report.per_colour["yellow"].n_plates == 1
    assert report.per_colour["yellow"].recall == 1.0  # found, though called blue
    assert report.per_colour["yellow"].ap50 == 0.0  # no yellow detection
    assert "green" not in report.per_colour
    assert set(report.to_dict()) >= {"n_images", "n_plates", "ap50", "recall", "precision"}


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        match_image(np.zeros((2, 4)), [0.5], PLATE)
    with pytest.raises(ValueError, match="1 images of detections but 0"):
        evaluate_detections([(PLATE, [1.0], [0])], [])
