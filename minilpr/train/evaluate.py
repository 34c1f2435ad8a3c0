"""Measuring a recogniser: read a set of plate images, compare with their labels, report.

``evaluate_recognizer(model, images, texts)`` runs the model in evaluation mode, turns its
logits into log-probabilities, decodes them (greedy, prefix beam, or beam constrained to valid
plate numbers) and returns a ``RecognizerReport``: the metrics of ``minilpr.train.metrics``,
every read with its confidence, and the speed. The trainer calls it on its validation sets;
``minilpr eval recognizer`` calls it on a crop folder read by ``load_crop_folder``;
``failure_gallery`` (in `minilpr.train.gallery`) draws the plates it got wrong.

A plate's **confidence** is that of its least sure character: per character the highest
probability it has on the frames of its (best) alignment, then the minimum over the plate
(0 for an empty read). It ranks reads; it is not a calibrated probability of being right.
"""

from __future__ import annotations

import json
import time
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from minilpr.data import charset
from minilpr.data.datasets import IMAGE_EXTENSIONS, BadFileWarning, imread
from minilpr.data.preprocess import recognizer_input
from minilpr.nn import log_softmax
from minilpr.nn.decode import constrained_beam_search, greedy_decode, prefix_beam_search
from minilpr.train import metrics
from minilpr.train.gallery import failure_gallery  # noqa: F401  (re-exported: its old home)

DECODERS = ("greedy", "beam", "grammar")
BEAM_WIDTH = {"beam": 8, "grammar": 16}


