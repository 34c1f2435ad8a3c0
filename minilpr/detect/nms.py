"""Greedy non-maximum suppression: keep the best box, drop its close overlaps, repeat.

Rules, stated once:

* boxes with ``score < score_threshold`` are dropped before anything else;
* the rest are visited by score, highest first (equal scores in input order, a stable sort);
* a visited box that was not suppressed is kept, and suppresses every later box whose IoU with
  it is strictly greater than ``iou_threshold`` -- and, per class, only boxes of its own class
  (class-agnostic when ``classes`` is None);
* at most ``top_k`` kept boxes are returned, the highest scores.
"""

from __future__ import annotations

import numpy as np

from minilpr.detect.boxes import box_iou


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.45,
        score_threshold: float = 0.0, classes: np.ndarray | None = None,
        top_k: int | None = None) -> np.ndarray:
    """Indices of the boxes that survive non-maximum suppression (see the module notes).

    Parameters
    ----------
    boxes : (M, 4) float
        xyxy.
    scores : (M,) float
    iou_threshold : float
    score_threshold : float
    classes : (M,) int, optional
        Suppress within each class only; None suppresses across classes.
    top_k : int, optional

    Returns
    -------
    (K,) int64
        Indices into ``boxes``, by decreasing score.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"nms: {len(boxes)} boxes but {len(scores)} scores")
    if classes is not None and len(classes) != len(boxes):
        raise ValueError(f"nms: {len(boxes)} boxes but {len(classes)} classes")
    candidates = np.flatnonzero(scores >= score_threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    alive = np.ones(len(order), dtype=bool)
    kept = []
    for position, index in enumerate(order):
        if not alive[position]:
            continue
        kept.append(index)
        if top_k is not None and len(kept) == top_k:
            break
        later = order[position + 1:]
        close = box_iou(boxes[index], boxes[later])[0] > iou_threshold
        if classes is not None:
            close &= np.asarray(classes)[later] == classes[index]
        alive[position + 1:] &= ~close
    return np.array(kept, dtype=np.int64)
