"""``minilpr eval pipeline``: photos with known plates read end to end, and how well.

Two kinds of folder carry the truth:

* **CCPD-named photos**: the file name gives the plate's box and number
  (`minilpr.data.ccpd.parse_ccpd_name`);
* a **YOLO folder**: ``images/NAME.jpg`` with ``labels/NAME.txt`` (``class cx cy w h`` per line,
  normalised; the class is ignored) and, for the plate numbers, an optional
  ``texts/NAME.txt``: one plate number per line, in the order of the label file's lines (an
  empty line: that plate's number is unknown). Without a texts file every number is unknown.

Figures, matching each photo's detections to its plates at IoU ≥ 0.5 (highest score first,
each plate matched at most once; `minilpr.detect.metrics.match_image`):

* **recall**: plates matched by a detection / plates;
* **precision**: detections that matched a plate / detections;
* **plate accuracy**: plates matched by a detection that reads every character right / plates
  whose number is known. A plate that was not found counts as not read.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minilpr.detect.metrics import match_image

PROG = "minilpr eval pipeline"
IOU = 0.5
TEXTS = "texts"


@dataclass
class PipelineReport:
    """What a reader found and read in a folder of photos with ground truth.

    Attributes
    ----------
    n_images, n_plates, n_detections : int
    n_found : int
        Plates matched by a detection at IoU ≥ 0.5.
    n_texts : int
        Plates whose number is known.
    n_read : int
        Of those, matched by a detection that read it exactly.
    misreads : list of (str, str, str)
        ``(file, truth, read)`` for every known plate not read right ("" read: not found).
    skipped : list of (str, str)
        Files left out and why.
    seconds : float
        Wall time of the reads.
    """

    n_images: int = 0
    n_plates: int = 0
    n_detections: int = 0
    n_found: int = 0
    n_true_detections: int = 0
    n_texts: int = 0
    n_read: int = 0
    misreads: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def recall(self) -> float:
        return self.n_found / self.n_plates if self.n_plates else 0.0

    @property
    def precision(self) -> float:
        return self.n_true_detections / self.n_detections if self.n_detections else 0.0

    @property
    def plate_accuracy(self) -> float:
        return self.n_read / self.n_texts if self.n_texts else 0.0

    def add(self, name: str, plates, boxes: np.ndarray, texts) -> None:
        """Score one photo: its ``plates`` read against ``boxes`` (M, 4) and ``texts`` (M,
        str or None)."""
        found = np.array([p.box for p in plates], np.float64).reshape(-1, 4)
        scores = np.array([p.score for p in plates], np.float64)
        hit, matched = match_image(found, scores, boxes, IOU)
        self.n_images += 1
        self.n_plates += len(boxes)
        self.n_detections += len(plates)
        self.n_true_detections += int(hit.sum())
        self.n_found += int((matched >= 0).sum())
        for m, text in enumerate(texts):
            if not text:
                continue
            self.n_texts += 1
            read = plates[matched[m]].text if matched[m] >= 0 else ""
            if read == text:
                self.n_read += 1
            else:
                self.misreads.append((name, text, read))

    def to_dict(self) -> dict:
        return {"n_images": self.n_images, "n_plates": self.n_plates,
                "n_detections": self.n_detections, "n_texts": self.n_texts,
                "recall": self.recall, "precision": self.precision,
                "plate_accuracy": self.plate_accuracy, "seconds": self.seconds,
                "misreads": [{"file": f, "truth": t, "read": r} for f, t, r in self.misreads],
                "skipped": [{"file": f, "problem": p} for f, p in self.skipped]}

    def format(self, top: int = 10) -> str:
        per_image = self.seconds / self.n_images if self.n_images else 0.0
        lines = [f"images           {self.n_images}   ({per_image:.2f} s each)",
                 f"plates           {self.n_plates}   ({self.n_texts} with a known number)",
                 f"recall           {self.recall:7.2%}   (plates found at IoU >= {IOU})",
                 f"precision        {self.precision:7.2%}   ({self.n_detections} detections)",
                 f"plate accuracy   {self.plate_accuracy:7.2%}   (found and every character "
                 "right)"]
        if self.misreads:
            lines += ["", f"not read right ({len(self.misreads)}; first {top}):"]
            lines += [f"  {t} read as {r or '(not found)'}  {Path(f).name}"
                      for f, t, r in self.misreads[:top]]
        if self.skipped:
            lines += ["", f"files skipped ({len(self.skipped)}):"]
            lines += [f"  {f}: {p}" for f, p in self.skipped]
        return "\n".join(lines)


def yolo_texts(labels_file: Path, count: int) -> list:
    """The plate numbers of a YOLO image: ``texts/NAME.txt`` beside ``labels/NAME.txt``.

    Returns ``count`` entries, None where unknown (no file, or an empty line).

    Raises
    ------
    ValueError
        When the file's line count is not the label file's.
    """
    path = labels_file.parent.parent / TEXTS / labels_file.name
    if not path.is_file():
        return [None] * count
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) != count:
        raise ValueError(f"{path}: {len(lines)} plate numbers for {count} boxes in its label "
                         "file")
    return [line.strip() or None for line in lines]


def truth_folder(folder: Path):
    """The data set of ``folder`` and a function giving a scene's plate numbers."""
    from minilpr.data.datasets import CCPDFolder, YoloFolder

    if (folder / "images").is_dir():
        dataset = YoloFolder(folder / "images")

        def texts(scene):
            return yolo_texts(dataset.labels / f"{scene.path.stem}.txt", len(scene.boxes))
    else:
        dataset = CCPDFolder(folder, strict=False)

        def texts(scene):
            return list(scene.texts)
    return dataset, texts


