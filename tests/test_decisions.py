"""Each decision function: what it decides on known inputs, and, for the statistical ones,
its calibration: under a true null at a nominal 5% the measured false-alarm rate lies in its
binomial interval, and a deviation of one resolution is detected with power near one."""

import numpy as np
import pytest
import torch
from scipy import stats as sps

from pgtheory import stats
from pgtheory.moments import Moments
from pgtheory.montecarlo import make_generator
from pgtheory.montecarlo import planned_ratio_test
from pgtheory.montecarlo import planned_scaling_test
from pgtheory.stats import Outcome

S, R, I = Outcome.SUPPORTS, Outcome.REFUTES, Outcome.INCONCLUSIVE
SEEDS = 200


def moments(mean, sd, n):
    return Moments(
        count=n,
        mean=torch.tensor(float(mean), dtype=torch.float64),
        m2=torch.tensor(float(sd), dtype=torch.float64) ** 2 * (n - 1),
    )


def consistent_with(rate, hits, trials=SEEDS):
    """hits/trials is consistent with ``rate`` (two one-sided binomial tests at 1e-3)."""
    return (
        sps.binomtest(hits, trials, rate, alternative="greater").pvalue > 1e-3
        and sps.binomtest(hits, trials, rate, alternative="less").pvalue > 1e-3
    )


# --- exact decisions ------------------------------------------------------------------------


def test_proportionality_check():
    r = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    assert stats.proportionality_check(2.5 * r, r).outcome == S
    assert stats.proportionality_check(-2.5 * r, r).outcome == R  # a negative multiple
    assert stats.proportionality_check(r + torch.tensor([0.0, 0.0, 1e-3]), r).outcome == R


def test_exact_bound_and_properties():
    assert stats.exact_bound(0.5, 1.0, relation="below").outcome == S
    assert stats.exact_bound(1.0, 1.0, relation="below").outcome == R
    assert stats.exact_bound(1.0, 1.0, relation="at_most").outcome == S
    assert stats.exact_bound(1.0 + 1e-12, 1.0, relation="above", margin=1e-9).outcome == R
    assert stats.exact_properties([], method="m", checked="all hold").outcome == S
    assert stats.exact_properties(["one fails"], method="m", checked="-").note == "one fails"


# --- statistical decisions: known inputs --------------------------------------------------


def test_log_ratio_test_equal_and_below():
    num, den = moments(2.0, 0.1, 10_000), moments(1.0, 0.05, 10_000)
    assert stats.log_ratio_test(num, den, predicted=2.0, resolution=0.05).outcome == S
    assert stats.log_ratio_test(num, den, predicted=1.0, resolution=0.05).outcome == R
    assert (
        stats.log_ratio_test(den, num, predicted=1.0, alternative="below", resolution=0.1).outcome
        == S
    )
    assert (
        stats.log_ratio_test(num, den, predicted=1.0, alternative="below", resolution=0.1).outcome
        == R
    )


def test_mean_below_test():
    assert stats.mean_below_test(moments(1.0, 1.0, 10_000), 1.2).outcome == S
    assert stats.mean_below_test(moments(1.0, 1.0, 10_000), 0.8).outcome == R
    assert stats.mean_below_test(moments(1.0, 1.0, 10), 1.01).outcome == I


def test_rank_comparison_and_equivalence():
    rng = np.random.default_rng(1)
    low, high = rng.normal(0, 1, 200), rng.normal(2, 1, 200)
    assert stats.rank_comparison(low, high, resolution=0.5, seed=0).outcome == S
    assert stats.rank_comparison(high, low, resolution=0.5, seed=0).outcome == R
    same = rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)
    assert stats.rank_comparison(*same, resolution=0.5, seed=0).outcome == R  # no difference
    assert stats.equivalence_test(*same, resolution=0.5, seed=0).outcome == S
    assert stats.equivalence_test(low, high, resolution=0.5, seed=0).outcome == R


