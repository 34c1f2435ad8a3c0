"""Image in, plates out: the locator finds the plates, the recogniser reads them.

One photo goes through six stages (``Trace`` keeps what each one made)::

    photo (H, W, 3) RGB
      letterbox      scaled and grey-padded into the locator's input         (S, S, 3) uint8
      locator        the network's three raw head outputs         3 × (1, A (5 + C), S/s, S/s)
      detect         decoded, scored, thresholded, NMS (minilpr.detect)      K input-pixel boxes
                     -> the letterbox undone: boxes in photo pixels, clipped to the photo
      crop           each box with a margin, cut from the photo itself (not from the letterbox,
                     which has fewer pixels), made into the recogniser's input (K, C, 32, 220)
      recognizer     one forward for all the plates (through its STN if it has one and stn=True)
      ctc decode     log_softmax, then greedy / beam / grammar decoding      text + confidences

``PlateReader.load().read("car.jpg")`` is the whole of it; ``read(image, trace=True)`` returns
the `Trace` with every intermediate, for lessons and debugging. A plate's ``confidence`` is its
least sure character's (`minilpr.train.evaluate`), ``score`` is the locator's
``objectness × P(colour)``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from minilpr.data import charset
from minilpr.data.imageio import imread
from minilpr.data.preprocess import recognizer_batch
from minilpr.detect.boxes import Letterbox, boxes_from_letterbox, letterbox
from minilpr.detect.head import PLATE_COLOURS
from minilpr.detect.postprocess import Detections, detect
from minilpr.models.locator_weights import to_input
from minilpr.models.weights import SHIPPED_LOCATOR, SHIPPED_RECOGNIZER
from minilpr.nn import log_softmax

STAGES = ("letterbox", "locator", "detect", "crop", "recognizer", "ctc_decode")
# Per side, a fraction of the box's width and height. Chosen on synthetic scenes only; real
# photos measure, never choose. With the first recogniser (tight training crops, -2..5 % and
# -12..4 %) 2 % was best (150 scenes cut along their true boxes: 0 and 2 % read 12.8 %, 4 %
# 10.7 %, 6 % 8.3 %). The shipped one also trained on detector-like boxes (data.augment's
# p_detector_box), and over the locator's boxes on 150 scenes of 1160 x 720 margins of 0, 2, 4,
# 6 and 8 % read 29.6, 30.0, 29.6, 30.4 and 27.0 %: flat, so 2 % stays.
CROP_MARGIN = (0.02, 0.02)
MIN_BOX_PX = 2.0


@dataclass(frozen=True)
class Plate:
    """One plate found and read.

    Attributes
    ----------
    text : str
        What the recogniser read ("" when it read nothing).
    confidence : float
        The least sure character's confidence, in [0, 1] (0 for an empty read).
    char_confidences : tuple of float
        One per character of ``text``.
    box : tuple of 4 float
        x1, y1, x2, y2 in the original image's pixels.
    colour : str
        The locator's plate class, one of ``PLATE_COLOURS`` ("" for a box given to ``read``).
    score : float
        The locator's score, ``objectness × P(colour)`` (1 for a box given to ``read``).
    """

    text: str
    confidence: float
    char_confidences: tuple
    box: tuple
    colour: str
    score: float

    @property
    def type(self) -> str:
        """The plate's type, as ``minilpr read --json`` names it: its colour."""
        return self.colour

    def to_dict(self) -> dict:
        """JSON-ready: text, confidence, box, type, score, char_confidences."""
        return {"text": self.text, "confidence": round(self.confidence, 4),
                "box": [round(v, 1) for v in self.box], "type": self.colour,
                "score": round(self.score, 4),
                "char_confidences": [round(c, 4) for c in self.char_confidences]}


