"""Recognition metrics on (truth, read) pairs: definitions, edit-distance properties, alignments."""

from collections import Counter
from functools import lru_cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilpr.train import metrics

# a small alphabet makes coincidences (matches, repeats) frequent
small_text = st.text(alphabet="AB1京", max_size=6)
plate_text = st.text(alphabet="京皖AB0128", min_size=1, max_size=8)


@lru_cache(maxsize=None)
def all_alignments(a: str, b: str) -> tuple:
    """Every alignment of a and b (tuples of (t, r) pairs), by brute force."""
    if not a and not b:
        return ((),)
    out = []
    if a and b:
        out += [((a[0], b[0]),) + rest for rest in all_alignments(a[1:], b[1:])]
    if a:
        out += [((a[0], ""),) + rest for rest in all_alignments(a[1:], b)]
    if b:
        out += [(("", b[0]),) + rest for rest in all_alignments(a, b[1:])]
    return tuple(out)


def cost(alignment) -> int:
    return sum(t != r for t, r in alignment)


@given(small_text, small_text)
def test_align_is_an_optimal_alignment(a, b):
    pairs = metrics.align(a, b)
    assert "".join(t for t, _ in pairs) == a
    assert "".join(r for _, r in pairs) == b
    assert all(t or r for t, r in pairs)
    best = min(cost(x) for x in all_alignments(a, b))
    assert cost(pairs) == best == metrics.edit_distance(a, b)


@given(small_text, small_text)
def test_confusions_are_the_edits_of_an_optimal_brute_force_alignment(a, b):
    ours = Counter({(t, r): n for t, r, n in metrics.confusions([a], [b])})
    best = min(cost(x) for x in all_alignments(a, b))
    candidates = [Counter(p for p in x if p[0] != p[1])
                  for x in all_alignments(a, b) if cost(x) == best]
    assert ours in candidates


@given(small_text, small_text, small_text)
def test_edit_distance_is_a_metric(a, b, c):
    assert metrics.edit_distance(a, a) == 0
    assert (metrics.edit_distance(a, b) == 0) == (a == b)
    assert metrics.edit_distance(a, b) == metrics.edit_distance(b, a)
    assert metrics.edit_distance(a, c) <= metrics.edit_distance(a, b) + metrics.edit_distance(b, c)
    assert abs(len(a) - len(b)) <= metrics.edit_distance(a, b) <= max(len(a), len(b))


@given(st.lists(plate_text, min_size=1, max_size=10))
def test_identical_lists_score_one(truths):
    assert metrics.plate_accuracy(truths, truths) == 1.0
    assert metrics.char_accuracy(truths, truths) == 1.0
    assert metrics.accuracy_without_province(truths, truths) == 1.0
    assert all(t.accuracy == 1.0 for t in metrics.per_position_accuracy(truths, truths))
    assert all(p.plates == p.province == p.n
               for p in metrics.per_province_accuracy(truths, truths).values())
    assert metrics.confusions(truths, truths) == []
    assert metrics.length_mismatches(truths, truths) == 0


@given(st.lists(st.tuples(plate_text, small_text), min_size=1, max_size=10))
def test_accuracies_are_ordered_fractions(pairs):
    truths, reads = [t for t, _ in pairs], [r for _, r in pairs]
    plate = metrics.plate_accuracy(truths, reads)
    char = metrics.char_accuracy(truths, reads)
    without = metrics.accuracy_without_province(truths, reads)
    assert 0.0 <= plate <= without <= 1.0
    assert 0.0 <= plate <= char <= 1.0
    values = metrics.char_accuracies(truths, reads)
    for value, t, r in zip(values, truths, reads):
        assert value == pytest.approx(max(0.0, 1 - metrics.edit_distance(t, r) / len(t)))
    assert sum(n for _, _, n in metrics.confusions(truths, reads)) == \
        sum(metrics.edit_distance(t, r) for t, r in pairs)


def test_worked_example():
    truths = ["皖A12345", "皖A12345", "京B67890", "京B67890", "京B67890"]
    reads = ["皖A12345", "蒙A12345", "京B6789", "京B6789O", "京B67890X"]
    assert metrics.plate_accuracy(truths, reads) == 0.2
    # one edit each after the first: a substitution, a deletion, a substitution, an insertion
    assert metrics.char_accuracies(truths, reads).tolist() == pytest.approx(
        [1, 6 / 7, 6 / 7, 6 / 7, 6 / 7])
    assert metrics.accuracy_without_province(truths, reads) == 0.4
    positions = metrics.per_position_accuracy(truths, reads)
    assert [p.n for p in positions] == [5] * 7
    # plates 3 and 5 have the wrong length: wrong everywhere; 2 wrong at 0; 4 wrong at 6
    assert [p.correct for p in positions] == [2, 3, 3, 3, 3, 3, 2]
    assert metrics.length_mismatches(truths, reads) == 2
    provinces = metrics.per_province_accuracy(truths, reads)
    assert list(provinces) == ["京", "皖"]
    assert provinces["皖"] == metrics.ProvinceTally(n=2, plates=1, province=1)
    assert provinces["京"] == metrics.ProvinceTally(n=3, plates=0, province=3)
    assert metrics.confusions(truths, reads) == [
        ("", "X", 1), ("0", "", 1), ("0", "O", 1), ("皖", "蒙", 1)]
    assert metrics.confusions(truths, reads, top=1) == [("", "X", 1)]


def test_unknown_labels_count_as_wrong_and_are_listed():
    truths = ["京A12345", "京A1234O", "Ω"]
    reads = ["京A12345", "京A1234O", "Ω"]
    assert metrics.unknown_labels(truths) == [(1, "京A1234O"), (2, "Ω")]
    assert metrics.plate_accuracy(truths, reads) == pytest.approx(1 / 3)
    assert metrics.char_accuracy(truths, reads) == pytest.approx(1 / 3)
    assert metrics.accuracy_without_province(truths, reads) == pytest.approx(1 / 3)
    assert metrics.per_position_accuracy(truths, reads)[0] == metrics.Tally(3, 1)
    assert metrics.per_province_accuracy(truths, reads)["京"].plates == 1
    assert metrics.confusions(truths, reads) == []


def test_edge_cases():
    assert metrics.plate_accuracy([], []) == 0.0
    assert metrics.char_accuracy([], []) == 0.0
    assert metrics.per_position_accuracy([], []) == []
    assert metrics.char_accuracies(["", ""], ["", "A"]).tolist() == [1.0, 0.0]
    assert metrics.char_accuracies(["AB"], ["XYZW"]).tolist() == [0.0]   # clipped at 0
    with pytest.raises(ValueError, match="2 truths but 1 reads"):
        metrics.plate_accuracy(["A", "B"], ["A"])
