"""Survey KPIs (source kind `responses`): NPS, CSAT and CES, exactly as KPIS.md defines them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from cx_cli.kpis.base import (
    Context,
    Estimate,
    Kpi,
    Options,
    Sums,
    Tally,
    kpi,
    mean_estimate,
    net_score_estimate,
    proportion_estimate,
)

if TYPE_CHECKING:
    import pandas as pd

Interval = Literal["adjusted-wald", "wald"]


def _scale(opts: ScaleOptions, default: tuple[int, int]) -> tuple[int, int]:
    return tuple(opts.scale) if opts.scale else default  # type: ignore[return-value]


def _answers(score: pd.Series, mean: bool) -> dict[str, pd.Series]:
    """n, and for a mean variant the total and total of squares of a score column (blanks
    contribute nothing). Only the mean's estimate reads the totals: the shares leave them out,
    two fewer sums over every row."""
    if not mean:
        return {"n": score.notna()}
    filled = score.fillna(0.0)
    return {"n": score.notna(), "total": filled, "total_sq": filled * filled}


@dataclass(frozen=True)
class NpsOptions(Options):
    variant: Literal["standard", "latest_per_customer"] = "standard"
    interval: Interval = "adjusted-wald"


@kpi(
    name="nps",
    title="Net Promoter Score",
    source="responses",
    fields=("nps",),
    unit="points",
    higher_is_better=True,
    variants=("standard", "latest_per_customer"),
    formula="NPS = 100 * (promoters - detractors) / answers; promoter 9-10, passive 7-8, "
    "detractor 0-6 on the 0-10 question. latest_per_customer keeps each customer's "
    "latest answer per period and segment.",
    interval="adjusted-Wald by default (add 3 answers, 0.75 promoters and 0.75 detractors); "
    "option interval: wald",
)
class Nps(Kpi):
    """Share of promoters minus share of detractors, in points from -100 to 100."""

    Options = NpsOptions

    def required_fields(self, opts: NpsOptions, kind: str) -> tuple[str, ...]:
        if opts.variant == "latest_per_customer":
            return ("nps", "customer_id", "submitted_at")
        return self.fields

    def needs_all_rows(self, opts: NpsOptions) -> bool:
        return opts.variant == "latest_per_customer"

    def unit_of(self, opts: NpsOptions, ctx: Context) -> str:
        return "customer_id"

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: NpsOptions, ctx: Context
    ) -> pd.DataFrame:
        """Keep each customer's latest answer per group; answers without a customer id stay."""
        answered = rows[rows["nps"].notna()]
        known = answered["customer_id"].notna()
        latest = (
            answered[known]
            .sort_values("submitted_at", kind="stable")
            .drop_duplicates([*keys, "customer_id"], keep="last")
        )
        import pandas as pd

        return pd.concat([latest, answered[~known]])

    def tally(self, rows: pd.DataFrame, opts: NpsOptions) -> Tally:
        score = rows["nps"]
        return {"answered": score.notna(), "promoters": score >= 9, "detractors": score <= 6}

    def estimate(self, s: Sums, opts: NpsOptions, confidence: float) -> Estimate:
        passives = s.answered - s.promoters - s.detractors
        return net_score_estimate(
            s.promoters,
            s.detractors,
            s.answered,
            confidence,
            opts.interval,
            promoters=int(s.promoters),
            passives=int(passives),
            detractors=int(s.detractors),
        )


@dataclass(frozen=True)
class ScaleOptions(Options):
    scale: tuple[int, int] | None = None  # filled from the source's `scales:` when not given


@dataclass(frozen=True)
class CsatOptions(ScaleOptions):
    variant: Literal["top_2_box", "top_box", "threshold", "mean"] = "top_2_box"
    threshold: float | None = None


