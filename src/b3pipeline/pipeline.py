"""The local pipeline: scrape -> transform -> catalog -> quality gate -> chart.

The same steps the Step Functions state machine chains in AWS, run in-process on the
embedded parts (a lake folder or bucket, DuckDB instead of Glue Catalog + Athena). Every
step touches only the run's window (plus the metrics' lookback and the chart's period):
what a run costs depends on the days it processes, not on the lake's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from b3pipeline.catalog import CatalogWindow, LocalCatalog, window_parameters
from b3pipeline.errors import QualityCheckError, TickersFailedError
from b3pipeline.lake import Lake, ProgressCallback
from b3pipeline.manifest import SCRAPER_PRODUCER
from b3pipeline.quality import QualityReport, run_quality_check
from b3pipeline.report import write_chart
from b3pipeline.run_report import write_summary_csv
from b3pipeline.scrape import QuoteSource, ScrapeResult, scrape
from b3pipeline.ticker_pool import describe_failures
from b3pipeline.transform import TransformResult, run_transform

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
    scrape: ScrapeResult
    transform: TransformResult | None = None
    quality: QualityReport | None = None
    chart_key: str | None = None
    summary: list[dict[str, Any]] = field(default_factory=list)
    summary_key: str | None = None  # the whole summary table as CSV in the lake

    @property
    def no_trading_day(self) -> bool:
        """No bars in the window for any ticker that did not fail (weekend or holiday)."""
        return self.scrape.rows == 0 and bool(self.scrape.tickers)

    def raise_for_quality(self) -> None:
        """Raise QualityCheckError when the gate ran and found violations."""
        if self.quality is not None and not self.quality.passed:
            found = ", ".join(f"{k}={v}" for k, v in self.quality.failures().items())
            raise QualityCheckError(
                f"quality check failed for {self.quality.start}..{self.quality.end}: {found} "
                "(inspect with `b3pipeline query` and rerun the window once fixed)"
            )

    def raise_for_failed_tickers(self) -> None:
        """Raise TickersFailedError naming each ticker the run set aside, and why."""
        failed = self.scrape.failed
        if not failed:
            return
        landed = len(self.scrape.tickers)
        rest = "the other ticker was" if landed == 1 else f"the other {landed} were"
        if self.scrape.rows:
            others = f"{rest} written, refined and checked"
        elif landed:
            others = f"{rest} without a trading day in the window"
        else:
            others = "nothing was written"
        raise TickersFailedError(
            f"{len(failed)} of {landed + len(failed)} tickers failed and were left out "
            f"({others}): {describe_failures(failed)}. Check those tickers, then rerun them "
            "or leave them out of --tickers"
        )


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
) -> PipelineResult:
    """Run every step for the window (or the latest trading days when no window is given).

    `progress` hears each long phase: raw files written, raw files read, refined files
    written. Tickers the scrape sets aside are left out of every later step (see
    `PipelineResult.raise_for_failed_tickers`).
    """
    scraped = scrape(
        source, lake, tickers, start, end, producer=producer, now=now, progress=progress
    )
    if scraped.rows == 0:
        return PipelineResult(scrape=scraped)
    window_start = date.fromisoformat(scraped.dates[0])
    window_end = date.fromisoformat(scraped.dates[-1])
    transformed = run_transform(
        lake, scraped.tickers, window_start, window_end, now=now, progress=progress
    )
    window = CatalogWindow(window_start, window_end, tuple(scraped.tickers))
    with LocalCatalog(lake, window) as catalog:
        quality = run_quality_check(catalog, window_start, window_end, scraped.tickers)
        summary = catalog.run_sql(
            _SUMMARY_SQL, window_parameters(window_start, window_end, scraped.tickers)
        ).records()
    chart = write_chart(lake, scraped.tickers, window_end)
    return PipelineResult(
        scrape=scraped,
        transform=transformed,
        quality=quality,
        chart_key=chart,
        summary=summary,
        summary_key=write_summary_csv(lake, summary, window_end),
    )
