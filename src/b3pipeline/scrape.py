"""Scrape: BRAPI daily bars -> raw Parquet partitions + a run manifest.

Tickers the source sets aside (BRAPI refused them, their bars failed validation) are
left out: nothing of theirs is written, the manifest and the result name each one with
its reason, and every other ticker is written as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, Protocol

import pyarrow as pa

from b3pipeline import schema
from b3pipeline.batch_output import OUTPUT_MAX_BYTES, batch_output_budget, failed_tickers_output
from b3pipeline.brapi import DailyBar, QuoteHistory
from b3pipeline.errors import InvalidRequestError
from b3pipeline.lake import Lake, ProgressCallback, manifest_key, parquet_bytes, raw_quotes_key
from b3pipeline.manifest import SCRAPER_PRODUCER, Manifest, ManifestFile, new_run_id
from b3pipeline.ticker_pool import TickerFailure
from b3pipeline.tickers import DEFAULT_TICKERS, validate_tickers

SOURCE = "brapi"
RAW_WRITE_PHASE = "raw files written"


class QuoteSource(Protocol):
    def fetch_daily_history(
        self,
        tickers: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        today: date | None = None,
    ) -> QuoteHistory: ...


@dataclass(frozen=True)
class ScrapeRequest:
    """What the scraper Lambda is asked to do (DESIGN.md: the state machine's input)."""

    tickers: list[str]
    start: date | None
    end: date | None
    execution_arn: str | None = None
    batch_count: int = 1  # how many batches the run was split into (sizes the output)

    @classmethod
    def from_event(
        cls, event: Mapping[str, Any], default_tickers: Sequence[str] = DEFAULT_TICKERS
    ) -> ScrapeRequest:
        """Parse `{"tickers": [...], "run_date": "YYYY-MM-DD"|null, "execution_arn"?,
        "batch_count"?}`.

        `tickers` is one batch: a non-empty list of symbols (absent or null: the default
        tickers). No run_date means the latest trading days BRAPI returns (the schedule).
        `batch_count` (default 1) is how many batches the run's tickers were split into:
        the batches' outputs share one budget (b3pipeline.batch_output).
        """
        if not isinstance(event, Mapping):
            raise InvalidRequestError(f"the scraper event must be a JSON object, got {event!r}")
        raw_tickers = event.get("tickers")
        if raw_tickers is None:
            raw_tickers = list(default_tickers)
        if not isinstance(raw_tickers, list):
            raise InvalidRequestError(
                f'tickers must be a list of symbols such as ["PETR4", "VALE3"], got {raw_tickers!r}'
            )
        if not raw_tickers:
            raise InvalidRequestError(
                "tickers is an empty list: a batch needs at least one ticker (leave tickers "
                "out for the default ones)"
            )
        for index, ticker in enumerate(raw_tickers):
            if not isinstance(ticker, str):
                raise InvalidRequestError(
                    f'tickers[{index}] is {ticker!r}, not a symbol string such as "PETR4"'
                )
        tickers = validate_tickers(raw_tickers)
        run_date = event.get("run_date")
        day: date | None = None
        if run_date is not None:
            try:
                day = date.fromisoformat(str(run_date))
            except ValueError as exc:
                raise InvalidRequestError(
                    f"run_date {run_date!r} is not a date like 2025-08-29 (or null for the latest)"
                ) from exc
        arn = event.get("execution_arn")
        batch_count = event.get("batch_count", 1)
        batch_output_budget(batch_count)  # refuses a count that is not one
        return cls(
            tickers=tickers,
            start=day,
            end=day,
            execution_arn=str(arn) if arn else None,
            batch_count=batch_count,
        )


@dataclass(frozen=True)
class ScrapeResult:
    run_id: str
    tickers: list[str]  # the tickers written: those asked for, minus the failed ones
    dates: list[str]  # ISO trade dates written, sorted
    rows: int
    manifest_key: str | None  # None when every ticker failed: nothing at all was written
    files: list[ManifestFile]
    failed: list[TickerFailure] = field(default_factory=list)  # sorted by ticker

    def to_output(self, max_bytes: int = OUTPUT_MAX_BYTES) -> dict[str, Any]:
        """The scraper Lambda's output (DESIGN.md payloads; b3pipeline.batch_output):
        small, whatever the window, and under `max_bytes` whatever failed (the handler
        gives the batch's share, `batch_output_budget`)."""
        body = {
            "tickers": self.tickers,
            "dates": self.dates,
            "rows": self.rows,
            "manifest_key": self.manifest_key,
        }
        return failed_tickers_output(body, self.failed, max_bytes=max_bytes)


def bars_to_table(bars: Sequence[DailyBar], ingested_at: datetime, request_range: str) -> pa.Table:
    """Raw quote rows with the exact raw schema (partition columns dt/ticker left out)."""
    columns: dict[str, list[Any]] = {
        "trade_date": [b.trade_date for b in bars],
        "open": [b.open for b in bars],
        "high": [b.high for b in bars],
        "low": [b.low for b in bars],
        "close": [b.close for b in bars],
        "adjusted_close": [b.adjusted_close for b in bars],
        "volume": [b.volume for b in bars],
        "currency": [b.currency for b in bars],
        "source": [SOURCE] * len(bars),
        "ingested_at": [ingested_at] * len(bars),
        "request_range": [request_range] * len(bars),
    }
    return pa.Table.from_pydict(columns, schema=schema.RAW_QUOTES)


@dataclass(frozen=True)
class RawBatch:
    """Fetched, validated bars as raw files, not yet written (see `fetch_raw`)."""

    run_id: str
    tickers: list[str]  # the tickers to write: those asked for, minus the failed ones
    history: QuoteHistory
    ingested_at: datetime
    tables: dict[str, pa.Table]  # raw file key -> its rows, by key
    files: list[ManifestFile]
    dates: list[str]  # ISO trade dates, sorted
    failed: list[TickerFailure] = field(default_factory=list)  # set aside, sorted by ticker

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)


