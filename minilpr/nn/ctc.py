"""Connectionist temporal classification: the loss that needs no per-frame labels.

The recogniser outputs one distribution over K classes per column of the image (T frames), but
the label is just the plate's characters (L of them, L <= T), with no word on which column holds
which character. CTC (Graves et al. 2006) adds a *blank* class and calls every frame-level path
``pi`` of length T an *alignment* of the label ``l`` when deleting repeats, then blanks, from
``pi`` gives ``l``. The loss is minus the log of the total probability of all alignments,

    loss = -log p(l | x),    p(l | x) = sum over alignments pi of prod_t y[t, pi_t],

which a dynamic programme over the *extended label* ``l' = (blank, l_1, blank, ..., l_L,
blank)`` computes in O(T·L) instead of enumerating K^T paths: the forward variables alpha sum
the path prefixes, the backward variables beta the suffixes, and their product at any frame
gives the posterior *occupancy* of each state — which is, up to sign, the gradient. The blanks
are what let "AA" (A, blank, A) differ from "A" (A, A collapsed). Derivation:
``docs/derivations/ctc.md``.

This module follows ``torch.nn.functional.ctc_loss``: log-probabilities ``(T, N, K)``, targets
padded ``(N, S)`` or concatenated, per-sample input and target lengths, ``blank=0``, the three
reductions (``'mean'`` divides each loss by its target length first) and ``zero_infinity``.
The loops live in `minilpr.nn.kernels.ctc`; `ctc_forward_backward_reference` is the plain-NumPy
twin the tests check them against.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from minilpr.nn.activation import log_softmax_forward
from minilpr.nn.kernels.ctc import ctc_alpha_kernel, ctc_beta_kernel, ctc_occupancy_kernel
from minilpr.nn.module import Module

REDUCTIONS = ("mean", "sum", "none")


class CTCAlignmentWarning(UserWarning):
    """A sample's label cannot be aligned to its input: too few frames for its characters."""


class CTCCache(NamedTuple):
    """What the forward pass keeps for the backward pass (N samples, S_max = 2 L_max + 1)."""

    log_probs: np.ndarray      # (T, N, K)
    ext: np.ndarray            # (N, S_max) extended labels
    input_lengths: np.ndarray  # (N,)
    ext_lengths: np.ndarray    # (N,) 2 L_n + 1
    log_alpha: np.ndarray      # (N, T, S_max)
    losses: np.ndarray         # (N,) per-sample losses (0 where zero_infinity hid an inf)
    infinite: np.ndarray       # (N,) bool: no alignment exists
    scale: np.ndarray          # (N,) d(reduced loss) / d(loss_n)
    reduction: str
    zero_infinity: bool


# Checking the inputs

def count_repeats(label) -> int:
    """Number of adjacent equal characters in ``label``; each needs a blank frame between them."""
    label = np.asarray(label)
    return int(np.count_nonzero(label[1:] == label[:-1])) if label.size > 1 else 0


def min_frames(label) -> int:
    """The fewest frames that can emit ``label``: one per character plus a blank per repeat."""
    return len(label) + count_repeats(label)


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
    if not 0 <= blank < K:
        problems.append(f"blank index {blank} is outside the {K} classes of log_probs")
    if charset is not None and len(charset) != K:
        problems.append(f"the network outputs K={K} classes but the charset has {len(charset)} "
                        "symbols (is the blank counted in both?)")

    arrays = {}
    for name, value, lowest in (("input_lengths", input_lengths, 1),
                                ("target_lengths", target_lengths, 0)):
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

    targets = np.asarray(targets)
    if targets.size and not np.issubdtype(targets.dtype, np.integer):
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

    * shapes and types: ``log_probs (T, N, K)`` float, lengths ``(N,)`` integers within range,
      targets padded ``(N, S)`` or concatenated with lengths that add up;
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
        top = values.max(axis=1, keepdims=True)
        totals = (top + np.log(np.exp(values - top).sum(axis=1, keepdims=True))).ravel()
        worst = float(np.max(np.abs(totals)))
        if worst > 1e-3:
            problems.append(f"log_probs rows are not log-probabilities (log-sum-exp up to "
                            f"{worst:.3g}, should be 0): pass log_softmax(logits), not logits")
    problems += [_impossible_message(*bad) for bad in _impossible(padded, input_lengths,
                                                                  target_lengths)]
    return problems


