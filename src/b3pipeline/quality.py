"""The data-quality gate: sql/quality_check.sql for a run's window and tickers."""

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


def quality_check_parameters(start: date, end: date, tickers: Sequence[str]) -> list[str]:
    """The `?` values of quality_check.sql, in its order: (start, end, tickers) per window.

    The state machine's Run Quality Query sends the same list as quoted SQL literals.
    """
    return window_parameters(start, end, tickers) * WINDOWS_IN_QUALITY_CHECK


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
    result = catalog.run_sql(
        read_sql_file(QUALITY_CHECK_FILE), quality_check_parameters(start, end, tickers)
    )
    if len(result.rows) != 1 or not result.columns or result.columns[-1] != TOTAL_COLUMN:
        raise QueryError(
            f"{QUALITY_CHECK_FILE} must return one row ending in {TOTAL_COLUMN}; "
            f"got {len(result.rows)} rows with columns {result.columns}"
        )
    counts = {name: int(value or 0) for name, value in zip(result.columns, result.rows[0])}
    return QualityReport(start=start, end=end, tickers=list(tickers), counts=counts)
