"""Survey KPIs against numbers worked by hand from the ten answers in `tiny_survey`.

The hand working, per KPI (row numbers as in conftest.tiny_survey):
- NPS: answers 1-7, 9, 10 (8 blank): n 9; promoters 10,9,10,9 (rows 1,2,6,7) = 4; detractors
  6,3,0 (rows 4,5,10) = 3; NPS = 100 * (4 - 3) / 9 = 11.11. January (rows 1-5): P 2, D 2, n 5 ->
  0; February (rows 6,7,9,10): P 2, D 1, n 4 -> 25. Email (1,2,5,9): P 2, D 1, n 4 -> 25; chat
  (3,4,6,7,10): P 2, D 2, n 5 -> 0.
- CSAT: answers rows 1-6, 8-10 (7 blank) = 5,4,3,2,1,5,4,5,4: n 9; >= 4: 6 -> 66.67 %; = 5: 3 ->
  33.33 %; >= 3: 7 -> 77.78 %; mean 33 / 9 = 3.667.
- CES: answers rows 1-7, 9, 10 = 7,6,4,2,1,5,7,3,6: n 9; >= 5: 5 -> 55.56 %; <= 3: 3; index
  100 * (5 - 3) / 9 = 22.22; mean 41 / 9 = 4.556; lower_is_better: < 4 -> 3 -> 33.33 %.
- NPS latest_per_customer: customer a answered 10 then 3, b 9 then 0; latest answers a3 b0 c8 d6
  e10 f9 h7 (g blank): n 7, P 2, D 3 -> -14.29.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cx_cli import stats
from cx_cli.analysis import run
from cx_cli.config import parse_config
from tests.conftest import survey_config


def _results(csv_path: Path, kpis: list, **options):
    return run(parse_config(survey_config(csv_path, kpis)), **options).results


def _overall(results, kpi: str):
    (row,) = [r for r in results if r.kpi == kpi and r.period is None and not r.segment]
    return row


def test_nps_overall_matches_hand_count(tiny_survey: Path) -> None:
    row = _overall(_results(tiny_survey, ["nps"]), "nps")
    assert row.value == pytest.approx(100 / 9)
    assert row.n == 9
    assert dict(row.detail) == {"promoters": 4, "passives": 2, "detractors": 3}
    assert row.unit == "points"
    assert row.ci_method == "adjusted-wald"
    assert (row.ci_low, row.ci_high) == pytest.approx(stats.nps_interval(4, 3, 9, 0.95))


def test_nps_by_month_carries_previous_value_and_change(tiny_survey: Path) -> None:
    results = _results(tiny_survey, ["nps"], period="month")
    months = {r.period: r for r in results if r.period and not r.segment}
    assert months["2024-01"].value == pytest.approx(0.0)
    assert months["2024-01"].n == 5
    assert months["2024-01"].previous is None
    assert months["2024-02"].value == pytest.approx(25.0)
    assert months["2024-02"].previous == pytest.approx(0.0)
    assert months["2024-02"].change == pytest.approx(25.0)
    z_p = stats.nps_test(2, 1, 4, 2, 2, 5)
    assert months["2024-02"].p_value == pytest.approx(z_p[1])


def test_nps_by_channel_and_month_gives_every_combination(tiny_survey: Path) -> None:
    results = _results(tiny_survey, ["nps"], period="month", by=["channel"])
    channels = {r.segment["channel"]: r for r in results if r.period is None and r.segment}
    assert channels["email"].value == pytest.approx(25.0)
    assert channels["chat"].value == pytest.approx(0.0)
    cells = {(r.period, r.segment["channel"]): r.n for r in results if r.period and r.segment}
    assert cells == {
        ("2024-01", "chat"): 2,
        ("2024-01", "email"): 3,
        ("2024-02", "chat"): 3,
        ("2024-02", "email"): 1,
    }


def test_nps_latest_per_customer_keeps_each_customers_last_answer(tiny_survey: Path) -> None:
    kpis = [{"kpi": "nps", "variant": "latest_per_customer"}]
    results = _results(tiny_survey, kpis, period="month")
    overall = _overall(results, "nps")
    assert overall.value == pytest.approx(100 * (2 - 3) / 7)
    assert overall.n == 7
    assert overall.variant == "latest_per_customer"
    months = {r.period: r for r in results if r.period}
    assert months["2024-01"].value == pytest.approx(-25.0)  # a's 3 replaces a's 10
    assert months["2024-02"].value == pytest.approx(25.0)


def test_nps_wald_option_uses_plain_wald(tiny_survey: Path) -> None:
    row = _overall(_results(tiny_survey, [{"kpi": "nps", "interval": "wald"}]), "nps")
    assert row.ci_method == "wald"
    assert (row.ci_low, row.ci_high) == pytest.approx(
        stats.nps_interval(4, 3, 9, 0.95, method="wald")
    )


@pytest.mark.parametrize(
    ("options", "value", "unit"),
    [
        ({}, 100 * 6 / 9, "%"),
        ({"variant": "top_box"}, 100 * 3 / 9, "%"),
        ({"threshold": 3}, 100 * 7 / 9, "%"),
        ({"variant": "mean"}, 33 / 9, "score"),
    ],
)
def test_csat_variants_match_hand_count(
    tiny_survey: Path, options: dict, value: float, unit: str
) -> None:
    row = _overall(_results(tiny_survey, [{"kpi": "csat", **options}]), "csat")
    assert row.value == pytest.approx(value)
    assert row.n == 9
    assert row.unit == unit


def test_csat_top_2_box_interval_is_wilson(tiny_survey: Path) -> None:
    row = _overall(_results(tiny_survey, ["csat"]), "csat")
    # Wilson for 6 of 9, z = 1.959964: centre 0.6168, half-width 0.2626
    assert (row.ci_low, row.ci_high) == pytest.approx((35.42, 87.94), abs=0.01)
    assert row.ci_method == "wilson"


def test_csat_mean_interval_is_student_t(tiny_survey: Path) -> None:
    row = _overall(_results(tiny_survey, [{"kpi": "csat", "variant": "mean"}]), "csat")
    # scores 5,4,3,2,1,5,4,5,4: mean 3.667, sd 1.4142, t(0.975, 8) = 2.306 -> +-1.0871
    assert (row.ci_low, row.ci_high) == pytest.approx((3.667 - 1.0871, 3.667 + 1.0871), abs=0.001)
    assert row.ci_method == "t"


@pytest.mark.parametrize(
    ("options", "value", "unit"),
    [
        ({}, 100 * 5 / 9, "%"),
        ({"variant": "index"}, 100 * 2 / 9, "points"),
        ({"variant": "mean"}, 41 / 9, "score"),
        ({"direction": "lower_is_better"}, 100 * 3 / 9, "%"),
    ],
)
def test_ces_variants_match_hand_count(
    tiny_survey: Path, options: dict, value: float, unit: str
) -> None:
    row = _overall(_results(tiny_survey, [{"kpi": "ces", **options}]), "ces")
    assert row.value == pytest.approx(value)
    assert row.n == 9
    assert row.unit == unit


def test_ces_detail_counts_agree_neutral_disagree(tiny_survey: Path) -> None:
    row = _overall(_results(tiny_survey, ["ces"]), "ces")
    assert dict(row.detail) == {"agree": 5, "neutral": 1, "disagree": 3}


def test_csat_on_a_declared_1_to_10_scale_uses_its_top_two_boxes(tmp_path: Path) -> None:
    from tests.conftest import write_csv

    path = write_csv(
        tmp_path / "s.csv",
        [
            (i, "2024-01-01", "c", "x", None, score, None)
            for i, score in enumerate([10, 9, 8, 5, 1])
        ],
    )
    document = survey_config(path, ["csat"])
    document["sources"]["surveys"]["scales"] = {"csat": [1, 10]}
    (row,) = [r for r in run(parse_config(document)).results if not r.segment]
    assert row.value == pytest.approx(40.0)  # 10 and 9 of five answers


@pytest.mark.parametrize(
    ("target", "status"),
    [(-90, "met"), (90, "missed"), (10, "inconclusive")],
)
def test_target_status_respects_the_interval(tiny_survey: Path, target: float, status: str) -> None:
    row = _overall(_results(tiny_survey, [{"kpi": "nps", "target": target}]), "nps")
    assert row.target == target
    assert row.status == status


def test_per_segment_target_overrides_the_overall_one(tiny_survey: Path) -> None:
    kpis = [{"kpi": "csat", "target": {"value": 50, "segments": {"channel": {"chat": 99}}}}]
    results = _results(tiny_survey, kpis, by=["channel"])
    targets = {r.segment.get("channel", "all"): r.target for r in results}
    assert targets == {"all": 50, "chat": 99, "email": 50}


def test_low_sample_rows_are_flagged_and_can_be_suppressed(tiny_survey: Path) -> None:
    flagged = _results(tiny_survey, ["nps"], by=["channel"], min_n=5)
    assert {r.segment.get("channel"): r.low_sample for r in flagged} == {
        None: False,
        "chat": False,
        "email": True,
    }
    kept = _results(tiny_survey, ["nps"], by=["channel"], min_n=5, suppress_low_sample=True)
    assert [r.segment.get("channel") for r in kept] == [None, "chat"]


def test_since_until_are_inclusive_dates(tiny_survey: Path) -> None:
    import datetime as dt

    report = run(
        parse_config(survey_config(tiny_survey, ["nps"])),
        since=dt.date(2024, 1, 31),
        until=dt.date(2024, 2, 1),
    )
    row = _overall(report.results, "nps")
    assert row.n == 2  # row 5 (Jan 31 23:59) and row 6 (Feb 1 00:00)
    assert report.inputs[0].rows_dropped == {"before --since": 4, "after --until": 4}


def test_blank_and_out_of_scale_scores_are_dropped_and_counted(tmp_path: Path) -> None:
    from tests.conftest import write_csv

    rows = [
        (1, "2024-01-01", "a", "x", 10, 5, 7),
        (2, "2024-01-01", "b", "x", 11, "n/a", 0),
        (3, "2024-01-01", "c", "x", "ten", 4.5, ""),
        (4, "2024-01-01", "d", "x", "", 5, 7),
    ]
    report = run(parse_config(survey_config(write_csv(tmp_path / "s.csv", rows))))
    fields = report.inputs[0].fields
    assert fields["nps"] == {"blank": 1, "not a number": 1, "outside the 0-10 scale": 1, "valid": 1}
    assert fields["csat"] == {"blank": 1, "outside the 1-5 scale": 1, "valid": 2}
    assert fields["ces"] == {"blank": 1, "outside the 1-7 scale": 1, "valid": 2}
    assert _overall(report.results, "nps").n == 1
    assert any("outside the 0-10 scale" in w for w in report.warnings)


def test_text_answers_map_to_numbers_through_values(tmp_path: Path) -> None:
    from tests.conftest import write_csv

    rows = [
        (1, "2024-01-01", "a", "x", None, "Very satisfied", None),
        (2, "2024-01-01", "b", "x", None, "Dissatisfied", None),
        (3, "2024-01-01", "c", "x", None, "4", None),
    ]
    document = survey_config(write_csv(tmp_path / "s.csv", rows), ["csat"])
    document["sources"]["surveys"]["values"] = {"csat": {"Very satisfied": 5, "Dissatisfied": 2}}
    row = _overall(run(parse_config(document)).results, "csat")
    assert (row.value, row.n) == (pytest.approx(200 / 3), 3)


def test_text_answers_match_values_whatever_their_case_and_spaces(tmp_path: Path) -> None:
    # "very satisfied" and " VERY  satisfied " are "Very satisfied" (5); "dissatisfied" is 2;
    # "Satisfied" is not in values (and no number): left out. Top-2-box: 2 of 3 = 66.7 %.
    # Before, only the exact spelling matched: 0 of 1.
    from tests.conftest import write_csv

    rows = [
        (1, "2024-01-01", "a", "x", None, "very satisfied", None),
        (2, "2024-01-01", "b", "x", None, " VERY  satisfied ", None),
        (3, "2024-01-01", "c", "x", None, "dissatisfied", None),
        (4, "2024-01-01", "d", "x", None, "Satisfied", None),
    ]
    document = survey_config(write_csv(tmp_path / "s.csv", rows), ["csat"])
    document["sources"]["surveys"]["values"] = {"csat": {"Very satisfied": 5, "Dissatisfied": 2}}
    report = run(parse_config(document))
    row = _overall(report.results, "csat")
    assert (row.value, row.n) == (pytest.approx(200 / 3), 3)
    assert report.inputs[0].fields["csat"] == {"valid": 3, "not a number": 1}


def test_values_that_differ_only_in_case_must_agree(tmp_path: Path) -> None:
    from cx_cli.errors import ConfigError

    document = survey_config(tmp_path / "s.csv", ["csat"])
    document["sources"]["surveys"]["values"] = {"csat": {"Agree": 4, "agree ": 5}}
    with pytest.raises(ConfigError, match="'Agree' and 'agree ' are the same answer"):
        parse_config(document)


def test_filters_and_dedupe_drop_rows_with_reasons(tiny_survey: Path) -> None:
    document = survey_config(tiny_survey, ["nps"])
    source = document["sources"]["surveys"]
    source["filters"] = [{"column": "channel", "ne": "chat"}]
    source["dedupe"] = "customer_id"
    report = run(parse_config(document))
    # chat rows 3,4,6,7,10 filtered; email rows 1,2,5,8,9 -> customer a repeats in row 5
    assert report.inputs[0].rows_dropped == {
        "filter channel ne chat": 5,
        "duplicate customer_id": 1,
    }
    assert report.inputs[0].rows_used == 4
    assert _overall(report.results, "nps").n == 3  # rows 1, 2, 9 (row 8 blank)


def test_week_quarter_year_and_day_labels(tiny_survey: Path) -> None:
    labels = {}
    for unit in ("day", "week", "quarter", "year"):
        labels[unit] = sorted(
            {r.period for r in _results(tiny_survey, ["nps"], period=unit) if r.period}
        )
    assert labels["day"][:2] == ["2024-01-05", "2024-01-06"]
    assert labels["week"][0] == "2024-W01" and "2024-W09" in labels["week"]
    assert labels["quarter"] == ["2024-Q1"]
    assert labels["year"] == ["2024"]


def test_two_entries_of_one_kpi_need_labels_and_stay_apart(tiny_survey: Path) -> None:
    from cx_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="configured more than once"):
        parse_config(survey_config(tiny_survey, ["csat", {"kpi": "csat", "variant": "mean"}]))
    kpis = ["csat", {"kpi": "csat", "variant": "mean", "label": "csat_mean"}]
    results = _results(tiny_survey, kpis)
    assert [(r.label, r.value) for r in results] == [
        ("csat", pytest.approx(100 * 6 / 9)),
        ("csat_mean", pytest.approx(33 / 9)),
    ]


def test_field_counts_cover_only_the_rows_used(tiny_survey: Path) -> None:
    import datetime as dt

    report = run(parse_config(survey_config(tiny_survey, ["nps"])), since=dt.date(2024, 2, 1))
    (source,) = report.inputs
    assert source.rows_used == 5  # rows 6-10
    assert source.fields["nps"] == {"blank": 1, "valid": 4}  # row 8 blank
    assert sum(source.fields["nps"].values()) == source.rows_used
