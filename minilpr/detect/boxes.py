"""Box geometry: IoU, the two box formats, the letterbox and YOLO's box encoding.

Coordinates are continuous pixels with the image's top-left corner at (0, 0): pixel (i, j)
covers ``[j, j + 1) × [i, i + 1)``, so a box ``x1, y1, x2, y2`` has width ``x2 - x1``. Formats:

* ``xyxy`` -- x1, y1, x2, y2 (corners); what IoU, NMS and the data readers use.
* ``xywh`` -- cx, cy, w, h (centre and size); what the YOLO head predicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LETTERBOX_FILL = 114


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(..., 4) cx, cy, w, h -> (..., 4) x1, y1, x2, y2."""
    boxes = np.asarray(boxes, dtype=np.float64)
    half = boxes[..., 2:] / 2
    return np.concatenate([boxes[..., :2] - half, boxes[..., :2] + half], axis=-1)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """(..., 4) x1, y1, x2, y2 -> (..., 4) cx, cy, w, h."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([(boxes[..., :2] + boxes[..., 2:]) / 2,
                           boxes[..., 2:] - boxes[..., :2]], axis=-1)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """(..., 4) xyxy -> (...) area; a box with x2 < x1 or y2 < y1 has area 0."""
    extent = np.clip(boxes[..., 2:] - boxes[..., :2], 0, None)
    return extent[..., 0] * extent[..., 1]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of two sets of xyxy boxes.

    ``IoU = |a ∩ b| / (|a| + |b| - |a ∩ b|)``, 0 when the union is empty (two empty boxes).

    Parameters
    ----------
    a : (M, 4) float
    b : (K, 4) float

    Returns
    -------
    (M, K) float64
        ``iou[m, k]`` between ``a[m]`` and ``b[k]``, in [0, 1].
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])  # (M, K, 2)
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])  # (M, K, 2)
    extent = np.clip(bottom_right - top_left, 0, None)
    inter = extent[..., 0] * extent[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass(frozen=True)
class Letterbox:
    """Where an image of ``source`` size sits inside the square network input.

    Input pixel = source pixel × scale + pad, per axis. The two scales are the resized size
    over the source size (``new_w / W``, ``new_h / H``) rather than one shared ratio, so that
    boxes follow the pixels exactly even though the resized size was rounded to whole pixels.

    Attributes
    ----------
    source : (H, W) of the original image
    size : (H_out, W_out) of the network input
    scale : (scale_x, scale_y)
    pad : (pad_x, pad_y) pixels of grey left of and above the resized image
    """

    source: tuple[int, int]
    size: tuple[int, int]
    scale: tuple[float, float]
    pad: tuple[int, int]


def letterbox_geometry(source: tuple[int, int], size: int | tuple[int, int] = 416) -> Letterbox:
    """The letterbox of an (H, W) image into ``size`` (an int for a square input).

    The image is scaled by ``r = min(H_out / H, W_out / W)`` (up or down) to
    ``new_h, new_w = round(H r), round(W r)`` and centred; the grey border is
    ``pad = (W_out - new_w) // 2`` on the left (the odd pixel goes right), likewise on top.
    """
    height, width = int(source[0]), int(source[1])
    if height <= 0 or width <= 0:
        raise ValueError(f"letterbox: the image size must be positive, got {source}")
    out_h, out_w = (size, size) if np.isscalar(size) else (int(size[0]), int(size[1]))
    ratio = min(out_h / height, out_w / width)
    new_h = min(out_h, max(1, int(round(height * ratio))))
    new_w = min(out_w, max(1, int(round(width * ratio))))
    return Letterbox(source=(height, width), size=(out_h, out_w),
                     scale=(new_w / width, new_h / height),
                     pad=((out_w - new_w) // 2, (out_h - new_h) // 2))


def letterbox(image: np.ndarray, size: int | tuple[int, int] = 416,
              fill: int = LETTERBOX_FILL) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad with grey to the network input size.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) uint8
    size : int or (H_out, W_out)
    fill : int
        The border's grey level (114, YOLOv5's, whose mean is near a photograph's).

    Returns
    -------
    out : (H_out, W_out, 3) or (H_out, W_out) uint8
    geometry : Letterbox
        For `boxes_to_letterbox` / `boxes_from_letterbox`.
    """
    geometry = letterbox_geometry(image.shape[:2], size)
    (out_h, out_w), (pad_x, pad_y) = geometry.size, geometry.pad
    new_w = int(round(geometry.scale[0] * geometry.source[1]))
    new_h = int(round(geometry.scale[1] * geometry.source[0]))
    shrinking = new_w < geometry.source[1]
    resized = cv2.resize(image, (new_w, new_h),
                         interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    out = np.full((out_h, out_w) + image.shape[2:], fill, dtype=image.dtype)
    out[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    return out, geometry


def boxes_to_letterbox(boxes: np.ndarray, geometry: Letterbox) -> np.ndarray:
    """(M, 4) xyxy in source pixels -> (M, 4) xyxy in network-input pixels."""
    scale = np.array(geometry.scale * 2, dtype=np.float64)  # (sx, sy, sx, sy)
    pad = np.array(geometry.pad * 2, dtype=np.float64)
    return np.asarray(boxes, dtype=np.float64) * scale + pad


def boxes_from_letterbox(boxes: np.ndarray, geometry: Letterbox) -> np.ndarray:
    """(M, 4) xyxy in network-input pixels -> (M, 4) xyxy in source pixels; the exact inverse
    of `boxes_to_letterbox` (up to float rounding)."""
    scale = np.array(geometry.scale * 2, dtype=np.float64)
    pad = np.array(geometry.pad * 2, dtype=np.float64)
    return (np.asarray(boxes, dtype=np.float64) - pad) / scale


def encode_boxes(boxes: np.ndarray, anchors: np.ndarray, stride: int,
                 grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YOLO's regression targets of xyxy boxes, each against its own anchor.

    The centre ``cx`` falls in cell column ``j = floor(cx / stride)``; the target of
    ``sigmoid(tx)`` is the offset ``cx / stride - j`` in [0, 1]; ``tw = log(w / anchor_w)``
    (likewise y and h). A centre on the grid's far edge stays in the last cell (offset 1).

    Parameters
    ----------
    boxes : (M, 4) xyxy input pixels, positive width and height
    anchors : (M, 2) the (w, h) in pixels of each box's anchor
    stride : int
        Input pixels per cell.
    grid : (H, W) cells

    Returns
    -------
    cells : (M, 2) int64
        Row i and column j of the responsible cell.
    offsets : (M, 2) float64
        Targets of ``sigmoid(tx), sigmoid(ty)``, in [0, 1].
    log_sizes : (M, 2) float64
        Targets of ``tw, th``.
    """
    centre_size = xyxy_to_xywh(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    if np.any(centre_size[:, 2:] <= 0):
        raise ValueError("encode_boxes: every box needs a positive width and height")
    position = centre_size[:, :2] / stride  # (M, 2) x, y in cells
    limit = np.array([grid[1] - 1, grid[0] - 1])
    column_row = np.clip(np.floor(position), 0, limit).astype(np.int64)
    offsets = position - column_row
    log_sizes = np.log(centre_size[:, 2:] / np.asarray(anchors, dtype=np.float64))
    return column_row[:, ::-1].copy(), offsets, log_sizes


def decode_boxes(cells: np.ndarray, offsets: np.ndarray, log_sizes: np.ndarray,
                 anchors: np.ndarray, stride: int) -> np.ndarray:
    """The inverse of `encode_boxes`: (M, 2) cells (i, j), (M, 2) sigmoid offsets, (M, 2)
    log sizes, (M, 2) anchors -> (M, 4) xyxy input pixels.

    ``cx = (j + offset_x) · stride``, ``w = anchor_w · exp(tw)``, likewise y and h.
    """
    cells = np.asarray(cells)
    centre = (cells[:, ::-1] + np.asarray(offsets, dtype=np.float64)) * stride
    size = np.asarray(anchors, dtype=np.float64) * np.exp(log_sizes)
    return xywh_to_xyxy(np.concatenate([centre, size], axis=1))
