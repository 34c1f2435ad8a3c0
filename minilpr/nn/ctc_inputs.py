"""CTC's inputs: making the targets, and diagnosing everything that makes the loss fail.

`minilpr.nn.ctc` tells the algorithm; this module holds what stands between a batch and it.
`pad_targets` turns a list of labels of different lengths into the ``(targets, target_lengths)``
pair the loss takes. `ctc_preflight` lists, one line each, every reason the loss would raise,
return inf or return NaN: the wrong layout, a target outside the classes or equal to the blank,
raw logits where log-probabilities belong, and samples with too few frames for their label
(``T_n < L_n + repeats_n``, which `ctc_loss` reports as a `CTCAlignmentWarning`). The same
checks guard `ctc_loss` itself and the one-sample lattice tools, so all of them word a mistake
the same way.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

LOG_PROB_TOL = 1e-3  # |log-sum-exp of a row| above this: not log-probabilities


class CTCAlignmentWarning(UserWarning):
    """A sample's label cannot be aligned to its input: too few frames for its characters."""


def count_repeats(label) -> int:
    """Number of adjacent equal characters in ``label``; each needs a blank frame between them."""
    label = np.asarray(label)
    return int(np.count_nonzero(label[1:] == label[:-1])) if label.size > 1 else 0


def min_frames(label) -> int:
    """The fewest frames that can emit ``label``: one per character plus a blank per repeat."""
    return len(label) + count_repeats(label)


def pad_targets(labels: Sequence, blank: int = 0):
    """CTC targets from a list of labels of different lengths.

    Parameters
    ----------
    labels : sequence of N (L_n,) int arrays
        The class indices of each sample's label (no blanks); lengths may differ.
    blank : int
        Written past the end of each shorter label (never read by the loss).

    Returns
    -------
    targets : (N, L_max) int64
        Row ``n`` holds label ``n`` in its first ``L_n`` entries.
    target_lengths : (N,) int64
        ``L_n``.
    """
    if isinstance(labels, np.ndarray) or not isinstance(labels, Sequence):
        raise TypeError(f"pad_targets: expected a list of N label arrays, got "
                        f"{type(labels).__name__}")
    rows = []
    for n, label in enumerate(labels):
        label = np.asarray(label)
        if label.ndim != 1 or (label.size and not np.issubdtype(label.dtype, np.integer)):
            raise ValueError(f"pad_targets: label {n} must be a 1-D array of class indices, got "
                             f"shape {label.shape} of {label.dtype}")
        rows.append(label.astype(np.int64))
    target_lengths = np.array([row.size for row in rows], np.int64)
    targets = np.full((len(rows), int(target_lengths.max(initial=0))), blank, np.int64)
    for n, row in enumerate(rows):
        targets[n, :row.size] = row
    return targets, target_lengths


def row_log_sum_exp(scores: np.ndarray) -> np.ndarray:
    """``log sum_k exp(scores[..., k])``, (..., K) -> (...): 0 on rows of log-probabilities."""
    top = np.max(scores, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)  # an all -inf row stays -inf, not NaN
    with np.errstate(divide="ignore"):
        return (top + np.log(np.exp(scores - top).sum(axis=-1, keepdims=True)))[..., 0]


def _samples(indices, limit: int = 5) -> str:
    """``"samples 0, 3, 7"`` — at most ``limit`` of them named, then a count."""
    indices = [int(i) for i in indices]
    shown = ", ".join(str(i) for i in indices[:limit])
    more = f" and {len(indices) - limit} more" if len(indices) > limit else ""
    return f"sample{'s' if len(indices) > 1 else ''} {shown}{more}"


def _also(mask: np.ndarray) -> str:
    """`` (samples 2, 5 too)`` when rows other than the first of ``mask`` (N, L) have a hit."""
    rows = np.flatnonzero(mask.any(axis=1))[1:]
    return f" ({_samples(rows)} too)" if rows.size else ""


def _ragged(targets) -> str | None:
    """The message for a list of label arrays of different lengths, else None."""
    if not isinstance(targets, (list, tuple)) or not targets \
            or not all(np.ndim(label) == 1 for label in targets):
        return None
    lengths = [len(label) for label in targets]
    if len(set(lengths)) == 1:
        return None
    return (f"targets are a list of {len(lengths)} labels of different lengths "
            f"({', '.join(map(str, lengths[:5]))}{', ...' if len(lengths) > 5 else ''}): pass "
            "them padded (N, L_max) or concatenated (sum(L),); "
            "targets, target_lengths = minilpr.nn.pad_targets(labels) makes both")


