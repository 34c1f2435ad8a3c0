"""Reading a string out of CTC's per-frame probabilities: greedy, prefix beam and constrained beam.

The network gives ``y[t, k]`` for T frames; a labelling ``l`` has probability
``p(l) = sum of prod_t y[t, pi_t]`` over its alignments ``pi`` (see `minilpr.nn.ctc`). Finding
the most probable labelling exactly is intractable in general, so:

* **greedy** (best path) takes the most probable class of every frame and collapses the path
  (merge repeats, then drop blanks). It finds the most probable *path*, not labelling — usually
  the same string when the network is confident.
* **prefix beam search** keeps the ``beam_width`` most probable label *prefixes*, each with two
  numbers: the probability of the frames so far ending in a blank, ``p_b``, and ending in its
  last character, ``p_nb``. The split matters because the next frame's character ``c`` equal to
  the last one *extends* the prefix only after a blank (``A - A`` is "AA") and merely *repeats*
  it otherwise (``A A`` is "A"). Every path collapsing to the same prefix is summed into one
  entry, so with a wide enough beam the search is exact.
* **constrained beam search** is the same search where a prefix may only grow by the characters
  a grammar allows next, and only prefixes the grammar accepts are returned: the decoder can
  then never read a plate number that cannot exist.

Each decoder reads one sample's ``(T, K)`` log-probabilities, or a ``(T, N, K)`` batch with
optional ``input_lengths`` (one result per sample). All scores are natural logarithms, and the
decoders refuse rows that are not log-probabilities: `CTCLoss` takes logits, the decoders take
``log_softmax(logits)``. Nothing here knows about plates: a grammar is any object with
``start``, ``allowed(state) -> (K,) bool``, ``step(state, k) -> state`` and
``accepts(state) -> bool`` — an `Automaton` or a `CallableGrammar` (`minilpr.nn.automaton`,
re-exported here), or alike; the plate grammar is an `Automaton` built in
`minilpr.models.plate_ctc`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from minilpr.nn.automaton import Automaton, CallableGrammar  # noqa: F401 (re-exported here)
from minilpr.nn.ctc_inputs import LOG_PROB_TOL, row_log_sum_exp
from minilpr.nn.ctc_lattice import ctc_best_alignment


@dataclass(frozen=True)
class Hypothesis:
    """One decoded string.

    Attributes
    ----------
    labels : tuple of int
        Class indices, blank-free.
    log_prob : float
        Greedy: log-probability of the best path. Beam searches: log of the labelling's total
        probability over the alignments the beam kept (exact when nothing was pruned).
    confidences : (L,) float
        Per character: the highest probability the character has on the frames its best
        alignment gives it.
    """

    labels: tuple
    log_prob: float
    confidences: np.ndarray = field(repr=False, compare=False)


def collapse_path(path: Iterable[int], blank: int = 0) -> tuple:
    """The labelling of a frame path: merge runs of equal classes, then drop blanks."""
    out = []
    previous = None
    for k in path:
        k = int(k)
        if k != previous and k != blank:
            out.append(k)
        previous = k
    return tuple(out)


def path_confidences(log_probs: np.ndarray, path: np.ndarray, blank: int = 0) -> np.ndarray:
    """Per-character confidence of a frame path: the highest probability over each run.

    Parameters
    ----------
    log_probs : (T, K) float
    path : (T,) int
        One class per frame.

    Returns
    -------
    (L,) float64
        One value per character of ``collapse_path(path)``.
    """
    path = np.asarray(path)
    probs = np.exp(log_probs[np.arange(path.size), path].astype(np.float64))  # (T,)
    confidences = []
    for t, k in enumerate(path.tolist()):
        if k == blank:
            continue
        if t > 0 and path[t - 1] == k:
            confidences[-1] = max(confidences[-1], probs[t])
        else:
            confidences.append(probs[t])
    return np.array(confidences, np.float64)


def label_confidences(log_probs: np.ndarray, labels: Sequence[int], blank: int = 0) -> np.ndarray:
    """Per-character confidence of a labelling, along its most probable alignment.

    Parameters
    ----------
    log_probs : (T, K) float
    labels : (L,) int

    Returns
    -------
    (L,) float64
        Zeros when the labelling has no alignment.
    """
    if len(labels) == 0:
        return np.zeros(0)
    _, path, log_prob = ctc_best_alignment(log_probs, np.asarray(labels, np.int64), blank)
    if log_prob == -np.inf:
        return np.zeros(len(labels))
    return path_confidences(log_probs, path, blank)


def _check_log_probs(name: str, log_probs: np.ndarray, blank: int) -> np.ndarray:
    """One sample's scores as a ``(T, K)`` float array, with the blank among the classes."""
    log_probs = np.asarray(log_probs)
    if not np.issubdtype(log_probs.dtype, np.floating):
        raise TypeError(f"{name}: log_probs must be floating point, got {log_probs.dtype}")
    if log_probs.ndim != 2 or log_probs.shape[0] < 1:
        raise ValueError(f"{name}: log_probs must have shape (T, K), or (T, N, K) for a batch, "
                         f"with T >= 1; got {log_probs.shape}")
    if not 0 <= blank < log_probs.shape[1]:
        raise ValueError(f"{name}: blank {blank} is outside the {log_probs.shape[1]} classes")
    return log_probs