def test_median_difference_interval_covers_the_difference():
    rng = np.random.default_rng(2)
    x, y = rng.normal(3, 1, 400), rng.normal(1, 1, 400)
    lo, hi = stats.median_difference_interval(x, y, seed=0)
    assert lo < 2.0 < hi and hi - lo < 0.5


def test_log_means_slope_test_and_its_design():
    x = np.array([1.0, 2, 4, 8, 16])
    means = 3 * x**-1.0
    relative = np.diag(np.full(5, 0.5))  # relative variance 0.5 per sample at each point
    n = stats.min_samples_for_slope_test(x, relative, resolution=0.05, false_alarm=1e-4)
    covariance = np.diag(0.5 * means**2 / n)
    finding = stats.log_means_slope_test(x, means, covariance, -1.0, resolution=0.05)
    assert finding.outcome == S and finding.ci[1] - finding.ci[0] < 0.1
    assert stats.log_means_slope_test(x, means, covariance, -0.9, resolution=0.05).outcome == R


# --- calibration of the planned tests -----------------------------------------------------


def _ratio_outcomes(ratio, false_alarm, resolution=0.1):
    def arm(scale):
        return lambda n, g: scale * (1 + torch.rand(n, generator=g, dtype=torch.float64))

    return [
        planned_ratio_test(
            arm(ratio),
            arm(1.0),
            generator=make_generator(seed),
            resolution=resolution,
            false_alarm=false_alarm,
            pilot_samples=500,
        ).outcome
        for seed in range(SEEDS)
    ]


def test_ratio_test_false_alarm_rate_is_nominal():
    assert consistent_with(0.05, _ratio_outcomes(1.0, 0.05).count(R))


def test_ratio_test_power_at_one_resolution():
    outcomes = _ratio_outcomes(float(np.exp(0.1)), 1e-3)
    assert stats.binomial_interval(outcomes.count(R), SEEDS, 0.999)[0] > 0.95


def _scaling_outcomes(exponent, false_alarm, resolution=0.1):
    def make(x):
        return lambda n, g: x**exponent * -torch.rand(n, generator=g, dtype=torch.float64).log()

    return [
        planned_scaling_test(
            make,
            [1.0, 2.0, 4.0, 8.0],
            -1.0,
            generator=make_generator(seed),
            samples_per_point=500,
            resolution=resolution,
            false_alarm=false_alarm,
        ).outcome
        for seed in range(SEEDS)
    ]


def test_scaling_test_false_alarm_rate_is_nominal():
    assert consistent_with(0.05, _scaling_outcomes(-1.0, 0.05).count(R))


def test_scaling_test_power_at_one_resolution_and_supports_the_truth():
    outcomes = _scaling_outcomes(-0.9, 1e-3)
    assert stats.binomial_interval(outcomes.count(R), SEEDS, 0.999)[0] > 0.95
    assert _scaling_outcomes(-1.0, 1e-3).count(S) / SEEDS > 0.97


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_rank_comparison_false_alarm_rate(shift):
    """Under equal distributions 'a < b' is supported at about the nominal one-sided rate."""
    rng = np.random.default_rng(3)
    supported = sum(
        stats.rank_comparison(
            rng.normal(0, 1, 64),
            rng.normal(shift, 1, 64),
            resolution=0.01,
            false_alarm=0.05,
            seed=k,
        ).outcome
        == S
        for k in range(SEEDS)
    )
    if shift == 0.0:
        assert consistent_with(0.05, supported)
    else:
        assert supported / SEEDS > 0.3  # a third of a standard deviation: power, not certainty


