"""The plate locator's maths, apart from any network: anchors, boxes, the YOLO head, NMS.

The network (``minilpr.models.locator``) only outputs numbers; their meaning lives here.
"""

from minilpr.detect.anchors import AnchorFit, kmeans_anchors, mean_iou_curve, wh_iou
from minilpr.detect.boxes import (Letterbox, box_iou, boxes_from_letterbox, boxes_to_letterbox,
                                  decode_boxes, encode_boxes, letterbox, letterbox_geometry,
                                  xywh_to_xyxy, xyxy_to_xywh)
from minilpr.detect.head import (PLATE_COLOURS, Targets, assign_targets, decode_head,
                                 yolo_loss_backward, yolo_loss_forward)
from minilpr.detect.nms import nms
from minilpr.detect.postprocess import Detections, detect
