"""The CTC lattice of one sample, whole: for pictures in lessons, and for decoding.

`minilpr.nn.ctc` computes the loss of a batch and keeps only what the gradient needs. A
student drawing the alpha and beta lattices under an image, or a decoder asking which frames
its best alignment gives each character, wants one sample's lattice in full instead:
`ctc_lattice` returns alpha, beta and the state occupancy (from the same kernels as the loss),
and `ctc_best_alignment` the single most probable alignment (Viterbi: alpha with ``max`` in
place of the sum, and the same skip rule, `minilpr.nn.ctc.skip_transitions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minilpr.nn.ctc import extend_labels, skip_transitions
from minilpr.nn.ctc_inputs import _one_sample
from minilpr.nn.kernels.ctc import ctc_alpha_kernel, ctc_beta_kernel


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
    lp = np.ascontiguousarray(log_probs[:, None, :])  # (T, 1, K): a batch of one
    ext, ext_lengths = extend_labels(target[None, :], np.array([target.size]), blank)
    can_skip = skip_transitions(ext)
    inputs = np.array([T], np.int64)
    log_alpha = np.empty((1, T, ext.shape[1]), lp.dtype)
    log_beta = np.empty_like(log_alpha)
    ctc_alpha_kernel(lp, ext, can_skip, inputs, ext_lengths, log_alpha)
    ctc_beta_kernel(lp, ext, can_skip, inputs, ext_lengths, log_beta)
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
    can_skip = skip_transitions(ext)  # (S,): may state s be entered from s - 2?
    emitted = log_probs[:, ext]  # (T, S)
    score = np.full(S, -np.inf)
    score[:min(2, S)] = emitted[0, :min(2, S)]
    back = np.zeros((T, S), np.int64)  # how many states each step advanced: 0, 1 or 2
    for t in range(1, T):
        candidates = np.full((3, S), -np.inf)
        candidates[0] = score
        candidates[1, 1:] = score[:-1]
        candidates[2, 2:] = np.where(can_skip[2:], score[:-2], -np.inf)
        back[t] = np.argmax(candidates, axis=0)
        score = candidates[back[t], np.arange(S)] + emitted[t]
    end = S - 1 if S == 1 or score[S - 1] >= score[S - 2] else S - 2
    log_prob = float(score[end])
    states = np.empty(T, np.int64)
    states[-1] = end
    for t in range(T - 1, 0, -1):
        states[t - 1] = states[t] - back[t, states[t]]
    return states, ext[states], log_prob
