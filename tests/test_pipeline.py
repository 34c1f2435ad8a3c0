"""The pipeline's plumbing: boxes through the letterbox and back, crops, one batch, the trace.

No trained locator exists yet, so the locator is either `FakeLocator` (raw outputs that decode
to known boxes) or an untrained ``tiny`` one; the recogniser is the shipped one, and only the
structure of what it reads is asserted.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.data import charset
from minilpr.data.preprocess import recognizer_batch
from minilpr.data.scenes import SceneConfig, render_scene
from minilpr.detect.boxes import boxes_to_letterbox, letterbox_geometry
from minilpr.detect.head import PLATE_COLOURS
from minilpr.pipeline import (STAGES, Plate, PlateReader, as_rgb, boxes_in_image, crop_box,
                              recognizer_logits)
from tests.pipeline_fakes import fake_reader, tiny_recognizer, untrained_locator_file


@pytest.fixture(scope="module")
def scene():
    """A 640 × 480 street scene whose plates are known."""
    return render_scene(np.random.default_rng(3), SceneConfig(height=480, width=640,
                                                              letterbox_probability=0.0))


def _input_boxes(scene_boxes, shape, size=416):
    return boxes_to_letterbox(scene_boxes, letterbox_geometry(shape[:2], size))


@given(st.integers(1, 900), st.integers(1, 900), st.sampled_from([64, 416, (320, 416)]))
def test_boxes_come_back_through_the_letterbox_exactly(height, width, size):
    geometry = letterbox_geometry((height, width), size)
    rng = np.random.default_rng(height * 1000 + width)
    corner = rng.uniform(0, 0.6, (5, 2)) * [width, height]
    extent = rng.uniform(0.2, 0.4, (5, 2)) * [width, height] + 2
    truth = np.concatenate([corner, np.minimum(corner + extent, [width, height])], axis=1)
    kept, keep = boxes_in_image(boxes_to_letterbox(truth, geometry), geometry, min_size=0)
    assert keep.all()
    np.testing.assert_allclose(kept, truth, rtol=0, atol=1e-9)


def test_boxes_are_clipped_to_the_photo_and_those_outside_it_dropped():
    geometry = letterbox_geometry((100, 400), 416)  # 416 × 104 picture, 156 grey rows above
    inside = [50, 20, 150, 60]
    across = [-30, 90, 60, 130]  # leaves the photo left and below
    outside = [10, -80, 90, -5]  # on the grey border above it
    kept, keep = boxes_in_image(boxes_to_letterbox(np.array([inside, across, outside]),
                                                   geometry), geometry)
    assert keep.tolist() == [True, True, False]
    np.testing.assert_allclose(kept, [inside, [0, 90, 60, 100]], atol=1e-9)


def test_crop_box_adds_the_margin_and_stays_inside():
    np.testing.assert_array_equal(crop_box([100, 50, 200, 70], (480, 640), (0.1, 0.5)),
                                  [90, 40, 210, 80])
    np.testing.assert_array_equal(crop_box([0.5, 0.2, 10.2, 5.5], (8, 8), (0.0, 0.0)),
                                  [0, 0, 8, 6])
    np.testing.assert_array_equal(crop_box([7.9, 7.9, 8, 8], (8, 8), (0.0, 0.0)),
                                  [7, 7, 8, 8])  # never empty


def test_as_rgb_takes_gray_rgba_and_16_bit():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(as_rgb(gray), np.repeat(gray[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(as_rgb(gray[:, :, None]), as_rgb(gray))
    rgba = np.dstack([np.full((3, 4, 3), 7, np.uint8), np.zeros((3, 4), np.uint8)])
    np.testing.assert_array_equal(as_rgb(rgba), rgba[:, :, :3])
    assert as_rgb(np.full((2, 2, 3), 65535, np.uint16)).max() == 255
    for bad in (np.zeros((3, 4), np.float32), np.zeros((3, 4, 2), np.uint8),
                np.zeros((0, 4), np.uint8)):
        with pytest.raises(ValueError):
            as_rgb(bad)


def test_a_known_box_is_cut_read_and_mapped_back(scene):
    reader = fake_reader(_input_boxes(scene.boxes, scene.image.shape), [2] * len(scene.boxes))
    trace = reader.read(scene.image, trace=True)
    K = len(scene.plates)
    assert reader.locator.calls == 1 and len(trace.plates) == K
    order = np.argsort(trace.boxes[:, 0])  # detections come by score, the scene's plates
    np.testing.assert_allclose(trace.boxes[order], scene.boxes, atol=1e-6)  # left to right
    for box, crop_range, crop in zip(trace.boxes, trace.crop_boxes, trace.crops):
        x1, y1, x2, y2 = crop_box(box, scene.image.shape, reader.margin)
        assert crop_range.tolist() == [x1, y1, x2, y2]
        np.testing.assert_array_equal(crop, scene.image[y1:y2, x1:x2])
    np.testing.assert_array_equal(trace.recognizer_inputs,
                                  recognizer_batch(trace.crops, (32, 220), 1, order="rgb"))
    assert trace.log_probs.shape == (27, K, charset.NUM_CLASSES)
    np.testing.assert_allclose(np.exp(trace.log_probs).sum(-1), 1, atol=1e-5)
    for plate in trace.plates:
        assert isinstance(plate, Plate) and plate.colour == "green" and plate.type == "green"
        assert plate.score > 0.999
        assert len(plate.char_confidences) == len(plate.text)
        assert set(plate.text) <= set(charset.CHARS[1:])
        if plate.text:
            assert plate.confidence == min(plate.char_confidences)
        assert all(0 <= c <= 1 for c in plate.char_confidences)


def test_every_plate_of_an_image_goes_through_one_forward(scene):
    boxes = np.array([[40, 40, 140, 72], [200, 300, 330, 340], [400, 100, 520, 140]], float)
    reader = fake_reader(_input_boxes(boxes, scene.image.shape), [0, 1, 2])
    calls = []
    forward = reader.recognizer.forward
    reader.recognizer.forward = lambda x: calls.append(x.shape) or forward(x)
    plates = reader.read(scene.image)
    assert calls == [(3, 1, 32, 220)]
    assert sorted(p.colour for p in plates) == ["blue", "green", "yellow"]
    np.testing.assert_allclose(sorted(p.box for p in plates), boxes, atol=1e-6)


def test_no_plate_is_an_empty_answer(scene):
    reader = fake_reader(np.zeros((0, 4)), [])
    assert reader.read(scene.image) == []
    trace = reader.read(scene.image, trace=True)
    assert trace.boxes.shape == (0, 4) and trace.crops == [] and trace.plates == []
    assert trace.recognizer_inputs.shape == (0, 1, 32, 220)
    assert trace.log_probs.shape == (27, 0, charset.NUM_CLASSES)
    assert set(trace.seconds) == set(STAGES)
    assert repr(trace).startswith("Trace(640×480 photo, 0 detection(s) in 416×416, plates []")


def test_the_untrained_locator_runs_end_to_end(tmp_path, scene):
    path = untrained_locator_file(tmp_path / "locator.npz", size=64)
    reader = PlateReader.load(locator=path)
    trace = reader.read(scene.image, trace=True)
    assert trace.letterboxed.shape == (64, 64, 3) and trace.letterboxed.dtype == np.uint8
    assert trace.locator_input.shape == (1, 3, 64, 64)
    assert [r.shape for r in trace.raw_outputs] == [(1, 27, 8, 8), (1, 27, 4, 4), (1, 27, 2, 2)]
    assert list(trace.seconds) == list(STAGES)
    assert len(trace.plates) == len(trace.boxes) == len(trace.crops) <= len(trace.detections)
    for plate in trace.plates:
        x1, y1, x2, y2 = plate.box
        assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
        assert plate.colour in PLATE_COLOURS and plate.score >= reader.score_threshold
    gray = reader.read(scene.image[:, :, 1])
    assert all(isinstance(p, Plate) for p in gray)


def test_a_path_reads_like_its_array(tmp_path, scene):
    from minilpr.data.imageio import imwrite

    imwrite(tmp_path / "京A12345.png", scene.image)
    reader = fake_reader(_input_boxes(scene.boxes, scene.image.shape), [0] * len(scene.boxes))
    assert reader.read(tmp_path / "京A12345.png") == reader.read(scene.image)
    with pytest.raises(ValueError, match="empty"):
        (tmp_path / "empty.jpg").write_bytes(b"")
        reader.read(str(tmp_path / "empty.jpg"))


def test_load_without_a_shipped_locator_says_how_to_give_one(monkeypatch, tmp_path):
    import minilpr.pipeline as pipeline

    monkeypatch.setattr(pipeline, "SHIPPED_LOCATOR", tmp_path / "locator.npz")
    with pytest.raises(FileNotFoundError, match="--locator W") as caught:
        PlateReader.load()
    assert "\n" not in str(caught.value)


def test_load_refuses_a_recogniser_file_as_locator(tmp_path):
    from minilpr.pipeline import SHIPPED_RECOGNIZER

    with pytest.raises(ValueError, match="recognizer"):
        PlateReader.load(locator=SHIPPED_RECOGNIZER)


def test_the_stn_is_run_or_skipped_and_traced(scene):
    model = tiny_recognizer("compact")
    names = [n for n, _ in model.named_parameters()]
    reader = fake_reader(_input_boxes(scene.boxes, scene.image.shape), [0] * len(scene.boxes))
    reader.recognizer, reader.stn = model, True
    trace = reader.read(scene.image, trace=True)
    K = len(scene.plates)
    assert trace.stn_outputs.shape == (K, 1, 32, 220) and trace.stn_thetas.shape == (K, 2, 3)
    np.testing.assert_allclose(trace.stn_thetas, model.stn.localise(trace.recognizer_inputs),
                               atol=1e-6)
    np.testing.assert_allclose(trace.stn_outputs, model.stn.forward(trace.recognizer_inputs),
                               atol=1e-5)  # what the recogniser saw
    reader.stn = False
    assert reader.read(scene.image, trace=True).stn_outputs is None
    assert [n for n, _ in model.named_parameters()] == names  # still registered
    # With the STN at the identity, running it or not gives the same logits.
    last = model.stn.localisation.regressor[-1]
    last.weight.data[:] = 0
    last.bias.data[:] = np.array([1, 0, 0, 0, 1, 0], np.float32)
    x = trace.recognizer_inputs
    np.testing.assert_allclose(recognizer_logits(model, x, stn=False),
                               recognizer_logits(model, x, stn=True), atol=1e-4)
    assert model.stn is not None


@pytest.mark.parametrize("decoder", ["beam", "grammar"])
def test_the_beam_decoders_give_plates_too(scene, decoder):
    reader = fake_reader(_input_boxes(scene.boxes, scene.image.shape), [0] * len(scene.boxes),
                         decoder=decoder)
    plates = reader.read(scene.image)
    assert len(plates) == len(scene.plates)
    if decoder == "grammar":
        assert all(p.text == "" or charset.is_valid_plate(p.text) for p in plates)


def test_a_bad_decoder_is_refused():
    with pytest.raises(ValueError, match="decoder"):
        fake_reader(np.zeros((0, 4)), [], decoder="best")


def test_plate_to_dict_has_the_json_schema():
    plate = Plate("京A12345", 0.5, (0.9,) * 6 + (0.5,), (1.04, 2.0, 30.0, 12.0), "blue", 0.75)
    record = plate.to_dict()
    assert record == {"text": "京A12345", "confidence": 0.5, "box": [1.0, 2.0, 30.0, 12.0],
                      "type": "blue", "score": 0.75, "char_confidences": [0.9] * 6 + [0.5]}


def test_given_boxes_are_read_without_the_locator(scene):
    reader = fake_reader(np.zeros((0, 4)), [])
    trace = reader.read(scene.image, trace=True, boxes=scene.boxes + [0, 0, 0, 1e4])
    assert reader.locator.calls == 0 and trace.raw_outputs == [] and trace.letterboxed is None
    assert list(trace.seconds) == ["crop", "recognizer", "ctc_decode"]
    assert trace.boxes[:, 3].max() == 480  # clipped to the photo
    assert [(p.colour, p.score) for p in trace.plates] == [("", 1.0)] * len(scene.plates)


@pytest.mark.slow
def test_a_10000_pixel_square_photo_is_read(scene):
    import cv2

    big = cv2.resize(scene.image, (10_000, 10_000), interpolation=cv2.INTER_NEAREST)
    truth = scene.boxes * np.array([10_000 / 640, 10_000 / 480] * 2)
    reader = fake_reader(_input_boxes(truth, big.shape), [0] * len(truth))
    trace = reader.read(big, trace=True)
    order = np.argsort(trace.boxes[:, 0])
    np.testing.assert_allclose(trace.boxes[order], truth, atol=1e-4)
    assert trace.recognizer_inputs.shape == (len(truth), 1, 32, 220)
