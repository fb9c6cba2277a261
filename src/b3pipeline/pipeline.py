"""The local pipeline: scrape -> transform -> catalog -> quality gate -> chart.

The same steps the Step Functions state machine chains in AWS, run in-process on the
embedded parts (a lake folder or bucket, DuckDB instead of Glue Catalog + Athena). Every
step touches only the run's window (plus the metrics' lookback and the chart's period):
what a run costs depends on the days it processes, not on the lake's history.

Nothing is written before everything the transform reads is known to be good: the bars
are fetched and validated, the raw files of the lookback read and validated and the
refined values computed (with the new raw rows taken from memory); only then are the raw
files, the manifest and the refined files written. A window without bars writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from b3pipeline.brapi import ticker_examples, today_in_sao_paulo
from b3pipeline.catalog import CatalogWindow, LocalCatalog, window_parameters
from b3pipeline.coverage import Coverage, window_coverage
from b3pipeline.errors import NoQuotesError, QualityCheckError, TickersFailedError
from b3pipeline.lake import Lake, ProgressCallback
from b3pipeline.manifest import SCRAPER_PRODUCER
from b3pipeline.quality import QualityReport, run_quality_check
from b3pipeline.report import write_chart
from b3pipeline.run_report import write_summary_csv
from b3pipeline.scrape import QuoteSource, ScrapeResult, fetch_raw, write_raw
from b3pipeline.ticker_pool import TickerFailure, describe_failures
from b3pipeline.transform import TransformResult, commit_transform, prepare_transform

_SUMMARY_SQL = """
SELECT
    ticker,
    count(*) AS days,
    min(trade_date) AS first_date,
    max(trade_date) AS last_date,
    max_by(close_price, trade_date) AS last_close,
    max_by(daily_return_pct, trade_date) AS last_return_pct,
    max_by(sma_20, trade_date) AS sma_20,
    max_by(sma_50, trade_date) AS sma_50
FROM quotes_daily
WHERE trade_date BETWEEN CAST(? AS date) AND CAST(? AS date)
  AND contains(CAST(json_parse(?) AS array(varchar)), ticker)
