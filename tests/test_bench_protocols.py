"""SimMotion protocol metrics on constructed similarity matrices with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.bench.layout import BenchSet, Triplet, first_per_category
from vidsearch.bench.protocols import AVERAGE, bootstrap_table, evaluate, pair_wins, paired_difference, positive_ranks

CATS = ("static_object", "dynamic_object", "dynamic_appearance", "style", "view")


def _triplets(per_cat: int = 4) -> list[Triplet]:
    out, i = [], 0
    for c in CATS:
        for k in range(per_cat):
            out.append(Triplet(c, f"example_{k}", i, i + 1, i + 2))
            i += 3
    return out


def _embeddings(triplets, n, rng, positive_close: bool) -> np.ndarray:
    """Unit vectors where each positive is (or is not) a near copy of its ref."""
    x = rng.normal(size=(n, 16))
    for t in triplets:
        if positive_close:
            x[t.positive] = x[t.ref] + 0.05 * rng.normal(size=16)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_constructed_nearest_positive_scores_100():
    rng = np.random.default_rng(0)
    trip = _triplets()
    x = _embeddings(trip, 3 * len(trip), rng, positive_close=True)
    res = evaluate(x @ x.T, trip, n_boot=200)
    for metric in ("R@1", "R@5", "mAP", "pair"):
        assert res[metric][AVERAGE].value == pytest.approx(100.0)
        assert all(res[metric][c].value == pytest.approx(100.0) for c in CATS)


def test_shuffled_similarities_do_not_score_100():
    rng = np.random.default_rng(1)
    trip = _triplets(per_cat=6)
    x = _embeddings(trip, 3 * len(trip), rng, positive_close=True)
    perm = rng.permutation(len(x))  # relabel clips: positives are no longer where the protocol looks
    s = (x @ x.T)[np.ix_(perm, perm)]
    res = evaluate(s, trip, n_boot=200)
    assert res["R@1"][AVERAGE].value < 40.0
    assert res["mAP"][AVERAGE].value < 60.0


def test_ranks_exclude_the_ref_and_count_ties_against_the_positive():
    trip = [Triplet("a", "e0", 0, 1, 2)]
    s = np.array(
        [
            [9.0, 0.5, 0.4, 0.7],  # the ref's self-similarity (9) must be ignored; clip 3 beats the positive
            [0, 0, 0, 0],
            [0, 0, 0, 0],
            [0, 0, 0, 0],
        ]
    )
    assert positive_ranks(s, trip).tolist() == [2]
    assert pair_wins(s, trip).tolist() == [1.0]
    s[0, 3] = 0.5  # a tie with a distractor is not a win
    assert positive_ranks(s, trip).tolist() == [2]
    s[0, 3] = 0.1
    assert positive_ranks(s, trip).tolist() == [1]
    assert positive_ranks(np.ones((4, 4)), trip).tolist() == [3]  # a method that cannot tell clips apart
    assert pair_wins(np.ones((4, 4)), trip).tolist() == [0.0]


def test_real_protocol_distractor_beating_the_positive_is_a_miss():
    # Two triplets plus two distractors (clips 6, 7) that only ever act as candidates.
    trip = [Triplet("real", "a", 0, 1, 2), Triplet("real", "b", 3, 4, 5)]
    s = np.full((8, 8), 0.0)
    s[0, 1], s[0, 2] = 0.9, 0.3
    s[3, 4], s[3, 5] = 0.8, 0.2
    assert positive_ranks(s, trip).tolist() == [1, 1]
    s[3, 7] = 0.95
    assert positive_ranks(s, trip).tolist() == [1, 2]
    res = evaluate(s, trip, n_boot=100)
    assert res["R@1"]["real"].value == pytest.approx(50.0)
    assert res["pair"]["real"].value == pytest.approx(100.0)
    assert res["mAP"]["real"].value == pytest.approx(75.0)


def test_bootstrap_average_is_mean_of_category_means_and_brackets_it():
    scores = np.array([1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 1], dtype=float)
    cats = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    est = bootstrap_table(scores, cats, n_boot=500, seed=0)
    assert est["a"].value == 100.0 and est["a"].low == 100.0 and est["a"].high == 100.0
    assert est["b"].value == pytest.approx(25.0)
    assert est[AVERAGE].value == pytest.approx((100 + 25 + 100) / 3)
    assert est[AVERAGE].low < est[AVERAGE].value < est[AVERAGE].high
    assert bootstrap_table(scores, cats, n_boot=500, seed=0) == est  # deterministic for a seed


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="square"):
        positive_ranks(np.zeros((3, 4)), [Triplet("a", "e", 0, 1, 2)])
    with pytest.raises(ValueError, match="one category per score"):
        bootstrap_table(np.zeros(3), ["a", "b"])


def test_first_per_category_keeps_distractors_and_reindexes():
    trip = [Triplet("a", "e0", 0, 1, 2), Triplet("a", "e1", 3, 4, 5), Triplet("b", "e0", 6, 7, 8)]
    bench = BenchSet("real", "/x", [f"c{i}" for i in range(9)] + ["d0", "d1"], trip)
    sub = first_per_category(bench, 1)
    assert [t.name for t in sub.triplets] == ["e0", "e0"]
    assert sub.paths == ["c0", "c1", "c2", "c6", "c7", "c8", "d0", "d1"]
    assert [(t.ref, t.positive, t.negative) for t in sub.triplets] == [(0, 1, 2), (3, 4, 5)]


def test_paired_difference_sees_a_win_that_marginal_intervals_hide():
    rng = np.random.default_rng(3)
    cats = ["c"] * 40
    b = np.zeros(40)
    b[rng.choice(40, 20, replace=False)] = 1.0
    a = b.copy()
    a[np.flatnonzero(b == 0)[:6]] = 1.0  # A is right wherever B is, and on six more queries
    ea, eb = bootstrap_table(a, cats)["average"], bootstrap_table(b, cats)["average"]
    assert ea.low < eb.high  # the marginal intervals overlap...
    d = paired_difference(a, b, cats)["average"]
    assert d.value == pytest.approx(15.0) and d.low > 0  # ...the paired one excludes no difference
    assert paired_difference(b, a, cats)["average"].value == pytest.approx(-15.0)
    with pytest.raises(ValueError):
        paired_difference(a, b[:-1], cats)
