"""Weight files: a round trip, float16 storage, and a one-line refusal for every bad file."""

import json
import zipfile

import numpy as np
import pytest

from minilpr.models import weights
from minilpr.models.recognizer import Recognizer, RecognizerConfig
from minilpr.models.weights import (WeightFileError, load_recognizer, load_weights_into,
                                    read_weights, save_weights)
from minilpr.nn import Conv2d


@pytest.fixture(scope="module")
def tiny():
    model = Recognizer(RecognizerConfig.preset("tiny", stn="compact"), rng=7)
    x = np.random.default_rng(0).uniform(0, 1, (2, 1, 32, 220)).astype(np.float32)
    model.forward(x)  # batch norm's running statistics move away from their defaults
    return model


@pytest.fixture
def saved(tiny, tmp_path):
    return save_weights(tiny, tmp_path / "tiny.npz", {"seed": 7, "command": "minilpr train"})


def refused(path, message, load=load_recognizer):
    with pytest.raises(WeightFileError, match=message) as info:
        load(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text
    return text


def test_round_trip_restores_every_array_and_the_manifest(tiny, saved):
    model, manifest = load_recognizer(saved)
    assert model.config == tiny.config and not model.training
    for name, value in tiny.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], value, err_msg=name)
    assert manifest["seed"] == 7 and manifest["command"] == "minilpr train"
    assert manifest["kind"] == "recognizer" and manifest["dtype"] == "float32"
    assert manifest["config"] == tiny.config.to_dict()
    assert manifest["charset"] == weights.charset_string() and manifest["charset"][0] == "-"
    x = np.random.default_rng(1).uniform(0, 1, (2, 1, 32, 220)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), tiny.eval().forward(x))
    tiny.train()


def test_the_file_is_plain_npz_without_pickles(saved):
    with np.load(saved, allow_pickle=False) as npz:
        assert "manifest" in npz.files and "state/conv1.weight" in npz.files
        assert npz["manifest"].dtype == np.uint8
        assert json.loads(npz["manifest"].tobytes().decode())["format"] == "minilpr-weights"


def test_float16_halves_the_file_and_loads_back_as_float32(tiny, saved, tmp_path):
    half = save_weights(tiny, tmp_path / "half.npz", dtype="float16")
    assert half.stat().st_size < 0.6 * saved.stat().st_size
    model, manifest = load_recognizer(half)
    assert manifest["dtype"] == "float16"
    w = model.conv3.weight.data
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, tiny.conv3.weight.data, rtol=1e-3, atol=1e-7)
    assert int(model.bn1.num_batches_tracked) == int(tiny.bn1.num_batches_tracked) == 1


def test_small_preset_fits_the_10_mb_budget(tmp_path):
    path = save_weights(Recognizer("small"), tmp_path / "small.npz")
    assert path.stat().st_size < 10e6


def test_saving_replaces_atomically_and_leaves_no_temp_file(tiny, saved):
    save_weights(tiny, saved, {"seed": 8})
    assert read_weights(saved)[1]["seed"] == 8
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_a_failed_save_keeps_the_old_file(tiny, saved, monkeypatch):
    before = saved.read_bytes()

    def broken(f, **arrays):
        f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(KeyboardInterrupt):
        save_weights(tiny, saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_manifest_must_be_json_and_agree_with_the_model(tiny, tmp_path):
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        save_weights(tiny, tmp_path / "a.npz", {"when": object()})
    with pytest.raises(ValueError, match="the manifest's 'kind' \\('locator'\\) disagrees"):
        save_weights(tiny, tmp_path / "a.npz", {"kind": "locator"})
    with pytest.raises(ValueError, match="dtype must be one of"):
        save_weights(tiny, tmp_path / "a.npz", dtype="int8")


def test_missing_file(tmp_path):
    refused(tmp_path / "nope.npz", "weight file not found")


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    refused(saved, "truncated or corrupt weight file")


def test_corrupt_bytes_inside_an_array(saved):
    data = bytearray(saved.read_bytes())
    start = data.find(b"state/conv3.weight") + 200  # inside that member's data
    data[start:start + 64] = bytes(64)
    saved.write_bytes(bytes(data))
    refused(saved, "truncated or corrupt weight file")


def test_not_an_npz_at_all(tmp_path):
    path = tmp_path / "plate.npz"
    path.write_text("this is a text file")
    refused(path, "truncated or corrupt weight file")


def test_an_npz_without_a_manifest(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    refused(path, "not a minilpr weight file \\(no manifest\\)")


def rewrite_manifest(path, change):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    manifest = json.loads(arrays["manifest"].tobytes().decode())
    change(manifest)
    arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    np.savez(path, **arrays)


def test_a_foreign_format(saved):
    rewrite_manifest(saved, lambda m: m.update(format="someone-else"))
    refused(saved, "not a minilpr weight file \\(format 'someone-else'\\)")


def test_wrong_model_kind(saved):
    rewrite_manifest(saved, lambda m: m.update(kind="locator"))
    refused(saved, "holds a 'locator' model, not a 'recognizer'")


def test_charset_mismatch(saved):
    def swap(m):
        m["charset"] = m["charset"].replace("皖", "X")
    rewrite_manifest(saved, swap)
    text = refused(saved, "charset mismatch: the weights' 71 classes are not this minilpr's 71")
    assert "class 11 is 'X' there, '皖' here" in text


def test_shorter_charset(saved):
    rewrite_manifest(saved, lambda m: m.update(charset=m["charset"][:66]))
    refused(saved, "charset mismatch: the weights' 66 classes .*one table stops at 66")


def test_config_that_does_not_fit_the_arrays(saved):
    rewrite_manifest(saved, lambda m: m["config"].update(lstm_hidden=32))
    refused(saved, "config/shape mismatch: 'lstm.weight_ih_l0' is \\(256, 128\\) in the file "
                   "but \\(128, 128\\) in the model")


def test_config_without_the_stn(saved):
    rewrite_manifest(saved, lambda m: m["config"].update(stn=None))
    refused(saved, "config/shape mismatch: missing \\[\\], unexpected \\['stn.")


def test_invalid_config(saved):
    rewrite_manifest(saved, lambda m: m["config"].update(depth=3))
    refused(saved, "bad config in the manifest: RecognizerConfig: unknown field\\(s\\) depth")


def test_load_weights_into_a_built_model(tiny, saved):
    model = Recognizer(tiny.config, rng=99)
    manifest = load_weights_into(model, saved, "recognizer")
    assert manifest["seed"] == 7
    np.testing.assert_array_equal(model.lstm.weight_hh_l1.data, tiny.lstm.weight_hh_l1.data)
    refused(saved, "holds a 'recognizer' model, not a 'locator'",
            load=lambda p: load_weights_into(model, p, "locator"))


def test_generic_models_name_their_kind(tmp_path):
    conv = Conv2d(1, 2, 3, rng=0)
    with pytest.raises(TypeError, match="cannot tell what kind of model a Conv2d is"):
        save_weights(conv, tmp_path / "c.npz")
    conv.kind = "toy"
    path = save_weights(conv, tmp_path / "c.npz", {"note": "a test"})
    other = Conv2d(1, 2, 3, rng=1)
    assert load_weights_into(other, path, "toy")["note"] == "a test"
    np.testing.assert_array_equal(other.weight.data, conv.weight.data)
    assert "charset" not in read_weights(path)[1]


def test_zip_members_are_what_numpy_writes(saved):
    with zipfile.ZipFile(saved) as z:
        assert "manifest.npy" in z.namelist()
