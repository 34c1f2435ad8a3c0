"""Hypothesis fuzzing of the image and label readers: random bytes, cut-off and corrupted files,
odd headers, random CCPD names and YOLO texts. Each answer is a correct result or one line of
the documented error type naming the file; never a crash, never a silently wrong parse."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from minilpr.data import ccpd, imageio
from minilpr.data.crops import crop_label
from minilpr.data.yolo import SLACK, parse_yolo_labels, read_yolo_labels

from tests.data.files import jpeg, png

FIXTURE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
_rng = np.random.default_rng(0)
IMAGE = _rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
FILES = {".png": png(IMAGE), ".jpg": jpeg(IMAGE),
         ".bmp": cv2.imencode(".bmp", IMAGE)[1].tobytes()}


def read_or_refuse(path):
    """``imread(path)``: an (H, W, 3) uint8 image, or None after checking the refusal is one
    line of ValueError/OSError naming the file."""
    try:
        image = imageio.imread(path)
    except (ValueError, OSError) as error:
        text = str(error)
        assert text.startswith(f"{path}: ") and "\n" not in text, text
        return None
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert 0 < image.shape[0] * image.shape[1] <= imageio.MAX_PIXELS
    return image


@FIXTURE
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".jpg", ".png", ".bmp", ".tif",
                                                              ".txt", ""]))
def test_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    read_or_refuse(path)


@FIXTURE
@given(data=st.data(), suffix=st.sampled_from(sorted(FILES)))
def test_every_cut_off_file_is_refused(tmp_path, data, suffix):
    whole = FILES[suffix]
    keep = data.draw(st.integers(0, len(whole) - 1))
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[:keep])
    with pytest.raises(ValueError) as info:
        imageio.imread(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert "truncated" in text or "empty" in text or "corrupt" in text, text


@FIXTURE
@given(data=st.data(), suffix=st.sampled_from(sorted(FILES)))
def test_odd_headers_and_flipped_bytes(tmp_path, data, suffix):
    whole = bytearray(FILES[suffix])
    spots = data.draw(st.lists(st.integers(0, len(whole) - 1), min_size=1, max_size=6))
    header_only = data.draw(st.booleans())
    for spot in spots:
        where = spot % 64 if header_only else spot
        whole[where] = data.draw(st.integers(0, 255))
    path = tmp_path / f"odd{suffix}"
    path.write_bytes(bytes(whole))
    read_or_refuse(path)


@FIXTURE
@given(height=st.integers(0, 2**31 - 1), width=st.integers(0, 2**31 - 1))
def test_any_size_in_a_png_header_is_checked_before_decoding(tmp_path, height, width):
    import struct

    data = bytearray(FILES[".png"])
    data[16:24] = struct.pack(">II", width, height)
    path = tmp_path / "claims.png"
    path.write_bytes(bytes(data))
    image = read_or_refuse(path)
    if height * width > imageio.MAX_PIXELS or height * width == 0:
        assert image is None


DIGITS = st.text("0123456789", min_size=1, max_size=4)
ODD = st.text("0123456789&_-.eE+nainf ٣", max_size=12)


@st.composite
def ccpd_like_names(draw):
    """Seven fields, each a well-formed one or an odd string, sometimes more or fewer."""
    point = st.builds(lambda x, y: f"{x}&{y}", DIGITS, DIGITS)
    good = [DIGITS, st.builds(lambda a, b: f"{a}_{b}", DIGITS, DIGITS),
            st.builds("_".join, st.lists(point, min_size=2, max_size=2)),
            st.builds("_".join, st.lists(point, min_size=4, max_size=4)),
            st.builds("_".join, st.lists(st.integers(0, 40).map(str), min_size=6, max_size=9)),
            DIGITS, DIGITS]
    fields = [draw(st.one_of(field, ODD) if draw(st.booleans()) else field) for field in good]
    if draw(st.integers(0, 9)) == 0:
        fields = fields[:draw(st.integers(0, 6))] + draw(st.lists(ODD, max_size=2))
    return "-".join(fields) + ".jpg"


@given(name=st.one_of(ccpd_like_names(), st.text(max_size=80)))
def test_ccpd_names_parse_correctly_or_are_refused(name):
    try:
        label = ccpd.parse_ccpd_name(name)
    except ValueError as error:
        assert "\n" not in str(error)
        return
    assert len(label.text) in (7, 8)
    assert label.corners.shape == (4, 2) and label.box.shape == (4,)
    numbers = np.concatenate([label.box, label.corners.ravel(), [label.area]])
    assert np.isfinite(numbers).all() and (numbers >= 0).all()
    assert label.box[0] < label.box[2] and label.box[1] < label.box[3]
    assert ccpd.parse_ccpd_name(ccpd.ccpd_name(label)).text == label.text


TOKEN = st.one_of(st.floats(-0.5, 1.5).map(lambda v: f"{v:.4f}"), st.integers(-2, 5).map(str),
                  st.sampled_from(["nan", "inf", "-inf", "1e9", "0x1", "zero", "1.0", "0.0",
                                   "1e-9", "1_0"]))


@st.composite
def yolo_texts(draw):
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        width = draw(st.sampled_from([5, 13, 13, 5, 4, 6]))
        if draw(st.booleans()):
            cx, cy = draw(st.floats(0, 1)), draw(st.floats(0, 1))
            w, h = draw(st.floats(0, 1)), draw(st.floats(0, 1))
            numbers = [0, cx, cy, w, h] + draw(st.lists(st.floats(0, 1), min_size=8,
                                                        max_size=8))
            tokens = [f"{v:.6f}" if i else str(v) for i, v in enumerate(numbers[:width])]
        else:
            tokens = draw(st.lists(TOKEN, min_size=width, max_size=width))
        lines.append(" ".join(tokens))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n", " \n"]))


@given(text=st.one_of(yolo_texts(), st.text(max_size=60)))
def test_yolo_text_parses_inside_the_image_or_is_refused(text):
    try:
        labels = parse_yolo_labels(text)
    except ValueError as error:
        assert "\n" not in str(error)
        return
    boxes = labels.boxes
    assert boxes.shape == (len(labels), 4) and np.isfinite(boxes).all()
    assert (labels.classes >= 0).all()
    cx, cy, w, h = boxes.T
    assert (w > 0).all() and (h > 0).all()
    for edge in (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, cx, cy):
        assert (edge >= -SLACK).all() and (edge <= 1 + SLACK).all()
    if labels.corners is not None:
        assert labels.corners.shape == (len(labels), 4, 2)
        assert (labels.corners >= -SLACK).all() and (labels.corners <= 1 + SLACK).all()


@FIXTURE
@given(data=st.binary(max_size=200))
def test_yolo_label_files_of_random_bytes(tmp_path, data):
    path = tmp_path / "labels.txt"
    path.write_bytes(data)
    try:
        read_yolo_labels(path)
    except ValueError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error)


@given(name=st.text(max_size=30), suffix=st.sampled_from([".png", ".jpg", ""]))
def test_crop_labels(name, suffix):
    assume("/" not in name and "\x00" not in name)
    try:
        text = crop_label(name + suffix)
    except ValueError as error:
        assert "\n" not in str(error)
        return
    stem = Path(name + suffix).stem
    counter = stem[len(text) + 1:]
    assert text == stem and "_" not in stem or (
        stem == f"{text}_{counter}" and counter.isascii() and counter.isdigit())
