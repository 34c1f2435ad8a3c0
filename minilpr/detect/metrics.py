"""How good a set of detections is: matching, average precision, recall and precision.

**Matching** (one IoU threshold t). The detections of every image are taken by decreasing
score; each one is a true positive if some ground-truth box of its image not yet matched has
IoU ≥ t with it (it takes the unmatched box of highest IoU, as COCO does), otherwise a false
positive. A ground truth is matched at most once: a second box on the same plate is a false
alarm.

**Average precision** is VOC's all-point interpolation (PASCAL VOC 2010 onwards), not COCO's
101 recall points. Rank all detections of the data set by decreasing score; after the first k,
``precision_k = TP_k / k`` and ``recall_k = TP_k / n_gt``. The interpolated precision at recall
r is the best precision at any recall ≥ r, and AP is the area under that staircase:
``AP = Σ_k (recall_k - recall_{k-1}) · max_{j ≥ k} precision_j``. Only true positives raise
the recall, so each contributes ``(1 / n_gt) · max_{j ≥ k} precision_j``.

``AP@0.5:0.95`` is the mean of AP at t = 0.50, 0.55, ..., 0.95 (COCO's thresholds).

**Recall and precision** are measured at one score threshold and t = 0.5: the detections
scoring at least the threshold, matched as above.

**Per plate colour**: each ground-truth colour's recall (boxes matched whatever colour was
predicted) and AP@0.5 with the colour taken into account (detections of predicted colour c
against the plates of colour c).

Every function is pure: boxes are xyxy, in any one unit per image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from minilpr.detect.boxes import box_iou

COCO_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2).tolist())


def match_image(boxes: np.ndarray, scores: np.ndarray, truth: np.ndarray,
                iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Which detections of one image are true positives.

    Parameters
    ----------
    boxes : (K, 4) float
        Detections, xyxy.
    scores : (K,) float
    truth : (M, 4) float
        Ground truth, xyxy.
    iou_threshold : float

    Returns
    -------
    hit : (K,) bool
        Detection k is a true positive (in the input order).
    matched : (M,) int64
        The detection that matched each ground truth, -1 if none did.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    truth = np.asarray(truth, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"match_image: {len(boxes)} boxes but {len(scores)} scores")
    hit = np.zeros(len(boxes), bool)
    matched = np.full(len(truth), -1, np.int64)
    if not len(boxes) or not len(truth):
        return hit, matched
    iou = box_iou(boxes, truth)  # (K, M)
    for k in np.argsort(-scores, kind="stable"):
        free = np.where(matched < 0, iou[k], -1.0)
        m = int(free.argmax())
        if free[m] >= iou_threshold:
            hit[k], matched[m] = True, k
    return hit, matched


def average_precision(scores: np.ndarray, hits: np.ndarray, n_truth: int) -> float:
    """VOC all-point interpolated AP of detections pooled over a data set.

    Parameters
    ----------
    scores : (K,) float
    hits : (K,) bool
        True positive or not (from `match_image`).
    n_truth : int
        Ground-truth boxes in the data set.

    Returns
    -------
    float in [0, 1]; 0 when there is no ground truth.
    """
    if n_truth <= 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    hits = np.asarray(hits, bool)[order]
    true_pos = np.cumsum(hits)
    precision = true_pos / np.arange(1, len(hits) + 1)
    recall = true_pos / n_truth
    # The envelope: the best precision at this recall or any higher one.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


@dataclass
class ColourFigures:
    """One plate colour's figures."""

    n_plates: int
    recall: float
    ap50: float


@dataclass
class DetectionReport:
    """What `evaluate_detections` measures.

    Attributes
    ----------
    n_images, n_plates, n_detections : int
        ``n_detections`` counts those at or above the score threshold.
    ap50, ap50_95 : float
        VOC all-point AP at IoU 0.5, and its mean over IoU 0.50:0.05:0.95.
    recall, precision : float
        At the score threshold and IoU 0.5.
    true_positives, false_positives, misses : int
        At the score threshold and IoU 0.5.
    per_colour : dict of str to ColourFigures
    score_threshold : float
    """

    n_images: int
    n_plates: int
    n_detections: int
    ap50: float
    ap50_95: float
    recall: float
    precision: float
    true_positives: int
    false_positives: int
    misses: int
    score_threshold: float
    per_colour: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        record = {k: v for k, v in vars(self).items() if k != "per_colour"}
        record["per_colour"] = {name: vars(f) for name, f in self.per_colour.items()}
        return record