def _batch_lengths(name: str, log_probs: np.ndarray, input_lengths) -> list[int]:
    """The frames of each sample of a (T, N, K) batch, checked: all T when not given."""
    T, N, _ = log_probs.shape
    lengths = np.full(N, T) if input_lengths is None else np.asarray(input_lengths)
    if lengths.shape != (N,) or np.any(lengths < 1) or np.any(lengths > T):
        raise ValueError(f"{name}: input_lengths must be {N} values in 1..{T}, got "
                         f"{lengths.tolist()}")
    return [int(T_n) for T_n in lengths]


def _split(name: str, log_probs, input_lengths, blank: int):
    """``(samples, batch)``: the ``(T_n, K)`` scores of each sample, each checked, and whether
    ``log_probs`` was a ``(T, N, K)`` batch (else it was one ``(T, K)`` sample)."""
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 3:
        return [_check_log_probs(name, log_probs, blank)], False
    lengths = _batch_lengths(name, log_probs, input_lengths)
    return [_check_log_probs(name, log_probs[:T_n, n], blank)
            for n, T_n in enumerate(lengths)], True


def _check_normalised(name: str, samples: list, batch: bool) -> None:
    """Refuse the scores unless every frame's row is a log-probability row.

    The decoders compare and add log-probabilities, so raw logits (what `CTCLoss` takes) would
    give "log-probabilities" above 0 and beams ranked by nothing meaningful. A row counts as a
    log-probability row when its log-sum-exp is within `LOG_PROB_TOL` of 0 (NaN never does).
    """
    totals = row_log_sum_exp(np.concatenate(samples)) if samples else np.zeros(0)  # (sum T_n,)
    off = np.flatnonzero(~(np.abs(totals) <= LOG_PROB_TOL))
    if off.size:
        starts = np.cumsum([0] + [x.shape[0] for x in samples])
        n = int(np.searchsorted(starts, off[0], side="right") - 1)
        where = f"sample {n}, frame {off[0] - starts[n]}" if batch else f"frame {off[0]}"
        raise ValueError(f"{name}: log_probs are not log-probabilities ({where}: log-sum-exp "
                         f"over the K classes is {totals[off[0]]:.3g}, should be 0): CTCLoss "
                         "takes logits, the decoders log-probabilities — pass "
                         "log_softmax(logits)")


