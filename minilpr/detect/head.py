"""The YOLOv3 head's meaning: decoding raw outputs, assigning targets, and the loss.

The network ends in one 1×1 convolution per scale whose output holds, for each of the scale's
A anchors and each cell, ``5 + C`` numbers: ``tx, ty, tw, th, to`` and C class scores. It knows
nothing of anchors; everything here knows nothing of the network. The channel layout is
anchor-major: channel ``a (5 + C) + d`` is number ``d`` of anchor ``a``.

Decoding (YOLOv3, section 2.1), cell (i, j) at stride s, anchor (a_w, a_h) in input pixels::

    cx = (j + σ(tx)) s        cy = (i + σ(ty)) s
    w  = a_w exp(tw)          h  = a_h exp(th)
    objectness = σ(to)        class probabilities = σ(t_c), independent (not a softmax)

The loss and its gradient are derived in docs/derivations/yolo.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from minilpr.detect.anchors import wh_iou
from minilpr.detect.boxes import box_iou, encode_boxes, xyxy_to_xywh

PLATE_COLOURS = ("blue", "yellow", "green", "other")
BOX_FIELDS = 5  # tx, ty, tw, th, to


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` written as ``(1 + tanh(x / 2)) / 2``, which never overflows."""
    return 0.5 * (1 + np.tanh(0.5 * x))


def _bce(logits: np.ndarray, targets) -> np.ndarray:
    """Element-wise ``-y log σ(z) - (1 - y) log(1 - σ(z))``, computed without overflow."""
    return np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))


def split_head(raw: np.ndarray, n_anchors: int) -> np.ndarray:
    """(N, A (5 + C), H, W) raw head output -> (N, A, H, W, 5 + C)."""
    if raw.ndim != 4 or raw.shape[1] % n_anchors or raw.shape[1] // n_anchors <= BOX_FIELDS:
        raise ValueError(f"a head output for {n_anchors} anchors has shape (N, A (5 + C), H, W) "
                         f"with C >= 1, got {raw.shape}")
    N, channels, H, W = raw.shape
    split = raw.reshape(N, n_anchors, channels // n_anchors, H, W)  # (N, A, 5 + C, H, W)
    return split.transpose(0, 1, 3, 4, 2)  # (N, A, H, W, 5 + C)


def merge_head(per_anchor: np.ndarray) -> np.ndarray:
    """The inverse of `split_head`: (N, A, H, W, 5 + C) -> (N, A (5 + C), H, W), contiguous."""
    N, A, H, W, D = per_anchor.shape
    return np.ascontiguousarray(per_anchor.transpose(0, 1, 4, 2, 3)).reshape(N, A * D, H, W)


def _decode_split(p: np.ndarray, anchors: np.ndarray, stride: int) -> np.ndarray:
    """(N, A, H, W, 5 + C) split output -> (N, A, H, W, 4) xyxy boxes in input pixels."""
    _, _, H, W, _ = p.shape
    anchors = np.asarray(anchors, dtype=np.float64)
    cx = (np.arange(W)[None, None, None, :] + sigmoid(p[..., 0])) * stride
    cy = (np.arange(H)[None, None, :, None] + sigmoid(p[..., 1])) * stride
    with np.errstate(over="ignore"):
        half_w = anchors[:, 0][None, :, None, None] * np.exp(p[..., 2]) / 2
        half_h = anchors[:, 1][None, :, None, None] * np.exp(p[..., 3]) / 2
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1)


def decode_head(raw: np.ndarray, anchors: np.ndarray, stride: int):
    """Boxes, objectness and class probabilities of one scale's raw output.

    Parameters
    ----------
    raw : (N, A (5 + C), H, W) float
    anchors : (A, 2) float
        The scale's anchors (w, h) in input pixels.
    stride : int
        Input pixels per cell (8, 16, 32 for a 416 input's 52, 26, 13 cells).

    Returns
    -------
    boxes : (N, A, H, W, 4) float64
        x1, y1, x2, y2 in input pixels.
    objectness : (N, A, H, W) float64
    class_probs : (N, A, H, W, C) float64
    """
    p = split_head(np.asarray(raw, dtype=np.float64), len(anchors))
    return _decode_split(p, anchors, stride), sigmoid(p[..., 4]), sigmoid(p[..., BOX_FIELDS:])


@dataclass
class ScaleTargets:
    """What one scale's head should output, for a batch.

    Attributes
    ----------
    responsible : (N, A, H, W) bool
        The anchors (with their cells) that own a ground-truth box.
    offsets : (N, A, H, W, 2) float64
        Targets of ``σ(tx), σ(ty)`` (zero where not responsible).
    log_sizes : (N, A, H, W, 2) float64
        Targets of ``tw, th``.
    weights : (N, A, H, W) float64
        ``2 - w h / (H_in W_in)``: YOLOv3's boost of the box terms for small boxes.
    classes : (N, A, H, W, C) float64
        One-hot plate colour.
    """

    responsible: np.ndarray
    offsets: np.ndarray
    log_sizes: np.ndarray
    weights: np.ndarray
    classes: np.ndarray


