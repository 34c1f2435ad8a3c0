"""Readers and writers: CCPD names, crop folders, YOLO labels, and how bad files are reported."""

import warnings

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilpr.data import charset, datasets
from minilpr.data.datasets import (CCPD_ADS, CCPD_ALPHABETS, CCPD_PROVINCES, BadFileWarning,
                                   CCPDFolder, CropFolder, YoloFolder, YoloLabels)

from tests.paths import REAL_DATA

REAL = REAL_DATA

# the file name of a real CCPD photo; the plate in the picture reads 皖A0N718
CCPD_BLUE = ("0130387931034-92_78-208&514_430&581-440&588_205&575_185&501_420&514"
             "-0_0_24_12_31_25_32-134-19.jpg")
# a real green new-energy plate: 皖AD11166
CCPD_GREEN = ("004504310344827586-86_270-291&474_390&516-390&513_293&516_291&483_387&474"
              "-0_0_3_25_25_25_30_30-228-16.jpg")


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def _jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


# ---------------------------------------------------------------------------------------------
# CCPD

def test_ccpd_tables_have_ccpd_sizes_and_order():
    assert len(CCPD_PROVINCES) == 34 and CCPD_PROVINCES[:3] == ["皖", "沪", "津"]
    assert CCPD_PROVINCES[12] == "京" and CCPD_PROVINCES[-3:] == ["警", "学", "O"]
    assert len(CCPD_ALPHABETS) == 25 and CCPD_ALPHABETS[-1] == "O" and "I" not in CCPD_ALPHABETS
    assert len(CCPD_ADS) == 35
    assert CCPD_ADS[12] == "N" and CCPD_ADS[23] == "Z" and CCPD_ADS[24] == "0"
    assert CCPD_ADS[33] == "9" and CCPD_ADS[34] == "O"


def test_parse_ccpd_blue_plate():
    label = datasets.parse_ccpd_name(CCPD_BLUE)
    assert label.text == "皖A0N718"
    np.testing.assert_array_equal(label.box, [208, 514, 430, 581])
    # CCPD order: right-bottom, left-bottom, left-top, right-top
    np.testing.assert_array_equal(label.corners, [[440, 588], [205, 575], [185, 501], [420, 514]])
    np.testing.assert_array_equal(label.corners_clockwise,
                                  [[185, 501], [420, 514], [440, 588], [205, 575]])
    assert label.tilt == (92, 78) and label.brightness == 134 and label.blur == 19
    assert label.area == pytest.approx(130387931034.0)


def test_parse_ccpd_green_plate_has_eight_characters():
    label = datasets.parse_ccpd_name(CCPD_GREEN)
    assert label.text == "皖AD11166"
    np.testing.assert_array_equal(label.box, [291, 474, 390, 516])


@pytest.mark.parametrize("indices, text", [
    ("12_23_33_32_31_30_29", "京Z98765"),
    ("30_15_0_1_24_25_26", "新RAB012"),
    ("19_8_8_21_34_26_33", "粤JJXO29"),      # "O" in the ads table is CCPD's "unreadable"
    ("2_0_3_24_24_24_24_24", "津AD00000"),
])
def test_parse_ccpd_hand_written(indices, text):
    name = f"025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-{indices}-89-15.jpg"
    label = datasets.parse_ccpd_name(name)
    assert label.text == text
    np.testing.assert_array_equal(label.box, [154, 383, 386, 473])
    assert datasets.parse_ccpd_name(datasets.ccpd_name(label)).text == text


@pytest.mark.parametrize("name, problem", [
    ("025-95_113-154&383_386&473-0_0_1_2_3_4_5-89-15.jpg", "7 '-'-separated fields"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-34_0_1_2_3_4_5-89-15.jpg",
     "outside CCPD's table of 34"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_35_2_3_4_5-89-15.jpg",
     "outside CCPD's table of 35"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383-0_0_1_2_3_4_5-89-15.jpg",
     "has 3 points"),
    ("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_1_2_3-89-15.jpg",
     "5 indices"),
    ("025-95_x-154&383_386&473-386&473_177&454_154&383_363&402-0_0_1_2_3_4_5-89-15.jpg",
     "non-numeric"),
])
def test_parse_ccpd_rejects_malformed_names(name, problem):
    with pytest.raises(ValueError, match=problem):
        datasets.parse_ccpd_name(name)


