"""Prior boxes by k-means on the ground-truth sizes, with the distance ``1 - IoU`` (YOLOv2).

Only a box's size matters to an anchor, so every box is compared with a centroid as if the two
shared a centre: ``IoU((w, h), (a, b)) = min(w, a) min(h, b) / (w h + a b - min(w, a) min(h, b))``.
Euclidean distance would let big boxes dominate; ``1 - IoU`` scores a 10-pixel miss on a small
plate as worse than on a big one, which is what the detector feels.

The objective is the mean distance of each box to its nearest centroid,
``J = mean_m (1 - max_k IoU(box_m, centroid_k))``, and ``1 - J`` is the "avg IoU" that YOLOv2
and YOLOv3 report for their anchors.

Lloyd's iteration alternates two steps:

* **assign** every box to the centroid of highest IoU (ties to the lower index) -- this never
  raises J;
* **update** each centroid to the mean (w, h) of its boxes. The mean minimises squared
  Euclidean distance, not ``1 - IoU``, so on its own it *can* raise J. A centroid therefore moves
  to the mean only when that does not raise its own cluster's cost; otherwise it stays. Both
  steps are then descent steps: J never rises, and the loop stops when no box changes cluster.
* **empty clusters** (a centroid that won no box) are moved onto the box that fits its own
  centroid worst, the worst first, one box per empty cluster. No box was assigned to an empty
  centroid, so moving it costs nothing, and the next assignment can only lower J.

Seeding is k-means++ (Arthur & Vassilvitskii): the first centroid is a box drawn uniformly, each
next one a box drawn with probability proportional to its squared distance to the nearest
centroid so far. A seed fixes every draw, so a run is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SCALE_STRIDES = (8, 16, 32)


def wh_iou(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """IoU of sizes as if centred on the same point.

    Parameters
    ----------
    wh : (M, 2) float
        Box widths and heights.
    anchors : (K, 2) float

    Returns
    -------
    (M, K) float64
    """
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    inter = (np.minimum(wh[:, None, 0], anchors[None, :, 0])
             * np.minimum(wh[:, None, 1], anchors[None, :, 1]))  # (M, K)
    union = (wh[:, 0] * wh[:, 1])[:, None] + (anchors[:, 0] * anchors[:, 1])[None, :] - inter
    return inter / union


@dataclass
class AnchorFit:
    """The result of `kmeans_anchors`.

    Attributes
    ----------
    anchors : (K, 2) float64
        (w, h) in the boxes' units, sorted by area, smallest first.
    mean_iou : float
        Mean over the boxes of the IoU with their best anchor ("avg IoU").
    assignment : (M,) int64
        Each box's anchor, indexing the sorted ``anchors``.
    objective : list of float
        ``J = 1 - mean IoU`` after every assignment step, from the seeding on; never rising.
    iterations : int
    """

    anchors: np.ndarray
    mean_iou: float
    assignment: np.ndarray
    objective: list[float] = field(default_factory=list)
    iterations: int = 0

    @property
    def per_scale(self) -> list[np.ndarray]:
        """The anchors split over the three detection scales, smallest to stride 8."""
        return split_per_scale(self.anchors)


def split_per_scale(anchors: np.ndarray, n_scales: int = len(SCALE_STRIDES)) -> list[np.ndarray]:
    """(K, 2) anchors sorted by area -> ``n_scales`` arrays, the smallest anchors first (for
    stride 8). K = 9 gives three each; otherwise the first groups get one more (``array_split``)."""
    return [np.array(group) for group in np.array_split(np.asarray(anchors), n_scales)]


def _check_sizes(wh: np.ndarray, k: int) -> np.ndarray:
    wh = np.asarray(wh, dtype=np.float64)
    if wh.ndim != 2 or wh.shape[1] != 2:
        raise ValueError(f"kmeans_anchors expects (M, 2) widths and heights, got {wh.shape}")
    if not np.all(np.isfinite(wh)) or np.any(wh <= 0):
        raise ValueError("kmeans_anchors: every width and height must be positive and finite")
    if k < 1:
        raise ValueError(f"kmeans_anchors: k must be at least 1, got {k}")
    distinct = len(np.unique(wh, axis=0))
    if distinct < k:
        raise ValueError(f"kmeans_anchors: k = {k} clusters need at least {k} distinct box "
                         f"sizes, got {distinct}")
    return wh


def kmeans_plus_plus(wh: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding with the distance ``1 - IoU``: (M, 2) sizes -> (k, 2) centroids."""
    centroids = [wh[rng.integers(len(wh))]]
    nearest = 1 - wh_iou(wh, centroids[0])[:, 0]  # (M,) distance to the nearest centroid
    for _ in range(1, k):
        weights = nearest ** 2
        # Distinct sizes number at least k, so some box is still at a positive distance.
        choice = rng.choice(len(wh), p=weights / weights.sum())
        centroids.append(wh[choice])
        nearest = np.minimum(nearest, 1 - wh_iou(wh, wh[choice])[:, 0])
    return np.array(centroids)