def evaluate_pipeline(reader, folder) -> PipelineReport:
    """Read every photo of ``folder`` with ``reader`` and score it (module docstring).

    Parameters
    ----------
    reader : PlateReader
    folder : str or Path
        A YOLO folder (it holds ``images/``) or a folder of CCPD-named photos.

    Returns
    -------
    PipelineReport
        ``skipped`` lists the unreadable files and bad names or labels.
    """
    folder = Path(folder)
    report = PipelineReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every skipped file is in dataset.skipped
        dataset, texts = truth_folder(folder)
        started = time.perf_counter()
        for scene in dataset:
            try:
                known = texts(scene)
            except ValueError as error:
                report.skipped.append((str(scene.path), str(error)))
                continue
            report.add(str(scene.path), reader.read(scene.image), scene.boxes, known)
        report.seconds = time.perf_counter() - started
    report.skipped += [(str(p), problem) for p, problem in dataset.skipped]
    return report


def add_pipeline_parser(sub) -> None:
    """``minilpr eval pipeline``'s options, on the ``minilpr eval`` subparsers ``sub``."""
    from minilpr.read_command import add_reader_options

    parser = sub.add_parser(
        "pipeline", help="read photos with known plates end to end: recall, precision, "
                         "plate accuracy",
        description="Find and read the plates of a folder of CCPD-named photos, or of a YOLO "
                    "folder (images/, labels/ and optionally texts/NAME.txt with one plate "
                    "number per line in the order of labels/NAME.txt), and compare with the "
                    "truth: recall and precision of the boxes at IoU >= 0.5, and the share "
                    "of plates found and read exactly.")
    parser.add_argument("--data", type=Path, required=True, metavar="DIR",
                        help="a YOLO folder (it holds images/) or a folder of CCPD-named photos")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object as the last line (n_images, n_plates, "
                             "recall, precision, plate_accuracy, misreads, ...)")
    add_reader_options(parser)


def eval_pipeline(args) -> int:
    """Run ``minilpr eval pipeline``; returns 0 done, 1 no readable photo, 2 bad usage."""
    from minilpr.read_command import UsageError, check_reader_options, load_reader

    try:
        check_reader_options(args)
        if not args.data.is_dir():
            raise UsageError(f"--data {args.data}: no such folder")
        reader = load_reader(args)
    except UsageError as error:
        print(f"minilpr eval: error: {error}", file=sys.stderr)
        return 2
    report = evaluate_pipeline(reader, args.data)
    if report.n_images == 0:
        print(f"{PROG}: --data {args.data}: no readable photo with ground truth "
              f"({len(report.skipped)} file(s) skipped)", file=sys.stderr)
        return 1
    print(f"pipeline on {args.data} (decoder {args.decoder})")
    print(report.format())
    if args.json:
        record = {"data": str(args.data), "decoder": args.decoder, **report.to_dict()}
        print(json.dumps(record, ensure_ascii=False))
    return 0
