"""Numba loops of the CTC forward-backward algorithm (`minilpr.nn.ctc`).

All three kernels work on the *extended label* of each sample: the target with a blank before,
between and after its characters, ``l' = (blank, l_1, blank, l_2, ..., l_L, blank)``, of length
``S = 2L + 1``. The batch's extended labels are padded to the longest, ``S_max``; sample ``n``
uses its first ``ext_lengths[n]`` states and its first ``input_lengths[n]`` frames, and every
lattice entry outside that rectangle is left at ``-inf`` (log of zero). Whether a path may skip
from state ``s - 2`` to ``s`` is decided once, outside the loops, by
`minilpr.nn.ctc.skip_transitions`; the kernels read its answer from ``can_skip``.

Everything is in log space: a product of probabilities is a sum of logs and a sum of
probabilities is a log-sum-exp, computed by `log_add` without ever leaving log space, so 27
frames of probabilities around 1e-3 never underflow.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def log_add(a, b):
    """``log(exp(a) + exp(b))`` without overflow or underflow; ``-inf`` is log(0)."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit(cache=True)
def ctc_alpha_kernel(log_probs, ext, can_skip, input_lengths, ext_lengths, log_alpha):
    """The forward variables: ``alpha[t, s]`` = probability of all path prefixes of length
    ``t + 1`` that end in state ``s`` having emitted ``l'_1 .. l'_s`` so far.

    ``alpha[0, 0] = y[0, blank]``, ``alpha[0, 1] = y[0, l_1]`` and, for ``t > 0``::

        alpha[t, s] = (alpha[t-1, s] + alpha[t-1, s-1] + can_skip[s] alpha[t-1, s-2]) * y[t, l'_s]

    where ``can_skip[s]`` is true when ``l'_s`` is a character different from ``l'_{s-2}`` (a
    path may jump over the blank between two *different* characters, never between equal ones).

    Parameters
    ----------
    log_probs : (T, N, K) float
        Log-probabilities of each class at each frame.
    ext : (N, S_max) int
        The extended labels, padded with blanks.
    can_skip : (N, S_max) bool
        ``skip_transitions(ext)``: the transition ``s - 2 -> s`` exists.
    input_lengths, ext_lengths : (N,) int
        Frames and extended-label states each sample uses.
    log_alpha : (N, T, S_max) float
        Written in full (``-inf`` outside each sample's lattice).
    """
    N, T, S_max = log_alpha.shape
    for n in range(N):
        T_n = input_lengths[n]
        S = ext_lengths[n]
        for t in range(T):
            for s in range(S_max):
                log_alpha[n, t, s] = -math.inf
        log_alpha[n, 0, 0] = log_probs[0, n, ext[n, 0]]
        if S > 1:
            log_alpha[n, 0, 1] = log_probs[0, n, ext[n, 1]]
        for t in range(1, T_n):
            for s in range(S):
                total = log_alpha[n, t - 1, s]
                if s >= 1:
                    total = log_add(total, log_alpha[n, t - 1, s - 1])
                if can_skip[n, s]:
                    total = log_add(total, log_alpha[n, t - 1, s - 2])
                log_alpha[n, t, s] = total + log_probs[t, n, ext[n, s]]


@njit(cache=True)
def ctc_beta_kernel(log_probs, ext, can_skip, input_lengths, ext_lengths, log_beta):
    """The backward variables: ``beta[t, s]`` = probability of all path suffixes from frame
    ``t`` (its emission included, as in Graves et al. 2006) to the end that start in state ``s``
    and finish the label.

    ``beta[T-1, S-1] = y[T-1, blank]``, ``beta[T-1, S-2] = y[T-1, l_L]`` and, for ``t < T-1``::

        beta[t, s] = (beta[t+1, s] + beta[t+1, s+1] + can_skip[s+2] beta[t+1, s+2]) * y[t, l'_s]

    the same skip rule read from the other end: ``s -> s + 2`` exists when ``can_skip[s + 2]``.

    Parameters
    ----------
    log_probs : (T, N, K) float
    ext : (N, S_max) int
    can_skip : (N, S_max) bool
    input_lengths, ext_lengths : (N,) int
    log_beta : (N, T, S_max) float
        Written in full (``-inf`` outside each sample's lattice).
    """
    N, T, S_max = log_beta.shape
    for n in range(N):
        T_n = input_lengths[n]
        S = ext_lengths[n]
        for t in range(T):
            for s in range(S_max):
                log_beta[n, t, s] = -math.inf
        last = T_n - 1
        log_beta[n, last, S - 1] = log_probs[last, n, ext[n, S - 1]]
        if S > 1:
            log_beta[n, last, S - 2] = log_probs[last, n, ext[n, S - 2]]
        for t in range(last - 1, -1, -1):
            for s in range(S):
                total = log_beta[n, t + 1, s]
                if s + 1 < S:
                    total = log_add(total, log_beta[n, t + 1, s + 1])
                if s + 2 < S and can_skip[n, s + 2]:
                    total = log_add(total, log_beta[n, t + 1, s + 2])
                log_beta[n, t, s] = total + log_probs[t, n, ext[n, s]]


@njit(cache=True)
def ctc_occupancy_kernel(log_probs, ext, input_lengths, ext_lengths, log_alpha, log_beta,
                         nll, occupancy):
    """Posterior probability that frame ``t`` emits class ``k``, given the label.

    Both ``alpha[t, s]`` and ``beta[t, s]`` contain the emission ``y[t, l'_s]``, so the paths
    through state ``s`` at frame ``t`` weigh ``alpha * beta / y``; divided by the label's
    probability ``p = exp(-nll)`` this is the state occupancy, and summing the states that
    carry class ``k`` gives::

        occupancy[t, n, k] = sum_{s : l'_s = k} exp(alpha[t, s] + beta[t, s] - log y[t, k] + nll)

    For each frame ``t < T_n`` the occupancies sum to 1 over ``k``; later frames are 0, and so
    is every frame of a sample whose label has no alignment (``nll = inf``); the caller decides
    what such a sample's gradient is.

    Parameters
    ----------
    log_probs : (T, N, K) float
    ext : (N, S_max) int
    input_lengths, ext_lengths : (N,) int
    log_alpha, log_beta : (N, T, S_max) float
        From `ctc_alpha_kernel` and `ctc_beta_kernel`.
    nll : (N,) float
        ``-log p`` of each sample's label.
    occupancy : (T, N, K) float
        Written in full.
    """
    T, N, K = occupancy.shape
    for n in range(N):
        for t in range(T):
            for k in range(K):
                occupancy[t, n, k] = 0.0
        for t in range(input_lengths[n]):
            for s in range(ext_lengths[n]):
                both = log_alpha[n, t, s] + log_beta[n, t, s]
                if both == -math.inf:
                    continue  # no path through (t, s); also avoids -inf - (-inf) when y = 0
                k = ext[n, s]
                occupancy[t, n, k] += math.exp(both - log_probs[t, n, k] + nll[n])