def _swapped_axes(shape, input_lengths) -> str | None:
    """The message for batch-first ``(N, T, K)`` scores, judged by ``input_lengths``, else None."""
    first, second, _ = shape
    count = np.size(input_lengths)
    if first == second or count != first:
        return None
    return (f"scores of shape {tuple(shape)} look batch-first (N, T, K): input_lengths has "
            f"{count} entries, the size of axis 0; CTC takes time first, (T, N, K) — pass "
            "x.transpose(1, 0, 2)")


def _read_inputs(log_probs, targets, input_lengths, target_lengths, blank, charset):
    """Check shapes, types and ranges; return ``(problems, arrays)``.

    ``arrays`` is ``(padded (N, L_max) int64, input_lengths (N,) int64, target_lengths (N,)
    int64)`` when the structure is sound, else None. Problems are one line each.
    """
    problems: list[str] = []
    if not isinstance(log_probs, np.ndarray) or not np.issubdtype(log_probs.dtype, np.floating):
        problems.append("log_probs must be a floating-point ndarray of shape (T, N, K), got "
                        f"{getattr(log_probs, 'dtype', type(log_probs).__name__)}")
        return problems, None
    if log_probs.ndim != 3:
        problems.append(f"log_probs must have shape (T, N, K), got {log_probs.shape}")
        return problems, None
    T, N, K = log_probs.shape
    swapped = _swapped_axes(log_probs.shape, input_lengths)
    if swapped:
        return [swapped], None
    if not 0 <= blank < K:
        problems.append(f"blank index {blank} is outside the {K} classes of log_probs")
    if charset is not None and len(charset) != K:
        problems.append(f"the network outputs K={K} classes but the charset has {len(charset)} "
                        "symbols (is the blank counted in both?)")

    arrays = {}
    for name, value in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        value = np.asarray(value)
        if not np.issubdtype(value.dtype, np.integer) or value.shape != (N,):
            problems.append(f"{name} must be {N} integers (one per sample), got shape "
                            f"{value.shape} of {value.dtype}")
            continue
        arrays[name] = value.astype(np.int64)
    if "input_lengths" in arrays:
        bad = np.flatnonzero((arrays["input_lengths"] < 1) | (arrays["input_lengths"] > T))
        if bad.size:
            problems.append(f"input_lengths of {_samples(bad)} are outside 1..T={T} "
                            f"(got {arrays['input_lengths'][bad].tolist()[:5]})")
    if "target_lengths" in arrays and np.any(arrays["target_lengths"] < 0):
        problems.append(f"target_lengths of "
                        f"{_samples(np.flatnonzero(arrays['target_lengths'] < 0))} are negative")

    ragged = _ragged(targets)
    if ragged:
        return problems + [ragged], None
    targets = np.asarray(targets)
    if targets.size and targets.dtype.kind in "USO":
        problems.append(f"targets must be integer class indices, got {targets.dtype}: encode "
                        "the label strings to class indices first")
    elif targets.size and not np.issubdtype(targets.dtype, np.integer):
        problems.append(f"targets must be integer class indices, got {targets.dtype}")
    elif targets.ndim not in (1, 2):
        problems.append(f"targets must be padded (N, S) or concatenated (sum(L),), got shape "
                        f"{targets.shape}")
    elif targets.ndim == 2 and targets.shape[0] != N:
        problems.append(f"padded targets have {targets.shape[0]} rows for a batch of {N}")
    if problems:
        return problems, None

    lengths = arrays["target_lengths"]
    L_max = int(lengths.max(initial=0))
    padded = np.full((N, L_max), blank, np.int64)
    if targets.ndim == 2:
        too_long = np.flatnonzero(lengths > targets.shape[1])
        if too_long.size:
            problems.append(f"target_lengths of {_samples(too_long)} exceed the {targets.shape[1]}"
                            " columns of the padded targets")
            return problems, None
        for n in range(N):
            padded[n, :lengths[n]] = targets[n, :lengths[n]]
    else:
        if int(lengths.sum()) != targets.size:
            problems.append(f"concatenated targets hold {targets.size} labels but target_lengths "
                            f"sum to {int(lengths.sum())}")
            return problems, None
        starts = np.concatenate([[0], np.cumsum(lengths)])
        for n in range(N):
            padded[n, :lengths[n]] = targets[starts[n]:starts[n + 1]]

    valid = np.arange(L_max) < lengths[:, None]  # (N, L_max): which entries are real labels
    outside = valid & ((padded < 0) | (padded >= K))
    if outside.any():
        n, i = np.argwhere(outside)[0]
        problems.append(f"sample {n} position {i}: target index {padded[n, i]} is outside the "
                        f"K={K} classes of log_probs{_also(outside)}: a character missing from "
                        "the charset, or a charset larger than the network's output")
    clash = valid & (padded == blank)
    if clash.any():
        n, i = np.argwhere(clash)[0]
        name = f" ({charset[blank]!r} in the charset)" if charset is not None and \
            0 <= blank < len(charset) else ""
        problems.append(f"sample {n} position {i}: target index {blank} is the blank{name}"
                        f"{_also(clash)}: blank index clash — a real character was given the "
                        "blank's index (labels encoded for another charset or blank position)")
    if problems:
        return problems, None
    return problems, (padded, arrays["input_lengths"], lengths)