def greedy_decode(log_probs: np.ndarray, input_lengths=None, blank: int = 0):
    """Best-path decoding: argmax per frame, merge repeats, drop blanks.

    Parameters
    ----------
    log_probs : (T, K) or (T, N, K) float
        Log-probabilities: ``log_softmax`` of the logits (rows that are not are refused).
    input_lengths : (N,) int, optional
        Frames of each sample of a batch; all T by default.
    blank : int

    Returns
    -------
    Hypothesis, or a list of N of them for a batch

    Raises
    ------
    ValueError
        When a frame's row is not a log-probability row (its log-sum-exp is off 0 by more than
        ``LOG_PROB_TOL``, or NaN): raw logits, the natural mistake after `CTCLoss`.
    """
    samples, batch = _split("greedy_decode", log_probs, input_lengths, blank)
    _check_normalised("greedy_decode", samples, batch)
    results = [_best_path(x, blank) for x in samples]
    return results if batch else results[0]


def _best_path(log_probs: np.ndarray, blank: int) -> Hypothesis:
    """Greedy decoding of one checked sample, ``(T, K)``."""
    path = log_probs.argmax(axis=1)  # (T,)
    log_prob = float(log_probs[np.arange(path.size), path].sum())
    confidences = path_confidences(log_probs, path, blank)
    return Hypothesis(collapse_path(path, blank), log_prob, confidences)


def prefix_beam_search(log_probs: np.ndarray, beam_width: int = 8, top_k: int | None = None,
                       blank: int = 0, grammar=None, min_prob: float = 0.0,
                       input_lengths=None) -> list:
    """The ``top_k`` most probable labellings found by prefix beam search.

    Each frame, every prefix ``p`` in the beam (with ``log p_b``, ``log p_nb``) spreads to:

    * ``p`` itself, through a blank: ``p_b' += (p_b + p_nb) y[blank]``;
    * ``p`` itself, repeating its last character ``c``: ``p_nb' += p_nb y[c]``;
    * ``p + c`` for its last character ``c``, only after a blank: ``p_nb' += p_b y[c]``;
    * ``p + k`` for any other character: ``p_nb' += (p_b + p_nb) y[k]``,

    where ``+=`` adds probability (log-sum-exp) into whatever is already there — two beam
    entries reaching the same prefix merge. The ``beam_width`` prefixes of highest
    ``p_b + p_nb`` survive to the next frame.

    Parameters
    ----------
    log_probs : (T, K) or (T, N, K) float
        Log-probabilities (``log_softmax`` of the logits; other rows are refused).
    beam_width : int
        Prefixes kept per frame. When it is at least the number of prefixes with non-zero
        probability, nothing is pruned and the scores are exact.
    top_k : int, optional
        How many hypotheses to return (default: all the final beam).
    blank : int
    grammar : Automaton, CallableGrammar or alike, optional
        Constrain the search: prefixes grow only by allowed classes and only accepted
        labellings are returned (possibly none, when no accepted labelling survived the beam).
    min_prob : float
        Skip extending by classes whose probability at a frame is below this (a speed-up that
        makes the search approximate; 0 considers every class).
    input_lengths : (N,) int, optional
        Frames of each sample of a batch; all T by default.

    Returns
    -------
    list of Hypothesis
        Best first; for a batch, a list of N such lists.
    """
    samples, batch = _split("prefix_beam_search", log_probs, input_lengths, blank)
    if beam_width < 1:
        raise ValueError(f"prefix_beam_search: beam_width must be at least 1, got {beam_width}")
    K = samples[0].shape[1] if samples else 0
    if samples and grammar is not None and np.shape(grammar.allowed(grammar.start)) != (K,):
        raise ValueError(f"prefix_beam_search: the grammar is over "
                         f"{np.shape(grammar.allowed(grammar.start))[0]} classes but log_probs "
                         f"has K={K}")
    _check_normalised("prefix_beam_search", samples, batch)
    results = [_prefix_beam(x, beam_width, top_k, blank, grammar, min_prob) for x in samples]
    return results if batch else results[0]


