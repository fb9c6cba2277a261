"""The transform split by ticker: one independent run per ticker, merged into one result.

The Glue Spark job runs `transform_ticker` as one task per ticker on its executors and
`merge_ticker_outcomes` on its driver. A ticker's refined partitions depend only on its own
raw rows, and `run_transform` owns (writes and deletes) only the partitions of the tickers
it is given, so runs over different tickers never touch the same file and the merged
result is what one run over every ticker would report.

Expected failures of one ticker (bad raw data, an unreadable lake) come back as a
`TickerFailure` instead of an exception, so the driver can name every failing ticker in one
message; anything else propagates and fails the task (Spark may retry it: a rerun rewrites
the same whole files).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from b3pipeline.errors import B3PipelineError, TransformError
from b3pipeline.lake import Lake
from b3pipeline.tickers import validate_tickers
from b3pipeline.transform import TransformResult, months_touched, run_transform

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickerFailure:
    """Why the run of one ticker failed: the exception's class name and message."""

    ticker: str
    error: str
    message: str


TickerOutcome = TransformResult | TickerFailure


def transform_ticker(
    ticker: str,
    lake_uri: str,
    start: date,
    end: date,
    processed_at: datetime,
    region: str | None = None,
) -> TickerOutcome:
    """Run the transform for one ticker over [start, end], stamping rows with processed_at.
    `region` is the S3 region of an s3:// lake (the job's --aws_region), so an executor never
    depends on what its environment holds.

    Module-level (not a closure) so Spark pickles it by reference: executors import it from
    the installed b3pipeline wheel.
    """
    try:
        lake = Lake.open(lake_uri, region=region)
        return run_transform(lake, [ticker], start, end, now=processed_at)
    except B3PipelineError as exc:
        logger.error("transform of %s failed: %s", ticker, exc)
        return TickerFailure(ticker=ticker, error=type(exc).__name__, message=str(exc))


def merge_ticker_outcomes(
    tickers: Sequence[str],
    start: date,
    end: date,
    processed_at: datetime,
    outcomes: Sequence[TickerOutcome],
) -> TransformResult:
    """One TransformResult for the whole run out of one outcome per ticker.

    Raises TransformError naming every failed ticker when any failed (a partial run is
    never reported as a success), or when the outcomes do not answer each of `tickers`
    exactly once for this window and processed_at. Lists come out in a fixed order:
    tickers as requested, keys and dates sorted.
    """
    symbols = validate_tickers(tickers)
    failures = sorted(
        (o for o in outcomes if isinstance(o, TickerFailure)), key=lambda o: symbols.index(o.ticker)
    )
    if failures:
        failed = "; ".join(f"{f.ticker}: {f.error}: {f.message}" for f in failures)
        succeeded = len(symbols) - len(failures)
        raise TransformError(
            f"transform failed for {len(failures)} of {len(symbols)} ticker(s) "
            f"({', '.join(f.ticker for f in failures)}); {succeeded} other ticker(s) were "
            f"rewritten. {failed}. Fix the cause and rerun the same window: a rerun "
            "replaces whole files."
        )
    results = [o for o in outcomes if isinstance(o, TransformResult)]
    answered = [ticker for result in results for ticker in result.tickers]
    if sorted(answered) != sorted(symbols):
        raise TransformError(
            f"the per-ticker runs answered for {sorted(answered)}, expected each of "
            f"{sorted(symbols)} once: the job's task split is broken, rerun it"
        )
    for result in results:
        if (result.start, result.end, result.processed_at) != (start, end, processed_at):
            raise TransformError(
                f"the run of {result.tickers} covered {result.start}..{result.end} at "
                f"{result.processed_at.isoformat()}, expected {start}..{end} at "
                f"{processed_at.isoformat()}: the job's task split is broken, rerun it"
            )
    without_data = {ticker for result in results for ticker in result.tickers_without_data}
    return TransformResult(
        tickers=symbols,
        start=start,
        end=end,
        processed_at=processed_at,
        daily_rows=sum(result.daily_rows for result in results),
        monthly_rows=sum(result.monthly_rows for result in results),
        daily_keys=sorted(key for result in results for key in result.daily_keys),
        monthly_keys=sorted(key for result in results for key in result.monthly_keys),
        dates=sorted({day for result in results for day in result.dates}),
        months=months_touched(start, end),
        raw_files_read=sum(result.raw_files_read for result in results),
        tickers_without_data=[ticker for ticker in symbols if ticker in without_data],
        deleted_keys=sorted(key for result in results for key in result.deleted_keys),
    )
