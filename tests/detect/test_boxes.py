"""Box geometry: IoU properties, the two formats, the letterbox and YOLO's encoding."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.detect.boxes import (LETTERBOX_FILL, box_iou, boxes_from_letterbox,
                                  boxes_to_letterbox, decode_boxes, encode_boxes, letterbox,
                                  letterbox_geometry, xywh_to_xyxy, xyxy_to_xywh)


def random_boxes(rng, count, extent=100.0):
    corner = rng.uniform(0, extent, size=(count, 2))
    size = rng.uniform(0.01, 0.5, size=(count, 2)) * extent
    return np.concatenate([corner, corner + size], axis=1)


@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 6))
def test_iou_is_symmetric_and_bounded(seed, m, k):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, m), random_boxes(rng, k)
    iou = box_iou(a, b)
    assert iou.shape == (m, k)
    np.testing.assert_allclose(iou, box_iou(b, a).T, rtol=0, atol=1e-15)
    assert np.all((iou >= 0) & (iou <= 1))


@given(st.integers(0, 10_000))
def test_iou_with_itself_is_one_and_with_a_disjoint_box_zero(seed):
    rng = np.random.default_rng(seed)
    a = random_boxes(rng, 5)
    np.testing.assert_allclose(np.diag(box_iou(a, a)), 1.0, rtol=1e-12)
    shifted = a + np.array([200.0, 0, 200.0, 0])
    assert np.all(box_iou(a, shifted) == 0)


def test_iou_by_hand():
    a = np.array([[0.0, 0, 2, 2]])
    b = np.array([[1.0, 1, 3, 3], [0, 0, 2, 1], [2, 0, 4, 2]])
    np.testing.assert_allclose(box_iou(a, b), [[1 / 7, 0.5, 0.0]])


def test_formats_round_trip(rng):
    boxes = random_boxes(rng, 7)
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes, rtol=1e-13)
    np.testing.assert_allclose(xyxy_to_xywh([[1.0, 2, 5, 10]]), [[3.0, 6, 4, 8]])


@given(st.integers(1, 2000), st.integers(1, 2000), st.sampled_from([416, 320, (256, 416)]))
def test_letterbox_boxes_map_back_exactly(height, width, size):
    geometry = letterbox_geometry((height, width), size)
    rng = np.random.default_rng(height * 7 + width)
    boxes = random_boxes(rng, 4, extent=min(height, width))
    inside = boxes_to_letterbox(boxes, geometry)
    np.testing.assert_allclose(boxes_from_letterbox(inside, geometry), boxes, rtol=1e-12,
                               atol=1e-9)
    whole = boxes_to_letterbox(np.array([[0.0, 0, width, height]]), geometry)[0]
    out_h, out_w = geometry.size
    assert whole[0] >= 0 and whole[1] >= 0
    assert whole[2] <= out_w + 1e-9 and whole[3] <= out_h + 1e-9
    # the image touches two opposite borders: one axis is filled
    filled = np.array([whole[2] - whole[0] - out_w, whole[3] - whole[1] - out_h])
    assert np.min(np.abs(filled)) < 1e-9


def test_letterbox_image_pads_grey_and_boxes_follow_the_pixels():
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 50:90] = 255  # a white box x 50..90, y 40..60
    out, geometry = letterbox(image, 416)
    assert out.shape == (416, 416, 3)
    assert geometry.scale == (416 / 200, 208 / 100) and geometry.pad == (0, 104)
    assert np.all(out[:104] == LETTERBOX_FILL) and np.all(out[-104:] == LETTERBOX_FILL)
    x1, y1, x2, y2 = boxes_to_letterbox(np.array([[50.0, 40, 90, 60]]), geometry)[0]
    white = np.argwhere(out[..., 0] > 127)
    assert white[:, 1].min() == pytest.approx(x1, abs=1) and white[:, 1].max() + 1 == \
        pytest.approx(x2, abs=1)
    assert white[:, 0].min() == pytest.approx(y1, abs=1) and white[:, 0].max() + 1 == \
        pytest.approx(y2, abs=1)


@given(st.integers(0, 10_000), st.sampled_from([8, 16, 32]))
def test_encode_decode_round_trip(seed, stride):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 6, extent=300)
    anchors = rng.uniform(5, 120, size=(6, 2))
    grid = (416 // stride, 416 // stride)
    cells, offsets, log_sizes = encode_boxes(boxes, anchors, stride, grid)
    assert np.all((offsets >= 0) & (offsets <= 1))
    np.testing.assert_allclose(decode_boxes(cells, offsets, log_sizes, anchors, stride), boxes,
                               rtol=1e-12, atol=1e-10)


def test_encode_by_hand_and_far_edge():
    cells, offsets, log_sizes = encode_boxes(np.array([[20.0, 4, 40, 24], [400, 400, 416, 416]]),
                                             np.array([[10.0, 40], [16, 16]]), 16, (26, 26))
    np.testing.assert_array_equal(cells, [[0, 1], [25, 25]])
    np.testing.assert_allclose(offsets, [[30 / 16 - 1, 14 / 16], [408 / 16 - 25, 408 / 16 - 25]])
    np.testing.assert_allclose(log_sizes, [[np.log(2), np.log(0.5)], [0, 0]])
    cells, offsets, _ = encode_boxes(np.array([[412.0, 412, 420, 420]]), np.array([[8.0, 8]]),
                                     16, (26, 26))
    assert cells.tolist() == [[25, 25]] and offsets.tolist() == [[1.0, 1.0]]


def test_encode_refuses_empty_boxes():
    with pytest.raises(ValueError, match="positive width"):
        encode_boxes(np.array([[5.0, 5, 5, 9]]), np.ones((1, 2)), 8, (52, 52))