def extend_labels(padded: np.ndarray, target_lengths: np.ndarray, blank: int = 0):
    """The extended labels ``(blank, l_1, blank, ..., l_L, blank)`` of a batch.

    Parameters
    ----------
    padded : (N, L_max) int
    target_lengths : (N,) int

    Returns
    -------
    ext : (N, 2 L_max + 1) int64
        ``ext[n, 2i + 1] = padded[n, i]``, blanks elsewhere (and past each sample's end).
    ext_lengths : (N,) int64
        ``2 L_n + 1``.
    """
    N, L_max = padded.shape
    ext = np.full((N, 2 * L_max + 1), blank, np.int64)
    ext[:, 1::2] = padded
    past_end = np.arange(L_max)[None, :] >= target_lengths[:, None]  # (N, L_max)
    ext[:, 1::2][past_end] = blank
    return ext, 2 * np.asarray(target_lengths, np.int64) + 1


# The loss

def ctc_loss_forward(log_probs: np.ndarray, targets, input_lengths, target_lengths,
                     blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
    """CTC loss from log-probabilities, as ``torch.nn.functional.ctc_loss``.

    The forward pass runs the alpha recursion only; beta waits for `ctc_loss_backward`.

    Parameters
    ----------
    log_probs : (T, N, K) float32 or float64
        Log-probabilities per frame (the output of a log-softmax over K).
    targets : (N, S) int or (sum(target_lengths),) int
        Padded (row ``n`` holds its label in the first ``target_lengths[n]`` entries) or all
        labels concatenated. No entry may be ``blank``.
    input_lengths : (N,) int
        Frames of each sample, ``1 <= T_n <= T``.
    target_lengths : (N,) int
        Label length ``L_n`` of each sample (0 allowed: the all-blank path).
    blank : int
        Index of the blank class.
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the (N,) losses; ``'sum'``: their sum; ``'mean'``: the mean over the batch of
        ``loss_n / max(L_n, 1)``.
    zero_infinity : bool
        Give samples with no alignment (loss inf) a loss and gradient of 0.

    Returns
    -------
    loss : float (``'mean'``, ``'sum'``) or (N,) array (``'none'``), dtype of ``log_probs``
    cache : CTCCache
        What `ctc_loss_backward` needs.

    Warns
    -----
    CTCAlignmentWarning
        Naming each sample whose input is shorter than ``L_n + repeats_n``.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"ctc_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    problems, arrays = _read_inputs(log_probs, targets, input_lengths, target_lengths, blank,
                                    None)
    if problems:
        more = f" (and {len(problems) - 1} more; see ctc_preflight)" if len(problems) > 1 else ""
        raise ValueError(f"ctc_loss: {problems[0]}{more}")
    padded, input_lengths, target_lengths = arrays
    for bad in _impossible(padded, input_lengths, target_lengths):
        fate = "its loss and gradient are set to 0 (zero_infinity=True)" if zero_infinity \
            else "its loss is inf and its gradient NaN; pass zero_infinity=True to zero them"
        warnings.warn(f"ctc_loss: {_impossible_message(*bad)}; {fate}", CTCAlignmentWarning,
                      stacklevel=2)

    log_probs = np.ascontiguousarray(log_probs)
    T, N, K = log_probs.shape
    ext, ext_lengths = extend_labels(padded, target_lengths, blank)
    log_alpha = np.empty((N, T, ext.shape[1]), log_probs.dtype)
    ctc_alpha_kernel(log_probs, ext, input_lengths, ext_lengths, log_alpha)
    last = log_alpha[np.arange(N), input_lengths - 1]  # (N, S_max): the final frame of each
    ends = np.stack([last[np.arange(N), ext_lengths - 1],
                     last[np.arange(N), np.maximum(ext_lengths - 2, 0)]])  # (2, N)
    # A label of length 0 has a single end state (the lone blank), not two.
    ends[1, ext_lengths == 1] = -np.inf
    losses = -np.logaddexp(ends[0], ends[1])  # (N,)
    infinite = np.isposinf(losses)
    if zero_infinity:
        losses = np.where(infinite, 0.0, losses)

    if reduction == "none":
        loss = losses.astype(log_probs.dtype)
        scale = np.ones(N)
    elif reduction == "sum":
        loss = log_probs.dtype.type(losses.sum())
        scale = np.ones(N)
    else:
        scale = 1.0 / (N * np.maximum(target_lengths, 1))
        loss = log_probs.dtype.type(np.sum(losses * scale))
    cache = CTCCache(log_probs, ext, input_lengths, ext_lengths, log_alpha, losses, infinite,
                     scale, reduction, zero_infinity)
    return loss, cache


def _occupancy(c: CTCCache) -> np.ndarray:
    """Run beta and combine it with alpha: the (T, N, K) posterior of each class at each frame."""
    log_beta = np.empty_like(c.log_alpha)
    ctc_beta_kernel(c.log_probs, c.ext, c.input_lengths, c.ext_lengths, log_beta)
    nll = np.where(c.infinite, np.inf, c.losses)  # the true -log p, even where zero_infinity hid it
    occupancy = np.empty_like(c.log_probs)
    ctc_occupancy_kernel(c.log_probs, c.ext, c.input_lengths, c.ext_lengths, c.log_alpha, log_beta,
                         nll, occupancy)
    return occupancy


def _sample_weights(dout, c: CTCCache) -> np.ndarray:
    """d(reduced loss)/d(loss_n) times the upstream gradient: one weight per sample, (N,)."""
    dout = np.asarray(dout, dtype=np.float64)
    if c.reduction == "none" and dout.shape != c.scale.shape:
        raise ValueError(f"ctc_loss backward: reduction='none' needs dout of shape "
                         f"{c.scale.shape}, got {dout.shape}")
    if c.reduction != "none" and dout.size != 1:
        raise ValueError(f"ctc_loss backward: reduction={c.reduction!r} needs a scalar dout, "
                         f"got shape {dout.shape}")
    weights = dout.reshape(-1) * c.scale
    # A sample without alignment: undefined gradient (NaN, as PyTorch) unless zero_infinity.
    return np.where(c.infinite, 0.0 if c.zero_infinity else np.nan, weights)


def _finish_gradient(grad: np.ndarray, dout, c: CTCCache) -> np.ndarray:
    """Scale a per-sample gradient (T, N, K) by the reduction and ``dout``; zero unused frames.

    Frames past a sample's input length take no part in its loss, so they get no gradient.
    """
    T = c.log_probs.shape[0]
    frames_used = (np.arange(T)[:, None] < c.input_lengths[None, :])[:, :, None]  # (T, N, 1)
    grad = grad * _sample_weights(dout, c)[None, :, None]
    return np.where(frames_used, grad, 0.0).astype(c.log_probs.dtype)


def ctc_loss_backward(dout, cache) -> np.ndarray:
    """Gradient of `ctc_loss_forward` with respect to ``log_probs``.

    ``loss_n = -log p_n`` and ``p_n`` sums products of ``y[t, pi_t]``; differentiating in
    ``log y[t, k]`` picks out the paths that emit ``k`` at ``t``, so

        d loss_n / d log_probs[t, n, k] = -occupancy[t, n, k]

    (the posterior probability that frame t emits class k), scaled by the reduction.

    Parameters
    ----------
    dout : float, or (N,) array for ``reduction='none'``
    cache : from `ctc_loss_forward`

    Returns
    -------
    dlog_probs : (T, N, K), dtype of ``log_probs``
    """
    return _finish_gradient(-_occupancy(cache), dout, cache)


def ctc_loss(log_probs: np.ndarray, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False):
    """The CTC loss alone, as ``torch.nn.functional.ctc_loss``; see `ctc_loss_forward`."""
    return ctc_loss_forward(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                            zero_infinity)[0]


def ctc_loss_with_logits_forward(logits: np.ndarray, targets, input_lengths, target_lengths,
                                 blank: int = 0, reduction: str = "mean",
                                 zero_infinity: bool = False):
    """CTC loss of ``log_softmax(logits)`` over the class axis.

    Parameters
    ----------
    logits : (T, N, K) float32 or float64
        Unnormalised scores.
    targets, input_lengths, target_lengths, blank, reduction, zero_infinity
        As in `ctc_loss_forward`.

    Returns
    -------
    loss, cache
        As `ctc_loss_forward`; the cache also feeds `ctc_loss_with_logits_backward`.
    """
    log_probs, _ = log_softmax_forward(logits, axis=-1)
    return ctc_loss_forward(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                            zero_infinity)


def ctc_loss_with_logits_backward(dout, cache) -> np.ndarray:
    """Gradient with respect to the logits, in closed form: softmax minus occupancy.

    Through the log-softmax, ``d log y[t, j] / d logits[t, k] = [j = k] - y[t, k]``, so
    ``-sum_j occupancy[t, j] ([j = k] - y[t, k]) = y[t, k] - occupancy[t, k]`` because the
    occupancies of a frame sum to 1:

        d loss_n / d logits[t, n, k] = softmax[t, n, k] - occupancy[t, n, k]

    Parameters
    ----------
    dout : float, or (N,) array for ``reduction='none'``
    cache : from `ctc_loss_with_logits_forward`

    Returns
    -------
    dlogits : (T, N, K), dtype of ``logits``
    """
    return _finish_gradient(np.exp(cache.log_probs) - _occupancy(cache), dout, cache)


class CTCLoss(Module):
    """CTC loss on logits: log-softmax and CTC in one module, the recogniser's last step.

    ``forward(logits (T, N, K), targets, input_lengths, target_lengths)`` returns the loss
    (float, or (N,) for ``reduction='none'``); ``backward(dout=1.0)`` returns dL/dlogits
    ``(T, N, K)`` = ``softmax - occupancy``, scaled by the reduction. Arguments as
    ``torch.nn.CTCLoss``, which however takes log-probabilities rather than logits.
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"CTCLoss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.blank = blank
        self.reduction = reduction
        self.zero_infinity = zero_infinity
        self._cache = None

    def forward(self, logits, targets, input_lengths, target_lengths):
        loss, self._cache = ctc_loss_with_logits_forward(
            logits, targets, input_lengths, target_lengths, self.blank, self.reduction,
            self.zero_infinity)
        return loss

    def backward(self, dout=1.0):
        cache = self._need_forward(self._cache)
        self._cache = None
        return ctc_loss_with_logits_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"blank={self.blank}, reduction={self.reduction!r}, " \
               f"zero_infinity={self.zero_infinity}"


# Lattices for lessons, and the plain-NumPy reference

@dataclass(frozen=True)
class CTCLattice:
    """The forward-backward lattices of one sample, for drawing.

    Attributes
    ----------
    extended : (S,) int
        The extended label ``(blank, l_1, blank, ..., l_L, blank)``, S = 2L + 1.
    log_alpha, log_beta : (T, S) float
        Forward and backward variables (both include frame t's emission), -inf where no path is.
    log_likelihood : float
        ``log p(label | x)``, -inf when no alignment exists.
    occupancy : (T, S) float
        Posterior probability of being in state s at frame t; each row sums to 1.
    """

    extended: np.ndarray
    log_alpha: np.ndarray
    log_beta: np.ndarray
    log_likelihood: float
    occupancy: np.ndarray


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


def ctc_lattice(log_probs: np.ndarray, target, blank: int = 0) -> CTCLattice:
    """Alpha, beta and the state occupancy of one sample, computed by the kernels.

    Parameters
    ----------
    log_probs : (T, K) float
    target : (L,) int

    Returns
    -------
    CTCLattice
    """
    log_probs, target = _one_sample("ctc_lattice", log_probs, target, blank)
    T = log_probs.shape[0]
    lp = np.ascontiguousarray(log_probs[:, None, :])  # (T, 1, K)
    ext, ext_lengths = extend_labels(target[None, :], np.array([target.size]), blank)
    inputs = np.array([T], np.int64)
    log_alpha = np.empty((1, T, ext.shape[1]), lp.dtype)
    log_beta = np.empty_like(log_alpha)
    ctc_alpha_kernel(lp, ext, inputs, ext_lengths, log_alpha)
    ctc_beta_kernel(lp, ext, inputs, ext_lengths, log_beta)
    S = ext.shape[1]
    log_p = float(np.logaddexp(log_alpha[0, -1, S - 1],
                               log_alpha[0, -1, S - 2] if S > 1 else -np.inf))
    emitted = log_probs[:, ext[0]]  # (T, S): y[t, l'_s]
    with np.errstate(invalid="ignore"):
        both = log_alpha[0] + log_beta[0]
        occupancy = np.where(both > -np.inf, np.exp(both - emitted - log_p), 0.0)
    return CTCLattice(ext[0], log_alpha[0], log_beta[0], log_p, occupancy)


def ctc_best_alignment(log_probs: np.ndarray, target, blank: int = 0):
    """The single most probable alignment of ``target`` (Viterbi over the extended label).

    The alpha recursion with ``max`` in place of the sum, keeping which predecessor won.

    Parameters
    ----------
    log_probs : (T, K) float
    target : (L,) int

    Returns
    -------
    states : (T,) int
        Index into the extended label of the state at each frame.
    path : (T,) int
        The class emitted at each frame (``extended[states]``).
    log_prob : float
        Log-probability of that path; -inf when no alignment exists.
    """
    log_probs, target = _one_sample("ctc_best_alignment", log_probs, target, blank)
    T = log_probs.shape[0]
    ext, _ = extend_labels(target[None, :], np.array([target.size]), blank)
    ext = ext[0]
    S = ext.size
    skip_ok = np.zeros(S, bool)  # may state s be entered from s - 2?
    skip_ok[2:] = ext[2:] != ext[:-2]
    emitted = log_probs[:, ext]  # (T, S)
    score = np.full(S, -np.inf)
    score[:min(2, S)] = emitted[0, :min(2, S)]
    back = np.zeros((T, S), np.int64)  # how many states each step advanced: 0, 1 or 2
    for t in range(1, T):
        candidates = np.full((3, S), -np.inf)
        candidates[0] = score
        candidates[1, 1:] = score[:-1]
        candidates[2, 2:] = np.where(skip_ok[2:], score[:-2], -np.inf)
        back[t] = np.argmax(candidates, axis=0)
        score = candidates[back[t], np.arange(S)] + emitted[t]
    end = S - 1 if S == 1 or score[S - 1] >= score[S - 2] else S - 2
    log_prob = float(score[end])
    states = np.empty(T, np.int64)
    states[-1] = end
    for t in range(T - 1, 0, -1):
        states[t - 1] = states[t] - back[t, states[t]]
    return states, ext[states], log_prob


def ctc_forward_backward_reference(log_probs: np.ndarray, target, blank: int = 0):
    """Plain-NumPy forward-backward of one sample: the twin the kernels are tested against.

    Parameters
    ----------
    log_probs : (T, K) float
    target : (L,) int

    Returns
    -------
    log_alpha, log_beta : (T, 2L + 1) float
    nll : float
        ``-log p(target)``.
    occupancy : (T, K) float
        Posterior of each class at each frame (``-`` the gradient w.r.t. ``log_probs``).
    """
    log_probs, target = _one_sample("ctc_forward_backward_reference", log_probs, target, blank)
    T, K = log_probs.shape
    ext = np.full(2 * target.size + 1, blank, np.int64)
    ext[1::2] = target
    S = ext.size
    skip = np.zeros(S, bool)  # skip[s]: the transition s-2 -> s exists
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    emitted = log_probs[:, ext]  # (T, S)

    log_alpha = np.full((T, S), -np.inf)
    log_alpha[0, :2] = emitted[0, :2]
    for t in range(1, T):
        prev = log_alpha[t - 1]
        total = prev.copy()
        total[1:] = np.logaddexp(total[1:], prev[:-1])
        total[2:] = np.logaddexp(total[2:], np.where(skip[2:], prev[:-2], -np.inf))
        log_alpha[t] = total + emitted[t]

    log_beta = np.full((T, S), -np.inf)
    log_beta[T - 1, -2:] = emitted[T - 1, -2:]
    for t in range(T - 2, -1, -1):
        nxt = log_beta[t + 1]
        total = nxt.copy()
        total[:-1] = np.logaddexp(total[:-1], nxt[1:])
        total[:-2] = np.logaddexp(total[:-2], np.where(skip[2:], nxt[2:], -np.inf))
        log_beta[t] = total + emitted[t]

    nll = -float(np.logaddexp.reduce(log_alpha[T - 1, -2:]))
    occupancy = np.zeros((T, K))
    both = log_alpha + log_beta
    for s in range(S):
        reachable = both[:, s] > -np.inf
        occupancy[reachable, ext[s]] += np.exp(both[reachable, s] - emitted[reachable, s] + nll)
    return log_alpha, log_beta, nll, occupancy