def _impossible(padded, input_lengths, target_lengths) -> list[tuple[int, int, int, int]]:
    """``(n, T_n, L_n, repeats_n)`` of every sample with fewer frames than its label needs."""
    found = []
    for n in range(padded.shape[0]):
        label = padded[n, :target_lengths[n]]
        repeats = count_repeats(label)
        if input_lengths[n] < len(label) + repeats:
            found.append((n, int(input_lengths[n]), len(label), repeats))
    return found


def _impossible_message(n, T_n, L, repeats) -> str:
    return (f"sample {n}: input length {T_n} < {L} labels + {repeats} adjacent repeats = "
            f"{L + repeats} frames needed; no alignment exists (loss inf): shorten the label or "
            "lengthen the network's output")


def ctc_preflight(log_probs, targets, input_lengths, target_lengths, blank: int = 0,
                  charset: Sequence[str] | None = None) -> list[str]:
    """Everything that would make `ctc_loss` fail, or return inf or NaN — one line per problem.

    Checks, in the order the usual culprits appear in practice:

    * shapes and types: ``log_probs (T, N, K)`` float (batch-first ``(N, T, K)`` is named as
      such), lengths ``(N,)`` integers within range, targets padded ``(N, S)`` or concatenated
      with lengths that add up (a list of labels of different lengths: see `pad_targets`);
    * a target index outside ``[0, K)`` (a character missing from the charset, or a charset
      and a network that disagree on K) and ``len(charset) != K``;
    * a target equal to ``blank`` (blank index clash: the charset gave the blank's index to a
      real character, or the labels were encoded for another blank);
    * NaN or +inf in ``log_probs`` (the network diverged before the loss), frames that are -inf
      for every class, and rows that are not log-probabilities (raw logits passed without
      ``log_softmax``);
    * ``T_n < L_n + repeats_n``: too few frames to emit the label with a blank between repeated
      characters — the loss is inf.

    Parameters
    ----------
    log_probs : (T, N, K) float
    targets : (N, S) or (sum(target_lengths),) int
    input_lengths, target_lengths : (N,) int
    blank : int
    charset : sequence of str, optional
        The symbol of each class, to check its size and name the blank in messages.

    Returns
    -------
    list of str
        Empty when the inputs are fine.
    """
    problems, arrays = _read_inputs(log_probs, targets, input_lengths, target_lengths, blank,
                                    charset)
    if arrays is None:
        return problems
    padded, input_lengths, target_lengths = arrays
    T = log_probs.shape[0]
    used = np.arange(T)[:, None] < input_lengths[None, :]  # (T, N): frames each sample uses
    values = log_probs[used]  # (frames used, K)
    if np.isnan(values).any():
        problems.append(f"log_probs contain NaN in {int(np.isnan(values).any(1).sum())} frames: "
                        "the network diverged before the loss (learning rate, bad inputs)")
    elif np.isposinf(values).any():
        problems.append("log_probs contain +inf: a log-probability is at most 0")
    elif np.isneginf(values).all(axis=1).any():
        problems.append(f"log_probs are -inf for every class in "
                        f"{int(np.isneginf(values).all(axis=1).sum())} frames: those frames give "
                        "every path probability 0 (loss inf)")
    elif values.size:
        worst = float(np.max(np.abs(row_log_sum_exp(values))))
        if worst > LOG_PROB_TOL:
            problems.append(f"log_probs rows are not log-probabilities (log-sum-exp up to "
                            f"{worst:.3g}, should be 0): pass log_softmax(logits), not logits")
    problems += [_impossible_message(*bad) for bad in _impossible(padded, input_lengths,
                                                                  target_lengths)]
    return problems


def _one_sample(name: str, log_probs: np.ndarray, target, blank: int):
    """``(log_probs (T, K), target (L,) int64)`` of one sample, checked as `ctc_loss` would."""
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 2:
        raise ValueError(f"{name}: expected the log-probabilities of one sample, (T, K), got "
                         f"shape {log_probs.shape}")
    target = np.asarray(target, np.int64).reshape(-1)
    problems, _ = _read_inputs(log_probs[:, None, :], target[None, :], [log_probs.shape[0]],
                               [target.size], blank, None)
    if problems:
        raise ValueError(f"{name}: {problems[0]}")
    return log_probs, target