def test_corner_orders_are_inverse():
    corners = np.arange(8).reshape(4, 2)
    np.testing.assert_array_equal(
        datasets.clockwise_to_ccpd(datasets.ccpd_to_clockwise(corners)), corners)


@pytest.mark.skipif(not (REAL / "ccpd-scenes").is_dir(), reason="no real CCPD photos here")
def test_real_ccpd_names():
    with warnings.catch_warnings():
        warnings.simplefilter("error", BadFileWarning)
        folder = CCPDFolder(REAL / "ccpd-scenes")
    texts = [label.text for label in folder.labels]
    assert len(texts) == 25 and not folder.skipped
    assert "皖A0N718" in texts and "皖AD11166" in texts
    assert sum(len(t) == 8 for t in texts) == 5
    scene = folder[0]
    assert scene.image.shape == (1160, 720, 3)
    for label in folder.labels:  # the box and the corners describe the same plate
        centre = label.corners.mean(axis=0)
        assert label.box[0] < centre[0] < label.box[2] and label.box[1] < centre[1] < label.box[3]


def test_ccpd_folder_skips_unusable_names(tmp_path):
    image = np.full((40, 60, 3), 128, np.uint8)
    (tmp_path / CCPD_BLUE).write_bytes(_jpeg(image))
    placeholder = CCPD_BLUE.replace("0_0_24_12_31_25_32", "33_0_24_12_31_25_32")  # "O" province
    (tmp_path / placeholder).write_bytes(_jpeg(image))
    (tmp_path / "holiday.jpg").write_bytes(_jpeg(image))
    with pytest.warns(BadFileWarning) as record:
        folder = CCPDFolder(tmp_path)
    assert len(folder) == 1 and len(folder.skipped) == 2
    messages = " ".join(str(w.message) for w in record)
    assert "holiday.jpg" in messages and placeholder in messages
    scene = folder[0]
    assert scene.texts == ["皖A0N718"] and scene.corners.shape == (1, 4, 2)


# ---------------------------------------------------------------------------------------------
# Crop folders and Unicode paths

def test_imwrite_imread_unicode_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 94, 3), dtype=np.uint8)
    path = tmp_path / "京A12345_2.png"
    datasets.imwrite(path, image)
    np.testing.assert_array_equal(datasets.imread(path), image)
    gray = datasets.imread(path, grayscale=True)
    assert gray.shape == (24, 94) and gray.dtype == np.uint8


@pytest.mark.parametrize("name, text", [
    ("京A12345.jpg", "京A12345"), ("京A12345_2.png", "京A12345"), ("粤Z1234港_17.png", "粤Z1234港"),
    ("沪AD12345.PNG", "沪AD12345"),
])
def test_crop_label(name, text):
    assert datasets.crop_label(name) == text


def test_crop_label_rejects_bad_counter():
    with pytest.raises(ValueError, match="not a number"):
        datasets.crop_label("京A12345_x.png")


def test_crop_file_name_counts_duplicates():
    taken = set()
    names = [datasets.crop_file_name(t, taken) for t in ["京A12345", "京A12345", "沪B00001",
                                                          "京A12345"]]
    assert names == ["京A12345.png", "京A12345_2.png", "沪B00001.png", "京A12345_3.png"]
    assert [datasets.crop_label(n) for n in names] == ["京A12345", "京A12345", "沪B00001",
                                                       "京A12345"]


