"""Every bad weight file, for both loaders: one `WeightFileError` line naming the file and the
problem, and loading never runs code stored in the file."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from minilpr.models.locator_weights import build_locator, load_locator
from minilpr.models.recognizer import Recognizer, RecognizerConfig
from minilpr.models.weights import WeightFileError, load_recognizer, save_weights

LOADERS = {"recognizer": load_recognizer, "locator": load_locator}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """One whole weight file of each kind."""
    folder = tmp_path_factory.mktemp("weights")
    recognizer = save_weights(Recognizer(RecognizerConfig.preset("tiny"), rng=0),
                              folder / "recognizer.npz")
    anchors = np.arange(1, 19, dtype=np.float64).reshape(9, 2) * 4
    locator = save_weights(build_locator("tiny"), folder / "locator.npz",
                           {"backbone": "tiny", "input_size": [64, 64], "anchors": anchors.tolist(),
                            "strides": [8, 16, 32], "classes": ["blue", "yellow", "green",
                                                                "white"]})
    return {"recognizer": recognizer, "locator": locator}


def arrays_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def rewritten(good, kind, tmp_path, change_manifest=None, change_arrays=None):
    """A copy of the good ``kind`` file with its manifest and/or arrays changed."""
    arrays = arrays_of(good[kind])
    if change_manifest is not None:
        manifest = json.loads(arrays["manifest"].tobytes().decode())
        change_manifest(manifest)
        arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    if change_arrays is not None:
        change_arrays(arrays)
    path = tmp_path / f"changed-{kind}.npz"
    np.savez(path, **arrays)
    return path


def refused(load, path, message):
    with pytest.raises(WeightFileError, match=message) as info:
        load(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: "), text
    return text


class Planted:
    """Unpickling this calls ``Path.touch(marker)``: proof that code ran if the file appears."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (Path(self.marker),)


def with_pickle(path, marker, member):
    arrays = arrays_of(path) if member != "manifest" or path.exists() else {}
    arrays[member] = np.array([Planted(marker)], dtype=object)
    out = path.with_name(f"pickled-{member.replace('/', '_')}.npz")
    np.savez(out, **arrays)  # numpy writes object arrays as pickles
    assert pickle.loads(pickle.dumps(Planted(marker))) is None and Path(marker).exists()
    Path(marker).unlink()
    return out


@pytest.mark.parametrize("kind", LOADERS)
def test_a_whole_file_loads(good, kind):
    model, manifest = LOADERS[kind](good[kind])
    assert manifest["kind"] == kind and not model.training


@pytest.mark.parametrize("kind", LOADERS)
def test_missing_file_and_folder(kind, tmp_path):
    refused(LOADERS[kind], tmp_path / "nope.npz", "weight file not found")
    refused(LOADERS[kind], tmp_path, "is a folder, not a weight file")


@pytest.mark.parametrize("kind", LOADERS)
@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, 0.99])
def test_empty_and_truncated(good, kind, tmp_path, keep):
    data = good[kind].read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:keep if isinstance(keep, int) else int(len(data) * keep)])
    refused(LOADERS[kind], path, "empty weight file" if keep == 0
            else "truncated or corrupt weight file")


@pytest.mark.parametrize("kind", LOADERS)
def test_not_an_npz(kind, tmp_path):
    path = tmp_path / "plate.npz"
    path.write_text("this is a text file")
    refused(LOADERS[kind], path, "truncated or corrupt weight file \\(not an .npz archive; it "
                                 "starts with b'this'\\)")


