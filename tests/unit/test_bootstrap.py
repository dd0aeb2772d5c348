"""The paired bootstrap's percentile interval and its binomial sampler: deterministic, hand-computable
cases, agreement with a plain resampling bootstrap and with the normal approximation, and its speed."""

import random
import statistics
import time

import pytest

from pytest_amb.metrics.bootstrap import RESAMPLES, binomial_sampler, bootstrap_interval


def test_nothing_to_resample():
    assert bootstrap_interval([]) is None


@pytest.mark.parametrize("values", [[0.5] * 10, [0.0] * 7, [-1.0], [2.0, 2.0]])
def test_equal_differences_have_a_point_interval(values):
    # every resample of equal values has their mean
    assert bootstrap_interval(values) == [values[0], values[0]]


def test_two_differences_hand_computed():
    # n = 2, differences [0, 1]: a resample's mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4. Of 2000
    # resamples about 500 are 0 and 500 are 1, so the 51st smallest is 0 and the 51st largest is 1
    # (fewer than 51 zeros has a probability below 1e-100).
    assert bootstrap_interval([0.0, 1.0]) == [0.0, 1.0]
    # n = 4, differences [1, 0, 0, 0]: the number of 1s drawn is Binomial(4, 1/4); P(mean = 0) = (3/4)^4 = 0.32,
    # P(mean >= 0.75) = 4·(1/4)³·(3/4) + (1/4)^4 = 0.051 and P(mean = 1) = 0.004: about 100 resamples are
    # 0.75 or more but only about 8 are 1, so the 51st largest is 0.75
    assert bootstrap_interval([1.0, 0.0, 0.0, 0.0]) == [0.0, 0.75]


def test_deterministic_and_seeded():
    rng = random.Random(1)
    differences = [rng.choice((-1, 0, 0, 1)) for _ in range(200)]
    assert bootstrap_interval(differences) == bootstrap_interval(list(differences))
    assert bootstrap_interval(differences, seed=1) == bootstrap_interval(differences, seed=1)
    assert bootstrap_interval(differences, seed=1) != bootstrap_interval(differences, seed=2)


def test_pass_fail_differences_match_the_normal_approximation():
    # 100 pairs: 10 went pass -> fail (-1), 20 fail -> pass (+1), 70 agree (0).
    # mean = (20 - 10)/100 = 0.1; population variance = 30/100 - 0.1² = 0.29;
    # sd of the resampled mean = sqrt(0.29/100) = 0.05385 -> 0.1 ± 1.96·0.05385 = [-0.0055, 0.2055]
    differences = [-1.0] * 10 + [1.0] * 20 + [0.0] * 70
    low, high = bootstrap_interval(differences)
    assert low == pytest.approx(-0.0055, abs=0.015) and high == pytest.approx(0.2055, abs=0.015)


def test_matches_a_plain_resampling_bootstrap():
    """The two-part draw (how many land on non-zero differences, then which) against drawing n of n."""
    rng = random.Random(7)
    differences = [0.0] * 150 + [rng.uniform(-0.5, 0.8) for _ in range(150)]
    plain = random.Random(99)
    means = sorted(statistics.fmean(plain.choices(differences, k=len(differences))) for _ in range(RESAMPLES))
    low, high = bootstrap_interval(differences)
    assert low == pytest.approx(means[50], abs=0.01) and high == pytest.approx(means[1949], abs=0.01)


@pytest.mark.parametrize(("n", "p"), [(10, 0.3), (40, 0.05), (3000, 0.5)])
def test_binomial_sampler_has_the_binomial_mean_and_variance(n, p):
    draw = binomial_sampler(n, p, random.Random(3))
    draws = [draw() for _ in range(20_000)]
    assert all(0 <= k <= n for k in draws)
    # mean n·p and variance n·p·(1 - p), within 5 standard errors
    assert statistics.fmean(draws) == pytest.approx(n * p, abs=5 * (n * p * (1 - p) / 20_000) ** 0.5)
    assert statistics.pvariance(draws) == pytest.approx(n * p * (1 - p), rel=0.1)


def test_binomial_sampler_hand_computed_probabilities():
    # Binomial(10, 0.3): P(0) = 0.7^10 = 0.02825; P(3) = C(10,3)·0.3³·0.7⁷ = 120·0.027·0.0823543 = 0.26683
    draw = binomial_sampler(10, 0.3, random.Random(5))
    draws = [draw() for _ in range(40_000)]
    assert draws.count(0) / 40_000 == pytest.approx(0.02825, abs=0.004)
    assert draws.count(3) / 40_000 == pytest.approx(0.26683, abs=0.01)


def test_binomial_sampler_at_the_edges():
    rng = random.Random(0)
    assert {binomial_sampler(5, 0.0, rng)() for _ in range(20)} == {0}
    assert {binomial_sampler(5, 1.0, rng)() for _ in range(20)} == {5}
    assert {binomial_sampler(0, 0.4, rng)() for _ in range(20)} == {0}


def test_thousands_of_pass_fail_pairs_take_well_under_a_second():
    # 5000 paired pass/fail samples, a quarter of them discordant: about 0.25 s of CPU (process time, so that
    # other processes on a busy machine do not count)
    differences = [-1.0] * 500 + [1.0] * 750 + [0.0] * 3750
    start = time.process_time()
    bootstrap_interval(differences)
    assert time.process_time() - start < 1.0