def test_crop_folder_reads_good_files_and_reports_bad_ones(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (24, 94, 3), dtype=np.uint8)
    good = {"京A12345.jpg": _jpeg(image), "京A12345_2.png": _png(image),
            "粤Z1234港.png": _png(image)}
    bad_names = {"hello.jpg": _jpeg(image),          # not a plate
                 "京I12345.png": _png(image),        # I is not a plate letter
                 "京A12345_x.png": _png(image),      # the counter is not a number
                 "京A123.png": _png(image)}          # too short
    bad_files = {"沪B12345.jpg": rng.integers(0, 256, 500, dtype=np.uint8).tobytes(),
                 "苏E12345.jpg": _jpeg(image)[: len(_jpeg(image)) // 2],  # truncated
                 "浙C12345.png": b""}
    for name, data in {**good, **bad_names, **bad_files}.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "notes.txt").write_text("not an image")

    with pytest.warns(BadFileWarning) as record:
        folder = CropFolder(tmp_path)
    assert len(record) == len(bad_names)
    assert all(any(name in str(w.message) for w in record) for name in bad_names)
    assert len(folder) == len(good) + len(bad_files)

    with pytest.warns(BadFileWarning) as record:
        samples = list(folder)  # a whole epoch: no exception
    assert sorted(s.text for s in samples) == ["京A12345", "京A12345", "粤Z1234港"]
    assert all(s.image.shape == (24, 94, 3) for s in samples)
    messages = [str(w.message) for w in record]
    assert all(any(name in m for m in messages) for name in bad_files)
    assert any("truncated JPEG" in m for m in messages) and any("empty" in m for m in messages)
    assert any("沪B12345.jpg: not a JPEG" in m for m in messages)
    assert "skipped 7 of 10 files (4 bad labels, 3 unreadable)" in messages[-1]
    assert folder.summary() == messages[-1]
    assert len(folder.skipped) == 7

    # a file that failed once is answered with None without a second warning
    failed = [i for i, (path, _) in enumerate(folder.items) if path.name == "沪B12345.jpg"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert folder[failed] is None


def test_crop_folder_strict_plate_rules(tmp_path):
    (tmp_path / "京ABCD45.png").write_bytes(_png(np.zeros((4, 4, 3), np.uint8)))  # 4 letters
    with pytest.warns(BadFileWarning, match="at most 2"):
        assert len(CropFolder(tmp_path)) == 0
    (tmp_path / "_3.png").write_bytes(_png(np.zeros((4, 4, 3), np.uint8)))  # no label at all
    with pytest.warns(BadFileWarning, match="empty"):
        assert CropFolder(tmp_path, strict=False).texts == ["京ABCD45"]


def test_crop_folder_missing_folder():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CropFolder("/nonexistent/crops")


@pytest.mark.skipif(not (REAL / "lprnet-crops-dev").is_dir(), reason="no real crops here")
def test_real_crop_folder():
    with warnings.catch_warnings():
        warnings.simplefilter("error", BadFileWarning)
        folder = CropFolder(REAL / "lprnet-crops-dev", grayscale=True)
        sample = folder[0]
        resized = CropFolder(REAL / "lprnet-crops-dev", size=(32, 220))[0]
    assert len(folder) == 200 and sample.image.shape == (24, 94)
    assert resized.image.shape == (32, 220, 3) and resized.text == sample.text


def test_rectify_plate_cuts_out_the_quadrilateral():
    image = np.zeros((100, 160, 3), np.uint8)
    corners = np.array([[30, 20], [130, 30], [125, 70], [35, 60]], np.float64)
    cv2.fillPoly(image, [corners.astype(np.int32)], (255, 255, 255))
    crop = datasets.rectify_plate(image, corners, size=(16, 40))
    assert crop.shape == (16, 40, 3)
    assert crop[2:-2, 2:-2].min() == 255


# ---------------------------------------------------------------------------------------------
# YOLO labels

def test_xyxy_yolo_conversions():
    boxes = np.array([[10, 20, 50, 40], [0, 0, 320, 240]], np.float64)
    yolo = datasets.xyxy_to_yolo(boxes, (240, 320))
    np.testing.assert_allclose(yolo[0], [30 / 320, 30 / 240, 40 / 320, 20 / 240])
    np.testing.assert_allclose(yolo[1], [0.5, 0.5, 1, 1])
    np.testing.assert_allclose(datasets.yolo_to_xyxy(yolo, (240, 320)), boxes)


@pytest.mark.parametrize("with_corners", [False, True])
def test_yolo_label_file_round_trip(tmp_path, with_corners):
    rng = np.random.default_rng(2)
    labels = YoloLabels(classes=rng.integers(0, 3, 5), boxes=rng.uniform(0, 1, (5, 4)),
                        corners=rng.uniform(0, 1, (5, 4, 2)) if with_corners else None)
    path = tmp_path / "a.txt"
    datasets.write_yolo_labels(path, labels)
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and len(lines[0].split()) == (13 if with_corners else 5)
    back = datasets.read_yolo_labels(path)
    np.testing.assert_array_equal(back.classes, labels.classes)
    np.testing.assert_allclose(back.boxes, labels.boxes, atol=1e-6)
    if with_corners:
        np.testing.assert_allclose(back.corners, labels.corners, atol=1e-6)
    else:
        assert back.corners is None


def test_yolo_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    assert len(datasets.read_yolo_labels(tmp_path / "empty.txt")) == 0
    assert len(datasets.read_yolo_labels(tmp_path / "missing.txt")) == 0


@pytest.mark.parametrize("text, problem", [
    ("0 0.5 0.5 0.1\n", "4 fields"),
    ("0 0.5 0.5 0.1 1.7\n", "not normalised"),
    ("1.5 0.5 0.5 0.1 0.1\n", "not a non-negative integer"),
    ("0 0.5 0.5 0.1 zero\n", "not a number"),
    ("0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1 0 0 1 0 1 1 0 1\n", "some lines carry corners"),
])
def test_yolo_rejects_bad_lines(text, problem):
    with pytest.raises(ValueError, match=problem):
        datasets.parse_yolo_labels(text)


def test_yolo_folder_reads_pixels_and_reports_bad_files(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    image = np.zeros((60, 80, 3), np.uint8)
    for stem in ("a", "b", "c", "d"):
        (images / f"{stem}.png").write_bytes(_png(image))
    datasets.write_yolo_labels(labels / "a.txt", YoloLabels(
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


@pytest.mark.skipif(not (REAL / "ccpd-scenes").is_dir(), reason="no real CCPD photos here")
def test_real_ccpd_crops_look_like_plates():
    crops = datasets.CCPDCrops(REAL / "ccpd-scenes", size=(32, 220), grayscale=False)
    crop = next(c for c in crops if c.text == "皖A0N718")
    assert crop.image.shape == (32, 220, 3)
    r, g, b = crop.image.reshape(-1, 3).mean(axis=0)
    assert b > r + 30  # a blue plate fills the crop


@settings(max_examples=50)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["blue", "yellow", "green"]))
def test_ccpd_name_round_trip(seed, kind):
    rng = np.random.default_rng(seed)
    text = charset.random_plate(rng, kind)
    corners = rng.uniform(0, 700, (4, 2)).round()
    label = datasets.CCPDLabel(area=float(rng.integers(1, 99)), tilt=(90, 85),
                               box=rng.uniform(0, 700, 4).round(), corners=corners, text=text,
                               brightness=100, blur=20)
    back = datasets.parse_ccpd_name(datasets.ccpd_name(label))
    assert back.text == text
    np.testing.assert_array_equal(back.corners, corners)
    np.testing.assert_array_equal(back.box, label.box)


@given(st.lists(st.tuples(st.floats(0, 200), st.floats(0, 100), st.floats(1, 100),
                          st.floats(1, 100)), min_size=1, max_size=5))
def test_yolo_conversion_round_trip(raw):
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in raw])
    size = (240, 320)
    np.testing.assert_allclose(datasets.yolo_to_xyxy(datasets.xyxy_to_yolo(boxes, size), size),
                               boxes, atol=1e-9)