def fetch_raw(
    source: QuoteSource,
    tickers: Sequence[str],
    start: date | None = None,
    end: date | None = None,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> RawBatch:
    """Fetch and validate the window (or the latest trading days) and build one raw file's
    rows per date and ticker, in memory: nothing is written.

    Tickers the source sets aside are left out of `tickers`, `tables` and `files` and
    listed in `failed` with their reasons.
    """
    symbols = validate_tickers(tickers)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    history = source.fetch_daily_history(symbols, start, end)
    failed = sorted(history.failed, key=lambda f: f.ticker)
    set_aside = {f.ticker for f in failed}

    by_partition: dict[tuple[date, str], list[DailyBar]] = {}
    for bar in history.bars:
        if bar.ticker not in set_aside:
            by_partition.setdefault((bar.trade_date, bar.ticker), []).append(bar)
    tables: dict[str, pa.Table] = {}
    files: list[ManifestFile] = []
    for (trade_date, ticker), bars in sorted(by_partition.items()):
        key = raw_quotes_key(trade_date, ticker)
        tables[key] = bars_to_table(bars, moment, history.request_range)
        files.append(ManifestFile(key=key, rows=len(bars)))
    return RawBatch(
        run_id=run_id or new_run_id(moment),
        tickers=[symbol for symbol in symbols if symbol not in set_aside],
        history=history,
        ingested_at=moment,
        tables=tables,
        files=files,
        dates=sorted({trade_date.isoformat() for trade_date, _ in by_partition}),
        failed=failed,
    )


def write_raw(
    lake: Lake,
    batch: RawBatch,
    *,
    producer: str = SCRAPER_PRODUCER,
    execution_arn: str | None = None,
    progress: ProgressCallback | None = None,
) -> ScrapeResult:
    """Write the batch's raw files concurrently on the lake's I/O pool, then its manifest.

    A failed write stops the run before the manifest. Rewriting a day replaces its file,
    so reruns never duplicate rows (and repair a failed run). The manifest is written
    last: its presence means every file it lists is complete; it lists the tickers set
    aside with their reasons. When every ticker was set aside nothing is written at all,
    not even a manifest (`manifest_key` is None).
    """
    if not batch.tickers:
        return ScrapeResult(batch.run_id, [], [], 0, None, [], batch.failed)
    writes = [(key, partial(parquet_bytes, table)) for key, table in batch.tables.items()]
    lake.write_many(writes, RAW_WRITE_PHASE, progress)
    manifest = Manifest(
        run_id=batch.run_id,
        producer=producer,
        tickers=batch.tickers,
        dates=batch.dates,
        files=batch.files,
        created_at=batch.ingested_at.isoformat().replace("+00:00", "Z"),
        execution_arn=execution_arn,
        failed_tickers=[{"ticker": f.ticker, "reason": f.reason} for f in batch.failed],
    )
    key = manifest_key(batch.run_id)
    lake.write_bytes(key, manifest.to_json().encode("utf-8"))
    return ScrapeResult(
        run_id=batch.run_id,
        tickers=batch.tickers,
        dates=batch.dates,
        rows=manifest.rows,
        manifest_key=key,
        files=batch.files,
        failed=batch.failed,
    )


def scrape(
    source: QuoteSource,
    lake: Lake,
    tickers: Sequence[str],
    start: date | None = None,
    end: date | None = None,
    *,
    producer: str = SCRAPER_PRODUCER,
    run_id: str | None = None,
    execution_arn: str | None = None,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> ScrapeResult:
    """Fetch the window (or the latest trading days) and write one raw file per date and ticker.

    Every bar is fetched and validated, and every file's rows built, before the first
    write, so a bad payload writes nothing (`fetch_raw`, then `write_raw`). A ticker the
    source sets aside writes nothing and is listed with its reason in the manifest and
    the result.
    """
    batch = fetch_raw(source, tickers, start, end, run_id=run_id, now=now)
    return write_raw(lake, batch, producer=producer, execution_arn=execution_arn, progress=progress)
