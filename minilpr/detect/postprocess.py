"""From the three raw head outputs to each image's plates: decode, score, threshold, NMS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from minilpr.detect.head import decode_head
from minilpr.detect.nms import nms


@dataclass
class Detections:
    """The plates found in one image.

    Attributes
    ----------
    boxes : (K, 4) float64
        xyxy in input pixels (`boxes_from_letterbox` maps them back to the photo).
    scores : (K,) float64
        ``objectness × P(colour)``, by decreasing score.
    classes : (K,) int64
        The colour, an index into ``PLATE_COLOURS``.
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def detect(raws: Sequence[np.ndarray], anchors: Sequence[np.ndarray], strides: Sequence[int],
           score_threshold: float = 0.25, iou_threshold: float = 0.45,
           top_k: int | None = 100, agnostic: bool = True) -> list[Detections]:
    """Every image's detections from the raw outputs of all scales.

    Each prediction is scored ``σ(to) · max_c σ(t_c)`` with its best colour; those scoring at
    least ``score_threshold`` go through `nms`. Class-agnostic by default: one plate has one
    colour, and two boxes of different colours on the same plate are duplicates.

    Parameters
    ----------
    raws : S arrays of (N, A (5 + C), H, W)
    anchors : S arrays of (A, 2)
    strides : S ints
    score_threshold, iou_threshold : float
    top_k : int or None
        At most this many detections per image.
    agnostic : bool
        Suppress across colours (True) or within each colour (False).

    Returns
    -------
    list of Detections, one per image
    """
    boxes, scores, classes = [], [], []
    for raw, scale_anchors, stride in zip(raws, anchors, strides):
        decoded, objectness, probs = decode_head(raw, scale_anchors, stride)
        N = decoded.shape[0]
        boxes.append(decoded.reshape(N, -1, 4))  # (N, A H W, 4)
        best = probs.argmax(axis=-1)  # (N, A, H, W)
        scores.append((objectness * np.take_along_axis(probs, best[..., None], -1)[..., 0])
                      .reshape(N, -1))
        classes.append(best.reshape(N, -1))
    boxes, scores = np.concatenate(boxes, axis=1), np.concatenate(scores, axis=1)
    classes = np.concatenate(classes, axis=1)
    found = []
    for n in range(boxes.shape[0]):
        keep = nms(boxes[n], scores[n], iou_threshold, score_threshold,
                   None if agnostic else classes[n], top_k)
        found.append(Detections(boxes[n][keep], scores[n][keep], classes[n][keep]))
    return found