@kpi(
    name="csat",
    title="Customer satisfaction",
    source="responses",
    fields=("csat",),
    unit="%",
    higher_is_better=True,
    variants=("top_2_box", "top_box", "threshold", "mean"),
    formula="CSAT = 100 * answers in the top two boxes / answers (4-5 on the default 1-5 "
    "scale); top_box: the top answer only; threshold: answers >= threshold; "
    "mean: the average score.",
    interval="Wilson score interval for percentages; Student t for the mean",
)
class Csat(Kpi):
    """Share of answers in the top boxes of the scale, or the mean score."""

    Options = CsatOptions

    def check_options(self, opts: CsatOptions) -> CsatOptions:
        if opts.threshold is not None and opts.variant in ("top_box", "mean"):
            raise ValueError(f"'threshold' does not apply to variant '{opts.variant}'")
        if opts.threshold is not None and opts.variant != "threshold":
            return replace(opts, variant="threshold")
        if opts.variant == "threshold" and opts.threshold is None:
            raise ValueError(
                "variant 'threshold' needs 'threshold: K' (the lowest answer that counts)"
            )
        return opts

    def unit_for(self, opts: CsatOptions) -> str:
        return "score" if opts.variant == "mean" else "%"

    def cut(self, opts: CsatOptions) -> float:
        """The lowest answer that counts as satisfied."""
        high = _scale(opts, (1, 5))[1]
        if opts.variant == "threshold" and opts.threshold is not None:
            return opts.threshold
        return high if opts.variant == "top_box" else high - 1

    def tally(self, rows: pd.DataFrame, opts: CsatOptions) -> Tally:
        score = rows["csat"]
        return {**_answers(score, opts.variant == "mean"), "satisfied": score >= self.cut(opts)}

    def estimate(self, s: Sums, opts: CsatOptions, confidence: float) -> Estimate:
        if opts.variant == "mean":
            return mean_estimate(s.n, s.total, s.total_sq, confidence)
        return proportion_estimate(
            s.satisfied,
            s.n,
            confidence,
            satisfied=int(s.satisfied),
            answers=int(s.n),
            cut=self.cut(opts),
        )


@dataclass(frozen=True)
class CesOptions(ScaleOptions):
    variant: Literal["agree", "mean", "index"] = "agree"
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    interval: Interval = "adjusted-wald"


@kpi(
    name="ces",
    title="Customer effort score",
    source="responses",
    fields=("ces",),
    unit="%",
    higher_is_better=True,
    variants=("agree", "mean", "index"),
    formula="CES = 100 * answers agreeing it was easy / answers (5-7 on the default 1-7 "
    "scale: above the midpoint); index: % agree - % disagree (below the midpoint); "
    "mean: the average score. direction: lower_is_better flips the buckets for "
    "scales where a low answer means low effort.",
    interval="Wilson for agree; adjusted-Wald (as NPS) for index; Student t for the mean",
)
class Ces(Kpi):
    """Share of answers saying the company made it easy, or the index or mean score."""

    Options = CesOptions

    def unit_for(self, opts: CesOptions) -> str:
        return {"agree": "%", "mean": "score", "index": "points"}[opts.variant]

    def better_high(self, opts: CesOptions) -> bool:
        return opts.variant != "mean" or opts.direction == "higher_is_better"

    def tally(self, rows: pd.DataFrame, opts: CesOptions) -> Tally:
        score = rows["ces"]
        low, high = _scale(opts, (1, 7))
        mid = (low + high) / 2
        easy, hard = (score > mid, score < mid)
        if opts.direction == "lower_is_better":
            easy, hard = hard, easy
        return {**_answers(score, opts.variant == "mean"), "agree": easy, "disagree": hard}

    def estimate(self, s: Sums, opts: CesOptions, confidence: float) -> Estimate:
        counts = {
            "agree": int(s.agree),
            "neutral": int(s.n - s.agree - s.disagree),
            "disagree": int(s.disagree),
        }
        if opts.variant == "mean":
            return mean_estimate(s.n, s.total, s.total_sq, confidence)
        if opts.variant == "index":
            return net_score_estimate(s.agree, s.disagree, s.n, confidence, opts.interval, **counts)
        return proportion_estimate(s.agree, s.n, confidence, **counts)
