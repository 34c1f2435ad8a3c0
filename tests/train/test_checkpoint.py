"""Checkpoints: a round trip of every part, atomic writes, one-line errors for bad files."""

import json
import os

import numpy as np
import pytest

from minilpr.train import checkpoint
from minilpr.train.checkpoint import (CheckpointError, TrainingState, generator_state,
                                      load_checkpoint, save_checkpoint, set_generator_state)


def example_state(step=3) -> TrainingState:
    rng = np.random.default_rng(5)
    rng.random(7)
    return TrainingState(
        step=step,
        model={"conv.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
               "bn.running_mean": np.array([0.5, -1.0], np.float32)},
        optimizers={"model": {"step": step, "lr": 0.01, "exp_avg.0": np.ones(3, np.float32)},
                    "stn": {"step": 0, "lr": 0.0, "exp_avg.0": np.zeros(2)}},
        schedules={"model": {"last_step": step, "base_lr": 0.01}},
        rngs={"dropout": generator_state(rng)},
        config={"train": {"steps": 10}, "task": {"preset": "tiny", "name": "京A"}},
        best=0.25, extra={"elapsed_s": 1.5})


def test_round_trip(tmp_path):
    state = example_state()
    save_checkpoint(tmp_path / "c.npz", state)
    loaded = load_checkpoint(tmp_path / "c.npz")
    assert loaded.step == 3 and loaded.best == 0.25 and loaded.extra == state.extra
    assert loaded.config == state.config and loaded.schedules == state.schedules
    assert loaded.rngs == state.rngs
    for name, value in state.model.items():
        assert np.array_equal(loaded.model[name], value) and loaded.model[name].dtype == value.dtype
    for opt, values in state.optimizers.items():
        assert loaded.optimizers[opt].keys() == values.keys()
        for key, value in values.items():
            assert np.array_equal(loaded.optimizers[opt][key], value)


def test_loads_without_pickle(tmp_path):
    save_checkpoint(tmp_path / "c.npz", example_state())
    with np.load(tmp_path / "c.npz", allow_pickle=False) as data:
        assert json.loads(str(data["meta"]))["format"] == checkpoint.FORMAT


def test_generator_state_round_trip():
    rng = np.random.default_rng(1)
    state = generator_state(rng)
    expected = rng.random(4)
    set_generator_state(rng, state)
    assert np.array_equal(rng.random(4), expected)
    with pytest.raises(CheckpointError, match="MT19937"):
        set_generator_state(np.random.Generator(np.random.MT19937(0)), state)


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, example_state(step=3))
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, example_state(step=4))
    assert path.read_bytes() == before
    assert load_checkpoint(path).step == 3
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left


def test_interrupt_during_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, example_state(step=3))

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)  # the rename save_npz_atomically ends with
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, example_state(step=4))
    assert load_checkpoint(path).step == 3
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.npz: no such checkpoint"):
        load_checkpoint(tmp_path / "nope.npz")


def test_truncated_file(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, example_state())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or not a .npz") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_foreign_files(tmp_path):
    weights = tmp_path / "weights.npz"
    np.savez(weights, w=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a minilpr training checkpoint"):
        load_checkpoint(weights)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array(json.dumps({"format": "something-else"})))
    with pytest.raises(CheckpointError, match="format 'something-else'"):
        load_checkpoint(other)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="truncated or not a .npz"):
        load_checkpoint(text)
