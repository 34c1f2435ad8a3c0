"""CCPD: the tables, file names decoded and written back, rectified crops, CCPD folders."""

import warnings

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilpr.data import ccpd, charset
from minilpr.data.ccpd import CCPD_ADS, CCPD_ALPHABETS, CCPD_PROVINCES, CCPDFolder
from minilpr.data.folders import BadFileWarning

from tests.data.files import jpeg
from tests.paths import REAL_DATA

REAL = REAL_DATA

# the file name of a real CCPD photo; the plate in the picture reads 皖A0N718
CCPD_BLUE = ("0130387931034-92_78-208&514_430&581-440&588_205&575_185&501_420&514"
             "-0_0_24_12_31_25_32-134-19.jpg")
# a real green new-energy plate: 皖AD11166
CCPD_GREEN = ("004504310344827586-86_270-291&474_390&516-390&513_293&516_291&483_387&474"
              "-0_0_3_25_25_25_30_30-228-16.jpg")


def test_ccpd_tables_have_ccpd_sizes_and_order():
    assert len(CCPD_PROVINCES) == 34 and CCPD_PROVINCES[:3] == ["皖", "沪", "津"]
    assert CCPD_PROVINCES[12] == "京" and CCPD_PROVINCES[-3:] == ["警", "学", "O"]
    assert len(CCPD_ALPHABETS) == 25 and CCPD_ALPHABETS[-1] == "O" and "I" not in CCPD_ALPHABETS
    assert len(CCPD_ADS) == 35
    assert CCPD_ADS[12] == "N" and CCPD_ADS[23] == "Z" and CCPD_ADS[24] == "0"
    assert CCPD_ADS[33] == "9" and CCPD_ADS[34] == "O"


def test_parse_ccpd_blue_plate():
    label = ccpd.parse_ccpd_name(CCPD_BLUE)
    assert label.text == "皖A0N718"
    np.testing.assert_array_equal(label.box, [208, 514, 430, 581])
    # CCPD order: right-bottom, left-bottom, left-top, right-top
    np.testing.assert_array_equal(label.corners, [[440, 588], [205, 575], [185, 501], [420, 514]])
    np.testing.assert_array_equal(label.corners_clockwise,
                                  [[185, 501], [420, 514], [440, 588], [205, 575]])
    assert label.tilt == (92, 78) and label.brightness == 134 and label.blur == 19
    assert label.area == pytest.approx(130387931034.0)


def test_parse_ccpd_green_plate_has_eight_characters():
    label = ccpd.parse_ccpd_name(CCPD_GREEN)
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
    label = ccpd.parse_ccpd_name(name)
    assert label.text == text
    np.testing.assert_array_equal(label.box, [154, 383, 386, 473])
    assert ccpd.parse_ccpd_name(ccpd.ccpd_name(label)).text == text


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
        ccpd.parse_ccpd_name(name)


def test_corner_orders_are_inverse():
    corners = np.arange(8).reshape(4, 2)
    np.testing.assert_array_equal(
        ccpd.clockwise_to_ccpd(ccpd.ccpd_to_clockwise(corners)), corners)


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
    (tmp_path / CCPD_BLUE).write_bytes(jpeg(image))
    placeholder = CCPD_BLUE.replace("0_0_24_12_31_25_32", "33_0_24_12_31_25_32")  # "O" province
    (tmp_path / placeholder).write_bytes(jpeg(image))
    (tmp_path / "holiday.jpg").write_bytes(jpeg(image))
    with pytest.warns(BadFileWarning) as record:
        folder = CCPDFolder(tmp_path)
    assert len(folder) == 1 and len(folder.skipped) == 2
    messages = " ".join(str(w.message) for w in record)
    assert "holiday.jpg" in messages and placeholder in messages
    scene = folder[0]
    assert scene.texts == ["皖A0N718"] and scene.corners.shape == (1, 4, 2)


def test_rectify_plate_cuts_out_the_quadrilateral():
    image = np.zeros((100, 160, 3), np.uint8)
    corners = np.array([[30, 20], [130, 30], [125, 70], [35, 60]], np.float64)
    cv2.fillPoly(image, [corners.astype(np.int32)], (255, 255, 255))
    crop = ccpd.rectify_plate(image, corners, size=(16, 40))
    assert crop.shape == (16, 40, 3)
    assert crop[2:-2, 2:-2].min() == 255


@pytest.mark.skipif(not (REAL / "ccpd-scenes").is_dir(), reason="no real CCPD photos here")
def test_real_ccpd_crops_look_like_plates():
    crops = ccpd.CCPDCrops(REAL / "ccpd-scenes", size=(32, 220), grayscale=False)
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
    x1, x2 = np.sort(rng.choice(700, 2, replace=False))
    y1, y2 = np.sort(rng.choice(700, 2, replace=False))
    label = ccpd.CCPDLabel(area=float(rng.integers(1, 99)), tilt=(90, 85),
                               box=np.array([x1, y1, x2, y2], np.float64), corners=corners,
                               text=text,
                               brightness=100, blur=20)
    back = ccpd.parse_ccpd_name(ccpd.ccpd_name(label))
    assert back.text == text
    np.testing.assert_array_equal(back.corners, corners)
    np.testing.assert_array_equal(back.box, label.box)
