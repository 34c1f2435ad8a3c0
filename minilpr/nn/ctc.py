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

The file reads in order: `ctc_forward_backward_reference`, the whole algorithm for one sample on
one screen; `extend_labels` and `skip_transitions`, the extended label and its one skip rule;
the two forward/backward pairs (on log-probabilities, and on logits through a log-softmax);
`CTCLoss`, the module. The batched loops live in `minilpr.nn.kernels.ctc` and are tested against
the reference. Checking the inputs (`ctc_preflight`, `CTCAlignmentWarning`, `pad_targets`) is in
`minilpr.nn.ctc_inputs`; the one-sample lattices for lessons and decoding (`ctc_lattice`,
`ctc_best_alignment`) in `minilpr.nn.ctc_lattice`. Both are re-exported here.

This module follows ``torch.nn.functional.ctc_loss``: log-probabilities ``(T, N, K)``, targets
padded ``(N, S)`` or concatenated, per-sample input and target lengths, ``blank=0``, the three
reductions (``'mean'`` divides each loss by its target length first) and ``zero_infinity``.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from minilpr.nn.activation import log_softmax_forward
from minilpr.nn.ctc_inputs import (CTCAlignmentWarning, _also, _impossible, _impossible_message,
                                   _one_sample, _read_inputs, _samples, count_repeats,
                                   ctc_preflight, min_frames, pad_targets)
from minilpr.nn.kernels.ctc import ctc_alpha_kernel, ctc_beta_kernel, ctc_occupancy_kernel
from minilpr.nn.module import Module

REDUCTIONS = ("mean", "sum", "none")


def ctc_forward_backward_reference(log_probs: np.ndarray, target, blank: int = 0):
    """Plain-NumPy forward-backward of one sample: the twin the kernels are tested against.

    Parameters
    ----------
    log_probs : (T, K) float
    target : (L,) int

    Returns
    -------
    log_alpha, log_beta : (T, 2L + 1) float
        Forward and backward variables, both including frame t's emission.
    nll : float
        ``-log p(target)``.
    occupancy : (T, K) float
        Posterior of each class at each frame (``-`` the gradient w.r.t. ``log_probs``).
    """
    log_probs, target = _one_sample("ctc_forward_backward_reference", log_probs, target, blank)
    T, K = log_probs.shape
    ext = np.full(2 * target.size + 1, blank, np.int64)  # (S,) = (blank, l_1, blank, ..., blank)
    ext[1::2] = target
    S = ext.size
    can_skip = skip_transitions(ext)  # (S,): the transition s-2 -> s exists
    emitted = log_probs[:, ext]  # (T, S): log y[t, l'_s]

    log_alpha = np.full((T, S), -np.inf)
    log_alpha[0, :2] = emitted[0, :2]
    for t in range(1, T):
        prev = log_alpha[t - 1]
        total = prev.copy()
        total[1:] = np.logaddexp(total[1:], prev[:-1])
        total[2:] = np.logaddexp(total[2:], np.where(can_skip[2:], prev[:-2], -np.inf))
        log_alpha[t] = total + emitted[t]

    log_beta = np.full((T, S), -np.inf)
    log_beta[T - 1, -2:] = emitted[T - 1, -2:]
    for t in range(T - 2, -1, -1):
        nxt = log_beta[t + 1]
        total = nxt.copy()
        total[:-1] = np.logaddexp(total[:-1], nxt[1:])
        total[:-2] = np.logaddexp(total[:-2], np.where(can_skip[2:], nxt[2:], -np.inf))
        log_beta[t] = total + emitted[t]

    nll = -float(np.logaddexp.reduce(log_alpha[T - 1, -2:]))
    occupancy = np.zeros((T, K))
    both = log_alpha + log_beta  # counts y[t, l'_s] twice: subtract it once below
    for s in range(S):
        reachable = both[:, s] > -np.inf
        occupancy[reachable, ext[s]] += np.exp(both[reachable, s] - emitted[reachable, s] + nll)
    return log_alpha, log_beta, nll, occupancy


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