def _prefix_beam(log_probs: np.ndarray, beam_width: int, top_k: int | None, blank: int,
                 grammar, min_prob: float) -> list:
    """Prefix beam search over one checked sample, ``(T, K)``; see `prefix_beam_search`."""
    log_probs64 = log_probs.astype(np.float64)
    T, K = log_probs64.shape
    with np.errstate(divide="ignore"):
        extendable = log_probs64 >= np.log(min_prob)  # (T, K)
    extendable[:, blank] = False

    prefixes: list[tuple] = [()]
    log_b = np.array([0.0])  # log p_b of each prefix: paths so far ending in a blank
    log_nb = np.array([-np.inf])  # log p_nb: ending in the prefix's last character
    states = [grammar.start] if grammar is not None else [None]
    for t in range(T):
        y = log_probs64[t]
        B = len(prefixes)
        last = np.array([p[-1] if p else -1 for p in prefixes])  # (B,), -1 for the empty prefix
        has_last = last >= 0
        total = np.logaddexp(log_b, log_nb)  # (B,)
        stay_b = total + y[blank]
        stay_nb = np.where(has_last, log_nb + y[np.maximum(last, 0)], -np.inf)
        grow = total[:, None] + y[None, :]  # (B, K): log p of p + k
        # Repeating the last character only extends the prefix after a blank.
        grow[has_last, last[has_last]] = log_b[has_last] + y[last[has_last]]
        grow[:, ~extendable[t]] = -np.inf
        if grammar is not None:
            grow[~np.array([grammar.allowed(s) for s in states])] = -np.inf
        # p + k may already be in the beam: merge it there rather than keeping it twice.
        index = {p: b for b, p in enumerate(prefixes)}
        for b, p in enumerate(prefixes):
            parent = index.get(p[:-1]) if p else None
            if parent is not None:
                stay_nb[b] = np.logaddexp(stay_nb[b], grow[parent, p[-1]])
                grow[parent, p[-1]] = -np.inf

        scores = np.concatenate([np.logaddexp(stay_b, stay_nb), grow.ravel()])
        order = np.argsort(-scores, kind="stable")[:beam_width]
        order = order[scores[order] > -np.inf]
        new_prefixes, new_b, new_nb, new_states = [], [], [], []
        for i in order.tolist():
            if i < B:
                new_prefixes.append(prefixes[i])
                new_b.append(stay_b[i])
                new_nb.append(stay_nb[i])
                new_states.append(states[i])
            else:
                b, k = divmod(i - B, K)
                new_prefixes.append(prefixes[b] + (k,))
                new_b.append(-np.inf)
                new_nb.append(grow[b, k])
                new_states.append(grammar.step(states[b], k) if grammar is not None else None)
        if not new_prefixes:
            return []
        prefixes, log_b, log_nb, states = new_prefixes, np.array(new_b), np.array(new_nb), \
            new_states

    totals = np.logaddexp(log_b, log_nb)
    ranked = [(float(totals[i]), prefixes[i]) for i in np.argsort(-totals, kind="stable")
              if grammar is None or grammar.accepts(states[i])]
    return [Hypothesis(p, score, label_confidences(log_probs, p, blank))
            for score, p in ranked[:top_k]]


def constrained_beam_search(log_probs: np.ndarray, grammar, beam_width: int = 16,
                            top_k: int | None = None, blank: int = 0,
                            min_prob: float = 0.0, input_lengths=None) -> list:
    """Prefix beam search that only reads strings ``grammar`` accepts.

    A shorthand for ``prefix_beam_search(log_probs, beam_width, top_k, blank, grammar,
    min_prob, input_lengths)``; see there (``log_probs`` (T, K), or (T, N, K) for a batch).
    Returns complete, accepted labellings only, best first — an empty list when none survived
    the beam (widen it).
    """
    if grammar is None:
        raise ValueError("constrained_beam_search: a grammar is required")
    return prefix_beam_search(log_probs, beam_width, top_k, blank, grammar, min_prob,
                              input_lengths)