@pytest.mark.parametrize("kind", LOADERS)
def test_no_manifest(kind, tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    refused(LOADERS[kind], path, "not a minilpr weight file \\(no manifest\\)")


@pytest.mark.parametrize("kind", LOADERS)
@pytest.mark.parametrize("member", ["state/conv1.weight", "manifest", "extra"])
def test_pickled_object_arrays_are_refused_and_never_run(good, kind, tmp_path, member):
    marker = tmp_path / "code-ran"
    if kind == "locator" and member == "state/conv1.weight":
        member = next(k for k in arrays_of(good[kind]) if k.startswith("state/"))
    path = with_pickle(good[kind], marker, member)
    refused(LOADERS[kind], path, f"'{member}' is a pickled object array; minilpr never "
                                 "unpickles \\(it could run code\\)")
    assert not marker.exists()


def test_a_locator_file_given_to_load_recognizer(good):
    refused(load_recognizer, good["locator"], "holds a 'locator' model, not a 'recognizer'")


def test_a_recognizer_file_given_to_load_locator_builds_no_model(good, monkeypatch):
    from minilpr.models import locator_weights

    monkeypatch.setattr(locator_weights, "build_locator", None)
    refused(load_locator, good["recognizer"], "holds a 'recognizer' model, not a 'locator'")


def test_wrong_charset(good, tmp_path):
    path = rewritten(good, "recognizer", tmp_path,
                     lambda m: m.update(charset=m["charset"].replace("A", "a")))
    refused(load_recognizer, path, "charset mismatch: .*'a' there, 'A' here")


def test_missing_charset(good, tmp_path):
    path = rewritten(good, "recognizer", tmp_path, lambda m: m.pop("charset"))
    refused(load_recognizer, path, "the manifest records no charset")


@pytest.mark.parametrize("key", ["anchors", "strides", "backbone"])
def test_locator_manifest_missing_a_field(good, tmp_path, key):
    path = rewritten(good, "locator", tmp_path, lambda m: m.pop(key))
    refused(load_locator, path, f"the manifest records no {key}")


@pytest.mark.parametrize("anchors, problem", [
    ([[1, 2]] * 8, "anchors must be \\(9, 2\\)"),
    ([[1, 2, 3]] * 9, "anchors must be \\(9, 2\\)"),
    ([[1, -2]] * 9, "positive and finite"),
    ("nine", "anchors must be \\(9, 2\\)"),
])
def test_locator_anchors_that_make_no_sense(good, tmp_path, anchors, problem):
    path = rewritten(good, "locator", tmp_path, lambda m: m.update(anchors=anchors))
    refused(load_locator, path, problem)


def test_locator_strides_and_backbone(good, tmp_path):
    path = rewritten(good, "locator", tmp_path, lambda m: m.update(strides=[8, 16]))
    refused(load_locator, path, "strides must be three positive integers")
    path = rewritten(good, "locator", tmp_path, lambda m: m.update(backbone="resnet"))
    refused(load_locator, path, "unknown backbone 'resnet'")


@pytest.mark.parametrize("kind", LOADERS)
def test_a_parameter_of_the_wrong_shape(good, kind, tmp_path):
    def shrink(arrays):
        name = next(k for k in arrays if k.endswith(".weight"))
        arrays[name] = arrays[name][:1]
    path = rewritten(good, kind, tmp_path, change_arrays=shrink)
    refused(LOADERS[kind], path, "config/shape mismatch: '.*' is \\(1, ")


@pytest.mark.parametrize("kind", LOADERS)
def test_a_missing_parameter(good, kind, tmp_path):
    def drop(arrays):
        del arrays[next(k for k in arrays if k.startswith("state/"))]
    path = rewritten(good, kind, tmp_path, change_arrays=drop)
    refused(LOADERS[kind], path, "config/shape mismatch: missing \\['")


def test_a_config_that_does_not_fit(good, tmp_path):
    path = rewritten(good, "recognizer", tmp_path, lambda m: m["config"].update(lstm_hidden=8))
    refused(load_recognizer, path, "config/shape mismatch")


def test_a_locator_with_another_class_count(good, tmp_path):
    path = rewritten(good, "locator", tmp_path, lambda m: m.update(classes=["blue"]))
    refused(load_locator, path, "config/shape mismatch")


@pytest.mark.parametrize("kind", LOADERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_weights_that_are_not_finite(good, kind, tmp_path, bad):
    def spoil(arrays):
        name = next(k for k in arrays if k.endswith(".weight"))
        arrays[name] = arrays[name].copy()
        arrays[name].flat[3] = bad
    path = rewritten(good, kind, tmp_path, change_arrays=spoil)
    refused(LOADERS[kind], path, "holds NaN or infinite values")


@pytest.mark.parametrize("kind", LOADERS)
def test_a_parameter_stored_as_text(good, kind, tmp_path):
    def text(arrays):
        name = next(k for k in arrays if k.endswith(".weight"))
        arrays[name] = np.full(arrays[name].shape, "x")
    path = rewritten(good, kind, tmp_path, change_arrays=text)
    refused(LOADERS[kind], path, "is stored as <U1; a parameter must be floating point")


@pytest.mark.parametrize("kind", LOADERS)
@pytest.mark.parametrize("manifest, problem", [
    (np.frombuffer(b"\xff\xfe not utf-8", np.uint8), "unreadable manifest"),
    (np.frombuffer(b"{not json", np.uint8), "unreadable manifest"),
    (np.frombuffer(b"[1, 2]", np.uint8), "not a minilpr weight file \\(format None\\)"),
    (np.array("a string array"), "the manifest is stored as <U14, not UTF-8 bytes"),
])
def test_manifests_that_are_not_a_minilpr_manifest(good, kind, tmp_path, manifest, problem):
    def replace(arrays):
        arrays["manifest"] = manifest
    path = rewritten(good, kind, tmp_path, change_arrays=replace)
    refused(LOADERS[kind], path, problem)


@pytest.mark.parametrize("kind", LOADERS)
def test_an_unreadable_file(good, kind, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(np, "load", denied)
    refused(LOADERS[kind], good[kind], "cannot read the weight file \\(Permission denied\\)")