def skip_transitions(ext: np.ndarray) -> np.ndarray:
    """The skip rule: may a path enter state ``s`` straight from ``s - 2``?

    A path through the extended label stays, advances by one, or skips the blank between two
    characters — only between two *different* ones, since skipping the blank between equal
    characters would merge them ("A A" collapses to "A"). So the skip into ``s`` exists exactly
    when ``l'_s != l'_{s-2}``: that holds only for a character following a different
    character (a blank state has a blank two back, and a repeat an equal character). In a
    padded batch the entries past a sample's ``2 L_n + 1`` states are never read.

    The alpha recursion reads ``can_skip[s]`` for the move ``s - 2 -> s``, beta reads
    ``can_skip[s + 2]`` for the same move backwards, and the Viterbi alignment reads it as alpha.

    Parameters
    ----------
    ext : (..., S) int
        Extended labels (one, or a padded batch).

    Returns
    -------
    can_skip : (..., S) bool
        False for ``s < 2``.
    """
    can_skip = np.zeros(ext.shape, bool)
    can_skip[..., 2:] = ext[..., 2:] != ext[..., :-2]
    return can_skip


class CTCCache(NamedTuple):
    """What the forward pass keeps for the backward pass (N samples, S_max = 2 L_max + 1)."""

    log_probs: np.ndarray      # (T, N, K)
    ext: np.ndarray            # (N, S_max) extended labels
    can_skip: np.ndarray       # (N, S_max) the skip rule, `skip_transitions(ext)`
    input_lengths: np.ndarray  # (N,)
    ext_lengths: np.ndarray    # (N,) 2 L_n + 1
    log_alpha: np.ndarray      # (N, T, S_max)
    losses: np.ndarray         # (N,) per-sample losses (0 where zero_infinity hid an inf)
    infinite: np.ndarray       # (N,) bool: no alignment exists
    scale: np.ndarray          # (N,) d(reduced loss) / d(loss_n)
    reduction: str
    zero_infinity: bool


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
        labels concatenated. No entry may be ``blank``. `pad_targets` makes the padded form
        (and ``target_lengths``) from a list of labels of different lengths.
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
    can_skip = skip_transitions(ext)
    log_alpha = np.empty((N, T, ext.shape[1]), log_probs.dtype)
    ctc_alpha_kernel(log_probs, ext, can_skip, input_lengths, ext_lengths, log_alpha)
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
    cache = CTCCache(log_probs, ext, can_skip, input_lengths, ext_lengths, log_alpha, losses,
                     infinite, scale, reduction, zero_infinity)
    return loss, cache


def _occupancy(c: CTCCache) -> np.ndarray:
    """Run beta and combine it with alpha: the (T, N, K) posterior of each class at each frame."""
    log_beta = np.empty_like(c.log_alpha)
    ctc_beta_kernel(c.log_probs, c.ext, c.can_skip, c.input_lengths, c.ext_lengths, log_beta)
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

    ``forward(logits (T, N, K), targets, input_lengths, target_lengths)`` — time first, as the
    LSTM outputs it; targets as `ctc_loss_forward` (`pad_targets` builds them) — returns the loss
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


# The lattice tools build on this module, so they can only be re-exported once it is complete.
from minilpr.nn.ctc_lattice import CTCLattice, ctc_best_alignment, ctc_lattice  # noqa: E402

__all__ = [
    "REDUCTIONS", "CTCAlignmentWarning", "CTCCache", "CTCLattice", "CTCLoss", "count_repeats",
    "ctc_best_alignment", "ctc_forward_backward_reference", "ctc_lattice", "ctc_loss",
    "ctc_loss_backward", "ctc_loss_forward", "ctc_loss_with_logits_backward",
    "ctc_loss_with_logits_forward", "ctc_preflight", "extend_labels", "min_frames",
    "pad_targets", "skip_transitions",
]
