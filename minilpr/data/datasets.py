"""Reading and writing plate data on disk, under the names it had when it was one file.

Each format now lives in a file named for it (docs/data.md, "File formats", has the details):

* ``imageio`` -- ``imread``, ``imwrite``, ``IMAGE_EXTENSIONS``: images with Unicode paths,
  RGB in memory, truncated files refused;
* ``folders`` -- ``BadFileWarning``, ``check_label``, ``PlateCrop``, ``Scene`` and
  ``FileDataset``: what every folder reader shares, and how bad files are reported;
* ``crops`` -- ``crop_label``, ``crop_file_name``, ``CropFolder``: one crop per file, the label
  in the file name;
* ``ccpd`` -- ``CCPD_PROVINCES``, ``CCPD_ALPHABETS``, ``CCPD_ADS``, ``CCPDLabel``,
  ``parse_ccpd_name``, ``ccpd_name``, ``ccpd_to_clockwise``, ``clockwise_to_ccpd``,
  ``rectify_plate``, ``CCPDFolder``, ``CCPDCrops``: how a CCPD file name encodes its plate;
* ``yolo`` -- ``xyxy_to_yolo``, ``yolo_to_xyxy``, ``YoloLabels``, ``format_yolo_labels``,
  ``parse_yolo_labels``, ``write_yolo_labels``, ``read_yolo_labels``, ``YoloFolder``: label
  files beside the images, boxes normalised to the image.

``from minilpr.data.datasets import ...`` keeps working for every one of these names.
"""

from minilpr.data.ccpd import (CCPD_ADS, CCPD_ALPHABETS, CCPD_PROVINCES, CCPDCrops, CCPDFolder,
                               CCPDLabel, ccpd_name, ccpd_to_clockwise, clockwise_to_ccpd,
                               parse_ccpd_name, rectify_plate)
from minilpr.data.crops import CropFolder, crop_file_name, crop_label
from minilpr.data.folders import BadFileWarning, FileDataset, PlateCrop, Scene, check_label
from minilpr.data.imageio import IMAGE_EXTENSIONS, imread, imwrite
from minilpr.data.yolo import (YoloFolder, YoloLabels, format_yolo_labels, parse_yolo_labels,
                               read_yolo_labels, write_yolo_labels, xyxy_to_yolo, yolo_to_xyxy)

__all__ = [
    "IMAGE_EXTENSIONS", "imread", "imwrite",
    "BadFileWarning", "FileDataset", "PlateCrop", "Scene", "check_label",
    "CropFolder", "crop_file_name", "crop_label",
    "CCPD_ADS", "CCPD_ALPHABETS", "CCPD_PROVINCES", "CCPDCrops", "CCPDFolder", "CCPDLabel",
    "ccpd_name", "ccpd_to_clockwise", "clockwise_to_ccpd", "parse_ccpd_name", "rectify_plate",
    "YoloFolder", "YoloLabels", "format_yolo_labels", "parse_yolo_labels", "read_yolo_labels",
    "write_yolo_labels", "xyxy_to_yolo", "yolo_to_xyxy",
]
