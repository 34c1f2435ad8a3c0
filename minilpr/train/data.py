"""Training batches that never starve the model, and are the same whatever runs them.

Two ideas:

* **Batch i is a pure function of (seed, i).** A source's ``make(i)`` reseeds its generator
  from ``np.random.SeedSequence([seed, i])`` before drawing, so the batch does not depend on
  what was drawn before it. A resumed run therefore sees exactly the batches the uninterrupted
  run would have seen, and one, two or no worker processes give the same data.
* **Batches are made ahead of time.** `Prefetcher` runs the source in worker processes, each
  filling its own bounded queue (worker ``w`` of ``W`` makes batches ``w, w + W, ...``), while
  the training step runs; the main process takes batch ``i`` from queue ``i mod W``. With
  ``workers=0`` it makes each batch in-process when asked. Either way it measures the time the
  step spent waiting for data, reported as a share of the step time (aim: below 10 %).

Crop folders (``--data DIR``) can be mixed into the synthetic plates. Real crops that are kept
for measuring — ``../shared/data/real/lprnet-crops-dev`` — are for ``--val`` only; nothing here
reads a folder unless it is named on the command line.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minilpr.data.augment import AugmentConfig
from minilpr.data.charset import CHAR_TO_INDEX, KINDS

CHARSET = frozenset(CHAR_TO_INDEX)


def batch_rng(seed: int, index: int) -> np.random.Generator:
    """The generator that draws batch ``index`` of a run seeded ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


GENERATORS = ("realistic", "classic")


@dataclass(frozen=True)
class PlateBatches:
    """Recogniser batches: synthetic plates, optionally mixed with crops from folders.

    Parameters
    ----------
    seed : int
    batch_size : int
    size : (H, W)
        The crops' size; (32, 220) is the recogniser's input.
    augment : AugmentConfig
        The synthetic plates' effects.
    kinds : dict or None
        Plate-kind frequencies (the generator's default when None).
    folders : tuple of str
        Crop folders (file name = label) to mix in; none by default.
    folder_share : float
        Fraction of each batch drawn from the folders (when there are any).
    generator : {"realistic", "classic"}
        ``"realistic"``: the generator's defaults (the mix of typefaces filling the slot, lean
        and off-centre framing); ``"classic"``: the first generator (Noto glyphs only, no
        framing), kept to measure what the typeface work did to real accuracy.

    ``make(i)`` returns ``(images (N, 1, H, W) float32 in [0, 1], texts list of N str)``.
    The object is small and picklable: a worker process builds its own generator from it.
    """

    seed: int
    batch_size: int
    size: tuple[int, int] = (32, 220)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    kinds: dict | None = None
    folders: tuple[str, ...] = ()
    folder_share: float = 0.5
    generator: str = "realistic"

    def __post_init__(self):
        if self.generator not in GENERATORS:
            raise ValueError(f"--generator must be one of {GENERATORS}, got {self.generator!r}")
        if self.batch_size < 1:
            raise ValueError(f"--batch must be at least 1, got {self.batch_size}")
        if not 0 <= self.folder_share <= 1:
            raise ValueError(f"--data-share must be in [0, 1], got {self.folder_share}")

    def _generator(self):
        generator = getattr(self, "_plates", None)
        if generator is None:
            from minilpr.data.synth import PlateGenerator

            looks = {} if self.generator == "realistic" else {"typeface": None, "framing": None}
            generator = PlateGenerator(seed=self.seed, size=self.size, augment=self.augment,
                                       kinds=self.kinds, **looks)
            object.__setattr__(self, "_plates", generator)
        return generator

    def _crops(self) -> tuple[np.ndarray, list[str]]:
        crops = getattr(self, "_crop_cache", None)
        if crops is None:
            crops = load_crops(self.folders, self.size)
            object.__setattr__(self, "_crop_cache", crops)
        return crops

    def make(self, index: int) -> tuple[np.ndarray, list[str]]:
        generator = self._generator()
        rng = generator.rng = batch_rng(self.seed, index)
        n_crops = int(round(self.batch_size * self.folder_share)) if self.folders else 0
        images, texts = generator.batch(self.batch_size - n_crops)
        if n_crops:
            pixels, labels = self._crops()
            pick = rng.integers(len(labels), size=n_crops)
            images = np.concatenate([images, pixels[pick]])
            texts = texts + [labels[k] for k in pick]
        return images, texts

    def __getstate__(self):
        # Only the recipe travels to a worker; the generator and the crops are rebuilt there.
        return {k: v for k, v in self.__dict__.items() if k not in ("_plates", "_crop_cache")}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)


