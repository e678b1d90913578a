"""pass@k against its closed form, edge cases and errors."""

from __future__ import annotations

from itertools import pairwise
from math import comb

import pytest

from int_exp.metrics import mean_pass_at_k, pass_at_k


def closed_form(n: int, c: int, k: int) -> float:
    return 1.0 - comb(n - c, k) / comb(n, k)


def test_matches_closed_form_on_a_grid():
    checked = 0
    for n in range(1, 41):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(closed_form(n, c, k), rel=1e-12, abs=1e-12)
                checked += 1
    assert checked == sum(n * (n + 1) for n in range(1, 41))


@pytest.mark.parametrize(("n", "c", "k"), [(200, 1, 1), (200, 3, 10), (200, 7, 100), (1024, 5, 256), (500, 499, 2)])
def test_matches_closed_form_for_large_n(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(closed_form(n, c, k), rel=1e-9)


def test_known_values():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(64, 16, 1) == pytest.approx(0.25)


def test_edge_cases():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 1, 10) == 1.0  # k == n with any correct sample
    assert pass_at_k(10, 8, 5) == 1.0  # n - c < k
    assert pass_at_k(1, 1, 1) == 1.0
    assert pass_at_k(1, 0, 1) == 0.0


def test_pass_at_k_grows_with_k_and_c():
    n = 32
    for c in range(n + 1):
        values = [pass_at_k(n, c, k) for k in range(1, n + 1)]
        assert all(a <= b + 1e-15 for a, b in pairwise(values))
    for k in (1, 4, 16):
        values = [pass_at_k(n, c, k) for c in range(n + 1)]
        assert all(a <= b + 1e-15 for a, b in pairwise(values))


def test_k_larger_than_n_raises():
    with pytest.raises(ValueError, match=r"k=5 is larger than n=4"):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError, match="k=1 is larger than n=0"):
        pass_at_k(0, 0, 1)


@pytest.mark.parametrize(
    ("n", "c", "k", "message"),
    [
        (5, 6, 1, "more than n=5"),
        (-1, 0, 1, "non-negative"),
        (5, -1, 1, "non-negative"),
        (5, 1, 0, "at least 1"),
        (5, 1, -2, "at least 1"),
    ],
)
def test_invalid_arguments_raise(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_non_integer_arguments_raise():
    with pytest.raises(TypeError, match="integer"):
        pass_at_k(10.0, 3, 1)


def test_numpy_integers_are_accepted():
    np = pytest.importorskip("numpy")
    assert pass_at_k(np.int64(10), np.int64(3), np.int32(5)) == pytest.approx(closed_form(10, 3, 5))


def test_mean_pass_at_k():
    ns, cs = [10, 10, 4, 64], [3, 0, 4, 16]
    for k in (1, 2, 4):
        expected = sum(closed_form(n, c, k) for n, c in zip(ns, cs)) / len(ns)
        assert mean_pass_at_k(ns, cs, k) == pytest.approx(expected)
    assert mean_pass_at_k([4, 4], [4, 0], 1) == pytest.approx(0.5)


def test_mean_pass_at_k_errors():
    with pytest.raises(ValueError, match="ns has 2 problems but cs has 1"):
        mean_pass_at_k([4, 4], [1], 1)
    with pytest.raises(ValueError, match="no problems"):
        mean_pass_at_k([], [], 1)
    with pytest.raises(ValueError, match="larger than n=4"):
        mean_pass_at_k([8, 4], [1, 1], 8)


def test_eval_reports_only_the_k_that_n_samples_can_estimate():
    from int_exp.stages.eval import reported_ks

    assert reported_ks([1, 8], 4) == [1]
    assert reported_ks([1, 4, 8], 8) == [1, 4, 8]
    with pytest.raises(ValueError, match="eval.n=4"):
        reported_ks([8, 16], 4)
