"""YOLO label files: box conversions, the text format, folders of images and labels."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.data.folders import BadFileWarning
from minilpr.data.yolo import (YoloFolder, YoloLabels, parse_yolo_labels, read_yolo_labels,
                               write_yolo_labels, xyxy_to_yolo, yolo_to_xyxy)

from tests.data.files import png


def test_xyxy_yolo_conversions():
    boxes = np.array([[10, 20, 50, 40], [0, 0, 320, 240]], np.float64)
    yolo = xyxy_to_yolo(boxes, (240, 320))
    np.testing.assert_allclose(yolo[0], [30 / 320, 30 / 240, 40 / 320, 20 / 240])
    np.testing.assert_allclose(yolo[1], [0.5, 0.5, 1, 1])
    np.testing.assert_allclose(yolo_to_xyxy(yolo, (240, 320)), boxes)


@pytest.mark.parametrize("with_corners", [False, True])
def test_yolo_label_file_round_trip(tmp_path, with_corners):
    rng = np.random.default_rng(2)
    corner_pairs = np.sort(rng.uniform(0, 1, (5, 2, 2)), axis=1)  # (5, [low, high], [x, y])
    xyxy = corner_pairs.reshape(5, 4)  # x1, y1, x2, y2 with x1 < x2, y1 < y2
    labels = YoloLabels(classes=rng.integers(0, 3, 5), boxes=xyxy_to_yolo(xyxy, (1, 1)),
                        corners=rng.uniform(0, 1, (5, 4, 2)) if with_corners else None)
    path = tmp_path / "a.txt"
    write_yolo_labels(path, labels)
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and len(lines[0].split()) == (13 if with_corners else 5)
    back = read_yolo_labels(path)
    np.testing.assert_array_equal(back.classes, labels.classes)
    np.testing.assert_allclose(back.boxes, labels.boxes, atol=1e-6)
    if with_corners:
        np.testing.assert_allclose(back.corners, labels.corners, atol=1e-6)
    else:
        assert back.corners is None


def test_yolo_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    assert len(read_yolo_labels(tmp_path / "empty.txt")) == 0
    assert len(read_yolo_labels(tmp_path / "missing.txt")) == 0


@pytest.mark.parametrize("text, problem", [
    ("0 0.5 0.5 0.1\n", "4 fields"),
    ("0 0.5 0.5 0.1 1.7\n", "not normalised"),
    ("1.5 0.5 0.5 0.1 0.1\n", "not a non-negative integer"),
    ("0 0.5 0.5 0.1 zero\n", "not a number"),
    ("0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1 0 0 1 0 1 1 0 1\n", "some lines carry corners"),
])
def test_yolo_rejects_bad_lines(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_yolo_labels(text)


def test_yolo_folder_reads_pixels_and_reports_bad_files(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    image = np.zeros((60, 80, 3), np.uint8)
    for stem in ("a", "b", "c", "d"):
        (images / f"{stem}.png").write_bytes(png(image))
    write_yolo_labels(labels / "a.txt", YoloLabels(
        np.array([0]), np.array([[0.5, 0.5, 0.25, 0.5]]),
        np.array([[[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]])))
    (labels / "b.txt").write_text("0 0.5 0.5\n")           # bad label file
    (images / "c.png").write_bytes(b"\x89PNG broken")      # unreadable image
    # d has no label file: an image without plates
    with pytest.warns(BadFileWarning, match="b.png"):
        folder = YoloFolder(images)
    assert len(folder) == 3
    with pytest.warns(BadFileWarning):
        scenes = list(folder)
    assert [s.path.name for s in scenes] == ["a.png", "d.png"]
    np.testing.assert_allclose(scenes[0].boxes, [[30, 15, 50, 45]])
    np.testing.assert_allclose(scenes[0].corners[0], [[20, 15], [60, 15], [60, 45], [20, 45]])
    assert scenes[1].boxes.shape == (0, 4)
    assert "skipped 2 of 4 files" in folder.summary()



@given(st.lists(st.tuples(st.floats(0, 200), st.floats(0, 100), st.floats(1, 100),
                          st.floats(1, 100)), min_size=1, max_size=5))
def test_yolo_conversion_round_trip(raw):
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in raw])
    size = (240, 320)
    np.testing.assert_allclose(yolo_to_xyxy(xyxy_to_yolo(boxes, size), size),
                               boxes, atol=1e-9)
