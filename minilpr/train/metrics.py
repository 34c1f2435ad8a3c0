"""How well a recogniser reads: metrics on ``(truth, read)`` string pairs.

Every function takes two equal-length sequences of strings, ``truths`` (the labels) and
``reads`` (what the model read), and is pure: no model, no images. The definitions:

* **plate accuracy** -- the share of plates read exactly.
* **character accuracy** -- per plate ``max(0, 1 - d(truth, read) / len(truth))`` with ``d`` the
  Levenshtein edit distance (substitutions, insertions and deletions cost 1), then the mean over
  plates: every plate weighs the same, and a read longer than the truth cannot go below 0.
* **accuracy without the province** -- the share of plates whose characters after the first one
  are read exactly (``truth[1:] == read[1:]``). A read that drops or adds a character is still
  wrong: the rest no longer lines up.
* **per-position accuracy** -- for position ``i``, over the plates with more than ``i``
  characters: right when the read has the truth's length and the same character at ``i``. A read
  of another length counts as wrong at *every* position (a dropped character shifts all the
  later ones, so comparing by position would be meaningless); ``length_mismatches`` counts them.
* **per-province accuracy** -- plates grouped by their first character.
* **confusions** -- the edits of one optimal alignment per plate (``align``), counted: a
  substitution ``(t, r)``, a deletion ``(t, "")``, an insertion ``("", r)``.

A truth with a character outside ``minilpr.data.charset`` (a typo, a character the model cannot
output) counts as wrong in every accuracy, is left out of the confusions, and is listed by
``unknown_labels``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from minilpr.data.charset import CHAR_TO_INDEX


def _check(truths: Sequence[str], reads: Sequence[str]) -> None:
    if len(truths) != len(reads):
        raise ValueError(f"metrics: {len(truths)} truths but {len(reads)} reads")


def is_known(text: str) -> bool:
    """True when every character of ``text`` is in the charset (the blank is not)."""
    return all(c in CHAR_TO_INDEX for c in text)


def unknown_labels(truths: Sequence[str]) -> list[tuple[int, str]]:
    """``(index, truth)`` of every truth with a character outside the charset, in order."""
    return [(i, t) for i, t in enumerate(truths) if not is_known(t)]


def _distance_table(a: str, b: str) -> np.ndarray:
    """(len(a) + 1, len(b) + 1) int64: ``D[i, j]`` = edit distance of ``a[:i]`` and ``b[:j]``."""
    D = np.zeros((len(a) + 1, len(b) + 1), np.int64)
    D[:, 0] = np.arange(len(a) + 1)
    D[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            D[i, j] = min(D[i - 1, j] + 1, D[i, j - 1] + 1,
                          D[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return D


def edit_distance(a: str, b: str) -> int:
    """The Levenshtein distance: fewest substitutions, insertions and deletions from a to b."""
    if a == b:
        return 0
    return int(_distance_table(a, b)[-1, -1])


def align(truth: str, read: str) -> list[tuple[str, str]]:
    """One optimal alignment of ``truth`` and ``read``, as a list of ``(t, r)`` pairs.

    Each pair is a match or substitution ``(t, r)``, a deletion ``(t, "")`` (a truth character
    the read lacks) or an insertion ``("", r)``. Dropping the empty sides gives back ``truth``
    and ``read``; the number of pairs with ``t != r`` is ``edit_distance(truth, read)``. Ties
    prefer a diagonal step (match or substitution), then a deletion.
    """
    D = _distance_table(truth, read)
    i, j = len(truth), len(read)
    pairs = []
    while i > 0 or j > 0:
        if i > 0 and j > 0 and D[i, j] == D[i - 1, j - 1] + (truth[i - 1] != read[j - 1]):
            pairs.append((truth[i - 1], read[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and D[i, j] == D[i - 1, j] + 1:
            pairs.append((truth[i - 1], ""))
            i -= 1
        else:
            pairs.append(("", read[j - 1]))
            j -= 1
    return pairs[::-1]


def plate_correct(truths: Sequence[str], reads: Sequence[str]) -> np.ndarray:
    """(N,) bool: read exactly, with a known truth."""
    _check(truths, reads)
    return np.array([t == r and is_known(t) for t, r in zip(truths, reads)], bool)


def plate_accuracy(truths: Sequence[str], reads: Sequence[str]) -> float:
    """The share of plates read exactly (0 for no plates)."""
    correct = plate_correct(truths, reads)
    return float(correct.mean()) if correct.size else 0.0


def char_accuracies(truths: Sequence[str], reads: Sequence[str]) -> np.ndarray:
    """(N,) float64: ``max(0, 1 - edit_distance / len(truth))`` per plate.

    An empty truth scores 1 when the read is empty too, else 0; an unknown truth scores 0.
    """
    _check(truths, reads)
    out = np.zeros(len(truths))
    for n, (t, r) in enumerate(zip(truths, reads)):
        if not is_known(t):
            continue
        if not t:
            out[n] = float(not r)
            continue
        out[n] = max(0.0, 1.0 - edit_distance(t, r) / len(t))
    return out


def char_accuracy(truths: Sequence[str], reads: Sequence[str]) -> float:
    """The mean over plates of ``char_accuracies`` (0 for no plates)."""
    values = char_accuracies(truths, reads)
    return float(values.mean()) if values.size else 0.0


def accuracy_without_province(truths: Sequence[str], reads: Sequence[str]) -> float:
    """The share of plates whose characters after the first are read exactly."""
    _check(truths, reads)
    if not truths:
        return 0.0
    return float(np.mean([t[1:] == r[1:] and len(t) == len(r) and is_known(t)
                          for t, r in zip(truths, reads)]))


@dataclass(frozen=True)
class Tally:
    """``correct`` of ``n``; ``accuracy`` is 0 when ``n`` is 0."""

    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def to_dict(self) -> dict:
        return {"n": self.n, "correct": self.correct, "accuracy": self.accuracy}


def per_position_accuracy(truths: Sequence[str], reads: Sequence[str]) -> list[Tally]:
    """One ``Tally`` per character position, up to the longest truth.

    Position ``i`` counts the plates whose truth has more than ``i`` characters; a plate is right
    there when its read has the truth's length and the same character at ``i`` (so a read of
    another length is wrong at every position).
    """
    _check(truths, reads)
    longest = max((len(t) for t in truths), default=0)
    n, correct = np.zeros(longest, np.int64), np.zeros(longest, np.int64)
    for t, r in zip(truths, reads):
        n[:len(t)] += 1
        if len(t) == len(r) and is_known(t):
            correct[:len(t)] += [a == b for a, b in zip(t, r)]
    return [Tally(int(a), int(b)) for a, b in zip(n, correct)]


def length_mismatches(truths: Sequence[str], reads: Sequence[str]) -> int:
    """How many reads have another length than their truth."""
    _check(truths, reads)
    return sum(len(t) != len(r) for t, r in zip(truths, reads))


@dataclass(frozen=True)
class ProvinceTally:
    """Plates whose truth starts with one province character.

    ``plates`` counts the ones read exactly, ``province`` the ones whose first character is read
    right (with the read's other characters ignored).
    """

    n: int
    plates: int
    province: int

    def to_dict(self) -> dict:
        return {"n": self.n, "plate_accuracy": self.plates / self.n,
                "province_accuracy": self.province / self.n}


def per_province_accuracy(truths: Sequence[str], reads: Sequence[str]) -> dict[str, ProvinceTally]:
    """First character of the truth -> its ``ProvinceTally``, most frequent first.

    Empty truths are left out; unknown truths count as wrong.
    """
    correct = plate_correct(truths, reads)
    counts: dict[str, list[int]] = {}
    for t, r, ok in zip(truths, reads, correct.tolist()):
        if not t:
            continue
        tally = counts.setdefault(t[0], [0, 0, 0])
        tally[0] += 1
        tally[1] += ok
        tally[2] += bool(r) and r[0] == t[0] and is_known(t)
    ordered = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))
    return {p: ProvinceTally(*tally) for p, tally in ordered}


def confusions(truths: Sequence[str], reads: Sequence[str],
               top: int | None = None) -> list[tuple[str, str, int]]:
    """The most frequent edits, ``(truth_char, read_char, count)``, most frequent first.

    From ``align`` of every plate with a known truth: ``("G", "6", 5)`` is G read as 6 five
    times; an empty ``read_char`` is a dropped character, an empty ``truth_char`` an extra one.
    Ties are ordered by the characters. ``top`` keeps the first ``top`` (all by default).
    """
    _check(truths, reads)
    counter: Counter = Counter()
    for t, r in zip(truths, reads):
        if is_known(t) and t != r:
            counter.update(pair for pair in align(t, r) if pair[0] != pair[1])
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [(a, b, count) for (a, b), count in ordered[:top]]