@dataclass
class Targets:
    """The targets of every scale, and the ground truth of each image for the ignore rule.

    Attributes
    ----------
    scales : list of ScaleTargets, one per scale, in the head's order
    boxes : list of (M_n, 4) float64, xyxy in input pixels, one per image
    """

    scales: list[ScaleTargets]
    boxes: list[np.ndarray]


def assign_targets(boxes: Sequence[np.ndarray], classes: Sequence[np.ndarray],
                   anchors: Sequence[np.ndarray], strides: Sequence[int],
                   grids: Sequence[tuple[int, int]], input_size: tuple[int, int] = (416, 416),
                   num_classes: int = len(PLATE_COLOURS)) -> Targets:
    """Give each ground-truth box to its best anchor among all the scales' anchors.

    The best anchor is the one of highest size-only IoU (`wh_iou`, as in the k-means that made
    the anchors), ties to the earlier anchor; the box then belongs to that anchor at that
    anchor's scale, in the cell holding its centre (`encode_boxes`). Only that one prediction
    is taught the box. When two boxes of an image fall on the same anchor and cell, the later
    box wins that slot; the earlier one still counts for the ignore rule.

    Parameters
    ----------
    boxes : N arrays of (M_n, 4) float
        Ground truth xyxy in input (letterboxed) pixels, positive width and height.
    classes : N arrays of (M_n,) int
        Plate colours, indices into ``PLATE_COLOURS`` (or any ``[0, num_classes)``).
    anchors : S arrays of (A, 2) float
        Each scale's anchors (w, h) in input pixels, the scale order of the head.
    strides : S ints
    grids : S pairs (H, W)
        Each scale's cell grid.
    input_size : (H_in, W_in)
    num_classes : int

    Returns
    -------
    Targets
    """
    if len(boxes) != len(classes):
        raise ValueError(f"assign_targets: {len(boxes)} box arrays but {len(classes)} class "
                         "arrays")
    N = len(boxes)
    n_anchors = [len(a) for a in anchors]
    every_anchor = np.concatenate([np.asarray(a, dtype=np.float64) for a in anchors])  # (ΣA, 2)
    scale_of = np.repeat(np.arange(len(anchors)), n_anchors)
    local_of = np.concatenate([np.arange(n) for n in n_anchors])
    scales = []
    for A, (H, W) in zip(n_anchors, grids):
        scales.append(ScaleTargets(responsible=np.zeros((N, A, H, W), bool),
                                   offsets=np.zeros((N, A, H, W, 2)),
                                   log_sizes=np.zeros((N, A, H, W, 2)),
                                   weights=np.zeros((N, A, H, W)),
                                   classes=np.zeros((N, A, H, W, num_classes))))
    kept = []
    for n in range(N):
        gt = np.asarray(boxes[n], dtype=np.float64).reshape(-1, 4)
        labels = np.asarray(classes[n]).reshape(-1)
        if len(labels) != len(gt):
            raise ValueError(f"assign_targets: image {n} has {len(gt)} boxes but "
                             f"{len(labels)} classes")
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"assign_targets: image {n} has a class outside "
                             f"[0, {num_classes})")
        kept.append(gt)
        if not len(gt):
            continue
        size = xyxy_to_xywh(gt)[:, 2:]
        best = wh_iou(size, every_anchor).argmax(axis=1)  # (M,) index among all anchors
        for m in range(len(gt)):
            s, a = scale_of[best[m]], local_of[best[m]]
            cells, offsets, log_sizes = encode_boxes(gt[m:m + 1], every_anchor[best[m]][None],
                                                     strides[s], grids[s])
            i, j = cells[0]
            target = scales[s]
            target.responsible[n, a, i, j] = True
            target.offsets[n, a, i, j] = offsets[0]
            target.log_sizes[n, a, i, j] = log_sizes[0]
            target.weights[n, a, i, j] = 2 - size[m, 0] * size[m, 1] / (input_size[0]
                                                                        * input_size[1])
            target.classes[n, a, i, j] = 0
            target.classes[n, a, i, j, labels[m]] = 1
    return Targets(scales=scales, boxes=kept)


def _best_gt_iou(pred: np.ndarray, gt_boxes: list[np.ndarray]) -> np.ndarray:
    """(N, A, H, W, 4) predicted boxes -> (N, A, H, W) IoU with the best ground truth of the
    same image (0 for an image without boxes)."""
    best = np.zeros(pred.shape[:-1])
    for n, gt in enumerate(gt_boxes):
        if len(gt):
            best[n] = box_iou(pred[n].reshape(-1, 4), gt).max(axis=1).reshape(pred.shape[1:-1])
    return best