@dataclass
class Trace:
    """Everything one ``read`` made, stage by stage (K plates kept, T frames, C classes).

    When ``read`` was given the boxes, the locator's fields (``letterboxed`` to ``detections``)
    are None (``raw_outputs`` empty) and ``seconds`` has no locator stages.

    Attributes
    ----------
    image : (H, W, 3) uint8 RGB
        The photo as read.
    letterboxed : (S, S, 3) uint8 RGB
    geometry : Letterbox
        Where the photo sits in ``letterboxed``.
    locator_input : (1, 3, S, S) float32
    raw_outputs : list of 3 (1, A (5 + C), S / s, S / s) float32
        The head's raw outputs, strides 8, 16, 32.
    detections : Detections
        Every detection, in input pixels, before the boxes were mapped back.
    boxes : (K, 4) float64
        The kept detections' boxes in photo pixels, clipped to the photo.
    crop_boxes : (K, 4) int64
        The pixel ranges cut out (box + margin, clipped): ``image[y1:y2, x1:x2]``.
    crops : list of K (h, w, 3) uint8
    recognizer_inputs : (K, C_in, 32, 220) float32
    stn_outputs : (K, C_in, 32, 220) float32 or None
        What the STN made of the inputs; None without an STN (or with ``stn=False``).
    stn_thetas : (K, 2, 3) float32 or None
    log_probs : (T, K, C) float32
        The CTC output matrix: log_softmax of the recogniser's logits.
    plates : list of K Plate
    seconds : dict of str to float
        Wall time of each of ``STAGES``.
    """

    image: np.ndarray
    letterboxed: np.ndarray
    geometry: Letterbox
    locator_input: np.ndarray
    raw_outputs: list
    detections: Detections
    boxes: np.ndarray
    crop_boxes: np.ndarray
    crops: list
    recognizer_inputs: np.ndarray
    stn_outputs: np.ndarray | None
    stn_thetas: np.ndarray | None
    log_probs: np.ndarray
    plates: list
    seconds: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        height, width = self.image.shape[:2]
        located = "boxes given" if self.detections is None else \
            f"{len(self.detections)} detection(s) in {self.letterboxed.shape[1]}×" \
            f"{self.letterboxed.shape[0]}"
        return (f"Trace({width}×{height} photo, {located}, plates "
                f"{[p.text for p in self.plates]}, {sum(self.seconds.values()) * 1e3:.0f} ms)")


