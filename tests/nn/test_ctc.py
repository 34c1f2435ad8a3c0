"""CTC loss: brute-force alignment sums, gradient checks, impossible labels, the pre-flight check,
lattices, and the kernels against their NumPy reference."""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from minilpr.nn import FunctionPair, assert_gradcheck
from minilpr.nn.activation import log_softmax
from minilpr.nn.ctc import (CTCAlignmentWarning, CTCLoss, count_repeats, ctc_best_alignment,
                            ctc_forward_backward_reference, ctc_lattice, ctc_loss,
                            ctc_loss_backward, ctc_loss_forward, ctc_loss_with_logits_backward,
                            ctc_loss_with_logits_forward, ctc_preflight, extend_labels,
                            pad_targets, skip_transitions)
from minilpr.nn.decode import collapse_path
from minilpr.nn.kernels.ctc import ctc_alpha_kernel, ctc_beta_kernel, ctc_occupancy_kernel
from tests.conftest import GRAD_TOL


def brute_force_nll(log_probs, target, blank=0):
    """-log of the sum of prod_t y[t, pi_t] over every path pi of length T collapsing to target."""
    T, K = log_probs.shape
    total = -np.inf
    for path in itertools.product(range(K), repeat=T):
        if collapse_path(path, blank) == tuple(target):
            total = np.logaddexp(total, log_probs[np.arange(T), path].sum())
    return -total


@st.composite
def batches(draw, max_T=5, max_K=4, max_N=3, feasible=False):
    """A small batch: log-probs (T, N, K) float64, padded targets, lengths, blank.

    Labels favour repeats (K is small); with ``feasible`` every sample can be aligned.
    """
    T = draw(st.integers(1, max_T))
    K = draw(st.integers(2, max_K))
    N = draw(st.integers(1, max_N))
    blank = draw(st.sampled_from([0, K - 1]))
    characters = [k for k in range(K) if k != blank]
    input_lengths, labels = [], []
    for _ in range(N):
        T_n = draw(st.integers(1, T))
        label = draw(st.lists(st.sampled_from(characters), max_size=T_n))
        while feasible and len(label) + count_repeats(label) > T_n:
            label = label[:-1]
        input_lengths.append(T_n)
        labels.append(label)
    seed = draw(st.integers(0, 2**31 - 1))
    log_probs = log_softmax(np.random.default_rng(seed).standard_normal((T, N, K)))
    L_max = max(len(label) for label in labels)
    targets = np.full((N, max(L_max, 1)), blank, np.int64)
    for n, label in enumerate(labels):
        targets[n, :len(label)] = label
    return log_probs, targets, np.array(input_lengths), np.array([len(x) for x in labels]), blank


