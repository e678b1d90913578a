"""pass@k against its closed form, edge cases and errors; its bootstrap intervals on simulated data."""

from __future__ import annotations

from itertools import pairwise
from math import comb

import numpy as np
import pytest

from int_exp.metrics import Interval, bootstrap_interval, mean_pass_at_k, paired_interval, pass_at_k


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


# --------------------------------------------------------------------------------------------
# Uncertainty: bootstrap intervals over problems and seeds
# --------------------------------------------------------------------------------------------


def simulate(rng, problems: int, n: int, seeds: int = 1, a: float = 1.0, b: float = 2.0):
    """Per-problem pass@1 estimates of ``problems`` drawn from a Beta(a, b) population of success
    rates, ``n`` binomial samples each, the same problems in every seed; the true pass@1 is
    a / (a + b)."""
    rates = rng.beta(a, b, size=problems)
    correct = rng.binomial(n, rates, size=(seeds, problems))
    return correct / n


@pytest.mark.parametrize("seeds", [1, 3])
def test_bootstrap_interval_covers_the_true_pass_rate(seeds):
    rng = np.random.default_rng(0)
    truth = 1 / 3
    covered = []
    for i in range(200):
        interval = bootstrap_interval(simulate(rng, 96, 8, seeds), n_boot=500, seed=i)
        covered.append(interval.low <= truth <= interval.high)
    assert np.mean(covered) >= 0.90, f"95% intervals held the true value in {np.mean(covered):.0%} of simulations"


def test_bootstrap_interval_narrows_with_more_problems():
    rng = np.random.default_rng(1)
    small = bootstrap_interval(simulate(rng, 64, 8), n_boot=1000)
    large = bootstrap_interval(simulate(rng, 1024, 8), n_boot=1000)
    assert (large.high - large.low) < 0.5 * (small.high - small.low)


def test_paired_difference_of_identical_runs_is_zero():
    values = simulate(np.random.default_rng(2), 128, 8, seeds=3)
    interval = paired_interval(values, values.copy())
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert not interval.excludes_zero


def test_paired_difference_of_two_seeded_runs_of_one_model_has_a_ci_around_zero():
    rng = np.random.default_rng(3)
    rates = rng.beta(1, 2, size=256)
    first, second = (rng.binomial(16, rates) / 16 for _ in range(2))
    interval = paired_interval(first, second)
    assert interval.low < 0 < interval.high
    assert abs(interval.estimate) < 0.03


def test_paired_difference_finds_a_real_gain_that_separate_intervals_miss():
    rng = np.random.default_rng(4)
    rates = rng.beta(1, 2, size=256)
    better = np.clip(rates + 0.04, 0, 1)
    base, improved = rng.binomial(16, rates) / 16, rng.binomial(16, better) / 16
    paired = paired_interval(improved, base)
    alone_base, alone_improved = bootstrap_interval(base), bootstrap_interval(improved)
    assert paired.excludes_zero and paired.low > 0
    assert alone_improved.low < alone_base.high  # the separate intervals overlap
    assert 0.02 < paired.estimate < 0.06


def test_bootstrap_rejects_mismatched_or_missing_values():
    with pytest.raises(ValueError, match="shapes differ"):
        paired_interval([[1.0, 0.0]], [[1.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_interval([[1.0, float("nan")]])
    with pytest.raises(ValueError, match="seeds, problems"):
        bootstrap_interval([])


def test_interval_text_and_scale():
    interval = Interval(0.5, 0.25, 0.75).scaled(100)
    assert str(interval) == "50.0 [25.0, 75.0]"
    assert Interval(-0.1, -0.2, -0.01).excludes_zero


def base_model_grid(rng, gains, runs=3, problems=256):
    """Paired per-problem values of a variant and its reference: ``runs`` run seeds on each base
    model, the variant gaining ``gains[m]`` in pass rate on base model m."""
    variant, reference, groups = [], [], []
    for model, gain in enumerate(gains):
        rates = rng.beta(1, 3, size=problems)
        for _ in range(runs):
            reference.append(rng.binomial(8, rates) / 8)
            variant.append(rng.binomial(8, np.clip(rates + gain, 0, 1)) / 8)
            groups.append(f"model.sandbox.seed={model}")
    return np.array(variant), np.array(reference), groups


def test_a_gain_on_one_base_model_of_three_is_not_separated_once_base_models_are_resampled():
    # The 2026-12-05 sandbox sweep's shape: plain GRPO gained ~17 points on one base model of three
    # and none on the others, with 3 run seeds each. Resampled as 9 independent replicates the
    # interval's low end sits near 0 (above it in that sweep); resampling the base models first
    # shows that two of the three base models gain nothing.
    variant, reference, groups = base_model_grid(np.random.default_rng(5), [0.17, 0.0, 0.0])
    flat = paired_interval(variant, reference, n_boot=4000)
    nested = paired_interval(variant, reference, n_boot=4000, groups=groups)
    assert flat.estimate == nested.estimate and 0.04 < nested.estimate < 0.08
    assert nested.low < 0 < nested.high and nested.low < flat.low - 0.005
    assert nested.high - nested.low > 1.3 * (flat.high - flat.low)


def test_a_gain_on_every_base_model_stays_separated_when_base_models_are_resampled():
    variant, reference, groups = base_model_grid(np.random.default_rng(6), [0.05, 0.06, 0.04])
    assert paired_interval(variant, reference, n_boot=4000, groups=groups).low > 0.02


def test_groups_of_one_seed_or_one_group_resample_as_independent_seeds():
    variant, reference, _ = base_model_grid(np.random.default_rng(7), [0.05, 0.0, 0.1])
    flat = paired_interval(variant, reference, n_boot=1000)
    assert paired_interval(variant, reference, n_boot=1000, groups=list(range(9))) == flat
    assert paired_interval(variant, reference, n_boot=1000, groups=["one"] * 9) == flat


def test_unequal_base_model_groups_resample_and_mismatched_labels_are_refused():
    variant, reference, groups = base_model_grid(np.random.default_rng(8), [0.1, 0.1, 0.1])
    uneven = paired_interval(variant[:7], reference[:7], n_boot=1000, groups=groups[:7])  # 3, 3 and 1 seeds
    assert uneven.low < uneven.estimate < uneven.high and uneven.low > 0
    with pytest.raises(ValueError, match="2 group labels for 9 seed rows"):
        paired_interval(variant, reference, groups=["a", "b"])
