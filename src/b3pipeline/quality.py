"""The data-quality gate: sql/quality_check.sql for a run's window and tickers.

Athena caps each ExecutionParameter of a query at 1024 characters (its API model), and the
tickers travel as one JSON array text per window of the query: a full market (400+ tickers)
would not fit in one. So the gate runs the query once per batch of at most
`QUALITY_TICKERS_PER_QUERY` tickers, the state machine in a Map state (Compute Window's
States.ArrayPartition), the local gate in a loop, and adds the counts up: every count of
the query is a sum over (ticker, date) keys or rows, and the batches share no ticker.
Why batches and not another way of naming the run's tickers:
docs/adr/0007-quality-gate-in-ticker-batches.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from b3pipeline.catalog import LocalCatalog, read_sql_file, window_parameters
from b3pipeline.errors import QueryError

QUALITY_CHECK_FILE = "quality_check.sql"
TOTAL_COLUMN = "total_violations"
# Athena takes `?` only in WHERE clauses, so each window CTE of the query (raw, refined)
# filters on its own copy of the window's values.
WINDOWS_IN_QUALITY_CHECK = 2
#: Athena's StartQueryExecution: each ExecutionParameter is 1 to 1024 characters.
ATHENA_MAX_PARAMETER_LENGTH = 1024
#: Tickers per quality query. The longest B3 symbol has 7 characters (tickers.MAX_TICKER_LENGTH),
#: so a batch's tickers parameter is at most 100 * 10 + 1 + 2 = 1003 characters as the state
#: machine sends it (a JSON array in SQL quotes). The state machine's Compute Window uses the
#: same number (tests/workflow check that they agree).
QUALITY_TICKERS_PER_QUERY = 100


def quality_ticker_batches(tickers: Sequence[str]) -> list[list[str]]:
    """The tickers in order, in lists of at most QUALITY_TICKERS_PER_QUERY: one query each,
    as States.ArrayPartition splits them in the state machine."""
    return [
        list(tickers[start : start + QUALITY_TICKERS_PER_QUERY])
        for start in range(0, len(tickers), QUALITY_TICKERS_PER_QUERY)
    ]


def quality_check_parameters(start: date, end: date, tickers: Sequence[str]) -> list[str]:
    """The `?` values of quality_check.sql for one batch of tickers, in the query's order:
    (start, end, tickers) per window.

    The state machine's Run Quality Query sends the same list as quoted SQL literals, each
    within Athena's 1024 characters; a batch that would break that limit is refused here.
    """
    if len(tickers) > QUALITY_TICKERS_PER_QUERY:
        raise QueryError(
            f"{len(tickers)} tickers in one quality query: split them with "
            f"quality_ticker_batches (at most {QUALITY_TICKERS_PER_QUERY} a query)"
        )
    values = window_parameters(start, end, tickers) * WINDOWS_IN_QUALITY_CHECK
    too_long = [value for value in values if len(value) + 2 > ATHENA_MAX_PARAMETER_LENGTH]
    if too_long:
        raise QueryError(
            f"a quality query parameter of {len(too_long[0]) + 2} characters (quoted) is over "
            f"Athena's {ATHENA_MAX_PARAMETER_LENGTH}: {too_long[0][:80]}..."
        )
    return values


@dataclass(frozen=True)
class QualityReport:
    start: date
    end: date
    tickers: list[str]
    counts: dict[str, int]  # every violation count, total_violations last

    @property
    def total_violations(self) -> int:
        return self.counts[TOTAL_COLUMN]

    @property
    def passed(self) -> bool:
        return self.total_violations == 0

    def failures(self) -> dict[str, int]:
        return {k: v for k, v in self.counts.items() if v and k != TOTAL_COLUMN}


def run_quality_check(
    catalog: LocalCatalog, start: date, end: date, tickers: Sequence[str]
) -> QualityReport:
    """quality_check.sql over the window, once per batch of tickers, the counts added up."""
    if not tickers:
        raise QueryError("the quality gate needs at least one ticker to check")
    sql = read_sql_file(QUALITY_CHECK_FILE)
    counts: dict[str, int] = {}
    for batch in quality_ticker_batches(tickers):
        result = catalog.run_sql(sql, quality_check_parameters(start, end, batch))
        if len(result.rows) != 1 or not result.columns or result.columns[-1] != TOTAL_COLUMN:
            raise QueryError(
                f"{QUALITY_CHECK_FILE} must return one row ending in {TOTAL_COLUMN}; "
                f"got {len(result.rows)} rows with columns {result.columns}"
            )
        for name, value in zip(result.columns, result.rows[0]):
            counts[name] = counts.get(name, 0) + int(value or 0)
    return QualityReport(start=start, end=end, tickers=list(tickers), counts=counts)
