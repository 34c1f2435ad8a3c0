"""Training data: batch i depends on (seed, i) only — not on history, resume point or workers."""

import pickle

import numpy as np
import pytest

from minilpr.data.augment import AugmentConfig
from minilpr.data.charset import KINDS
from minilpr.data.datasets import imwrite
from minilpr.data.synth import PlateGenerator
from minilpr.train.data import (PlateBatches, Prefetcher, batch_rng, every_kind, load_crops,
                                validation_augment)

SOURCE = PlateBatches(seed=3, batch_size=3, augment=AugmentConfig())


def same(a, b):
    return np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_batch_is_a_pure_function_of_seed_and_index():
    fresh = PlateBatches(seed=3, batch_size=3)
    in_order = [SOURCE.make(i) for i in range(3)]
    assert same(fresh.make(2), in_order[2])  # no history needed
    assert same(SOURCE.make(0), in_order[0])  # asking again gives it again
    assert not same(in_order[0], in_order[1])
    assert not same(PlateBatches(seed=4, batch_size=3).make(0), in_order[0])
    images, texts = in_order[0]
    assert images.shape == (3, 1, 32, 220) and images.dtype == np.float32 and len(texts) == 3


def test_pickles_without_its_generator():
    SOURCE.make(0)
    copy = pickle.loads(pickle.dumps(SOURCE))
    assert not hasattr(copy, "_plates")
    assert same(copy.make(5), SOURCE.make(5))


def test_workers_give_the_in_process_batches_and_stop():
    # Two workers (spawned: a few seconds each on a busy laptop) interleave batches 4, 5, ...
    expected = [SOURCE.make(i) for i in range(4, 9)]
    with Prefetcher(SOURCE, start=4, workers=2, depth=1) as prefetcher:
        processes = list(prefetcher._processes)
        got = [prefetcher.get(i) for i in range(4, 9)]
    assert all(same(g, e) for g, e in zip(got, expected))
    assert prefetcher.wait_seconds > 0
    assert not any(p.is_alive() for p in processes)


def test_in_process_prefetcher_and_order_check():
    prefetcher = Prefetcher(SOURCE, start=2, workers=0)
    assert same(prefetcher.get(2), SOURCE.make(2))
    with pytest.raises(ValueError, match="expected batch 3, got 5"):
        prefetcher.get(5)


class Failing:
    def make(self, index):
        if index == 2:
            raise ValueError("cannot draw batch two")
        return index


def test_a_worker_error_is_reported_in_one_line():
    with Prefetcher(Failing(), workers=1) as prefetcher:
        assert prefetcher.get(0) == 0 and prefetcher.get(1) == 1
        with pytest.raises(RuntimeError, match="failed on batch 2: ValueError: cannot draw"):
            prefetcher.get(2)


def test_crop_folders_are_mixed_in(tmp_path):
    for i, text in enumerate(["京A12345", "沪B0C123"]):
        imwrite(tmp_path / f"{text}.png", np.full((24, 94), 40 + 100 * i, np.uint8))
    pixels, labels = load_crops([tmp_path], (32, 220))
    assert pixels.shape == (2, 1, 32, 220) and sorted(labels) == ["京A12345", "沪B0C123"]
    mixed = PlateBatches(seed=1, batch_size=4, folders=(str(tmp_path),), folder_share=0.5)
    images, texts = mixed.make(0)
    assert images.shape == (4, 1, 32, 220)
    assert set(texts[2:]) <= {"京A12345", "沪B0C123"}
    assert same(mixed.make(0), PlateBatches(seed=1, batch_size=4, folders=(str(tmp_path),),
                                            folder_share=0.5).make(0))


def test_a_folder_without_usable_crops_is_refused(tmp_path):
    imwrite(tmp_path / "not a plate.png", np.zeros((24, 94), np.uint8))
    with pytest.raises(ValueError, match="no plate crops with labels in the charset"):
        load_crops([tmp_path], (32, 220))


def test_bad_options():
    with pytest.raises(ValueError, match="--batch"):
        PlateBatches(seed=0, batch_size=0)
    with pytest.raises(ValueError, match="--workers"):
        Prefetcher(SOURCE, workers=-1)


def test_validation_plates_tilt_to_thirty_degrees_and_cover_every_kind():
    plates = PlateGenerator(seed=0, augment=validation_augment(), kinds=every_kind())
    samples = [plates.sample() for _ in range(150)]
    tilts = np.abs([s.tilt_deg for s in samples])
    assert tilts.max() <= 30 and np.mean(tilts > 15) > 0.2  # σ = 15°: a third beyond 15°
    assert {s.kind for s in samples} == set(KINDS)


def test_the_classic_generator_is_the_first_generator_and_realistic_the_default():
    classic = PlateBatches(seed=5, batch_size=3, generator="classic").make(2)
    first = PlateGenerator(seed=5, typeface=None, framing=None)
    first.rng = batch_rng(5, 2)
    images, texts = first.batch(3)
    np.testing.assert_array_equal(classic[0], images)
    assert classic[1] == texts
    realistic = PlateBatches(seed=5, batch_size=3).make(2)
    assert not np.array_equal(realistic[0], classic[0])
    with pytest.raises(ValueError, match="--generator must be one of"):
        PlateBatches(seed=5, batch_size=3, generator="fancy")
