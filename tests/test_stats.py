"""The statistical engine: design functions, decisions, and its calibration."""

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from pgtheory import stats
from pgtheory.moments import Moments
from pgtheory.montecarlo import make_generator
from pgtheory.montecarlo import planned_mean_test
from pgtheory.stats import Finding
from pgtheory.stats import Outcome
from pgtheory.stats import all_hold
from pgtheory.stats import binomial_interval
from pgtheory.stats import critical_z
from pgtheory.stats import exact_comparison
from pgtheory.stats import mean_equality_test
from pgtheory.stats import min_discrepancy_detectable_by_mean_test
from pgtheory.stats import min_samples_for_mean_test
from pgtheory.stats import proportion_test
from pgtheory.stats import proportion_test_power
from pgtheory.stats import slope_test


def test_design_functions_are_inverse():
    n = min_samples_for_mean_test(std=2.0, resolution=0.05, false_alarm=1e-6, components=3)
    assert min_discrepancy_detectable_by_mean_test(2.0, n, 1e-6, 3) <= 0.05
    assert min_discrepancy_detectable_by_mean_test(2.0, n - 50, 1e-6, 3) > 0.05
    # Bonferroni: more components need a larger critical value
    assert critical_z(1e-6, 10) > critical_z(1e-6, 1) > critical_z(1e-3, 1)


def _moments(mean, sd, n):
    return Moments(
        count=n,
        mean=torch.tensor(mean, dtype=torch.float64),
        m2=torch.tensor(sd, dtype=torch.float64) ** 2 * (n - 1),
    )


def test_mean_decision_supports_refutes_and_abstains():
    assert (
        mean_equality_test(_moments(0.001, 1.0, 10**6), 0.0, resolution=0.05).outcome
        == Outcome.SUPPORTS
    )
    assert (
        mean_equality_test(_moments(0.1, 1.0, 10**6), 0.0, resolution=0.05).outcome
        == Outcome.REFUTES
    )
    # too few samples: no rejection, but the interval is wider than the resolution
    assert (
        mean_equality_test(_moments(0.01, 1.0, 100), 0.0, resolution=0.05).outcome
        == Outcome.INCONCLUSIVE
    )


def test_vector_decision_refutes_on_one_bad_component():
    m = _moments([0.0, 0.0, 0.2], [1.0, 1.0, 1.0], 10**6)
    finding = mean_equality_test(m, [0.0, 0.0, 0.0], resolution=0.05)
    assert finding.outcome == Outcome.REFUTES
    assert len(finding.ci) == 3


def test_zero_variance_decides_on_exact_equality():
    assert (
        mean_equality_test(_moments(0.0, 0.0, 10), 0.0, resolution=0.1).outcome == Outcome.SUPPORTS
    )
    assert (
        mean_equality_test(_moments(1e-3, 0.0, 10), 0.0, resolution=0.1).outcome == Outcome.REFUTES
    )


def test_slope_test_recovers_a_power_law():
    gen = torch.Generator().manual_seed(3)
    x = torch.logspace(0, 3, 40, dtype=torch.float64)
    y = 3 * x**-1.0 * torch.exp(0.02 * torch.randn(40, generator=gen, dtype=torch.float64))
    assert slope_test(x, y, -1.0, resolution=0.05).outcome == Outcome.SUPPORTS
    assert slope_test(x, y, -2.0, resolution=0.05).outcome == Outcome.REFUTES
    assert slope_test(x[:3], y[:3], -1.0, resolution=0.001).outcome != Outcome.REFUTES


def test_exact_comparison_uses_a_relative_tolerance():
    assert exact_comparison(1e6 + 1e-5, 1e6).outcome == Outcome.SUPPORTS
    assert exact_comparison(1.0 + 1e-6, 1.0).outcome == Outcome.REFUTES


def test_all_hold_is_a_conjunction():
    yes, no = Finding(Outcome.SUPPORTS, "a"), Finding(Outcome.REFUTES, "b")
    assert all_hold([yes, no]).outcome == Outcome.REFUTES
    assert all_hold([yes, Finding(Outcome.INCONCLUSIVE, "c")]).outcome == Outcome.INCONCLUSIVE
    assert all_hold([yes]).outcome == Outcome.SUPPORTS