def _scale_loss(raw: np.ndarray, target: ScaleTargets, gt_boxes: list[np.ndarray],
                anchors: np.ndarray, stride: int, ignore_threshold: float):
    """One scale's loss terms (summed, not yet divided by N) and their gradient w.r.t. ``raw``."""
    p = split_head(raw, len(anchors))  # (N, A, H, W, 5 + C)
    R = target.responsible
    ignored = ~R & (_best_gt_iou(_decode_split(p, anchors, stride), gt_boxes) > ignore_threshold)
    background = ~R & ~ignored
    weight = target.weights[..., None]  # (N, A, H, W, 1)
    positive = R[..., None]
    xy, wh, obj, cls = p[..., 0:2], p[..., 2:4], p[..., 4], p[..., BOX_FIELDS:]
    parts = {
        "xy": float(np.sum(positive * weight * _bce(xy, target.offsets))),
        "wh": float(np.sum(positive * weight * 0.5 * (wh - target.log_sizes) ** 2)),
        "obj": float(np.sum(R * _bce(obj, 1.0))),
        "noobj": float(np.sum(background * _bce(obj, 0.0))),
        "cls": float(np.sum(positive * _bce(cls, target.classes))),
    }
    grad = np.zeros_like(p)
    # d BCE(z, y)/dz = σ(z) - y: the sigmoid's derivative cancels the log's.
    grad[..., 0:2] = positive * weight * (sigmoid(xy) - target.offsets)
    grad[..., 2:4] = positive * weight * (wh - target.log_sizes)
    # The ignored anchors get no objectness gradient; the ignore mask itself is a step
    # function of raw, flat almost everywhere, so it contributes none either.
    grad[..., 4] = R * (sigmoid(obj) - 1) + background * sigmoid(obj)
    grad[..., BOX_FIELDS:] = positive * (sigmoid(cls) - target.classes)
    return parts, merge_head(grad), ignored


def yolo_loss_forward(raws: Sequence[np.ndarray], targets: Targets,
                      anchors: Sequence[np.ndarray], strides: Sequence[int],
                      ignore_threshold: float = 0.5):
    """The YOLOv3 loss of every scale's raw output, summed over scales and averaged over N.

    ``L = (1/N) Σ [ Σ_resp (2 - wh)(BCE(tx, ox) + BCE(ty, oy))
                  + Σ_resp (2 - wh) ½((tw - tw*)² + (th - th*)²)
                  + Σ_resp BCE(to, 1) + Σ_background BCE(to, 0)
                  + Σ_resp Σ_c BCE(t_c, y_c) ]``

    Choices: the centre offsets use BCE on the sigmoid (as the keras/ultralytics YOLOv3 ports
    do) rather than MSE, so their gradient ``σ(tx) - ox`` does not vanish when the sigmoid
    saturates; sizes use half squared error on the log scale, both boosted by
    ``2 - w h / (H_in W_in)``; a prediction that is not responsible but whose decoded box has
    IoU above ``ignore_threshold`` with some ground truth of its image is *ignored* (no
    objectness loss): it is a good box, only not the chosen one. Sums over anchors, cells and
    terms, divided by the batch size N.

    Parameters
    ----------
    raws : S arrays of (N, A (5 + C), H, W) float64
        The head outputs, in the scale order of ``targets``.
    targets : Targets
        From `assign_targets` with the same anchors, strides and grids.
    anchors : S arrays of (A, 2)
    strides : S ints
    ignore_threshold : float

    Returns
    -------
    loss : float
    cache : dict
        ``grads`` (the gradient of the loss w.r.t. each raw, for `yolo_loss_backward`),
        ``parts`` (each term divided by N, for logging) and ``ignored`` (each scale's
        (N, A, H, W) ignore mask).
    """
    if not (len(raws) == len(targets.scales) == len(anchors) == len(strides)):
        raise ValueError(f"yolo_loss: {len(raws)} outputs, {len(targets.scales)} target "
                         f"scales, {len(anchors)} anchor sets and {len(strides)} strides")
    N = raws[0].shape[0]
    parts = dict.fromkeys(("xy", "wh", "obj", "noobj", "cls"), 0.0)
    grads, ignored = [], []
    for raw, target, scale_anchors, stride in zip(raws, targets.scales, anchors, strides):
        scale_parts, grad, scale_ignored = _scale_loss(raw, target, targets.boxes,
                                                       scale_anchors, stride, ignore_threshold)
        for name, value in scale_parts.items():
            parts[name] += value / N
        grads.append((grad / N).astype(raw.dtype, copy=False))
        ignored.append(scale_ignored)
    return sum(parts.values()), {"grads": grads, "parts": parts, "ignored": ignored}


def yolo_loss_backward(dloss: float, cache: dict) -> tuple[np.ndarray, ...]:
    """The gradient w.r.t. each raw output: ``dloss`` times the one found by the forward."""
    return tuple(dloss * grad for grad in cache["grads"])
