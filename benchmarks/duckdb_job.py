"""The DuckDB side of the benchmark: one SQL statement per job, on the same CSV cxkpi reads.

Run as its own process by `run.py` (so its wall time and peak RSS are measured exactly like
cxkpi's): `python benchmarks/duckdb_job.py survey|orders CSV OUT.json`. It writes a JSON list
of `{kpi, period, channel, value, n}` rows, `period`/`channel` null for "all", the same figures
cxkpi reports for `--period month` (and `--by channel` for the survey job).

The SQL follows cxkpi's definitions (KPIS.md and `cx_cli/kpis/`) clause by clause; the comments
say which rule each clause implements. DuckDB runs with its defaults (threads = cores).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SURVEY_SQL = """
WITH answers AS (
    SELECT
        strftime("Submitted At", '%Y-%m') AS period,        -- calendar month, naive clock
        coalesce(nullif(trim("Channel"), ''), '(blank)') AS channel,  -- blank is its own group
        -- a score counts only when it is a whole number on the scale (else: not in n)
        CASE WHEN nps = round(nps) AND nps BETWEEN 0 AND 10 THEN nps END AS nps,
        CASE WHEN csat = round(csat) AND csat BETWEEN 1 AND 5 THEN csat END AS csat,
        CASE WHEN ces = round(ces) AND ces BETWEEN 1 AND 7 THEN ces END AS ces
    FROM (
        SELECT
            "Submitted At", "Channel",
            "How likely are you to recommend us?" AS nps,
            "Overall satisfaction" AS csat,
            "It was easy to get my issue resolved" AS ces
        FROM read_csv({path}, header = true, types = {{
            'Submitted At': 'TIMESTAMP', 'Channel': 'VARCHAR',
            'How likely are you to recommend us?': 'DOUBLE',
            'Overall satisfaction': 'DOUBLE',
            'It was easy to get my issue resolved': 'DOUBLE'}})
    )
    WHERE "Submitted At" IS NOT NULL                          -- undated rows are dropped
)
SELECT
    CASE WHEN grouping(period) = 0 THEN period END AS period,
    CASE WHEN grouping(channel) = 0 THEN channel END AS channel,
    count(nps) AS nps_n,                                      -- NPS: promoters 9-10,
    coalesce(count_if(nps >= 9), 0) AS promoters,             --      detractors 0-6
    coalesce(count_if(nps <= 6), 0) AS detractors,            -- (count_if is NULL when
    count(csat) AS csat_n,                                    -- CSAT: top-2-box, 4-5 of 1-5
    coalesce(count_if(csat >= 4), 0) AS satisfied,            --  a group has no score)
    count(ces) AS ces_n,                                      -- CES: agree, above the
    coalesce(count_if(ces > 4), 0) AS agree                   --      midpoint 4 of 1-7