def test_binomial_interval_covers_the_proportion():
    lo, hi = binomial_interval(50, 1000)
    assert lo < 0.05 < hi


# --- calibration: the measured false-alarm rate and power of the whole Monte Carlo decision

SEEDS = 300


def _decisions(sampler, reference, false_alarm, resolution=0.2):
    return [
        planned_mean_test(
            sampler,
            reference,
            generator=make_generator(seed),
            resolution=resolution,
            false_alarm=false_alarm,
            pilot_samples=500,
        ).outcome
        for seed in range(SEEDS)
    ]


SAMPLERS = {
    "normal": (lambda n, g: torch.randn(n, 2, generator=g, dtype=torch.float64), 0.0),
    # skewed: exponential(1) has mean 1 and third central moment 2
    "exponential": (lambda n, g: -torch.rand(n, 2, generator=g, dtype=torch.float64).log(), 1.0),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_false_alarm_rate_matches_its_nominal_value(name):
    """Under a true null, rejections over 300 seeds are consistent with the nominal 5%:
    neither more (anti-conservative) nor far fewer (the test would not use its budget)."""
    sampler, mean = SAMPLERS[name]
    rejections = _decisions(sampler, mean, false_alarm=0.05).count(Outcome.REFUTES)
    assert sps.binomtest(rejections, SEEDS, 0.05, alternative="greater").pvalue > 1e-3, rejections
    assert sps.binomtest(rejections, SEEDS, 0.05, alternative="less").pvalue > 1e-3, rejections


def test_default_false_alarm_rate_gives_no_false_alarm():
    sampler, mean = SAMPLERS["exponential"]
    assert Outcome.REFUTES not in _decisions(sampler, mean, false_alarm=1e-6)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_power_against_a_bias_of_one_resolution_is_near_one(name):
    sampler, mean = SAMPLERS[name]
    outcomes = _decisions(sampler, mean + 0.2, false_alarm=1e-3, resolution=0.2)
    power_low, _ = binomial_interval(outcomes.count(Outcome.REFUTES), SEEDS, 0.999)
    assert power_low > 0.97


def test_true_statements_are_supported_not_just_unrefuted():
    sampler, mean = SAMPLERS["normal"]
    outcomes = _decisions(sampler, mean, false_alarm=1e-3)
    assert outcomes.count(Outcome.SUPPORTS) / SEEDS > 0.97


def test_critical_value_is_the_normal_quantile():
    assert math.isclose(critical_z(0.05), 1.959963984540054)


def test_proportion_test_power_matches_simulation():
    """The design function's power equals the rate at which proportion_test supports."""
    rng = np.random.default_rng(0)
    power = proportion_test_power(60, 0.5, 0.75, false_alarm=0.01)
    draws = rng.binomial(60, 0.75, size=4000)
    supported = np.mean(
        [
            proportion_test(int(k), 60, 0.5, false_alarm=0.01).outcome == Outcome.SUPPORTS
            for k in draws
        ]
    )
    assert abs(supported - power) < 0.03
    assert proportion_test_power(60, 0.5, 0.5, false_alarm=0.01) <= 0.005
    assert proportion_test_power(60, 0.5, 0.9, false_alarm=0.01) > power


def test_bootstrap_interval_is_seeded_and_covers_the_statistic():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 200), rng.normal(1, 1, 300)
    diff = lambda a, b, axis: np.median(a, axis) - np.median(b, axis)  # noqa: E731
    lo, hi = stats.bootstrap_interval(diff, (x, y), seed=7)
    assert lo < np.median(x) - np.median(y) < hi < 0
    assert stats.bootstrap_interval(diff, (x, y), seed=7) == (lo, hi)
    assert stats.bootstrap_interval(diff, (x, y), seed=8) != (lo, hi)
    band_lo, band_hi = stats.bootstrap_interval(
        stats.interquartile_mean, (rng.normal(size=(20, 5)),), seed=1
    )
    assert band_lo.shape == band_hi.shape == (5,) and (band_lo < band_hi).all()


def test_iqm_gives_no_interval_from_fewer_than_three_seeds():
    assert stats.iqm_with_interval([13.5], seed=0)["ci"] is None
    assert stats.iqm_with_interval([13.5, 14.0], seed=0)["ci"] is None
    assert stats.iqm_with_interval([1.0, 2.0, 3.0], seed=0)["ci"] is not None