@dataclass
class RecognizerReport:
    """What a recogniser read on one data set, and how well.

    Attributes
    ----------
    n : int
        Plates evaluated.
    decoder : str
        One of ``DECODERS``.
    plate_accuracy, char_accuracy, accuracy_without_province : float
        Fractions in [0, 1], as ``minilpr.train.metrics`` defines them.
    per_position : list of metrics.Tally
        One per character position.
    per_province : dict of str to metrics.ProvinceTally
        Most frequent province first.
    confusions : list of (str, str, int)
        ``(truth_char, read_char, count)``, most frequent first; "" on one side is a dropped or
        an extra character.
    unknown_labels : list of (int, str)
        Labels with characters outside the charset (counted as wrong), with their index.
    length_mismatches : int
        Reads of another length than their label (wrong at every position).
    total_edits : int
        The sum of the edit distances over the plates with known labels (all the confusions,
        of which ``confusions`` keeps the most frequent).
    texts, reads : list of N str
        Labels and reads, in input order.
    confidences : (N,) float64
        Per plate, the least sure character's confidence (module docstring).
    seconds : float
        Wall time of the forward passes and the decoding.
    images_per_s : float
    names : list of N str, optional
        File names, when the images came from files.
    skipped : list of (str, str)
        Files that could not be evaluated and why (filled by the caller that read them).
    """

    n: int
    decoder: str
    plate_accuracy: float
    char_accuracy: float
    accuracy_without_province: float
    per_position: list
    per_province: dict
    confusions: list
    unknown_labels: list
    length_mismatches: int
    total_edits: int
    texts: list
    reads: list
    confidences: np.ndarray
    seconds: float
    images_per_s: float
    names: list | None = None
    skipped: list = field(default_factory=list)

    @classmethod
    def from_reads(cls, texts: Sequence[str], reads: Sequence[str], confidences=None,
                   seconds: float = 0.0, decoder: str = "greedy", names=None,
                   top_confusions: int = 20) -> "RecognizerReport":
        """The report of ``reads`` against ``texts`` (N each); ``confidences`` default to 1."""
        texts, reads = list(texts), list(reads)
        metrics._check(texts, reads)
        n = len(texts)
        confidences = np.ones(n) if confidences is None else np.asarray(confidences, np.float64)
        return cls(n=n, decoder=decoder,
                   plate_accuracy=metrics.plate_accuracy(texts, reads),
                   char_accuracy=metrics.char_accuracy(texts, reads),
                   accuracy_without_province=metrics.accuracy_without_province(texts, reads),
                   per_position=metrics.per_position_accuracy(texts, reads),
                   per_province=metrics.per_province_accuracy(texts, reads),
                   confusions=metrics.confusions(texts, reads, top_confusions),
                   unknown_labels=metrics.unknown_labels(texts),
                   length_mismatches=metrics.length_mismatches(texts, reads),
                   total_edits=sum(metrics.edit_distance(t, r) for t, r in zip(texts, reads)
                                   if metrics.is_known(t)),
                   texts=texts, reads=reads, confidences=confidences, seconds=float(seconds),
                   images_per_s=n / seconds if seconds > 0 else 0.0,
                   names=None if names is None else [str(x) for x in names])

    @property
    def failures(self) -> list[int]:
        """Indices of the plates read wrong, least confident first."""
        wrong = np.flatnonzero(~metrics.plate_correct(self.texts, self.reads))
        return wrong[np.argsort(self.confidences[wrong], kind="stable")].tolist()

    def to_dict(self, reads: bool = False) -> dict:
        """A JSON-ready summary; with ``reads``, every plate's label, read and confidence."""
        out = {
            "n": self.n, "decoder": self.decoder,
            "plate_accuracy": self.plate_accuracy, "char_accuracy": self.char_accuracy,
            "accuracy_without_province": self.accuracy_without_province,
            "length_mismatches": self.length_mismatches, "total_edits": self.total_edits,
            "per_position": [{"position": i, **t.to_dict()}
                             for i, t in enumerate(self.per_position)],
            "per_province": {p: t.to_dict() for p, t in self.per_province.items()},
            "confusions": [{"truth": a, "read": b, "count": c} for a, b, c in self.confusions],
            "unknown_labels": [self._record(i) for i, _ in self.unknown_labels],
            "images_per_s": self.images_per_s, "seconds": self.seconds,
            "skipped": [{"file": str(f), "problem": p} for f, p in self.skipped],
        }
        if reads:
            out["reads"] = [self._record(i) for i in range(self.n)]
        return out

    def _record(self, i: int) -> dict:
        record = {"truth": self.texts[i], "read": self.reads[i],
                  "confidence": round(float(self.confidences[i]), 4)}
        if self.names is not None:
            record["file"] = self.names[i]
        return record

    def to_json(self, reads: bool = False) -> str:
        """``to_dict(reads)`` as one line of JSON (characters as themselves, not escaped)."""
        return json.dumps(self.to_dict(reads), ensure_ascii=False)

    def format(self, top: int = 10) -> str:
        """A readable report: the accuracies, per position, per province, the ``top``
        confusions, the speed, the unknown labels and the skipped files."""
        lines = [f"plates           {self.n}   (decoder: {self.decoder})",
                 f"plate accuracy   {self.plate_accuracy:7.2%}",
                 f"char accuracy    {self.char_accuracy:7.2%}   (1 - edit distance / length, "
                 "mean over plates)",
                 f"w/o province     {self.accuracy_without_province:7.2%}   (all but the first "
                 "character right)",
                 f"speed            {self.images_per_s:7.1f} images/s "
                 f"({self.seconds:.2f} s, forward + decoding)", ""]
        lines.append(f"per position (a read of another length is wrong everywhere: "
                     f"{self.length_mismatches} of {self.n})")
        lines.append("  " + "".join(f"{i + 1:>8}" for i in range(len(self.per_position))))
        lines.append("  " + "".join(f"{t.accuracy:8.1%}" for t in self.per_position))
        lines += ["", "per province   plates  plate acc  province acc"]
        lines += [f"  {pad_columns(p, 10)}{t.n:8}  {t.plates / t.n:9.1%}  {t.province / t.n:12.1%}"
                  for p, t in self.per_province.items()]
        lines += ["", f"top confusions (of {self.total_edits} edits in all)"]
        lines += [f"  {pad_columns(_edit(a, b), 18)}x{c}" for a, b, c in self.confusions[:top]] \
            or ["  none"]
        lines += ["", f"labels outside the charset, counted wrong: "
                      f"{len(self.unknown_labels) or 'none'}"]
        lines += [f"  {self._where(i)}{t!r}" for i, t in self.unknown_labels]
        if self.skipped:
            lines += ["", f"files skipped ({len(self.skipped)}):"]
            lines += [f"  {f}: {p}" for f, p in self.skipped]
        return "\n".join(lines)

    def _where(self, i: int) -> str:
        return f"{self.names[i]}: " if self.names is not None else f"#{i}: "

    def __str__(self) -> str:
        return self.format()