def _cluster_cost(wh: np.ndarray, centroid: np.ndarray) -> float:
    return float(np.sum(1 - wh_iou(wh, centroid)))


def _relocate_empty(wh: np.ndarray, centroids: np.ndarray, assignment: np.ndarray,
                    iou: np.ndarray) -> None:
    """Move every centroid that won no box onto the worst-fitting boxes (in place)."""
    counts = np.bincount(assignment, minlength=len(centroids))
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return
    fit = iou[np.arange(len(wh)), assignment]  # (M,) IoU with the own centroid
    worst = np.argsort(fit, kind="stable")[:empty.size]
    centroids[empty] = wh[worst]


def kmeans_anchors(wh: np.ndarray, k: int = 9, seed: int = 0, max_iter: int = 300) -> AnchorFit:
    """Cluster box sizes into ``k`` anchors with the distance ``1 - IoU`` (see the module notes).

    Parameters
    ----------
    wh : (M, 2) float
        Widths and heights of the ground-truth boxes, in the network input's pixels.
    k : int
        The number of anchors (YOLOv3: 9, three per scale).
    seed : int
        Seeds the k-means++ draws; the same seed gives the same anchors.
    max_iter : int
        At most this many assign/update rounds.

    Returns
    -------
    AnchorFit

    Raises
    ------
    ValueError
        When a size is not positive, or there are fewer than ``k`` distinct sizes.
    """
    wh = _check_sizes(wh, k)
    rng = np.random.default_rng(seed)
    centroids = kmeans_plus_plus(wh, k, rng)
    assignment = np.full(len(wh), -1, dtype=np.int64)
    objective = []
    iterations = 0
    for iterations in range(1, max_iter + 1):
        iou = wh_iou(wh, centroids)  # (M, K)
        new_assignment = iou.argmax(axis=1)
        objective.append(float(1 - iou[np.arange(len(wh)), new_assignment].mean()))
        if np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        _relocate_empty(wh, centroids, assignment, iou)
        for cluster in range(k):
            members = wh[assignment == cluster]
            if len(members) == 0:
                continue  # a relocated centroid: it wins boxes at the next assignment
            mean = members.mean(axis=0)
            if _cluster_cost(members, mean) <= _cluster_cost(members, centroids[cluster]):
                centroids[cluster] = mean
    order = np.argsort(centroids[:, 0] * centroids[:, 1], kind="stable")
    anchors = centroids[order]
    iou = wh_iou(wh, anchors)
    return AnchorFit(anchors=anchors, mean_iou=float(iou.max(axis=1).mean()),
                     assignment=iou.argmax(axis=1), objective=objective, iterations=iterations)


def mean_iou_curve(wh: np.ndarray, ks=range(1, 13), seed: int = 0) -> dict[int, float]:
    """The avg IoU of the anchors found for each k: how much each extra anchor buys."""
    return {int(k): kmeans_anchors(wh, int(k), seed).mean_iou for k in ks}
