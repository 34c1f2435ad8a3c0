"""Crop folders: labels from file names, free names for duplicates, bad files reported."""

import warnings

import numpy as np
import pytest

from minilpr.data import crops
from minilpr.data.crops import CropFolder
from minilpr.data.folders import BadFileWarning

from tests.data.files import jpeg, png
from tests.paths import REAL_DATA

REAL = REAL_DATA


@pytest.mark.parametrize("name, text", [
    ("京A12345.jpg", "京A12345"), ("京A12345_2.png", "京A12345"), ("粤Z1234港_17.png", "粤Z1234港"),
    ("沪AD12345.PNG", "沪AD12345"),
])
def test_crop_label(name, text):
    assert crops.crop_label(name) == text


def test_crop_label_rejects_bad_counter():
    with pytest.raises(ValueError, match="not a number"):
        crops.crop_label("京A12345_x.png")


def test_crop_file_name_counts_duplicates():
    taken = set()
    names = [crops.crop_file_name(t, taken) for t in ["京A12345", "京A12345", "沪B00001",
                                                          "京A12345"]]
    assert names == ["京A12345.png", "京A12345_2.png", "沪B00001.png", "京A12345_3.png"]
    assert [crops.crop_label(n) for n in names] == ["京A12345", "京A12345", "沪B00001",
                                                       "京A12345"]


def test_crop_folder_reads_good_files_and_reports_bad_ones(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (24, 94, 3), dtype=np.uint8)
    good = {"京A12345.jpg": jpeg(image), "京A12345_2.png": png(image),
            "粤Z1234港.png": png(image)}
    bad_names = {"hello.jpg": jpeg(image),          # not a plate
                 "京I12345.png": png(image),        # I is not a plate letter
                 "京A12345_x.png": png(image),      # the counter is not a number
                 "京A123.png": png(image)}          # too short
    bad_files = {"沪B12345.jpg": rng.integers(0, 256, 500, dtype=np.uint8).tobytes(),
                 "苏E12345.jpg": jpeg(image)[: len(jpeg(image)) // 2],  # truncated
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
    (tmp_path / "京ABCD45.png").write_bytes(png(np.zeros((4, 4, 3), np.uint8)))  # 4 letters
    with pytest.warns(BadFileWarning, match="at most 2"):
        assert len(CropFolder(tmp_path)) == 0
    (tmp_path / "_3.png").write_bytes(png(np.zeros((4, 4, 3), np.uint8)))  # no label at all
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