def test_rank_test_design_gives_its_power():
    """At the planned size the rank comparison supports a true order almost always (here at a
    nominal 1e-2 miss rate, to be measurable over 200 seeds)."""
    rng = np.random.default_rng(4)
    shift = 0.5  # P(A < B) for N(0, 1) against N(0.5, 1)
    superiority = float(sps.norm.cdf(shift / np.sqrt(2)))
    n = stats.min_samples_for_rank_test(superiority, false_alarm=1e-3, inconclusive=1e-2)
    supported = sum(
        stats.rank_comparison(
            rng.normal(0, 1, n), rng.normal(shift, 1, n), resolution=0.01, false_alarm=1e-3, seed=k
        ).outcome
        == S
        for k in range(SEEDS)
    )
    assert supported / SEEDS > 0.97
    sample = stats.probability_of_superiority(rng.normal(0, 1, 4000), rng.normal(shift, 1, 4000))
    assert abs(sample - superiority) < 0.02


# --- the late-trend test and the paired sign test -------------------------------------------

GRID = np.geomspace(1.0, 5.0, 8)


def _trend_outcomes(exponent: float, direction: str, false_alarm: float, chains: int = 200):
    """Chains whose errors have mean x**exponent on the grid, with correlated noise across the
    grid (the same chains at every point), decided by log_means_trend_test."""
    rng = np.random.default_rng(5)
    outcomes = []
    for _ in range(SEEDS):
        shared = rng.normal(0, 0.3, (chains, 1))
        values = GRID**exponent * np.exp(shared + rng.normal(0, 0.3, (chains, len(GRID))) - 0.09)
        means = values.mean(0)
        covariance = np.cov(values, rowvar=False) / chains
        outcomes.append(
            stats.log_means_trend_test(
                GRID, means, covariance, direction, false_alarm=false_alarm, n=chains
            ).outcome
        )
    return outcomes


def test_trend_test_decides_the_sign_of_the_slope():
    falling = GRID**-1.0
    covariance = np.diag((0.01 * falling) ** 2)
    assert stats.log_means_trend_test(GRID, falling, covariance, "falls").outcome == S
    assert stats.log_means_trend_test(GRID, falling, covariance, "grows").outcome == R
    flat = np.ones_like(GRID)
    assert stats.log_means_trend_test(GRID, flat, np.eye(8), "falls").outcome == I
    assert stats.log_means_trend_test(GRID, -flat, np.eye(8), "falls").outcome == I
    with pytest.raises(ValueError):
        stats.log_means_trend_test(GRID, flat, np.eye(8), "rises")


def test_trend_test_false_alarm_rate_is_half_the_nominal_each_way():
    """A flat trend: 'falls' is refuted (the interval above 0) at rate false_alarm / 2."""
    outcomes = _trend_outcomes(0.0, "falls", 0.05)
    assert consistent_with(0.025, outcomes.count(R))
    assert consistent_with(0.025, outcomes.count(S))


def test_trend_test_power_at_a_clear_slope():
    assert _trend_outcomes(-0.5, "falls", 1e-4).count(S) / SEEDS > 0.97


def test_sign_test_is_the_proportion_test_of_the_wins_and_its_design_holds():
    n = stats.min_trials_for_proportion_test(0.5, 0.9, false_alarm=1e-3, inconclusive=1e-2)
    assert stats.proportion_test_power(n, 0.5, 0.9, false_alarm=1e-3) >= 0.99
    assert stats.proportion_test_power(n - 1, 0.5, 0.9, false_alarm=1e-3) < 0.99
    rng = np.random.default_rng(6)
    supported = sum(
        stats.sign_test(rng.random(n) < 0.9, "won", planned_for=0.9, false_alarm=1e-3).outcome == S
        for _ in range(SEEDS)
    )
    assert supported / SEEDS > 0.97
    finding = stats.sign_test(np.array([True] * 3 + [False]), "won", planned_for=0.9)
    assert finding.estimate == 0.75 and finding.note.startswith("won in 3 of 4 paired seeds")
    with pytest.raises(ValueError):
        stats.min_trials_for_proportion_test(0.5, 0.4)