class Laps:
    """A stopwatch for stages: ``lap(name)`` keeps the time since the last lap (or the start)
    in ``seconds[name]``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = now - self._clock
        self._clock = now


def as_rgb(image) -> np.ndarray:
    """Any photo array as (H, W, 3) uint8 RGB.

    Accepts (H, W) or (H, W, 1) gray, (H, W, 3) RGB and (H, W, 4) RGBA (alpha dropped), uint8
    or uint16 (scaled to 8 bits).

    Raises
    ------
    ValueError
        For another shape or dtype, or an empty image.
    """
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)  # 65535 / 255 = 257
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]  # (H, W, 1) -> (H, W)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape "
                         f"{image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"the image is empty, shape {image.shape}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[:, :, :3])


def boxes_in_image(boxes: np.ndarray, geometry: Letterbox,
                   min_size: float = MIN_BOX_PX) -> tuple[np.ndarray, np.ndarray]:
    """Input-pixel boxes back in the photo: the letterbox undone, clipped to the photo.

    Parameters
    ----------
    boxes : (K, 4) float, xyxy in network-input pixels
    geometry : Letterbox
    min_size : float
        Boxes narrower or lower than this (in photo pixels, after clipping) are dropped: a box
        on the grey border, outside the photo, has nothing to read.

    Returns
    -------
    kept : (K', 4) float64, xyxy in photo pixels, inside [0, W] × [0, H]
    keep : (K,) bool
        Which boxes were kept.
    """
    height, width = geometry.source
    mapped = boxes_from_letterbox(np.asarray(boxes, np.float64).reshape(-1, 4), geometry)
    mapped = np.clip(mapped, 0, [width, height, width, height])
    keep = ((mapped[:, 2] - mapped[:, 0] >= min_size)
            & (mapped[:, 3] - mapped[:, 1] >= min_size))
    return mapped[keep], keep


def crop_box(box, shape: tuple[int, ...], margin: tuple[float, float] = CROP_MARGIN) -> np.ndarray:
    """The whole pixels to cut for ``box``: grown by ``margin`` and clipped to the image.

    ``x1 = floor(bx1 - mx w)``, ``x2 = ceil(bx2 + mx w)`` (w the box width), likewise y with
    the height; then clipped to ``[0, W] × [0, H]`` for an image of ``shape`` (H, W, ...).

    Returns
    -------
    (4,) int64
        x1, y1, x2, y2: the crop is ``image[y1:y2, x1:x2]``, at least 1 × 1.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    grow_x, grow_y = margin[0] * (x2 - x1), margin[1] * (y2 - y1)
    height, width = shape[:2]
    left = int(np.clip(np.floor(x1 - grow_x), 0, width - 1))
    top = int(np.clip(np.floor(y1 - grow_y), 0, height - 1))
    right = int(np.clip(np.ceil(x2 + grow_x), left + 1, width))
    bottom = int(np.clip(np.ceil(y2 + grow_y), top + 1, height))
    return np.array([left, top, right, bottom], np.int64)


def recognizer_logits(model, x: np.ndarray, stn: bool = True) -> np.ndarray:
    """``model.forward(x)``, through its STN or (``stn=False``) around it.

    ``x : (N, C, H, W) float32 -> logits : (T, N, K)``.
    """
    transformer = getattr(model, "stn", None)
    if stn or transformer is None:
        return model.forward(x)
    # Hidden for this pass only, past Module.__setattr__: the STN stays registered.
    object.__setattr__(model, "stn", None)
    try:
        return model.forward(x)
    finally:
        object.__setattr__(model, "stn", transformer)


class PlateReader:
    """A locator and a recogniser put together: ``read(photo) -> list of Plate``.

    Parameters
    ----------
    locator : object with ``forward(x) -> 3 raw outputs``
        ``x : (1, 3, S, S) float32`` (`to_input`); a `minilpr.models.locator.Locator`.
    recognizer : object with ``forward(x) -> logits`` and ``config``
        ``x : (K, C, H, W) float32 -> (T, K, charset.NUM_CLASSES)``; a `Recognizer`.
    anchors : three (3, 2) arrays
        The locator's anchors per scale, input pixels.
    strides : three ints
    input_size : (S_h, S_w)
        The locator's input size.
    colours : sequence of str
        What the locator's classes mean (``PLATE_COLOURS``).
    stn : bool
        Run the recogniser's STN, if it has one.
    decoder : {"greedy", "beam", "grammar"}
    beam_width : int, optional
    score_threshold, iou_threshold : float
        For the locator's detections (`minilpr.detect.detect`).
    margin : (float, float)
        The crop's margin per side, fractions of the box width and height.
    """

    def __init__(self, locator, recognizer, anchors, strides, input_size=(416, 416),
                 colours=PLATE_COLOURS, stn: bool = True, decoder: str = "greedy",
                 beam_width: int | None = None, score_threshold: float = 0.25,
                 iou_threshold: float = 0.45, margin: tuple[float, float] = CROP_MARGIN):
        from minilpr.train.evaluate import DECODERS

        if decoder not in DECODERS:
            raise ValueError(f"PlateReader: decoder must be one of {DECODERS}, got {decoder!r}")
        self.locator, self.recognizer = locator, recognizer
        self.anchors = [np.asarray(a, np.float64) for a in anchors]
        self.strides = [int(s) for s in strides]
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.colours = tuple(colours)
        self.stn, self.decoder, self.beam_width = bool(stn), decoder, beam_width
        self.score_threshold, self.iou_threshold = float(score_threshold), float(iou_threshold)
        self.margin = (float(margin[0]), float(margin[1]))
        for model in (locator, recognizer):
            if hasattr(model, "eval"):
                model.eval()
        config = recognizer.config
        self.plate_size = (int(config.height), int(config.width_px))
        self.channels = int(config.in_channels)

    @classmethod
    def load(cls, locator=None, recognizer=None, stn: bool = True, decoder: str = "greedy",
             **options) -> "PlateReader":
        """A reader from weight files; by default the ones shipped in ``minilpr/assets/weights``.

        Parameters
        ----------
        locator, recognizer : str or Path, optional
            Weight files (`minilpr.models.weights`); default `SHIPPED_LOCATOR`,
            `SHIPPED_RECOGNIZER`.
        stn, decoder, **options
            As `PlateReader` takes them.

        Raises
        ------
        FileNotFoundError
            When no locator is given and none is shipped (one line saying how to give one).
        ValueError
            A weight file that cannot be used (`WeightFileError`, one line naming the file).
        """
        from minilpr.models.locator_weights import load_locator
        from minilpr.models.weights import load_recognizer

        if locator is None and not SHIPPED_LOCATOR.is_file():
            raise FileNotFoundError(
                f"no locator weights: {SHIPPED_LOCATOR} is not shipped yet; train one with "
                "`minilpr train locator` and pass it with --locator W "
                "(PlateReader.load(locator=W) in Python)")
        locator_model, manifest = load_locator(SHIPPED_LOCATOR if locator is None else locator)
        recognizer_model, _ = load_recognizer(SHIPPED_RECOGNIZER if recognizer is None
                                              else recognizer)
        return cls(locator_model, recognizer_model, manifest["anchors_per_scale"],
                   manifest["strides"], manifest["input_size"],
                   manifest.get("classes", PLATE_COLOURS), stn=stn, decoder=decoder, **options)

    def read(self, image, trace: bool = False, boxes=None):
        """The plates of one photo.

        Parameters
        ----------
        image : str, Path or array
            A file (read with `minilpr.data.imageio.imread`, which raises ValueError or OSError
            naming it), or an array as `as_rgb` takes it.
        trace : bool
            Return the `Trace` (its ``plates`` are the answer) instead of the list.
        boxes : (K, 4) array-like, optional
            Read the plates in these boxes (xyxy, photo pixels) instead of locating them: the
            locator does not run, each plate's ``score`` is 1 and its ``colour`` "" (unknown);
            the trace's locator fields are None.

        Returns
        -------
        list of Plate, best locator score first; or Trace
        """
        photo = imread(image) if isinstance(image, (str, os.PathLike)) else as_rgb(image)
        laps = Laps()
        if boxes is None:
            boxes, colours, scores, located = self.locate(photo, laps)
        else:
            height, width = photo.shape[:2]
            boxes = np.clip(np.asarray(boxes, np.float64).reshape(-1, 4), 0,
                            [width, height, width, height])
            colours, scores = [""] * len(boxes), np.ones(len(boxes))
            located = {"letterboxed": None, "geometry": None, "locator_input": None,
                       "raw_outputs": [], "detections": None}
        crop_boxes, crops, inputs = self.crop(photo, boxes)
        laps.lap("crop")
        log_probs, stn_out, thetas = self.recognise(inputs, keep_stn=trace)
        laps.lap("recognizer")
        plates = self.decode(log_probs, boxes, colours, scores)
        laps.lap("ctc_decode")
        if not trace:
            return plates
        return Trace(image=photo, **located, boxes=boxes, crop_boxes=crop_boxes, crops=crops,
                     recognizer_inputs=inputs, stn_outputs=stn_out, stn_thetas=thetas,
                     log_probs=log_probs, plates=plates, seconds=laps.seconds)

    def locate(self, photo: np.ndarray, laps: "Laps | None" = None):
        """The plates' boxes in a photo: letterbox, the locator's forward, decode + NMS, and
        the boxes mapped back to the photo.

        Parameters
        ----------
        photo : (H, W, 3) uint8 RGB
        laps : Laps, optional
            Times "letterbox", "locator" and "detect" into it.

        Returns
        -------
        boxes : (K, 4) float64
            xyxy in photo pixels, clipped to it.
        colours : list of K str
        scores : (K,) float64
        located : dict
            The `Trace` fields letterboxed, geometry, locator_input, raw_outputs, detections.
        """
        laps = laps or Laps()
        boxed, geometry = letterbox(photo, self.input_size)
        x = to_input(boxed[None])  # (1, 3, S, S)
        laps.lap("letterbox")
        raws = self.locator.forward(x)
        laps.lap("locator")
        found = self.detect(raws)
        boxes, keep = boxes_in_image(found.boxes, geometry)
        colours = [self.colours[int(c)] for c in found.classes[keep]]
        laps.lap("detect")
        located = {"letterboxed": boxed, "geometry": geometry, "locator_input": x,
                   "raw_outputs": list(raws), "detections": found}
        return boxes, colours, found.scores[keep], located

    def detect(self, raws) -> Detections:
        """The detections of one image from the locator's raw outputs, in input pixels."""
        return detect([np.asarray(r, np.float64) for r in raws], self.anchors, self.strides,
                      self.score_threshold, self.iou_threshold)[0]

    def crop(self, photo: np.ndarray, boxes: np.ndarray):
        """Cut each box (with the margin) out of the photo and make the recogniser's input.

        Returns
        -------
        crop_boxes : (K, 4) int64
        crops : list of K (h, w, 3) uint8
        inputs : (K, C, H, W) float32
        """
        crop_boxes = np.array([crop_box(b, photo.shape, self.margin) for b in boxes],
                              np.int64).reshape(-1, 4)
        crops = [photo[y1:y2, x1:x2] for x1, y1, x2, y2 in crop_boxes]
        inputs = recognizer_batch(crops, self.plate_size, self.channels, order="rgb")
        return crop_boxes, crops, inputs

    def recognise(self, inputs: np.ndarray, keep_stn: bool = False):
        """All the plates in one forward pass.

        Returns
        -------
        log_probs : (T, K, C) float32
        stn_outputs : (K, C_in, H, W) float32 or None
            Kept only with ``keep_stn`` and an STN in use.
        thetas : (K, 2, 3) or None
        """
        if not len(inputs):
            frames = getattr(self.recognizer, "sequence_length", 0)
            return np.zeros((frames, 0, charset.NUM_CLASSES), np.float32), None, None
        log_probs = log_softmax(recognizer_logits(self.recognizer, inputs, self.stn), axis=-1)
        transformer = getattr(self.recognizer, "stn", None)
        if not (keep_stn and self.stn and transformer is not None):
            return log_probs, None, None
        from minilpr.models.stn import warp

        thetas = np.array(transformer.theta)
        straightened = warp(inputs, thetas, transformer.out_size, transformer.align_corners)
        return log_probs, straightened, thetas

    def decode(self, log_probs: np.ndarray, boxes: np.ndarray, colours, scores) -> list[Plate]:
        """The K plates from the CTC output matrix (T, K, C), K boxes, colours and scores."""
        from minilpr.train.evaluate import best_hypotheses

        if log_probs.shape[1] == 0:
            return []
        plates = []
        hypotheses = best_hypotheses(log_probs, self.decoder, self.beam_width)
        for h, box, colour, score in zip(hypotheses, boxes, colours, scores):
            read = h is not None and len(h.labels) > 0
            confidences = tuple(float(c) for c in h.confidences) if read else ()
            plates.append(Plate(text=charset.decode(list(h.labels)) if read else "",
                                confidence=min(confidences) if read else 0.0,
                                char_confidences=confidences,
                                box=tuple(float(v) for v in box), colour=colour,
                                score=float(score)))
        return plates
