"""cx_cli.stats checked against KPIS.md, CONTRACT.md and numbers worked by hand."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cx_cli.stats import (
    holm_adjust,
    mean_interval,
    mean_test,
    nps_interval,
    nps_test,
    sample_variance,
    two_proportion_test,
    wilson_interval,
    z_value,
)

confidences = st.floats(min_value=0.5, max_value=0.999)


@st.composite
def nps_counts(draw: st.DrawFn) -> tuple[int, int, int]:
    """(promoters, detractors, n) that n answers can produce."""
    n = draw(st.integers(min_value=1, max_value=100_000))
    promoters = draw(st.integers(min_value=0, max_value=n))
    detractors = draw(st.integers(min_value=0, max_value=n - promoters))
    return promoters, detractors, n


def sums(values: list[float]) -> tuple[int, float, float]:
    """(n, total, total_sq): the running sums a KPI tallies."""
    return len(values), sum(values), sum(v * v for v in values)


# z


@pytest.mark.parametrize(
    ("confidence", "z"), [(0.95, 1.959964), (0.90, 1.644854), (0.99, 2.575829)]
)
def test_z_value_is_the_two_sided_normal_quantile(confidence: float, z: float) -> None:
    assert z_value(confidence) == pytest.approx(z, abs=1e-6)


@pytest.mark.parametrize("confidence", [0, 1, 95, -0.5])
def test_confidence_outside_0_1_is_rejected(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        z_value(confidence)


# Wilson (KPIS.md, CSAT)


# KPIS.md prints 170 of 200 as [79.40, 89.29]. By hand: p = 0.85, z^2 = 3.841459;
# centre (0.85 + 0.009604) / 1.019207 = 0.843404; half 1.959964 * sqrt(0.0006375 + 0.000024)
# / 1.019207 = 0.049460 -> [0.793944, 0.892864], i.e. [79.39, 89.29] to two decimals: the
# published low end is 79.3944 rounded twice (79.395 -> 79.40), so the test checks 79.39.
# 9 of 10: centre 0.788987, half 0.193137 -> [0.595850, 0.982124], as published.
@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [(170, 200, (79.39, 89.29)), (9, 10, (59.58, 98.21))],
)
def test_wilson_matches_published_interval(
    successes: int, n: int, expected: tuple[float, float]
) -> None:
    low, high = wilson_interval(successes, n, 0.95)
    assert (100 * low, 100 * high) == pytest.approx(expected, abs=0.005)


def test_wilson_at_zero_and_all_successes_touches_the_bound() -> None:
    # 0 of 10: [0, z^2 / (n + z^2)] = [0, 3.8415 / 13.8415] = [0, 0.27753]
    assert wilson_interval(0, 10, 0.95) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(10, 10, 0.95) == pytest.approx((1 - 0.27753, 1.0), abs=1e-5)


@pytest.mark.parametrize(("successes", "n"), [(1, 0), (-1, 10), (11, 10)])
def test_wilson_rejects_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n, 0.95)


@given(n=st.integers(min_value=1, max_value=10**7), data=st.data(), confidence=confidences)
def test_wilson_lies_in_0_1_and_contains_the_proportion(
    n: int, data: st.DataObject, confidence: float
) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(successes, n, confidence)
    assert 0 <= low <= successes / n <= high <= 1


# NPS intervals (KPIS.md, CONTRACT.md)


def test_nps_wald_matches_published_interval() -> None:
    # NPS 17.5; Var = 0.325 - 0.175^2 = 0.294375; SE = sqrt(Var / 1000) = 0.0171574;
    # 1.959964 * 0.0171574 = 0.033628 -> 17.5 -/+ 3.3628 = [14.137, 20.863].
    interval = nps_interval(promoters=250, detractors=75, n=1000, confidence=0.95, method="wald")
    assert interval == pytest.approx((14.14, 20.86), abs=0.005)


def test_nps_adjusted_wald_matches_contract_example() -> None:
    # p = 250.75 / 1003 = 0.25, d = 75.75 / 1003 = 0.075523, adjusted NPS 17.4477;
    # Var = 0.325523 - 0.174477^2 = 0.295081; SE = sqrt(Var / 1003) = 0.0171522;
    # 1.959964 * 0.0171522 = 0.033617 -> 17.4477 -/+ 3.3617 = [14.086, 20.809].
    interval = nps_interval(promoters=250, detractors=75, n=1000, confidence=0.95)
    assert interval == pytest.approx((14.09, 20.81), abs=0.005)


def test_nps_all_promoters_has_a_degenerate_wald_interval_and_a_wider_adjusted_one() -> None:
    assert nps_interval(50, 0, 50, 0.95, method="wald") == pytest.approx((100.0, 100.0))
    low, high = nps_interval(50, 0, 50, 0.95)
    assert low < 100 and high == 100.0


def test_nps_unknown_method_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown NPS interval method"):
        nps_interval(250, 75, 1000, 0.95, method="bootstrap")


@pytest.mark.parametrize(("promoters", "detractors", "n"), [(1, 0, 0), (6, 5, 10), (-1, 0, 10)])
def test_nps_rejects_impossible_counts(promoters: int, detractors: int, n: int) -> None:
    with pytest.raises(ValueError):
        nps_interval(promoters, detractors, n, 0.95)


@given(counts=nps_counts(), confidence=confidences)
def test_nps_wald_interval_lies_in_range_and_contains_the_nps(
    counts: tuple[int, int, int], confidence: float
) -> None:
    promoters, detractors, n = counts
    nps = 100 * (promoters - detractors) / n
    low, high = nps_interval(promoters, detractors, n, confidence, method="wald")
    assert -100 <= low <= high <= 100
    assert low <= nps + 1e-9 and nps - 1e-9 <= high


@given(counts=nps_counts(), confidence=confidences)
def test_nps_adjusted_wald_interval_lies_in_range(
    counts: tuple[int, int, int], confidence: float
) -> None:
    low, high = nps_interval(*counts, confidence)
    assert -100 <= low < high <= 100


# Means


def test_sample_variance_matches_hand_worked_example() -> None:
    # 1..5: total 15, total_sq 55; (55 - 15^2 / 5) / 4 = 10 / 4 = 2.5
    assert sample_variance(*sums([1, 2, 3, 4, 5])) == pytest.approx(2.5)


@pytest.mark.parametrize("n", [0, 1])
def test_sample_variance_needs_two_values(n: int) -> None:
    assert sample_variance(n, 4.0 * n, 16.0 * n) is None


@given(value=st.floats(min_value=-1e6, max_value=1e6), count=st.integers(2, 50))
def test_sample_variance_of_identical_values_is_zero_never_negative(
    value: float, count: int
) -> None:
    variance = sample_variance(*sums([value] * count))
    assert variance is not None
    assert 0 <= variance <= 1e-9 * max(1.0, value * value)


@given(st.lists(st.integers(min_value=0, max_value=10), min_size=2, max_size=200))
def test_sample_variance_agrees_with_statistics_on_scores(scores: list[int]) -> None:
    assert sample_variance(*sums(scores)) == pytest.approx(statistics.variance(scores), abs=1e-9)


def test_mean_interval_matches_hand_worked_t_interval() -> None:
    # 1..5: mean 3, sd 1.5811, SE 0.70711; t(0.975, df 4) = 2.776445;
    # 3 -/+ 2.776445 * 0.70711 = 3 -/+ 1.96322 = [1.0368, 4.9632]
    assert mean_interval(*sums([1, 2, 3, 4, 5]), 0.95) == pytest.approx((1.0368, 4.9632), abs=5e-5)


def test_mean_interval_needs_two_values() -> None:
    assert mean_interval(*sums([4.0]), 0.95) is None


def test_mean_interval_of_constant_values_is_a_point() -> None:
    assert mean_interval(*sums([4.0] * 10), 0.95) == pytest.approx((4.0, 4.0))


# Two-group tests


def test_two_proportion_test_matches_hand_worked_example() -> None:
    # 60/100 vs 45/100: pooled 105/200 = 0.525; SE = sqrt(0.525 * 0.475 * (1/100 + 1/100))
    # = sqrt(0.0049875) = 0.070622; z = 0.15 / 0.070622 = 2.1240; p = 2 * (1 - Phi(2.1240))
    # = 2 * 0.016836 = 0.03367
    assert two_proportion_test(60, 100, 45, 100) == pytest.approx(0.03367, abs=5e-5)


def test_two_proportion_test_is_symmetric_and_one_for_equal_rates() -> None:
    assert two_proportion_test(45, 100, 60, 100) == two_proportion_test(60, 100, 45, 100)
    assert two_proportion_test(30, 100, 60, 200) == pytest.approx(1.0)


@pytest.mark.parametrize("counts", [(0, 0, 5, 10), (5, 10, 0, 0), (0, 10, 0, 20), (10, 10, 20, 20)])
def test_two_proportion_test_is_undefined_without_data_or_variation(
    counts: tuple[int, int, int, int],
) -> None:
    assert two_proportion_test(*counts) is None


def test_nps_test_matches_published_comparison() -> None:
    # A: 25.0, Var 0.65 - 0.25^2 = 0.5875; B: 14.47, Var 0.644737 - 0.144737^2 = 0.623788;
    # SE = sqrt(0.5875/400 + 0.623788/380) = 0.055770 -> 5.58 pts; z = 0.105263 / 0.055770
    # = 1.8874; p = 2 * (1 - Phi(1.8874)) = 0.0591
    result = nps_test(180, 80, 400, 150, 95, 380)
    assert result is not None
    z, p = result
    assert z == pytest.approx(1.89, abs=0.005)
    assert p == pytest.approx(0.059, abs=0.0005)
    se_points = (25.0 - 100 * (150 - 95) / 380) / z
    assert se_points == pytest.approx(5.58, abs=0.005)


def test_nps_test_sign_follows_a_minus_b() -> None:
    forward, backward = nps_test(180, 80, 400, 150, 95, 380), nps_test(150, 95, 380, 180, 80, 400)
    assert forward is not None and backward is not None
    assert backward[0] == pytest.approx(-forward[0])
    assert backward[1] == pytest.approx(forward[1])


@pytest.mark.parametrize(
    "counts", [(1, 0, 0, 5, 5, 10), (5, 5, 10, 0, 0, 0), (10, 0, 10, 20, 0, 20)]
)
def test_nps_test_is_undefined_without_data_or_variation(
    counts: tuple[int, int, int, int, int, int],
) -> None:
    assert nps_test(*counts) is None


def test_mean_test_matches_closed_form_for_equal_variances() -> None:
    # 1..5 vs 3..7: both Var 2.5, SE = sqrt(0.5 + 0.5) = 1, t = -2;
    # Welch df = 1^2 / (0.5^2/4 + 0.5^2/4) = 8. For even df, P(|T| > t) =
    # 1 - sin(th) * (1 + cos^2/2 + 3 cos^4/8 + 5 cos^6/16), cos^2 = 8/12, sin = sqrt(1/3):
    # 1 - 0.577350 * (1 + 0.333333 + 0.166667 + 0.092593) = 1 - 0.919484 = 0.080516
    p = mean_test(*sums([1, 2, 3, 4, 5]), *sums([3, 4, 5, 6, 7]))
    assert p == pytest.approx(0.080516, abs=1e-6)


def test_mean_test_uses_welch_degrees_of_freedom() -> None:
    # 1..5 vs 2,4,..,10: Var 2.5 and 10, SE = sqrt(0.5 + 2) = 1.5811, t = -1.8974;
    # df = 2.5^2 / (0.5^2/4 + 2^2/4) = 6.25 / 1.0625 = 5.8824 -> p = 0.1075, whereas
    # Student's pooled test (same t here, df 8) would give p = 0.0943.
    p = mean_test(*sums([1, 2, 3, 4, 5]), *sums([2, 4, 6, 8, 10]))
    assert p == pytest.approx(0.1075, abs=5e-5)


@pytest.mark.parametrize(
    ("a", "b"), [([1.0], [1.0, 2.0]), ([1.0, 2.0], []), ([3.0, 3.0], [5.0, 5.0, 5.0])]
)
def test_mean_test_is_undefined_without_two_values_or_variation(
    a: list[float], b: list[float]
) -> None:
    assert mean_test(*sums(a), *sums(b)) is None


# Holm


def test_holm_matches_hand_worked_example() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04;
    # running max 0.02, 0.03, 0.06, 0.06; back in input order:
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_passes_none_through_and_does_not_count_it() -> None:
    # m = 2: 0.01 * 2 = 0.02, 0.04 * 1 = 0.04
    assert holm_adjust([None, 0.01, None, 0.04]) == [None, pytest.approx(0.02), None, 0.04]


def test_holm_caps_at_one_and_handles_empty_input() -> None:
    assert holm_adjust([0.6, 0.7]) == [1.0, 1.0]
    assert holm_adjust([]) == []


def test_holm_rejects_values_that_are_not_probabilities() -> None:
    with pytest.raises(ValueError):
        holm_adjust([0.01, 1.5])


@given(st.lists(st.none() | st.floats(min_value=0, max_value=1), max_size=30))
def test_holm_is_at_least_the_raw_p_at_most_one_and_keeps_the_order(
    p_values: list[float | None],
) -> None:
    adjusted = holm_adjust(p_values)
    assert len(adjusted) == len(p_values)
    for raw, adj in zip(p_values, adjusted, strict=True):
        assert (raw is None) == (adj is None)
        if raw is not None and adj is not None:
            assert raw <= adj <= 1
    pairs = [(raw, adj) for raw, adj in zip(p_values, adjusted, strict=True) if raw is not None]
    for raw_1, adj_1 in pairs:
        for raw_2, adj_2 in pairs:
            if raw_1 < raw_2:
                assert adj_1 <= adj_2


def test_a_mean_of_one_answer_has_no_interval_and_so_no_interval_method() -> None:
    """ci_method names the interval given: none for one answer (it said "t" beside nulls)."""
    from cx_cli.kpis.base import mean_estimate

    one = mean_estimate(1, 4.0, 16.0, 0.95)
    assert (one.value, one.ci_low, one.ci_high, one.ci_method) == (4.0, None, None, None)
    two = mean_estimate(2, 6.0, 20.0, 0.95)  # 2 and 4
    assert two.ci_method == "t" and two.ci_low is not None