def quiet_loss(*args, **kwargs):
    """ctc_loss with the impossible-alignment warning silenced (tests that want it check it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CTCAlignmentWarning)
        return ctc_loss(*args, **kwargs)


@given(batches())
@example((log_softmax(np.random.default_rng(1).standard_normal((1, 1, 3))),
          np.array([[0]]), np.array([1]), np.array([0]), 0))  # T = 1, empty label
@example((log_softmax(np.random.default_rng(2).standard_normal((4, 1, 3))),
          np.array([[1, 1]]), np.array([4]), np.array([2]), 0))  # a repeat needs a blank
@example((log_softmax(np.random.default_rng(3).standard_normal((5, 2, 3))),
          np.array([[2, 2, 2], [1, 0, 0]]), np.array([5, 3]), np.array([3, 1]), 0))
def test_loss_is_minus_log_of_the_sum_over_all_alignments(batch):
    log_probs, targets, input_lengths, target_lengths, blank = batch
    losses = quiet_loss(log_probs, targets, input_lengths, target_lengths, blank=blank,
                        reduction="none")
    for n in range(log_probs.shape[1]):
        expected = brute_force_nll(log_probs[:input_lengths[n], n],
                                   targets[n, :target_lengths[n]], blank)
        if np.isinf(expected):
            assert np.isposinf(losses[n])
        else:
            assert abs(losses[n] - expected) < 1e-9


def test_reductions_follow_pytorch(rng):
    log_probs = log_softmax(rng.standard_normal((8, 4, 5)))
    targets = np.array([[1, 2, 3], [4, 4, 0], [2, 0, 0], [0, 0, 0]])
    input_lengths, target_lengths = np.array([8, 6, 7, 5]), np.array([3, 2, 1, 0])
    none = ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    # The empty label's only alignment is all blanks.
    assert none[3] == pytest.approx(-log_probs[:5, 3, 0].sum(), rel=1e-12)
    assert ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="sum") == \
        pytest.approx(none.sum(), rel=1e-12)
    # 'mean' divides each loss by its target length, clamped to 1 for the empty label.
    assert ctc_loss(log_probs, targets, input_lengths, target_lengths) == \
        pytest.approx(np.mean(none / [3, 2, 1, 1]), rel=1e-12)


def test_padded_and_concatenated_targets_agree(rng):
    log_probs = log_softmax(rng.standard_normal((9, 3, 6)))
    padded = np.array([[1, 2, 2, 5], [3, 0, 0, 0], [4, 4, 4, 1]])
    lengths = np.array([4, 1, 4])
    concatenated = np.concatenate([padded[n, :lengths[n]] for n in range(3)])
    a = ctc_loss(log_probs, padded, [9, 5, 9], lengths, reduction="none")
    b = ctc_loss(log_probs, concatenated, [9, 5, 9], lengths, reduction="none")
    np.testing.assert_array_equal(a, b)


def test_frames_past_the_input_length_are_ignored(rng):
    log_probs = log_softmax(rng.standard_normal((7, 1, 4)))
    short = ctc_loss(log_probs[:5], [[1, 2]], [5], [2])
    padded = log_probs.copy()
    padded[5:] = log_softmax(rng.standard_normal((2, 1, 4)))
    assert ctc_loss(padded, [[1, 2]], [5], [2]) == short


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@given(batch=batches(feasible=True))
def test_gradient_wrt_log_probs_matches_finite_differences(reduction, batch):
    log_probs, targets, input_lengths, target_lengths, blank = batch
    # Any log_probs, normalised or not: the loss is a function of them all the same.
    log_probs = log_probs + np.random.default_rng(0).standard_normal(log_probs.shape)
    pair = FunctionPair(
        lambda lp: ctc_loss_forward(lp, targets, input_lengths, target_lengths, blank,
                                    reduction),
        ctc_loss_backward)
    assert_gradcheck(pair, log_probs, tol=GRAD_TOL)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@given(batch=batches(feasible=True))
def test_gradient_wrt_logits_matches_finite_differences(reduction, batch):
    log_probs, targets, input_lengths, target_lengths, blank = batch
    logits = 2 * log_probs + 1.5  # any scores; the loss applies log_softmax itself
    # An almost certain labelling (p ≈ 1 - 1e-5) has a loss and gradients of that size, while
    # the round-off in log(p ≈ 1) stays near 1e-16: centred differences cannot resolve such a
    # gradient to 1e-6. Such samples are dropped from the batch (the others are checked); the
    # torch parity tests cover them.
    losses = ctc_loss_with_logits_forward(logits, targets, input_lengths, target_lengths, blank,
                                          "none")[0]
    keep = losses > 1e-3  # (N,)
    assume(keep.any())
    logits, targets = np.ascontiguousarray(logits[:, keep]), targets[keep]
    input_lengths, target_lengths = input_lengths[keep], target_lengths[keep]
    pair = FunctionPair(
        lambda x: ctc_loss_with_logits_forward(x, targets, input_lengths, target_lengths, blank,
                                               reduction),
        ctc_loss_with_logits_backward)
    assert_gradcheck(pair, logits, tol=GRAD_TOL)


def test_gradient_is_minus_occupancy_and_softmax_minus_occupancy(rng):
    logits = rng.standard_normal((10, 2, 5))
    args = ([[1, 3, 3], [2, 4, 0]], [10, 7], [3, 2])
    _, cache = ctc_loss_with_logits_forward(logits, *args, reduction="sum")
    dlogits = ctc_loss_with_logits_backward(1.0, cache)
    log_probs = log_softmax(logits)
    _, cache = ctc_loss_forward(log_probs, *args, reduction="sum")
    occupancy = -ctc_loss_backward(1.0, cache)
    used = np.arange(10)[:, None] < np.array([10, 7])[None, :]  # (T, N)
    np.testing.assert_allclose(occupancy.sum(axis=2), used.astype(float), atol=1e-12)
    np.testing.assert_allclose(dlogits, np.where(used[..., None], np.exp(log_probs) - occupancy,
                                                 0), atol=1e-12)
    assert np.all(dlogits[7:, 1] == 0)


def test_module_returns_the_logits_gradient(rng):
    logits = rng.standard_normal((6, 2, 4))
    args = (np.array([[1, 2], [3, 0]]), np.array([6, 5]), np.array([2, 1]))
    module = CTCLoss(reduction="mean")
    loss = module(logits, *args)
    expected_loss, cache = ctc_loss_with_logits_forward(logits, *args)
    assert loss == expected_loss
    np.testing.assert_array_equal(module.backward(), ctc_loss_with_logits_backward(1.0, cache))
    with pytest.raises(RuntimeError, match="before forward"):
        module.backward()


def test_float32_agrees_with_float64(rng):
    logits = rng.standard_normal((27, 4, 20))
    targets = rng.integers(1, 20, (4, 8))
    args = (targets, [27, 27, 20, 25], [8, 7, 8, 5])
    loss64, cache64 = ctc_loss_with_logits_forward(logits, *args)
    loss32, cache32 = ctc_loss_with_logits_forward(logits.astype(np.float32), *args)
    grad32 = ctc_loss_with_logits_backward(1.0, cache32)
    assert loss32.dtype == np.float32 and grad32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(grad32, ctc_loss_with_logits_backward(1.0, cache64), atol=1e-5)


def test_impossible_alignment_warns_and_zero_infinity_zeroes_it(rng):
    logits = rng.standard_normal((3, 2, 4))
    targets = np.array([[1, 2], [2, 2]])  # "22" needs 3 frames; sample 1 gets only 2
    args = (targets, np.array([3, 2]), np.array([2, 2]))
    with pytest.warns(CTCAlignmentWarning, match=r"sample 1: input length 2 < 2 labels \+ 1"):
        losses, cache = ctc_loss_with_logits_forward(logits, *args, reduction="none")
    assert np.isfinite(losses[0]) and np.isposinf(losses[1])
    grad = ctc_loss_with_logits_backward(np.ones(2), cache)
    assert np.all(np.isfinite(grad[:, 0])) and np.all(np.isnan(grad[:2, 1]))

    with pytest.warns(CTCAlignmentWarning, match="zero_infinity=True"):
        losses, cache = ctc_loss_with_logits_forward(logits, *args, reduction="none",
                                                     zero_infinity=True)
    assert losses[1] == 0 and np.isfinite(losses[0])
    grad = ctc_loss_with_logits_backward(np.ones(2), cache)
    assert np.all(grad[:, 1] == 0) and np.any(grad[:, 0] != 0)
    assert np.isfinite(quiet_loss(log_softmax(logits), *args, zero_infinity=True))


@pytest.mark.parametrize("targets, match", [
    ([[1, 9]], "outside the K=5 classes"),
    ([[1, 0]], "blank index clash"),
    ([[-1, 2]], "outside the K=5 classes"),
])
def test_bad_targets_raise_one_line(rng, targets, match):
    with pytest.raises(ValueError, match=match):
        ctc_loss(log_softmax(rng.standard_normal((6, 1, 5))), targets, [6], [2])


def test_bad_arguments_raise(rng):
    log_probs = log_softmax(rng.standard_normal((6, 2, 5)))
    with pytest.raises(ValueError, match="reduction"):
        ctc_loss(log_probs, [[1], [2]], [6, 6], [1, 1], reduction="avg")
    with pytest.raises(ValueError, match="input_lengths"):
        ctc_loss(log_probs, [[1], [2]], [6, 7], [1, 1])
    with pytest.raises(ValueError, match="sum to 3"):
        ctc_loss(log_probs, [1, 2], [6, 6], [1, 2])
    with pytest.raises(ValueError, match="shape"):
        ctc_loss(log_probs[0], [[1], [2]], [6, 6], [1, 1])


def test_pad_targets_builds_what_the_loss_takes(rng):
    labels = [np.array([1, 2, 2]), [3], np.array([], np.int64), (4, 1)]
    targets, target_lengths = pad_targets(labels)
    assert targets.dtype == target_lengths.dtype == np.int64
    np.testing.assert_array_equal(targets, [[1, 2, 2], [3, 0, 0], [0, 0, 0], [4, 1, 0]])
    np.testing.assert_array_equal(target_lengths, [3, 1, 0, 2])
    log_probs = log_softmax(rng.standard_normal((6, 4, 5)))
    concatenated = np.concatenate([np.asarray(label, np.int64) for label in labels])
    np.testing.assert_array_equal(
        ctc_loss(log_probs, targets, [6] * 4, target_lengths, reduction="none"),
        ctc_loss(log_probs, concatenated, [6] * 4, target_lengths, reduction="none"))
    assert pad_targets([])[0].shape == (0, 0)
    with pytest.raises(ValueError, match="label 1 must be a 1-D array of class indices"):
        pad_targets([[1, 2], [[3]]])
    with pytest.raises(TypeError, match="a list of N label arrays"):
        pad_targets(np.array([[1, 2]]))


def test_the_usual_wiring_mistakes_are_named(rng):
    logits = rng.standard_normal((6, 3, 5))  # (T, N, K)
    labels = [np.array([1, 2]), np.array([3]), np.array([4, 4, 1])]
    with pytest.raises(ValueError, match=r"targets are a list of 3 labels of different lengths "
                                         r"\(2, 1, 3\).*pad_targets\(labels\)"):
        CTCLoss()(logits, labels, [6, 6, 6], [2, 1, 3])
    targets, target_lengths = pad_targets(labels)
    assert np.isfinite(CTCLoss()(logits, targets, [6, 6, 6], target_lengths))
    with pytest.raises(ValueError, match=r"shape \(3, 6, 5\) look batch-first \(N, T, K\).*"
                                         r"\(T, N, K\).*transpose\(1, 0, 2\)"):
        CTCLoss()(logits.transpose(1, 0, 2), targets, [6, 6, 6], target_lengths)
    with pytest.raises(ValueError, match="encode the label strings"):
        ctc_loss(log_softmax(logits), ["ab", "c", "dd"], [6, 6, 6], [2, 1, 2])
    assert "batch-first" in ctc_preflight(logits.transpose(1, 0, 2), targets, [6, 6, 6],
                                          target_lengths)[0]


def test_preflight_names_each_cause_of_nan_and_inf(rng):
    log_probs = log_softmax(rng.standard_normal((4, 3, 5)))
    fine = ([[1, 2], [3, 3], [4, 0]], [4, 4, 3], [2, 2, 1])
    assert ctc_preflight(log_probs, *fine) == []
    assert ctc_preflight(log_probs, *fine, charset=list("-abcd")) == []

    problems = ctc_preflight(log_probs, [[1, 7], [3, 3], [4, 0]], [4, 4, 3], [2, 2, 1])
    assert len(problems) == 1 and "outside the K=5 classes" in problems[0]
    problems = ctc_preflight(log_probs, [[1, 2], [3, 0], [4, 0]], [4, 4, 3], [2, 2, 1],
                             charset=list("-abcd"))
    assert len(problems) == 1 and "blank index clash" in problems[0] and "'-'" in problems[0]
    problems = ctc_preflight(log_probs, *fine, charset=list("-abc"))
    assert len(problems) == 1 and "charset has 4" in problems[0]
    problems = ctc_preflight(log_probs, [[1, 2], [3, 3], [4, 0]], [4, 2, 3], [2, 2, 1])
    assert problems == ["sample 1: input length 2 < 2 labels + 1 adjacent repeats = 3 frames "
                        "needed; no alignment exists (loss inf): shorten the label or lengthen "
                        "the network's output"]
    assert "log_softmax" in ctc_preflight(3 * log_probs, *fine)[0]
    broken = log_probs.copy()
    broken[1, 0, 2] = np.nan
    assert "NaN" in ctc_preflight(broken, *fine)[0]
    dead = log_probs.copy()
    dead[2, 1] = -np.inf  # probability 0 for every class: no path survives this frame
    assert "-inf for every class in 1 frames" in ctc_preflight(dead, *fine)[0]
    padding = log_probs.copy()
    padding[3, 2] = np.nan  # frame 3 of sample 2, past its input length of 3: never read
    assert ctc_preflight(padding, *fine) == []


def test_lattice_and_best_alignment(rng):
    log_probs = log_softmax(rng.standard_normal((6, 4)))
    target = [2, 2, 3]
    lattice = ctc_lattice(log_probs, target)
    assert lattice.log_likelihood == pytest.approx(-brute_force_nll(log_probs, target), abs=1e-12)
    np.testing.assert_allclose(lattice.occupancy.sum(axis=1), 1, atol=1e-12)
    np.testing.assert_array_equal(lattice.extended, [0, 2, 0, 2, 0, 3, 0])

    states, path, log_prob = ctc_best_alignment(log_probs, target)
    assert collapse_path(path) == tuple(target)
    np.testing.assert_array_equal(path, lattice.extended[states])
    best = max(log_probs[np.arange(6), p].sum() for p in itertools.product(range(4), repeat=6)
               if collapse_path(p) == tuple(target))
    assert log_prob == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("function", [ctc_lattice, ctc_best_alignment])
def test_one_sample_helpers_check_the_label(rng, function):
    log_probs = log_softmax(rng.standard_normal((6, 4)))
    with pytest.raises(ValueError, match=f"{function.__name__}: .*outside the K=4 classes"):
        function(log_probs, [1, 7])
    with pytest.raises(ValueError, match=f"{function.__name__}: .*blank index clash"):
        function(log_probs, [1, 0, 2])


def test_count_repeats_and_extend_labels():
    assert count_repeats([1, 1, 2, 2, 2, 3]) == 3 and count_repeats([]) == 0
    ext, lengths = extend_labels(np.array([[1, 2], [3, 9]]), np.array([2, 1]), blank=0)
    np.testing.assert_array_equal(ext, [[0, 1, 0, 2, 0], [0, 3, 0, 0, 0]])
    np.testing.assert_array_equal(lengths, [5, 3])


def test_skip_rule_jumps_only_the_blank_between_different_characters():
    ext, _ = extend_labels(np.array([[1, 1, 2, 1]]), np.array([4]))  # -1-1-2-1-
    # Into the second 1 (s = 3): no, a repeat; into 2 (s = 5) and the last 1 (s = 7): yes.
    np.testing.assert_array_equal(np.flatnonzero(skip_transitions(ext)[0]), [5, 7])
    np.testing.assert_array_equal(skip_transitions(ext[0]), skip_transitions(ext)[0])


@pytest.mark.kernel
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-4), (np.float64, 1e-12)])
def test_kernels_match_the_numpy_reference(rng, dtype, tol):
    T, N, K = 7, 3, 5
    log_probs = log_softmax(rng.standard_normal((T, N, K))).astype(dtype)
    padded = np.array([[1, 1, 2], [4, 0, 0], [3, 2, 3]])
    target_lengths = np.array([3, 1, 3])
    input_lengths = np.array([7, 4, 6], np.int64)
    ext, ext_lengths = extend_labels(padded, target_lengths)
    can_skip = skip_transitions(ext)
    log_alpha = np.empty((N, T, ext.shape[1]), dtype)
    log_beta = np.empty_like(log_alpha)
    ctc_alpha_kernel(log_probs, ext, can_skip, input_lengths, ext_lengths, log_alpha)
    ctc_beta_kernel(log_probs, ext, can_skip, input_lengths, ext_lengths, log_beta)
    for n in range(N):
        T_n, S = input_lengths[n], ext_lengths[n]
        alpha, beta, nll, occupancy = ctc_forward_backward_reference(
            log_probs[:T_n, n].astype(np.float64), padded[n, :target_lengths[n]])
        for ours, theirs in ((log_alpha[n, :T_n, :S], alpha), (log_beta[n, :T_n, :S], beta)):
            np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
            finite = np.isfinite(theirs)
            np.testing.assert_allclose(ours[finite], theirs[finite], rtol=tol, atol=tol)
        assert np.all(np.isneginf(log_alpha[n, T_n:])) and np.all(np.isneginf(log_alpha[n, :, S:]))
        nll_all = np.full(N, nll, dtype)
        occ = np.empty((T, N, K), dtype)
        ctc_occupancy_kernel(log_probs, ext, input_lengths, ext_lengths, log_alpha, log_beta,
                             nll_all, occ)
        np.testing.assert_allclose(occ[:T_n, n], occupancy, atol=tol)
        assert np.all(occ[T_n:, n] == 0)