GROUP BY ticker
ORDER BY ticker
"""


@dataclass(frozen=True)
class PipelineResult:
    tickers: list[str]  # the tickers asked for, minus those set aside (`failed`)
    coverage: Coverage
    scrape: ScrapeResult | None = None  # None: no bar in the window, nothing written
    transform: TransformResult | None = None
    quality: QualityReport | None = None
    chart_key: str | None = None
    summary: list[dict[str, Any]] = field(default_factory=list)
    summary_key: str | None = None  # the whole summary table as CSV in the lake
    failed: list[TickerFailure] = field(default_factory=list)  # set aside, sorted by ticker

    @property
    def no_trading_day(self) -> bool:
        """No bar in the window for any ticker that did not fail (weekend or holiday)."""
        return self.scrape is None and bool(self.tickers)

    def raise_for_quality(self) -> None:
        """Raise QualityCheckError when the gate ran and found violations."""
        if self.quality is not None:
            raise_for_violations(self.quality)

    def raise_for_failed_tickers(self) -> None:
        """Raise TickersFailedError naming each ticker the run set aside, and why."""
        if self.failed:
            raise _tickers_failed(self.failed, self.tickers, self.scrape)


def _tickers_failed(
    failed: Sequence[TickerFailure], landed: Sequence[str], scraped: ScrapeResult | None
) -> TickersFailedError:
    rest = "the other ticker was" if len(landed) == 1 else f"the other {len(landed)} were"
    if scraped is not None and scraped.rows:
        others = f"{rest} written, refined and checked"
    elif landed:
        others = f"{rest} without a trading day in the window"
    else:
        others = "nothing was written"
    return TickersFailedError(
        f"{len(failed)} of {len(landed) + len(failed)} tickers failed and were left out "
        f"({others}): {describe_failures(failed)}. Check those tickers (B3 symbols such as "
        f"{ticker_examples([f.ticker for f in failed])}), then rerun them or leave them out "
        "of --tickers"
    )


def raise_for_violations(report: QualityReport) -> None:
    """Raise QualityCheckError naming each violation count of a failed gate."""
    if not report.passed:
        found = ", ".join(f"{k}={v}" for k, v in report.failures().items())
        raise QualityCheckError(
            f"quality check failed for {report.start}..{report.end}: {found} "
            "(inspect with `b3pipeline query` and rerun the window once fixed)"
        )


@dataclass(frozen=True)
class WindowCheck:
    """The quality gate run on its own over a window already in the lake."""

    report: QualityReport
    raw_rows: int
    daily_rows: int


_WINDOW_ROWS_SQL = (
    "SELECT (SELECT count(*) FROM raw_quotes) AS raw_rows, "
    "(SELECT count(*) FROM quotes_daily) AS daily_rows"
)


def check_window(lake: Lake, tickers: Sequence[str], start: date, end: date) -> WindowCheck:
    """sql/quality_check.sql over [start, end] and `tickers` (what `b3pipeline check` runs).

    The catalog holds only the window's partitions, as in a run. A window with no row at
    all raises NoQuotesError: a gate over nothing would pass and prove nothing.
    """
    window = CatalogWindow(start, end, tuple(tickers))
    with LocalCatalog(lake, window) as catalog:
        (counts,) = catalog.run_sql(_WINDOW_ROWS_SQL).records()
        raw_rows, daily_rows = int(counts["raw_rows"]), int(counts["daily_rows"])
        if raw_rows == 0 and daily_rows == 0:
            raise NoQuotesError(
                f"the lake {lake.url()} holds no {', '.join(tickers)} row dated "
                f"{start}..{end}: nothing to check; load the window first (`b3pipeline "
                "backfill` or `run`)"
            )
        report = run_quality_check(catalog, start, end, tickers)
    return WindowCheck(report=report, raw_rows=raw_rows, daily_rows=daily_rows)


def run_pipeline(
    source: QuoteSource,
    lake: Lake,
    tickers: Sequence[str],
    start: date | None = None,
    end: date | None = None,
    *,
    producer: str = SCRAPER_PRODUCER,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    today: date | None = None,
) -> PipelineResult:
    """Run every step for the window (or the latest trading days when no window is given).

    A window without bars writes nothing: it is a no-trading-day result when it is a few
    closed days, and NoQuotesError (saying what the source returned) otherwise. Tickers
    the source sets aside are left out of every later step (the caller raises for them
    with `PipelineResult.raise_for_failed_tickers`); when every ticker is set aside,
    nothing is written and TickersFailedError is raised at once. `progress` hears each
    long phase: raw files read, raw files written, refined files written. `today`
    (America/Sao_Paulo's by default) bounds what the source can have.
    """
    batch = fetch_raw(source, tickers, start, end, now=now)
    coverage = window_coverage(
        batch.history, batch.tickers, start, end, today or today_in_sao_paulo()
    )
    if not batch.tickers:  # every ticker set aside: not a no-trading day
        raise _tickers_failed(batch.failed, batch.tickers, None)
    if batch.rows == 0:
        shortfalls = coverage.shortfalls()
        if shortfalls:
            also = f"; also left out: {describe_failures(batch.failed)}" if batch.failed else ""
            raise NoQuotesError(
                f"nothing to load: {'; '.join(shortfalls)}{also}; nothing was written: choose "
                "a window within the dates BRAPI has"
            )
        return PipelineResult(tickers=batch.tickers, coverage=coverage, failed=batch.failed)
    window_start = date.fromisoformat(batch.dates[0])
    window_end = date.fromisoformat(batch.dates[-1])
    prepared = prepare_transform(
        lake,
        batch.tickers,
        window_start,
        window_end,
        now=now,
        progress=progress,
        pending_raw=batch.tables,
    )
    scraped = write_raw(lake, batch, producer=producer, progress=progress)
    transformed = commit_transform(lake, prepared, progress)
    window = CatalogWindow(window_start, window_end, tuple(scraped.tickers))
    with LocalCatalog(lake, window) as catalog:
        quality = run_quality_check(catalog, window_start, window_end, scraped.tickers)
        summary = catalog.run_sql(
            _SUMMARY_SQL, window_parameters(window_start, window_end, scraped.tickers)
        ).records()
    chart = write_chart(lake, scraped.tickers, window_end)
    return PipelineResult(
        tickers=batch.tickers,
        coverage=coverage,
        scrape=scraped,
        transform=transformed,
        quality=quality,
        chart_key=chart,
        summary=summary,
        summary_key=write_summary_csv(lake, summary, window_end),
        failed=batch.failed,
    )
