"""The warehouse path (docs/sources.md): SQL that turns raw orders into the two small tables ``score`` reads
in their place, for a database or warehouse to run where the orders live.

``order_periods``: one row per participant and period with orders, over the periods of the window and of
the window before it (segments at the window start are labelled on that one): money and volume summed in
integer minor units, the margin of each order rounded half-to-even as the order pass rounds it, orders and
purchase days (days with an order of positive amount), the first purchase day of the period and that day's
amount, the last purchase day, and for fast start the volume ordered within its days of joining.

``order_history``: one row per participant who ordered before the earlier window: the first order date and
the last purchase date before it (lifecycle's lapse and conversion's "never bought before" look that far).

Every figure depends on the window, the period, the margin rate, the minor unit and the fast-start days, so
each order_periods row carries them in ``made_for``; ``score`` refuses tables made for another run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mlmroi.io.database import is_query
from mlmroi.money import RATE_SCALE, rate_ppm
from mlmroi.periods import Window, period_first_days

Dialect = Literal["postgres", "duckdb", "spark", "bigquery", "mysql"]
DIALECTS: tuple[Dialect, ...] = ("postgres", "duckdb", "spark", "bigquery")
ORDER_COLUMNS = ("volume", "cost", "retail")  # the optional orders columns the SQL can use
FORMAT = "mlmroi order_periods v1"
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class _Syntax:
    """What differs between the dialects the SQL is printed for."""

    bigint: str
    boolean: str
    quote: str  # identifier quote character
    int_div: str  # truncating integer division of {a} by {b}
    days_between: str  # whole days from {a} to {b}

    def name(self, identifier: str) -> str:
        q = self.quote
        return f"{q}{identifier.replace(q, q + q)}{q}"


_SYNTAX: dict[str, _Syntax] = {
    "postgres": _Syntax("BIGINT", "BOOLEAN", '"', "({a} / {b})", "({b} - {a})"),
    "duckdb": _Syntax("BIGINT", "BOOLEAN", '"', "({a} // {b})", "date_diff('day', {a}, {b})"),
    "spark": _Syntax("BIGINT", "BOOLEAN", "`", "({a} DIV {b})", "datediff({b}, {a})"),
    "bigquery": _Syntax("INT64", "BOOL", "`", "DIV({a}, {b})", "DATE_DIFF({b}, {a}, DAY)"),
    # MySQL: only order_history is made there (pushdown), which casts no flag
    "mysql": _Syntax("SIGNED", "SIGNED", "`", "({a} DIV {b})", "DATEDIFF({b}, {a})"),
}


@dataclass(frozen=True)
class OrderSql:
    """What the SQL is made for: the run's window, money and fast-start settings, and where the orders and
    participants are (a table name or a query; source column names by contract name)."""

    window: Window
    margin_rate: float
    decimals: int
    early_days: tuple[int, ...] = ()
    orders: str = "orders"
    participants: str = "participants"
    order_columns: dict[str, str] | None = None  # contract name -> source name (default: the same)
    participant_columns: dict[str, str] | None = None
    present: tuple[str, ...] = ORDER_COLUMNS  # which optional orders columns exist

    @property
    def since(self) -> dt.date:
        """The first day of the earliest period in order_periods: the previous window's start."""
        return self.window.previous().start

    @property
    def made_for(self) -> str:
        """The settings the tables' figures depend on, as order_periods records them."""
        w = self.window
        days = ",".join(str(d) for d in sorted(self.early_days)) or "-"
        return (
            f"{FORMAT}; window {w.start}..{w.end} by {w.period}; margin_ppm {rate_ppm(self.margin_rate)}; "
            f"decimals {self.decimals}; fast_start_days {days}"
        )

    def period_starts(self) -> list[dt.date]:
        """The first day of every period of the previous window and of the window, ascending."""
        days = [*period_first_days(self.window.previous()), *period_first_days(self.window)]
        return [_EPOCH + dt.timedelta(days=int(d)) for d in days]


def _relation(spec: str) -> str:
    """A table name as it goes into FROM, or a query (``database.is_query``) in parentheses."""
    text = spec.strip().rstrip(";")
    return f"({text})" if is_query(text) else text