def pad_columns(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (Chinese characters take two)."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - columns)


def _edit(a: str, b: str) -> str:
    if not b:
        return f"{a} dropped"
    if not a:
        return f"extra {b}"
    return f"{a} read as {b}"


def best_hypotheses(log_probs: np.ndarray, decoder: str = "greedy",
                    beam_width: int | None = None) -> list:
    """The best read of each sample: a `minilpr.nn.decode.Hypothesis`, or None.

    Parameters
    ----------
    log_probs : (T, N, K) float
        ``log_softmax`` of the recogniser's logits.
    decoder : {"greedy", "beam", "grammar"}
    beam_width : int, optional
        For the beam decoders; ``BEAM_WIDTH`` by default.

    Returns
    -------
    list of N Hypothesis or None
        None where the grammar decoder kept no valid plate (that reads as nothing).
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    width = BEAM_WIDTH.get(decoder, 1) if beam_width is None else int(beam_width)
    if decoder == "greedy":
        return list(greedy_decode(log_probs))
    if decoder == "beam":
        return [h[0] if h else None
                for h in prefix_beam_search(log_probs, beam_width=width, top_k=1)]
    from minilpr.models.plate_ctc import plate_automaton

    # an empty list: no valid plate survived the beam; that counts as reading nothing
    return [h[0] if h else None for h in constrained_beam_search(
        log_probs, plate_automaton(), beam_width=width, top_k=1)]


def _decode(log_probs: np.ndarray, decoder: str, beam_width: int) -> list[tuple[str, float]]:
    """(T, N, K) log-probabilities -> N ``(text, confidence)``."""
    out = []
    for h in best_hypotheses(log_probs, decoder, beam_width):
        if h is None or not h.labels:
            out.append(("", 0.0))
        else:
            out.append((charset.decode(list(h.labels)), float(np.min(h.confidences))))
    return out


def evaluate_recognizer(model, images: np.ndarray, texts: Sequence[str], decoder: str = "greedy",
                        batch: int = 64, beam_width: int | None = None, names=None,
                        top_confusions: int = 20) -> RecognizerReport:
    """Read ``images`` with ``model`` and score the reads against ``texts``.

    The model is put in evaluation mode (``model.eval()``) for the passes and given back in
    training mode if it was in it, so the trainer can call this between steps.

    Parameters
    ----------
    model : object with ``forward(x) -> logits`` and ``eval()``
        ``x : (n, C, H, W) float32 -> logits : (T, n, K) float``, K = ``charset.NUM_CLASSES``;
        ``minilpr.models.recognizer.Recognizer`` is one.
    images : (N, C, H, W) float32 in [0, 1]
        As ``minilpr.data.preprocess.recognizer_input`` or ``PlateGenerator.batch`` make them.
    texts : sequence of N str
        The labels.
    decoder : {"greedy", "beam", "grammar"}
        Best path; prefix beam search; beam search that only reads valid plate numbers
        (``minilpr.models.plate_ctc.plate_automaton``).
    batch : int
        Images per forward pass.
    beam_width : int, optional
        For the beam decoders; ``BEAM_WIDTH`` by default.
    names : sequence of N str, optional
        File names, kept in the report.
    top_confusions : int
        How many confusions the report keeps.

    Returns
    -------
    RecognizerReport
    """
    images = np.asarray(images)
    texts = list(texts)
    if images.ndim != 4 or images.dtype != np.float32:
        raise ValueError(f"evaluate_recognizer: images must be (N, C, H, W) float32, got "
                         f"{images.shape} {images.dtype}")
    if len(texts) != len(images):
        raise ValueError(f"evaluate_recognizer: {len(images)} images but {len(texts)} texts")
    if len(images) == 0:
        raise ValueError("evaluate_recognizer: no images to evaluate")
    if decoder not in DECODERS:
        raise ValueError(f"evaluate_recognizer: decoder must be one of {DECODERS}, "
                         f"got {decoder!r}")
    if batch < 1:
        raise ValueError(f"evaluate_recognizer: batch must be at least 1, got {batch}")
    width = BEAM_WIDTH.get(decoder, 1) if beam_width is None else int(beam_width)
    was_training = bool(getattr(model, "training", False))
    model.eval()
    results: list[tuple[str, float]] = []
    start = time.perf_counter()
    try:
        for i in range(0, len(images), batch):
            chunk = images[i:i + batch]
            logits = np.asarray(model.forward(chunk))
            if logits.ndim != 3 or logits.shape[1] != len(chunk) \
                    or logits.shape[2] != charset.NUM_CLASSES:
                raise ValueError(f"evaluate_recognizer: the model gave logits of shape "
                                 f"{logits.shape}, expected (T, {len(chunk)}, "
                                 f"{charset.NUM_CLASSES})")
            results += _decode(log_softmax(logits, axis=-1), decoder, width)
    finally:
        if was_training:
            model.train()
    seconds = time.perf_counter() - start
    return RecognizerReport.from_reads(texts, [r for r, _ in results], [c for _, c in results],
                                       seconds, decoder, names, top_confusions)


def crop_text(path) -> str:
    """The label in a crop's file name: everything before the first ``_``, or the whole stem.

    ``皖A12345.jpg`` and ``皖A12345_2.png`` are both ``"皖A12345"``.
    """
    return Path(path).stem.split("_", 1)[0]


def crop_files(path) -> list[Path]:
    """The image files of a crop folder, sorted by name.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a folder.
    ValueError
        When it holds no file with one of the ``IMAGE_EXTENSIONS``.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder" if not root.exists()
                                else f"{root}: not a folder")
    files = sorted(p for p in root.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return files


@dataclass
class CropSet:
    """A crop folder read for evaluation.

    Attributes
    ----------
    images : (N, C, H, W) float32 in [0, 1]
    texts : list of N str
        Labels from the file names (possibly with characters outside the charset).
    paths : list of N Path
    skipped : list of (Path, str)
        Image files left out, and why.
    """

    images: np.ndarray
    texts: list
    paths: list
    skipped: list


def load_crop_folder(path, size: tuple[int, int] = (32, 220), channels: int = 1) -> CropSet:
    """Every image of a crop folder, as the recogniser's input, with the labels of the names.

    Files are read with ``minilpr.data.datasets.imread`` (Unicode names, truncation checks) and
    made into inputs by ``recognizer_input``. A file that cannot be read, or whose name gives
    an empty label, is skipped with one ``BadFileWarning`` and listed in ``skipped``. Labels
    with characters outside the charset are kept: they are counted wrong and reported.

    Parameters
    ----------
    path : str or Path
        A folder; files whose extension is not one of ``IMAGE_EXTENSIONS`` are ignored.
    size : (H, W)
    channels : {1, 3}

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a folder.
    ValueError
        When it holds no image files.
    """
    images, texts, paths, skipped = [], [], [], []
    for file in crop_files(path):
        text = crop_text(file)
        try:
            if not text:
                raise ValueError("the file name gives an empty label")
            images.append(recognizer_input(imread(file), size, channels, order="rgb"))
        except (OSError, ValueError, cv2.error) as error:
            problem = str(error).removeprefix(f"{file}: ")
            skipped.append((file, problem))
            warnings.warn(f"skipped {file}: {problem}", BadFileWarning, stacklevel=2)
            continue
        texts.append(text)
        paths.append(file)
    stacked = np.stack(images) if images else np.zeros((0, channels, *size), np.float32)
    return CropSet(stacked, texts, paths, skipped)