FROM answers
GROUP BY GROUPING SETS ((), (period), (channel), (period, channel))
"""

ORDERS_SQL = """
WITH orders AS MATERIALIZED (
    -- line items -> orders: amount summed, earliest timestamp; the customer id is constant
    -- within an order in the generated data (cxkpi takes the first, SQL any one)
    SELECT
        order_id,
        any_value(customer_id) AS customer_id,
        min(ordered_at) AS ordered_at,
        strftime(min(ordered_at), '%Y-%m') AS period,
        sum(amount) AS amount                                 -- null when no line is priced
    FROM (
        SELECT
            nullif(trim("Order ID"), '') AS order_id,
            nullif(trim("Customer ID"), '') AS customer_id,   -- blank id: no customer
            "Ordered At" AS ordered_at,
            "Line Total" AS amount
        FROM read_csv({path}, header = true, types = {{
            'Order ID': 'VARCHAR', 'Customer ID': 'VARCHAR', 'Ordered At': 'TIMESTAMP',
            'Line Total': 'DECIMAL(18, 2)', 'Status': 'VARCHAR'}})
        -- the status filter applies to lines, before folding; a blank status passes not_in
        WHERE coalesce("Status" NOT IN ('refunded', 'cancelled'), true)
    )
    WHERE order_id IS NOT NULL AND ordered_at IS NOT NULL
    GROUP BY order_id
),
aov AS (                                                      -- revenue / priced orders
    SELECT
        'aov' AS kpi,
        CASE WHEN grouping(period) = 0 THEN period END AS period,
        sum(amount)::DOUBLE / count(amount) AS value,
        count(amount) AS n
    FROM orders
    GROUP BY GROUPING SETS ((), (period))
),
actives AS (                                                  -- distinct customers per month
    SELECT period, count(DISTINCT customer_id) AS customers
    FROM orders
    GROUP BY period
),
span AS (                         -- every calendar month from the first order to the last
    SELECT
        date_diff('month', date_trunc('month', min(ordered_at)),
                  date_trunc('month', max(ordered_at))) + 1 AS months,
        count(DISTINCT customer_id) AS customers
    FROM orders
),
mau AS (
    -- a month: its distinct customers; overall: the mean over the months of the span
    -- (months without orders count 0), n = distinct customers over the whole span
    SELECT 'mau' AS kpi, period, customers::DOUBLE AS value, customers AS n FROM actives
    UNION ALL
    SELECT 'mau', NULL, (SELECT sum(customers) FROM actives)::DOUBLE / months, customers
    FROM span
),
per_customer AS (                 -- each customer's order count within the group
    SELECT grouping(period) AS overall, period, customer_id, count(*) AS orders
    FROM orders
    WHERE customer_id IS NOT NULL
    GROUP BY GROUPING SETS ((customer_id), (period, customer_id))
),
repeat_rate AS (                  -- customers with >= 2 orders / customers with >= 1
    SELECT
        'repeat_rate' AS kpi,
        CASE WHEN overall = 0 THEN period END AS period,
        100.0 * count_if(orders >= 2)::DOUBLE / count(*) AS value,
        count(*) AS n
    FROM per_customer
    GROUP BY overall, period
)
SELECT kpi, period, value, n FROM aov
UNION ALL SELECT kpi, period, value, n FROM mau
UNION ALL SELECT kpi, period, value, n FROM repeat_rate
"""


def _literal(path: Path) -> str:
    """A SQL string literal for a file path."""
    return "'" + str(path).replace("'", "''") + "'"


def survey_rows(con: Any, path: Path) -> list[dict[str, Any]]:
    """NPS, CSAT and CES per group, from counts, with cxkpi's formulas (value None when n = 0)."""
    rows = []
    query = con.execute(SURVEY_SQL.format(path=_literal(path)))
    names = [d[0] for d in query.description]
    for record in query.fetchall():
        r = dict(zip(names, record, strict=True))
        group = {"period": r["period"], "channel": r["channel"]}
        for kpi, n, value in (
            ("nps", r["nps_n"], 100.0 * (r["promoters"] - r["detractors"]) / (r["nps_n"] or 1)),
            ("csat", r["csat_n"], 100.0 * r["satisfied"] / (r["csat_n"] or 1)),
            ("ces", r["ces_n"], 100.0 * r["agree"] / (r["ces_n"] or 1)),
        ):
            rows.append({"kpi": kpi, **group, "value": value if n else None, "n": n})
    return rows


def orders_rows(con: Any, path: Path) -> list[dict[str, Any]]:
    """AOV, MAU and repeat rate, overall and per month."""
    query = con.execute(ORDERS_SQL.format(path=_literal(path)))
    return [
        {"kpi": kpi, "period": period, "channel": None, "value": value, "n": n}
        for kpi, period, value, n in query.fetchall()
    ]


JOBS = {"survey": survey_rows, "orders": orders_rows}


def main(argv: list[str]) -> int:
    """`duckdb_job.py JOB CSV OUT`: run one job and write its figures as JSON."""
    import duckdb

    if len(argv) != 3 or argv[0] not in JOBS:
        print(f"usage: duckdb_job.py {'|'.join(JOBS)} CSV OUT.json", file=sys.stderr)
        return 2
    job, csv, out = argv[0], Path(argv[1]), Path(argv[2])
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # no terminal to draw on; not part of a run
    rows = JOBS[job](con, csv.resolve())
    out.write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