def _pooled(detections, truths, iou_threshold, score_threshold=None, colour=None):
    """Scores and hits of every detection over the data set, and the ground-truth count."""
    scores, hits, n_truth = [], [], 0
    for (boxes, det_scores, det_classes), (gt_boxes, gt_classes) in zip(detections, truths):
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        det_scores = np.asarray(det_scores, np.float64).reshape(-1)
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        keep = np.ones(len(det_scores), bool)
        if score_threshold is not None:
            keep &= det_scores >= score_threshold
        if colour is not None:
            keep &= np.asarray(det_classes).reshape(-1) == colour
            gt_boxes = gt_boxes[np.asarray(gt_classes).reshape(-1) == colour]
        hit, _ = match_image(boxes[keep], det_scores[keep], gt_boxes, iou_threshold)
        scores.append(det_scores[keep])
        hits.append(hit)
        n_truth += len(gt_boxes)
    scores = np.concatenate(scores) if scores else np.zeros(0)
    hits = np.concatenate(hits) if hits else np.zeros(0, bool)
    return scores, hits, n_truth


def evaluate_detections(detections: Sequence, truths: Sequence, score_threshold: float = 0.25,
                        colours: Sequence[str] = ("blue", "yellow", "green", "other")
                        ) -> DetectionReport:
    """AP@0.5, AP@0.5:0.95, recall and precision, overall and per plate colour.

    Parameters
    ----------
    detections : N triples (boxes (K, 4), scores (K,), classes (K,))
        Each image's detections; AP uses all of them, so keep the detector's score threshold
        low (0.001-0.01) when AP matters.
    truths : N pairs (boxes (M, 4), classes (M,))
        Each image's ground truth, in the same units as its detections.
    score_threshold : float
        Where recall and precision are read.
    colours : names of the class indices

    Returns
    -------
    DetectionReport
    """
    if len(detections) != len(truths):
        raise ValueError(f"evaluate_detections: {len(detections)} images of detections but "
                         f"{len(truths)} of ground truth")
    per_threshold = []
    for t in COCO_THRESHOLDS:
        scores, hits, n_truth = _pooled(detections, truths, t)
        per_threshold.append(average_precision(scores, hits, n_truth))
    kept_scores, kept_hits, n_truth = _pooled(detections, truths, 0.5, score_threshold)
    tp = int(kept_hits.sum())
    report = DetectionReport(
        n_images=len(truths), n_plates=n_truth, n_detections=len(kept_scores),
        ap50=per_threshold[0], ap50_95=float(np.mean(per_threshold)),
        recall=tp / n_truth if n_truth else 0.0,
        precision=tp / len(kept_scores) if len(kept_scores) else 0.0,
        true_positives=tp, false_positives=len(kept_scores) - tp, misses=n_truth - tp,
        score_threshold=score_threshold)
    for c, name in enumerate(colours):
        found, total = 0, 0
        for (boxes, det_scores, _), (gt_boxes, gt_classes) in zip(detections, truths):
            det_scores = np.asarray(det_scores, np.float64).reshape(-1)
            keep = det_scores >= score_threshold
            _, matched = match_image(np.asarray(boxes).reshape(-1, 4)[keep], det_scores[keep],
                                     gt_boxes, 0.5)
            mine = np.asarray(gt_classes).reshape(-1) == c
            found += int(np.sum(matched[mine] >= 0))
            total += int(mine.sum())
        if total:
            scores, hits, n = _pooled(detections, truths, 0.5, colour=c)
            report.per_colour[name] = ColourFigures(total, found / total,
                                                    average_precision(scores, hits, n))
    return report