def load_crops(folders, size: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """Every readable crop of ``folders`` whose label is in the charset, as recogniser input.

    Read and resized by ``minilpr.train.evaluate.load_crop_folder``, the way the evaluation
    reads crops; files whose label has a character outside the charset are left out.

    Returns
    -------
    images : (M, 1, H, W) float32 in [0, 1]
    texts : list of M str
    """
    from minilpr.train.evaluate import load_crop_folder

    images, texts = [], []
    for folder in folders:
        crops = load_crop_folder(folder, size)
        keep = [i for i, text in enumerate(crops.texts) if text and set(text) <= CHARSET]
        if not keep:
            raise ValueError(f"{folder}: no plate crops with labels in the charset")
        images.append(crops.images[keep])
        texts += [crops.texts[i] for i in keep]
    return np.concatenate(images), texts


def validation_augment() -> AugmentConfig:
    """The synthetic validation set's effects: the training mix, tilt spread out to ±30°."""
    return AugmentConfig(p_tilt=1.0, tilt_std_deg=15.0, max_tilt_deg=30.0)


def every_kind() -> dict[str, float]:
    """Equal frequencies for every plate kind, so validation covers the rare ones."""
    return {kind: 1.0 for kind in KINDS}


def _worker(source, first: int, step: int, out: mp.Queue, stop) -> None:
    """Make batches ``first, first + step, ...`` into ``out`` until ``stop`` is set."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    # one BLAS thread: the worker must not fight the training for the cores
    from minilpr.threads import limit_threads

    limit_threads(1)
    index = first
    try:
        while not stop.is_set():
            item = ("batch", index, source.make(index))
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            index += step
        out.cancel_join_thread()  # stopping: do not wait at exit for a batch nobody will read
    except Exception:
        # the error message is flushed to the main process before this process exits
        out.put(("error", index, traceback.format_exc().strip().splitlines()[-1]))


class Prefetcher:
    """Batches ``start, start + 1, ...`` of ``source``, made ahead by worker processes.

    Parameters
    ----------
    source : object with ``make(i)``
        Picklable (it travels to spawned workers).
    start : int
        The first batch index (the step a resumed run starts at).
    workers : int
        Worker processes; 0 makes every batch in-process.
    depth : int
        Batches each worker may have ready in its queue.

    Use ``get(i)`` in order (i = start, start + 1, ...) and ``close()`` at the end (or use it as
    a context manager). ``wait_seconds`` sums the time ``get`` waited.
    """

    def __init__(self, source, start: int = 0, workers: int = 1, depth: int = 4):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"--workers must be an integer >= 0, got {workers!r}")
        self.source = source
        self.workers = workers
        self.next_index = start
        self.wait_seconds = 0.0
        self._processes = []
        self._queues = []
        if workers:
            context = mp.get_context("spawn")
            self._stop = context.Event()
            for w in range(workers):
                q = context.Queue(maxsize=depth)
                p = context.Process(target=_worker, args=(source, start + w, workers, q,
                                                          self._stop),
                                    daemon=True, name=f"minilpr-data-{w}")
                p.start()
                self._queues.append(q)
                self._processes.append(p)

    def get(self, index: int):
        """Batch ``index``; must be the next one (batches are handed out in order)."""
        if index != self.next_index:
            raise ValueError(f"Prefetcher.get: expected batch {self.next_index}, got {index}")
        started = time.perf_counter()
        try:
            if not self.workers:
                return self.source.make(index)
            return self._take(index)
        finally:
            self.wait_seconds += time.perf_counter() - started
            self.next_index += 1

    def _take(self, index: int):
        q = self._queues[index % self.workers]
        process = self._processes[index % self.workers]
        while True:
            try:
                kind, got, payload = q.get(timeout=1.0)
                break
            except queue.Empty:
                if not process.is_alive():
                    raise RuntimeError(f"data worker {process.name} died "
                                       f"(exit code {process.exitcode})") from None
        if kind == "error":
            raise RuntimeError(f"data worker failed on batch {got}: {payload}")
        if got != index:
            raise RuntimeError(f"data worker sent batch {got} when {index} was due")
        return payload

    def close(self) -> None:
        """Stop the workers and wait for them (killing any that do not stop within seconds)."""
        if not self._processes:
            return
        self._stop.set()
        for q in self._queues:
            _drain(q)
        for p in self._processes:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for q in self._queues:
            q.close()
            q.join_thread()
        self._processes, self._queues = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _drain(q) -> None:
    """Empty a queue so that a worker blocked on ``put`` can see the stop flag."""
    try:
        while True:
            q.get_nowait()
    except (queue.Empty, OSError, ValueError):
        pass
