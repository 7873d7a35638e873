"""Confidence intervals and significance tests: pure functions on plain numbers.

Inputs are counts and running sums (n, total, total of squares), so the same functions serve
a whole frame, chunks or partitions. Heavy imports (scipy) happen inside the functions that
need them, to keep them out of the path of `cxkpi --help`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

NPS_METHODS = ("adjusted-wald", "wald")

_STANDARD_NORMAL = NormalDist()


def z_value(confidence: float) -> float:
    """Two-sided standard-normal critical value for a confidence level (0.95 -> 1.959964)."""
    _check_confidence(confidence)
    return _STANDARD_NORMAL.inv_cdf((1 + confidence) / 2)


def wilson_interval(successes: float, n: float, confidence: float) -> tuple[float, float]:
    """Wilson score interval for a proportion (0-1 scale); sound near 0 and 1, unlike Wald."""
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    z = z_value(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # Mathematically the interval contains p and lies in [0, 1]; pin rounding noise at the ends.
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))


def nps_interval(
    promoters: float,
    detractors: float,
    n: float,
    confidence: float,
    method: str = "adjusted-wald",
) -> tuple[float, float]:
    """Interval for NPS in points (-100..100), adjusted-Wald by default as KPIS.md specifies."""
    if method not in NPS_METHODS:
        raise ValueError(f"unknown NPS interval method {method!r}; known: {', '.join(NPS_METHODS)}")
    _check_nps_counts(promoters, detractors, n)
    if method == "adjusted-wald":
        promoters, detractors, n = promoters + 0.75, detractors + 0.75, n + 3
    p, d = promoters / n, detractors / n
    half = z_value(confidence) * math.sqrt(_nps_variance(p, d) / n)
    # The adjusted interval is centred on the adjusted NPS; for a tiny group it could leave out
    # the estimate itself (one promoter: NPS 100, adjusted [-48.5, 98.5]), so it is widened.
    low, high = 100 * (p - d - half), 100 * (p - d + half)
    if method == "adjusted-wald":
        raw = estimate_points(promoters - 0.75, detractors - 0.75, n - 3)
        low, high = min(low, raw), max(high, raw)
    return max(-100.0, low), min(100.0, high)


def estimate_points(promoters: float, detractors: float, n: float) -> float:
    """NPS in points from counts."""
    return 100 * (promoters - detractors) / n


def sample_variance(n: float, total: float, total_sq: float) -> float | None:
    """Unbiased variance from running sums; None below two values, never negative."""
    if n < 2:
        return None
    # total_sq - total**2 / n cancels badly when the values barely vary: clip the noise at 0.
    return max(0.0, (total_sq - total * total / n) / (n - 1))


def mean_interval(
    n: float, total: float, total_sq: float, confidence: float
) -> tuple[float, float] | None:
    """Student t interval for a mean (df n - 1); None below two values."""
    from scipy.special import stdtrit

    _check_confidence(confidence)
    variance = sample_variance(n, total, total_sq)
    if variance is None:
        return None
    mean = total / n
    half = float(stdtrit(n - 1, (1 + confidence) / 2)) * math.sqrt(variance / n)
    return mean - half, mean + half


def two_proportion_test(
    successes_a: float, n_a: float, successes_b: float, n_b: float
) -> float | None:
    """Two-sided p of the pooled two-proportion z-test; None for an empty group or SE 0."""
    if n_a <= 0 or n_b <= 0:
        return None
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return None
    z = (successes_a / n_a - successes_b / n_b) / se
    return _two_sided_normal_p(z)


def nps_test(
    promoters_a: float,
    detractors_a: float,
    n_a: float,
    promoters_b: float,
    detractors_b: float,
    n_b: float,
) -> tuple[float, float] | None:
    """(z, two-sided p) comparing the NPS of two independent groups; None when undefined."""
    if n_a <= 0 or n_b <= 0:
        return None
    p_a, d_a = promoters_a / n_a, detractors_a / n_a
    p_b, d_b = promoters_b / n_b, detractors_b / n_b
    se = math.sqrt(_nps_variance(p_a, d_a) / n_a + _nps_variance(p_b, d_b) / n_b)
    if se == 0:
        return None
    z = ((p_a - d_a) - (p_b - d_b)) / se
    return z, _two_sided_normal_p(z)


def mean_test(
    n_a: float,
    total_a: float,
    total_sq_a: float,
    n_b: float,
    total_b: float,
    total_sq_b: float,
) -> float | None:
    """Two-sided p of Welch's t-test (unequal variances); None below two values or when SE is 0."""
    from scipy.special import stdtr

    var_a = sample_variance(n_a, total_a, total_sq_a)
    var_b = sample_variance(n_b, total_b, total_sq_b)
    if var_a is None or var_b is None:
        return None
    share_a, share_b = var_a / n_a, var_b / n_b
    se_sq = share_a + share_b
    if se_sq == 0:
        return None
    t = (total_a / n_a - total_b / n_b) / math.sqrt(se_sq)
    df = se_sq**2 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))
    return min(1.0, 2 * float(stdtr(df, -abs(t))))


def holm_adjust(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values in input order; None (no test) is kept and not counted."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    for p, _ in present:
        if not 0 <= p <= 1:
            raise ValueError(f"p-values must be between 0 and 1, got {p}")
    m = len(present)
    adjusted: list[float | None] = list(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def _nps_variance(p: float, d: float) -> float:
    """Variance of one answer scored +1/0/-1, from promoter and detractor shares."""
    return max(0.0, (p + d) - (p - d) ** 2)


def _two_sided_normal_p(z: float) -> float:
    """Two-sided p-value of a standard-normal statistic, computed in the tail for precision."""
    return min(1.0, 2 * _STANDARD_NORMAL.cdf(-abs(z)))


def _check_confidence(confidence: float) -> None:
    """Reject a confidence level outside (0, 1), e.g. 95 given for 0.95."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")


def _check_nps_counts(promoters: float, detractors: float, n: float) -> None:
    """Reject counts that cannot come from n answers."""
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    if promoters < 0 or detractors < 0 or promoters + detractors > n:
        raise ValueError(
            f"promoters ({promoters}) and detractors ({detractors}) must be >= 0 "
            f"and add up to at most n ({n})"
        )
