"""CTC decoders: greedy properties, prefix beam search against brute force, grammar constraints."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.nn.activation import log_softmax
from minilpr.nn.decode import (Automaton, CallableGrammar, Hypothesis, collapse_path,
                               constrained_beam_search, greedy_decode, label_confidences,
                               prefix_beam_search)


def labelling_log_probs(log_probs, blank=0):
    """Every labelling's exact log-probability, by enumerating all K^T paths."""
    T, K = log_probs.shape
    totals = {}
    for path in itertools.product(range(K), repeat=T):
        label = collapse_path(path, blank)
        totals[label] = np.logaddexp(totals.get(label, -np.inf),
                                     log_probs[np.arange(T), path].sum())
    return totals


@st.composite
def distributions(draw, max_T=5, max_K=4, min_K=2):
    """Small random (T, K) log-probabilities; ``sharpness`` makes some nearly one-hot."""
    T = draw(st.integers(1, max_T))
    K = draw(st.integers(min_K, max_K))
    sharpness = draw(st.sampled_from([0.5, 2.0, 6.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    return log_softmax(sharpness * np.random.default_rng(seed).standard_normal((T, K)))


@given(distributions(max_T=12, max_K=6), st.integers(0, 1))
def test_greedy_output_properties(log_probs, blank):
    T, K = log_probs.shape
    result = greedy_decode(log_probs, blank=blank)
    path = log_probs.argmax(axis=1)
    assert blank not in result.labels
    assert len(result.labels) <= T
    assert result.labels == collapse_path(path, blank)
    # Adjacent equal characters only where the best path has a blank between them.
    positions = [t for t in range(T) if path[t] != blank and (t == 0 or path[t - 1] != path[t])]
    for i in range(len(result.labels) - 1):
        if result.labels[i] == result.labels[i + 1]:
            assert blank in path[positions[i]:positions[i + 1]]
    assert result.log_prob == pytest.approx(log_probs.max(axis=1).sum())
    assert result.confidences.shape == (len(result.labels),)
    assert np.all((result.confidences > 0) & (result.confidences <= 1))


def test_greedy_collapses_repeats_but_keeps_blank_separated_ones():
    path = [1, 1, 0, 1, 2, 2, 0, 0, 2]
    log_probs = np.log(np.full((9, 3), 0.1))
    log_probs[np.arange(9), path] = np.log(0.8)
    result = greedy_decode(log_probs)
    assert result.labels == (1, 1, 2, 2)
    np.testing.assert_allclose(result.confidences, 0.8)


def test_greedy_on_a_batch_respects_input_lengths(rng):
    log_probs = log_softmax(3 * rng.standard_normal((8, 3, 5)))
    results = greedy_decode(log_probs, input_lengths=[8, 3, 5])
    assert len(results) == 3
    for n, T_n in enumerate([8, 3, 5]):
        assert results[n] == greedy_decode(log_probs[:T_n, n])
    with pytest.raises(ValueError, match="input_lengths"):
        greedy_decode(log_probs, input_lengths=[9, 3, 5])


@given(distributions())
def test_wide_prefix_beam_finds_the_most_probable_labelling(log_probs):
    exact = labelling_log_probs(log_probs)
    hypotheses = prefix_beam_search(log_probs, beam_width=len(exact))
    assert hypotheses[0].log_prob == pytest.approx(max(exact.values()), abs=1e-12)
    assert exact[hypotheses[0].labels] == pytest.approx(max(exact.values()), abs=1e-12)
    # Nothing pruned: every labelling is found, each with its exact probability.
    assert {h.labels for h in hypotheses} == set(exact)
    for h in hypotheses:
        assert h.log_prob == pytest.approx(exact[h.labels], abs=1e-12)
    scores = [h.log_prob for h in hypotheses]
    assert scores == sorted(scores, reverse=True)


def test_beam_search_prefers_the_labelling_over_the_best_path():
    # Best path: blank, blank -> "" (0.36). But "a" has 0.4*0.6*2 + 0.4*0.4 = 0.64.
    log_probs = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert greedy_decode(log_probs).labels == ()
    best = prefix_beam_search(log_probs, beam_width=4)[0]
    assert best.labels == (1,) and best.log_prob == pytest.approx(np.log(0.64))


def test_top_k_and_pruning_options(rng):
    log_probs = log_softmax(2 * rng.standard_normal((6, 4)))
    assert len(prefix_beam_search(log_probs, beam_width=5, top_k=2)) == 2
    # Class 3 never reaches 10 %: with min_prob above that, no prefix may contain it.
    weak = log_softmax(log_probs + np.log([1, 1, 1, 0.02]))
    assert np.exp(weak[:, 3]).max() < 0.1
    assert any(3 in h.labels for h in prefix_beam_search(weak, beam_width=50))
    pruned = prefix_beam_search(weak, beam_width=50, min_prob=0.1)
    assert pruned and all(isinstance(h, Hypothesis) and 3 not in h.labels for h in pruned)
    with pytest.raises(ValueError, match="beam_width"):
        prefix_beam_search(log_probs, beam_width=0)
    with pytest.raises(ValueError, match=r"\(T, K\)"):
        prefix_beam_search(log_probs[None, None], beam_width=2)
    with pytest.raises(ValueError, match="grammar is over 4 classes"):
        constrained_beam_search(log_probs[:, :3], two_then_one_or_two())


def test_beam_searches_on_a_batch_respect_input_lengths(rng):
    log_probs = log_softmax(3 * rng.standard_normal((7, 3, 4)))
    lengths = [7, 2, 5]
    batch = prefix_beam_search(log_probs, beam_width=6, top_k=3, input_lengths=lengths)
    constrained = constrained_beam_search(log_probs, two_then_one_or_two(), beam_width=6,
                                          input_lengths=lengths)
    assert len(batch) == len(constrained) == 3
    for n, T_n in enumerate(lengths):
        one = prefix_beam_search(log_probs[:T_n, n], beam_width=6, top_k=3)
        assert [h.labels for h in batch[n]] == [h.labels for h in one]
        assert [h.log_prob for h in batch[n]] == [h.log_prob for h in one]
        alone = constrained_beam_search(log_probs[:T_n, n], two_then_one_or_two(), beam_width=6)
        assert [h.labels for h in constrained[n]] == [h.labels for h in alone]
    with pytest.raises(ValueError, match="input_lengths"):
        prefix_beam_search(log_probs, input_lengths=[7, 0, 5])


def test_automaton_masks_cannot_be_edited_through_allowed():
    automaton = two_then_one_or_two()
    with pytest.raises(ValueError, match="read-only"):
        automaton.allowed(automaton.start)[1] = True


def two_then_one_or_two() -> Automaton:
    """Strings over {1, 2, 3}: a 2, then a 1 or a 2, optionally a 3."""
    return Automaton.from_patterns([[{2}, {1, 2}], [{2}, {1, 2}, {3}]], num_classes=4)


def test_automaton_from_patterns_accepts_exactly_the_matching_strings():
    automaton = two_then_one_or_two()
    for length in range(5):
        for string in itertools.product(range(1, 4), repeat=length):
            expected = (length in (2, 3) and string[0] == 2 and string[1] in (1, 2)
                        and (length == 2 or string[2] == 3))
            assert automaton.matches(string) == expected, string


@given(distributions(max_T=5, min_K=4, max_K=4))
def test_constrained_beam_returns_the_best_accepted_labelling(log_probs):
    automaton = two_then_one_or_two()
    exact = {label: p for label, p in labelling_log_probs(log_probs).items()
             if automaton.matches(label)}
    hypotheses = constrained_beam_search(log_probs, automaton, beam_width=1000)
    assert all(automaton.matches(h.labels) for h in hypotheses)
    assert {h.labels for h in hypotheses} == set(exact)
    if exact:
        assert hypotheses[0].log_prob == pytest.approx(max(exact.values()), abs=1e-12)


def test_callable_grammar_behaves_like_the_automaton(rng):
    def rule(prefix):
        allowed = {0: [2], 1: [1, 2], 2: [3]}.get(len(prefix), [])
        return allowed, len(prefix) in (2, 3)

    log_probs = log_softmax(rng.standard_normal((5, 4)))
    by_rule = constrained_beam_search(log_probs, CallableGrammar(rule, 4), beam_width=100)
    by_automaton = constrained_beam_search(log_probs, two_then_one_or_two(), beam_width=100)
    assert [h.labels for h in by_rule] == [h.labels for h in by_automaton]
    np.testing.assert_allclose([h.log_prob for h in by_rule],
                               [h.log_prob for h in by_automaton], atol=1e-12)


def test_label_confidences_follow_the_best_alignment():
    log_probs = np.log(np.array([[0.1, 0.9, 0.0 + 1e-9], [0.7, 0.3, 1e-9], [0.2, 0.1, 0.7]]))
    np.testing.assert_allclose(label_confidences(log_probs, [1, 2]), [0.9, 0.7])
    assert label_confidences(log_probs, [1, 1, 1, 1]).tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("decoder", [
    greedy_decode,
    lambda x, **kw: prefix_beam_search(x, beam_width=4, **kw),
    lambda x, **kw: constrained_beam_search(x, two_then_one_or_two(), beam_width=4, **kw),
])
def test_decoders_refuse_logits_with_a_hint(rng, decoder):
    logits = 3 * rng.standard_normal((6, 2, 4))
    hint = r"not log-probabilities \((sample 0, )?frame 0: .*pass log_softmax\(logits\)"
    for scores in (logits[:, 0], logits):
        with pytest.raises(ValueError, match=hint):
            decoder(scores)
    broken = log_softmax(logits)
    broken[2, 1, 3] = np.nan
    with pytest.raises(ValueError, match="sample 1, frame 2: log-sum-exp over the K .* nan"):
        decoder(broken)
    # Padding frames past a sample's length are never read, and float32 round-off is no error.
    decoder(broken.astype(np.float32), input_lengths=[6, 2])
