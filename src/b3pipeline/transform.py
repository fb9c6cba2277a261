"""Raw quotes -> refined quotes_daily and quotes_monthly for a date window (the Glue job's logic).

`run_transform` plans which raw partitions a window needs, reads them from the lake, feeds
them to the pure metrics of `b3pipeline.metrics`, and rewrites the refined partitions the
window owns.

Decisions (see DESIGN.md for the column definitions):

* A run over [start, end] owns the daily partitions dated within [start, end] and the
  monthly partitions of every calendar month that [start, end] touches, for its tickers.
  Monthly rows are recomputed from the whole month, including raw days after ``end``.
  Owned refined partitions whose raw data no longer exists are deleted, so the refined
  tables always equal a full recomputation.
* The work depends on the window, not on the lake's history: the raw partitions are listed
  from ``LOOKBACK_CALENDAR_DAYS`` before ``start`` (or the month before start's month) to
  the end of end's month, and only when a ticker has fewer than LOOKBACK_TRADING_DAYS raw
  days in that span is the listing extended further back, doubling the span each time,
  until the ticker has them or the lake's first date is reached. The stale-partition
  check lists the owned partitions only. A file outside what a run reads cannot fail it.
* Reads, writes and deletes go through the lake's I/O pool. Every raw file is read and
  validated, and every refined value computed, before the first write: `prepare_transform`
  does all of that and writes nothing, `commit_transform` writes. The local pipeline
  prepares before its scrape writes the raw files (handing them over as `pending_raw`),
  so a bad file in the lookback stops a run before anything is written.
* ``processed_at`` is a property of the run, not of the data: the metrics leave it out and
  ``run_transform`` stamps every written row with the same UTC instant.
"""

from __future__ import annotations

import bisect
import calendar
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from b3pipeline import lake as lake_module
from b3pipeline import schema
from b3pipeline.errors import InvalidDateRangeError, LakeError, TransformError
from b3pipeline.lake import Lake, Partition, ProgressCallback, month_of, parquet_bytes
from b3pipeline.metrics import (
    RAW_VALUE_COLUMNS,
    SMA_WINDOWS,
    compute_daily,
    compute_monthly,
)
from b3pipeline.tickers import validate_tickers

logger = logging.getLogger(__name__)

#: Trading days of raw read before `start` (sma_50 needs the 49 before it).
LOOKBACK_TRADING_DAYS = max(SMA_WINDOWS)
#: Calendar days listed before `start` at first: 50 trading days plus B3's holidays fit.
LOOKBACK_CALENDAR_DAYS = 91

RAW_READ_PHASE = "raw files read"
REFINED_WRITE_PHASE = "refined files written"


