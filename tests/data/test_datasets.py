"""``minilpr.data.datasets`` still answers to every name it had before the split."""

import pytest

from minilpr.data import ccpd, crops, datasets, folders, imageio, yolo

HOMES = {
    imageio: ["IMAGE_EXTENSIONS", "imread", "imwrite"],
    folders: ["BadFileWarning", "FileDataset", "PlateCrop", "Scene", "check_label"],
    crops: ["CropFolder", "crop_file_name", "crop_label"],
    ccpd: ["CCPD_ADS", "CCPD_ALPHABETS", "CCPD_PROVINCES", "CCPDCrops", "CCPDFolder",
           "CCPDLabel", "ccpd_name", "ccpd_to_clockwise", "clockwise_to_ccpd",
           "parse_ccpd_name", "rectify_plate"],
    yolo: ["YoloFolder", "YoloLabels", "format_yolo_labels", "parse_yolo_labels",
           "read_yolo_labels", "write_yolo_labels", "xyxy_to_yolo", "yolo_to_xyxy"],
}


@pytest.mark.parametrize("home, name", [(m, n) for m, names in HOMES.items() for n in names])
def test_old_name_is_the_new_object(home, name):
    assert getattr(datasets, name) is getattr(home, name)


def test_every_old_name_has_one_home():
    assert sorted(datasets.__all__) == sorted(n for names in HOMES.values() for n in names)
