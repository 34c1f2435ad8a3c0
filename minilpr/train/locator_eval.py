"""Measuring a locator: photo folders letterboxed into its input, its detections, a gallery.

``load_photo_folder`` reads a YOLO folder (``images/`` + ``labels/``; the class number is
ignored, only boxes count) or a folder of CCPD-named photos, letterboxes every photo into the
square input and moves its boxes with it. ``locate`` runs the model and `minilpr.detect.detect`
in batches; ``evaluate_locator`` scores the detections with `minilpr.detect.metrics` in input
pixels (IoU does not change under the letterbox's uniform scale). ``miss_gallery`` draws the
misses and false alarms on the photos themselves.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minilpr.detect.boxes import Letterbox, boxes_from_letterbox, boxes_to_letterbox, letterbox
from minilpr.detect.head import PLATE_COLOURS
from minilpr.detect.metrics import DetectionReport, evaluate_detections, match_image
from minilpr.detect.postprocess import Detections, detect
from minilpr.models.locator_weights import to_input

# Keep almost every detection for AP; recall and precision are read at `score_threshold`.
AP_SCORE_FLOOR = 0.005


@dataclass
class PhotoSet:
    """Photos letterboxed into the locator's input, with their ground truth.

    Attributes
    ----------
    images : (N, S, S, 3) uint8 RGB
    boxes : N arrays of (M_n, 4) float64, xyxy in input pixels
    classes : N arrays of (M_n,) int64, plate colours (0 where the format has none)
    geometries : N Letterbox, to map input pixels back to each photo
    paths : N Path or None (synthetic images have none)
    skipped : list of (Path, str), files left out and why
    """

    images: np.ndarray
    boxes: list
    classes: list
    geometries: list
    paths: list
    skipped: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def truths(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(zip(self.boxes, self.classes))


def load_photo_folder(folder, size: int = 416) -> PhotoSet:
    """Read a YOLO folder (it has ``images/``) or a CCPD-named photo folder, letterboxed.

    Raises
    ------
    FileNotFoundError
        The folder does not exist.
    ValueError
        It holds no readable image.
    """
    from minilpr.data.datasets import CCPDFolder, YoloFolder

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if (folder / "images").is_dir():
            dataset = YoloFolder(folder / "images")
            yolo = True
        else:
            dataset = CCPDFolder(folder, strict=False)
            yolo = False
        scenes = list(dataset)
    images, boxes, classes, geometries, paths = [], [], [], [], []
    for scene in scenes:
        image, geometry = letterbox(scene.image, size)
        images.append(image)
        boxes.append(boxes_to_letterbox(scene.boxes.reshape(-1, 4), geometry))
        # A YOLO folder's class may be any integer: its boxes are measured, not its colours.
        # A CCPD plate of eight characters is a green new-energy plate, else blue.
        classes.append(np.zeros(len(scene.boxes), np.int64) if yolo
                       else np.array([2 if len(t) == 8 else 0 for t in scene.texts], np.int64))
        geometries.append(geometry)
        paths.append(scene.path)
    if not images:
        kind = "YOLO folder" if yolo else "folder of CCPD-named photos"
        raise ValueError(f"{folder}: no readable image (read as a {kind}; {len(caught)} "
                         "warning(s))")
    return PhotoSet(np.stack(images), boxes, classes, geometries, paths,
                    [(p, problem) for p, problem in dataset.skipped])


def locate(model, images: np.ndarray, anchors, strides, batch: int = 8,
           score_threshold: float = AP_SCORE_FLOOR) -> list[Detections]:
    """The detections of every image, in input pixels.

    Parameters
    ----------
    model : Locator (put in eval mode here)
    images : (N, S, S, 3) uint8 RGB, letterboxed
    anchors : three (3, 2) arrays; strides : three ints
    batch : int
    score_threshold : float

    Returns
    -------
    list of Detections, one per image
    """
    model.eval()
    found = []
    for start in range(0, len(images), batch):
        raws = model.forward(to_input(images[start:start + batch]))
        found += detect([r.astype(np.float64) for r in raws], anchors, strides,
                        score_threshold=score_threshold)
    return found


def evaluate_locator(model, photos: PhotoSet, anchors, strides, batch: int = 8,
                     score_threshold: float = 0.25):
    """Run the locator over ``photos`` and score it.

    Returns
    -------
    report : DetectionReport
    detections : list of Detections, in input pixels
    images_per_s : float
    """
    started = time.perf_counter()
    detections = locate(model, photos.images, anchors, strides, batch,
                        min(AP_SCORE_FLOOR, score_threshold))
    seconds = time.perf_counter() - started
    report = evaluate_detections([(d.boxes, d.scores, d.classes) for d in detections],
                                 photos.truths, score_threshold, PLATE_COLOURS)
    return report, detections, len(photos) / max(seconds, 1e-9)


def miss_gallery(photos: PhotoSet, detections: list[Detections], path, score_threshold: float,
                 max_items: int = 24, columns: int = 4) -> int:
    """Draw, on the photos, every image with a missed plate or a false alarm.

    Ground truth that was found is green, a missed plate red, a detection that matched
    nothing orange (with its score); detections are those scoring at least
    ``score_threshold``. Returns how many images were drawn.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from minilpr.data.datasets import imread

    faulty = []
    for n, found in enumerate(detections):
        keep = found.scores >= score_threshold
        hit, matched = match_image(found.boxes[keep], found.scores[keep], photos.boxes[n])
        if (matched < 0).any() or (~hit).any():
            faulty.append((n, found.boxes[keep][~hit], found.scores[keep][~hit], matched))
    faulty = faulty[:max_items]
    rows = max(1, -(-len(faulty) // columns))
    figure = Figure(figsize=(3 * columns, 3.6 * rows))
    if not faulty:
        figure.text(0.5, 0.5, "no misses and no false alarms", ha="center")
    for i, (n, false_boxes, false_scores, matched) in enumerate(faulty):
        ax = figure.add_subplot(rows, columns, i + 1)
        geometry: Letterbox = photos.geometries[n]
        source = photos.paths[n]
        image = imread(source) if source is not None else photos.images[n]
        to_photo = (lambda b: boxes_from_letterbox(b, geometry)) if source is not None \
            else (lambda b: b)
        ax.imshow(image)
        for box, m in zip(to_photo(photos.boxes[n]), matched):
            colour = "limegreen" if m >= 0 else "red"
            ax.add_patch(Rectangle(box[:2], *(box[2:] - box[:2]), fill=False, lw=2,
                                   edgecolor=colour))
        for box, score in zip(to_photo(false_boxes), false_scores):
            ax.add_patch(Rectangle(box[:2], *(box[2:] - box[:2]), fill=False, lw=1.5,
                                   edgecolor="orange"))
            ax.text(box[0], box[1], f"{score:.2f}", color="orange", fontsize=7, va="bottom")
        name = source.name if source is not None else f"image {n}"
        ax.set_title(f"{name[:28]}\n{int((matched < 0).sum())} missed, {len(false_boxes)} "
                     "false", fontsize=7)
        ax.axis("off")
    figure.suptitle("locator: missed plates (red), false alarms (orange), found (green)",
                    fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(path, dpi=90)
    return len(faulty)


def report_line(name: str, report: DetectionReport) -> str:
    """One line of figures for a data set."""
    return (f"{name}: {report.n_images} images, {report.n_plates} plates, AP@0.5 "
            f"{report.ap50:.3f}, AP@0.5:0.95 {report.ap50_95:.3f}, recall {report.recall:.3f}, "
            f"precision {report.precision:.3f} at score >= {report.score_threshold:g}")