def _date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def order_periods_sql(spec: OrderSql, dialect: Dialect) -> str:
    """The SELECT that makes ``order_periods`` from the raw orders (see the module docstring)."""
    s = _SYNTAX[dialect]
    col = _columns(spec, s)
    scale = 10**spec.decimals
    money = (
        f"CAST(ROUND({{}} * {scale}) AS {s.bigint})" if spec.decimals else f"CAST(ROUND({{}}) AS {s.bigint})"
    )
    amount = money.format(col("amount"))
    volume = money.format(col("volume")) if "volume" in spec.present else f"CAST(NULL AS {s.bigint})"
    cost = money.format(col("cost")) if "cost" in spec.present else f"CAST(NULL AS {s.bigint})"
    retail = f"COALESCE(CAST({col('retail')} AS {s.boolean}), FALSE)" if "retail" in spec.present else "FALSE"
    starts = spec.period_starts()
    period = "".join(f"\n      WHEN o.ordered_on >= {_date(d)} THEN {_date(d)}" for d in reversed(starts))
    early_days = sorted(spec.early_days)
    join = ""
    age = ""
    if early_days:
        pid = spec.participant_columns or {}
        joined = f"p.{s.name(pid.get('joined_on', 'joined_on'))}"
        join = (
            f"\n  LEFT JOIN {_relation(spec.participants)} AS p"
            f" ON p.{s.name(pid.get('participant_id', 'participant_id'))} = o.participant_id"
        )
        age = f",\n    {s.days_between.format(a=joined, b='o.ordered_on')} AS age"
    day = f"CAST({col('ordered_on')} AS DATE)"
    ppm = rate_ppm(spec.margin_rate)
    q = s.int_div.format(a="x", b=RATE_SCALE)
    early_sums = "".join(
        f",\n    SUM(CASE WHEN age BETWEEN 0 AND {d} THEN volume ELSE 0 END) AS early_{d}" for d in early_days
    )
    early_out = "".join(
        f",\n  CAST(SUM(early_{d}) AS {s.bigint}) AS early_volume_minor_{d}" for d in early_days
    )
    return f"""-- {spec.made_for}
WITH raw AS (
  SELECT {col("participant_id")} AS participant_id, {day} AS ordered_on,
    {amount} AS amount,
    {volume} AS volume,
    {cost} AS cost,
    {retail} AS retail
  FROM {_relation(spec.orders)} AS src
  WHERE {day} >= {_date(spec.since)} AND {day} <= {_date(spec.window.end)}
),
money AS (
  SELECT participant_id, ordered_on, amount, COALESCE(volume, amount) AS volume, cost, retail,
    amount * {ppm} AS x
  FROM raw
),
rounded AS (
  SELECT participant_id, ordered_on, amount, volume, cost, retail, x, {q} AS q, x - {q} * {RATE_SCALE} AS r
  FROM money
),
orders AS (
  SELECT o.participant_id, o.ordered_on, o.amount, o.volume, o.retail,
    CASE WHEN o.cost IS NOT NULL THEN o.amount - o.cost
      ELSE o.q + CASE WHEN 2 * ABS(o.r) > {RATE_SCALE} OR (2 * ABS(o.r) = {RATE_SCALE} AND MOD(o.q, 2) <> 0)
        THEN (CASE WHEN o.x < 0 THEN -1 ELSE 1 END) ELSE 0 END
    END AS margin,
    CASE{period}
    END AS period_start{age}
  FROM rounded AS o{join}
),
daily AS (
  SELECT participant_id, period_start, ordered_on AS day,
    SUM(amount) AS amount, SUM(volume) AS volume, SUM(margin) AS margin,
    SUM(CASE WHEN retail THEN amount ELSE 0 END) AS retail,
    SUM(CASE WHEN amount > 0 THEN 1 ELSE 0 END) AS purchases,
    SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS purchase_amount{early_sums}
  FROM orders
  GROUP BY participant_id, period_start, ordered_on
),
ranked AS (
  SELECT daily.*,
    MIN(CASE WHEN purchases > 0 THEN day END) OVER (PARTITION BY participant_id, period_start) AS first_day
  FROM daily
)
SELECT participant_id, period_start,
  CAST(SUM(purchases) AS {s.bigint}) AS orders,
  CAST(SUM(amount) AS {s.bigint}) AS amount_minor,
  CAST(SUM(volume) AS {s.bigint}) AS volume_minor,
  CAST(SUM(margin) AS {s.bigint}) AS margin_minor,
  CAST(SUM(retail) AS {s.bigint}) AS retail_minor,
  CAST(SUM(CASE WHEN purchases > 0 THEN 1 ELSE 0 END) AS {s.bigint}) AS purchase_days,
  MIN(first_day) AS first_purchase_on,
  CAST(SUM(CASE WHEN day = first_day THEN purchase_amount ELSE 0 END) AS {s.bigint}) AS first_purchase_minor,
  MAX(CASE WHEN purchases > 0 THEN day END) AS last_purchase_on{early_out},
  '{spec.made_for}' AS made_for
FROM ranked
GROUP BY participant_id, period_start
ORDER BY participant_id, period_start"""


def order_history_sql(spec: OrderSql, dialect: Dialect, readable: str | None = None) -> str:
    """The SELECT that makes ``order_history`` from the raw orders (see the module docstring);
    ``readable``: an SQL condition on ``{date}`` (the order date column) a row must also meet."""
    s = _SYNTAX[dialect]
    col = _columns(spec, s)
    since = _date(spec.since)
    day = f"CAST({col('ordered_on')} AS DATE)"
    guard = "" if readable is None else f"{readable.format(date=col('ordered_on'))} AND "
    return f"""-- mlmroi order_history: who ordered before {spec.since}, and their last purchase before it
SELECT {col("participant_id")} AS participant_id,
  MIN({day}) AS first_order_on,
  MAX(CASE WHEN {col("amount")} > 0 THEN {day} END) AS last_purchase_before,
  {since} AS since
FROM {_relation(spec.orders)} AS src
WHERE {guard}{day} < {since}
GROUP BY {col("participant_id")}
ORDER BY participant_id"""


def _columns(spec: OrderSql, s: _Syntax) -> Callable[[str], str]:
    """The orders' source column for a contract name, quoted and qualified (``src."order_date"``)."""
    names = spec.order_columns or {}

    def col(contract: str) -> str:
        return f"src.{s.name(names.get(contract, contract))}"

    return col