@dataclass
class TransformResult:
    """What one run wrote. Keys are lake keys (relative to the lake root)."""

    tickers: list[str]
    start: date
    end: date
    processed_at: datetime
    daily_rows: int = 0
    monthly_rows: int = 0
    daily_keys: list[str] = field(default_factory=list)
    monthly_keys: list[str] = field(default_factory=list)
    dates: list[date] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    raw_files_read: int = 0
    tickers_without_data: list[str] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable digest (counts, not every key) for logs and job outputs."""
        return {
            "tickers": self.tickers,
            "start_date": self.start.isoformat(),
            "end_date": self.end.isoformat(),
            "processed_at": self.processed_at.isoformat(),
            "daily_rows": self.daily_rows,
            "monthly_rows": self.monthly_rows,
            "dates": [d.isoformat() for d in self.dates],
            "months": self.months,
            "raw_files_read": self.raw_files_read,
            "tickers_without_data": self.tickers_without_data,
            "deleted_keys": self.deleted_keys,
        }


def first_of_previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def last_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months_touched(start: date, end: date) -> list[str]:
    """Every "YYYY-MM" from start's month through end's month."""
    return lake_module.partition_values("month", month_of(start), month_of(end))


def raw_read_window(trade_dates: Sequence[date], start: date, end: date) -> tuple[date, date]:
    """The raw dates [first, last] a run over [start, end] reads for one ticker.

    `trade_dates` are the ticker's raw partition dates, sorted. The window starts at the
    earlier of: the LOOKBACK_TRADING_DAYS-th raw date before `start` (trailing metrics) and
    the first day of the month before start's month (monthly_return_pct, whole months); it
    ends on the last day of end's month (touched months are recomputed whole).
    """
    first = first_of_previous_month(start)
    before = bisect.bisect_left(list(trade_dates), start)
    if before:
        first = min(first, trade_dates[max(0, before - LOOKBACK_TRADING_DAYS)])
    return first, last_of_month(end)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


def _as_date(value: date, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise InvalidDateRangeError(f"{name}={value!r} is not a date: give YYYY-MM-DD")
    return value


def _partition_date(lake: Lake, partition: Partition) -> date:
    text = partition.values.get("dt", "")
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise TransformError(
            f"raw partition {lake.url(partition.key)} has dt={text!r}: expected dt=YYYY-MM-DD"
        ) from exc


RawEntry = tuple[date, Partition]


def _list_raw(
    lake: Lake,
    tickers: Sequence[str],
    first: date,
    last: date,
    pending: Sequence[RawEntry] = (),
) -> list[RawEntry]:
    """The raw files of `tickers` dated first..last: those in the lake, plus the `pending`
    ones (about to be written) that the lake does not hold yet."""
    partitions = lake.list_partitions(
        lake_module.RAW_QUOTES,
        lake_module.RAW_QUOTES_FILE,
        first.isoformat(),
        last.isoformat(),
        tickers=tickers,
    )
    entries = [(_partition_date(lake, p), p) for p in partitions]
    listed = {p.key for p in partitions}
    wanted = set(tickers)
    entries += [
        (day, p)
        for day, p in pending
        if first <= day <= last and p.values.get("ticker") in wanted and p.key not in listed
    ]
    return entries


def plan_raw_reads(
    lake: Lake,
    tickers: Sequence[str],
    start: date,
    end: date,
    pending: Sequence[str] = (),
) -> tuple[list[RawEntry], list[str]]:
    """The raw files a run over [start, end] reads, and the tickers without raw rows in it.

    Lists only the window plus its lookback (see the module's decisions); the files are
    sorted by (ticker, date). `pending` are raw keys about to be written: they count as
    present.
    """
    pending_entries = []
    for key in pending:
        partition = lake_module.partition_of(lake_module.RAW_QUOTES, key)
        pending_entries.append((_partition_date(lake, partition), partition))
    first = min(first_of_previous_month(start), start - timedelta(days=LOOKBACK_CALENDAR_DAYS))
    listed = _list_raw(lake, tickers, first, last_of_month(end), pending_entries)
    span = LOOKBACK_CALENDAR_DAYS
    earliest: date | None = None
    while True:
        by_ticker: dict[str, list[RawEntry]] = {symbol: [] for symbol in tickers}
        for entry in listed:
            by_ticker[entry[1].values["ticker"]].append(entry)
        active = [t for t in tickers if any(start <= day <= end for day, _ in by_ticker[t])]
        short = [
            t
            for t in active
            if sum(1 for day, _ in by_ticker[t] if day < start) < LOOKBACK_TRADING_DAYS
        ]
        if not short:
            break
        if earliest is None:
            found = lake.first_partition_value(lake_module.RAW_QUOTES)
            earliest = date.fromisoformat(found) if found else first
        if first <= earliest:
            break
        span *= 2
        before = max(earliest, first - timedelta(days=span))
        logger.info(
            "%s: fewer than %d raw days before %s since %s; listing back to %s",
            ", ".join(short),
            LOOKBACK_TRADING_DAYS,
            start,
            first,
            before,
        )
        listed += _list_raw(lake, tickers, before, first - timedelta(days=1), pending_entries)
        first = before

    selected: list[RawEntry] = []
    for symbol in active:
        entries = sorted(by_ticker[symbol], key=lambda entry: entry[0])
        window_first, window_last = raw_read_window([d for d, _ in entries], start, end)
        selected.extend(e for e in entries if window_first <= e[0] <= window_last)
    return selected, [t for t in tickers if t not in active]


def _repair_hint(partition: Partition, trade_date: date) -> str:
    """What rewrites a bad raw file: fetching its day again replaces it whole."""
    ticker = partition.values.get("ticker", "<ticker>")
    return (
        f"nothing was written; fetch that day again to replace the file "
        f"(`b3pipeline run --tickers {ticker} --date {trade_date.isoformat()}`, or the "
        f'state machine with "run_date": "{trade_date.isoformat()}"), or delete it, '
        "then rerun"
    )


def _raw_rows(lake: Lake, partition: Partition, trade_date: date, table: pa.Table) -> pa.Table:
    """One raw file's rows with `ticker` added from its folder, validated against RAW_QUOTES."""
    where = lake.url(partition.key)
    fix = _repair_hint(partition, trade_date)
    missing = [name for name in schema.RAW_QUOTES.names if name not in table.column_names]
    if missing:
        raise TransformError(
            f"raw file {where} lacks the column(s) {', '.join(missing)} (expected "
            f"{', '.join(schema.RAW_QUOTES.names)}): {fix}"
        )
    for name in RAW_VALUE_COLUMNS:
        expected = schema.RAW_QUOTES.field(name).type
        actual = table.schema.field(name).type
        if actual != expected:
            raise TransformError(
                f"raw file {where}: column {name} is {actual}, expected {expected}: {fix}"
            )
    table = table.select(list(RAW_VALUE_COLUMNS))
    dates = set(table.column("trade_date").to_pylist())
    if table.num_rows > 1 or dates - {trade_date}:
        raise TransformError(
            f"raw file {where} must hold one row with trade_date {trade_date.isoformat()}; "
            f"it holds {table.num_rows} row(s) dated {sorted(str(d) for d in dates)}: {fix}"
        )
    ticker = pa.array([partition.values["ticker"]] * table.num_rows, pa.string())
    return table.add_column(0, "ticker", ticker)


def _decode_raw_file(lake: Lake, partition: Partition, trade_date: date, blob: bytes) -> pa.Table:
    """One raw file read from the lake: its rows, validated (see `_raw_rows`)."""
    try:
        table = pq.read_table(io.BytesIO(blob))
    except (OSError, pa.ArrowInvalid) as exc:
        raise TransformError(
            f"cannot read raw file {lake.url(partition.key)} ({exc}): "
            f"{_repair_hint(partition, trade_date)}"
        ) from exc
    return _raw_rows(lake, partition, trade_date, table)


def _to_arrow(frame: pd.DataFrame, target: pa.Schema, processed_at: datetime) -> pa.Table:
    """The frame as a table with exactly `target`'s schema, processed_at stamped on each row."""
    values = pa.schema([f for f in target if f.name != "processed_at"])
    table = pa.Table.from_pandas(frame.loc[:, values.names], schema=values, preserve_index=False)
    stamp_field = target.field("processed_at")
    stamp = pa.array([processed_at] * table.num_rows, type=stamp_field.type)
    table = table.append_column(stamp_field, stamp).replace_schema_metadata(None)
    if not table.schema.equals(target):  # pragma: no cover - guards the contract
        raise TransformError(f"refined schema drifted: {table.schema} != {target}")
    return table


@dataclass
class PreparedTransform:
    """A transform computed and not yet written: what `commit_transform` writes."""

    result: TransformResult
    files: list[tuple[str, Callable[[], bytes]]]
    active: list[str]


def run_transform(
    lake: Lake,
    tickers: list[str],
    start: date,
    end: date,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> TransformResult:
    """Recompute the refined partitions owned by [start, end] for `tickers`.

    Writes refined/quotes_daily for each raw trade date in [start, end] and
    refined/quotes_monthly for each month touched by [start, end], whole; deletes owned
    refined partitions whose raw row is gone. Nothing is written when the input is invalid
    or any raw file in the read window is malformed. Tickers without raw rows in
    [start, end] are skipped and listed in `tickers_without_data`. `progress` hears the
    raw reads and the refined writes.
    """
    prepared = prepare_transform(lake, tickers, start, end, now=now, progress=progress)
    return commit_transform(lake, prepared, progress)


def prepare_transform(
    lake: Lake,
    tickers: list[str],
    start: date,
    end: date,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    pending_raw: Mapping[str, pa.Table] | None = None,
) -> PreparedTransform:
    """Plan, read, validate and compute the transform of [start, end]; write nothing.

    `pending_raw` maps raw keys about to be written (by the scrape of the same run) to
    their rows: they are planned as if in the lake and taken from memory instead of read.
    """
    pending = dict(pending_raw or {})
    start = _as_date(start, "start")
    end = _as_date(end, "end")
    if start > end:
        raise InvalidDateRangeError(
            f"start {start.isoformat()} is after end {end.isoformat()}: give start <= end"
        )
    symbols = validate_tickers(tickers)
    processed_at = _utc(now)
    result = TransformResult(tickers=symbols, start=start, end=end, processed_at=processed_at)
    result.months = months_touched(start, end)

    # 1. Which raw files to read: the window and its lookback, nothing else.
    selected, result.tickers_without_data = plan_raw_reads(
        lake, symbols, start, end, pending=list(pending)
    )
    active = [t for t in symbols if t not in result.tickers_without_data]
    logger.info(
        "transform %s..%s: %d raw file(s) to read for %s; no raw data for %s",
        start,
        end,
        len(selected),
        active,
        result.tickers_without_data,
    )
    if not active:
        return PreparedTransform(result=result, files=[], active=[])

    # 2. Read and validate everything before writing anything.
    stored = [entry for entry in selected if entry[1].key not in pending]
    try:
        blobs = lake.read_many([p.key for _, p in stored], RAW_READ_PHASE, progress)
    except LakeError as exc:
        raise TransformError(f"cannot read raw file: {exc}") from exc
    read = {
        partition.key: _decode_raw_file(lake, partition, day, blob)
        for (day, partition), blob in zip(stored, blobs)
    }
    del blobs  # a backfill holds thousands of them: free them before computing
    tables = [
        read.pop(partition.key)
        if partition.key in read
        else _raw_rows(lake, partition, day, pending[partition.key])
        for day, partition in selected
    ]
    result.raw_files_read = len(tables)
    raw = pa.concat_tables(tables).to_pandas()
    del tables
    daily = compute_daily(raw)
    monthly = compute_monthly(raw)

    in_window = np.array([start <= day <= end for day in daily["trade_date"]], dtype=bool)
    daily = daily.loc[in_window].reset_index(drop=True)
    monthly = monthly.loc[monthly["month"].isin(result.months)].reset_index(drop=True)
    daily_table = _to_arrow(daily, schema.QUOTES_DAILY, processed_at)
    monthly_table = _to_arrow(monthly, schema.QUOTES_MONTHLY, processed_at)
    daily_keys = [
        lake_module.quotes_daily_key(day, ticker)
        for day, ticker in zip(daily["trade_date"], daily["ticker"])
    ]
    monthly_keys = [
        lake_module.quotes_monthly_key(month, ticker)
        for month, ticker in zip(monthly["month"], monthly["ticker"])
    ]

    # One file per (date, ticker) and per (month, ticker), encoded when written.
    files: list[tuple[str, Callable[[], bytes]]] = [
        (key, partial(parquet_bytes, daily_table.slice(index, 1)))
        for index, key in enumerate(daily_keys)
    ]
    files += [
        (key, partial(parquet_bytes, monthly_table.slice(index, 1)))
        for index, key in enumerate(monthly_keys)
    ]
    result.daily_rows, result.daily_keys = len(daily_keys), daily_keys
    result.monthly_rows, result.monthly_keys = len(monthly_keys), monthly_keys
    result.dates = sorted(set(daily["trade_date"]))
    return PreparedTransform(result=result, files=files, active=active)


def commit_transform(
    lake: Lake, prepared: PreparedTransform, progress: ProgressCallback | None = None
) -> TransformResult:
    """Write what `prepare_transform` computed, then delete the owned refined partitions
    that the raw data no longer backs."""
    result = prepared.result
    if not prepared.active:
        return result
    # 3. Write one file per (date, ticker) and per (month, ticker).
    lake.write_many(prepared.files, REFINED_WRITE_PHASE, progress)

    # 4. Owned refined partitions that the raw data no longer backs.
    result.deleted_keys = _delete_stale(
        lake,
        prepared.active,
        result.start,
        result.end,
        result.months,
        set(result.daily_keys) | set(result.monthly_keys),
    )
    logger.info(
        "transform %s..%s wrote %d daily and %d monthly file(s), deleted %d",
        result.start,
        result.end,
        result.daily_rows,
        result.monthly_rows,
        len(result.deleted_keys),
    )
    return result


def _delete_stale(
    lake: Lake,
    tickers: list[str],
    start: date,
    end: date,
    months: list[str],
    written: set[str],
) -> list[str]:
    owned = lake.list_partitions(
        lake_module.QUOTES_DAILY,
        lake_module.REFINED_FILE,
        start.isoformat(),
        end.isoformat(),
        tickers=tickers,
    )
    owned += lake.list_partitions(
        lake_module.QUOTES_MONTHLY, lake_module.REFINED_FILE, months[0], months[-1], tickers=tickers
    )
    stale = [p.key for p in owned if p.key not in written]
    for key in stale:
        logger.warning("deleting %s: its raw data is no longer in the lake", lake.url(key))
    lake.delete_many(stale)
    return stale
