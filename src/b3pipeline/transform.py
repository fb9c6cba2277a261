"""Raw quotes -> refined quotes_daily and quotes_monthly (the Glue job's logic).

`compute_daily` and `compute_monthly` are pure functions on pandas frames; `run_transform`
reads the raw partitions a date window needs from the lake, computes, and rewrites the
refined partitions the window owns.

Decisions (see DESIGN.md for the column definitions):

* Trailing windows (sma_N, volatility_20d_pct) are computed from exactly the N values in
  each window, adding them in a fixed order. pandas' ``rolling()`` keeps a running sum
  whose last bits depend on where the series starts, so a windowed run would differ from
  a full recomputation by ~1e-15; here a value depends only on its window's values, so a
  run over [start, end] gives bit-identical values to a run over the whole history.
* A null adjusted close inside a window makes that window's value null (the window does
  not hold N values).
* "Previous month" for monthly_return_pct is the immediately preceding calendar month.
  When the ticker has no rows in that month (it did not trade, or the month is not in the
  lake) the return is null; an older month is never used instead.
* A run over [start, end] owns the daily partitions dated within [start, end] and the
  monthly partitions of every calendar month that [start, end] touches, for its tickers.
  Monthly rows are recomputed from the whole month, including raw days after ``end``.
  Owned refined partitions whose raw data no longer exists are deleted, so the refined
  tables always equal a full recomputation.
* ``processed_at`` is a property of the run, not of the data: the compute functions leave
  it out and ``run_transform`` stamps every written row with the same UTC instant.
"""

from __future__ import annotations

import bisect
import calendar
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Literal, Optional

import numpy as np
import pandas as pd
import pyarrow as pa

from b3pipeline import lake as lake_module
from b3pipeline import schema
from b3pipeline.errors import InvalidDateRangeError, LakeError, TransformError
from b3pipeline.lake import Lake, Partition
from b3pipeline.tickers import validate_tickers

logger = logging.getLogger(__name__)

#: Trading days of raw read before `start` (sma_50 needs the 49 before it).
LOOKBACK_TRADING_DAYS = 50
SMA_WINDOWS = (5, 20, 50)
VOLATILITY_WINDOW = 20
TRADING_DAYS_PER_YEAR = 252

# Raw columns the transform uses, with the exact Arrow types it accepts.
_RAW_VALUE_COLUMNS = ("trade_date", "open", "high", "low", "close", "adjusted_close", "volume")

DAILY_COLUMNS: tuple[str, ...] = (
    "ticker",
    *(name for name in schema.QUOTES_DAILY.names if name != "processed_at"),
)
MONTHLY_COLUMNS: tuple[str, ...] = (
    "month",
    "ticker",
    *(name for name in schema.QUOTES_MONTHLY.names if name != "processed_at"),
)

FloatArray = Any  # numpy float64 1-D array (kept loose for numpy/pandas stub differences)


# -- pure computations ----------------------------------------------------------------------
def _normalise_raw(raw: pd.DataFrame) -> pd.DataFrame:
    """Select the columns used, with stable dtypes on every pandas/pyarrow version.

    trade_date may arrive as datetime.date objects, datetime64 of any unit or ISO strings;
    volume as int64, nullable Int64 or float64 (int64 with nulls). Returns a frame sorted by
    (ticker, trade_date) with a fresh RangeIndex, trade_date as datetime64 at midnight.
    """
    missing = [c for c in ("ticker", *_RAW_VALUE_COLUMNS) if c not in raw.columns]
    if missing:
        raise TransformError(f"raw quotes lack the column(s) {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "ticker": raw["ticker"].astype(object).astype(str).to_numpy(dtype=object),
            "trade_date": pd.to_datetime(pd.Series(raw["trade_date"].to_numpy(dtype=object)))
            .dt.normalize()
            .to_numpy(),
        }
    )
    if frame["trade_date"].isna().any():
        raise TransformError("raw quotes have rows without a trade_date")
    for column in ("open", "high", "low", "close", "adjusted_close", "volume"):
        frame[column] = pd.to_numeric(
            pd.Series(raw[column].to_numpy(dtype=object)), errors="raise"
        ).astype("float64")
    frame = frame.sort_values(["ticker", "trade_date"], kind="mergesort").reset_index(drop=True)
    duplicated = frame.duplicated(["ticker", "trade_date"])
    if duplicated.any():
        first = frame.loc[duplicated].iloc[0]
        raise TransformError(
            f"raw quotes hold more than one row for {first['ticker']} on "
            f"{first['trade_date'].date().isoformat()}: one row per ticker and trade date expected"
        )
    return frame


def _group_positions(
    tickers: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """For rows sorted by ticker: (is first row of its ticker, position within its ticker)."""
    n = len(tickers)
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = tickers[1:] != tickers[:-1]
    index = np.arange(n)
    group_start = np.maximum.accumulate(np.where(first, index, 0)) if n else index
    return first, index - group_start


def _trailing(
    values: FloatArray,
    position: np.ndarray[Any, Any],
    window: int,
    statistic: Callable[[list[FloatArray]], FloatArray],
) -> FloatArray:
    """statistic over the `window` values ending at each row, null where fewer exist.

    `statistic` receives the window as `window` aligned column arrays (oldest first) and
    reduces them in a fixed order, so a value depends only on its window's values.
    """
    n = len(values)
    out = np.full(n, np.nan)
    if n >= window:
        columns = [values[offset : n - window + 1 + offset] for offset in range(window)]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[window - 1 :] = statistic(columns)
    out[position < window - 1] = np.nan
    return out


def _mean(columns: list[FloatArray]) -> FloatArray:
    total = columns[0].copy()
    for column in columns[1:]:
        total = total + column
    return total / len(columns)


def _sample_std(columns: list[FloatArray]) -> FloatArray:
    mean = _mean(columns)
    squares = (columns[0] - mean) ** 2
    for column in columns[1:]:
        squares = squares + (column - mean) ** 2
    return np.sqrt(squares / (len(columns) - 1))


def _as_dates(values: pd.Series) -> np.ndarray[Any, Any]:
    """datetime64 -> an object array of datetime.date (what Arrow's date32 maps to)."""
    return pd.Series(pd.to_datetime(values)).dt.date.to_numpy(dtype=object)


def compute_daily(raw: pd.DataFrame) -> pd.DataFrame:
    """quotes_daily rows (plus `ticker`, minus `processed_at`) for every raw row.

    `raw` holds raw quotes columns and `ticker`, any order. Each metric is computed per
    ticker over its rows ordered by trade_date; the result is sorted by (ticker, trade_date).
    """
    frame = _normalise_raw(raw)
    tickers = frame["ticker"].to_numpy(dtype=object)
    first, position = _group_positions(tickers)
    adj = frame["adjusted_close"].to_numpy(dtype="float64")

    previous_adj = np.full(len(adj), np.nan)
    previous_adj[1:] = adj[:-1]
    previous_adj[first] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        daily_return = (adj / previous_adj - 1) * 100
    daily_return[~np.isfinite(daily_return)] = np.nan

    trade_dates = frame["trade_date"]
    gap_days = np.array((trade_dates - trade_dates.shift(1)).dt.days, dtype="float64")
    gap_days[first] = np.nan

    out = pd.DataFrame(
        {
            "ticker": tickers,
            "trade_date": _as_dates(trade_dates),
            "open_price": frame["open"].to_numpy(dtype="float64"),
            "high_price": frame["high"].to_numpy(dtype="float64"),
            "low_price": frame["low"].to_numpy(dtype="float64"),
            "close_price": frame["close"].to_numpy(dtype="float64"),
            "adj_close_price": adj,
            "volume": _nullable_int(frame["volume"], "Int64"),
            "daily_return_pct": daily_return,
        }
    )
    for window in SMA_WINDOWS:
        out[f"sma_{window}"] = _trailing(adj, position, window, _mean)
    # The first return of a ticker is null, so the first full window of 20 returns ends on
    # its 21st trading day; _trailing leaves earlier rows null through the NaN.
    out["volatility_20d_pct"] = _trailing(
        daily_return, position, VOLATILITY_WINDOW, _sample_std
    ) * np.sqrt(TRADING_DAYS_PER_YEAR)
    out["days_since_prev_trade"] = _nullable_int(gap_days, "Int32")
    out["day_of_week"] = pd.array(
        (trade_dates.dt.day_of_week + 1).to_numpy(dtype="int64"), dtype="Int8"
    )
    return out.loc[:, list(DAILY_COLUMNS)]


def _nullable_int(values: Any, dtype: Literal["Int8", "Int32", "Int64"]) -> Any:
    """Whole numbers held as float64 (NaN = null) -> a pandas nullable integer array."""
    return pd.Series(np.asarray(values, dtype="float64")).round().astype(dtype).array


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def compute_monthly(raw: pd.DataFrame) -> pd.DataFrame:
    """quotes_monthly rows (plus `month` and `ticker`, minus `processed_at`).

    One row per ticker and calendar month present in `raw`, sorted by (ticker, month).
    monthly_return_pct compares the month's last adjusted close with the last adjusted
    close of the immediately preceding calendar month, and is null when the ticker has no
    row in that month (an older month is not used instead).
    """
    frame = _normalise_raw(raw)
    trade_dates = frame["trade_date"]
    frame["month_number"] = trade_dates.dt.year * 12 + (trade_dates.dt.month - 1)
    keys = ["ticker", "month_number"]
    firsts = frame.drop_duplicates(keys, keep="first").reset_index(drop=True)
    lasts = frame.drop_duplicates(keys, keep="last").reset_index(drop=True)
    grouped = frame.groupby(keys, sort=True)
    high = grouped["high"].max().to_numpy(dtype="float64")
    low = grouped["low"].min().to_numpy(dtype="float64")
    total_volume = grouped["volume"].sum(min_count=1).to_numpy(dtype="float64")
    avg_volume = grouped["volume"].mean().to_numpy(dtype="float64")
    trading_days = grouped.size().to_numpy(dtype="int64")

    # firsts/lasts come from a frame sorted by (ticker, trade_date), so their rows are in
    # the same (ticker, month) order as the sorted groupby results above.
    month_number = lasts["month_number"].to_numpy(dtype="int64")
    tickers = lasts["ticker"].to_numpy(dtype=object)
    last_adj = lasts["adjusted_close"].to_numpy(dtype="float64")
    first_row, _ = _group_positions(tickers)
    previous_adj = np.full(len(last_adj), np.nan)
    previous_adj[1:] = last_adj[:-1]
    previous_month = np.full(len(month_number), -1, dtype="int64")
    previous_month[1:] = month_number[:-1]
    consecutive = (~first_row) & (previous_month == month_number - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        monthly_return = (last_adj / previous_adj - 1) * 100
    monthly_return[~consecutive | ~np.isfinite(monthly_return)] = np.nan

    out = pd.DataFrame(
        {
            "month": [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in month_number],
            "ticker": tickers,
            "first_trade_date": _as_dates(firsts["trade_date"]),
            "last_trade_date": _as_dates(lasts["trade_date"]),
            "trading_days": trading_days.astype("int32"),
            "open_price": firsts["open"].to_numpy(dtype="float64"),
            "close_price": lasts["close"].to_numpy(dtype="float64"),
            "high_price": high,
            "low_price": low,
            "avg_volume": avg_volume,
            "total_volume": _nullable_int(total_volume, "Int64"),
            "monthly_return_pct": monthly_return,
        }
    )
    return out.loc[:, list(MONTHLY_COLUMNS)]


# -- the run over a date window ---------------------------------------------------------------
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
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


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


def _utc(now: Optional[datetime]) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


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


def _read_raw_file(lake: Lake, partition: Partition, trade_date: date) -> pa.Table:
    """One raw file with its partition columns, validated against RAW_QUOTES."""
    where = lake.url(partition.key)
    try:
        table = lake.read_partitions(
            lake_module.RAW_QUOTES, [partition], lake_module.DATE_PARTITIONING
        )
    except LakeError as exc:
        raise TransformError(f"cannot read raw file {where}: {exc}") from exc
    if table is None:  # pragma: no cover - read_partitions returns None only for no partitions
        raise TransformError(f"raw file {where} could not be read")
    missing = [name for name in schema.RAW_QUOTES.names if name not in table.column_names]
    if missing:
        raise TransformError(
            f"raw file {where} lacks the column(s) {', '.join(missing)}: "
            f"expected {', '.join(schema.RAW_QUOTES.names)}"
        )
    for name in _RAW_VALUE_COLUMNS:
        expected = schema.RAW_QUOTES.field(name).type
        actual = table.schema.field(name).type
        if actual != expected:
            raise TransformError(
                f"raw file {where}: column {name} is {actual}, expected {expected}"
            )
    table = table.select(["ticker", *_RAW_VALUE_COLUMNS])
    dates = set(table.column("trade_date").to_pylist())
    if table.num_rows > 1 or dates - {trade_date}:
        raise TransformError(
            f"raw file {where} must hold one row with trade_date {trade_date.isoformat()}; "
            f"it holds {table.num_rows} row(s) dated {sorted(str(d) for d in dates)}"
        )
    return table


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


def run_transform(
    lake: Lake,
    tickers: list[str],
    start: date,
    end: date,
    now: Optional[datetime] = None,
) -> TransformResult:
    """Recompute the refined partitions owned by [start, end] for `tickers`.

    Writes refined/quotes_daily for each raw trade date in [start, end] and
    refined/quotes_monthly for each month touched by [start, end], whole; deletes owned
    refined partitions whose raw row is gone. Nothing is written when the input is invalid
    or any raw file in the read window is malformed. Tickers without raw rows in
    [start, end] are skipped and listed in `tickers_without_data`.
    """
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

    # 1. Which raw files to read, per ticker.
    by_ticker: dict[str, list[tuple[date, Partition]]] = {symbol: [] for symbol in symbols}
    for partition in lake.list_partitions(lake_module.RAW_QUOTES, lake_module.RAW_QUOTES_FILE):
        ticker = partition.values.get("ticker")
        if ticker in by_ticker:
            by_ticker[ticker].append((_partition_date(lake, partition), partition))
    selected: list[tuple[date, Partition]] = []
    active: list[str] = []
    for symbol in symbols:
        entries = sorted(by_ticker[symbol], key=lambda entry: entry[0])
        dates = [day for day, _ in entries]
        if not any(start <= day <= end for day in dates):
            result.tickers_without_data.append(symbol)
            continue
        active.append(symbol)
        first, last = raw_read_window(dates, start, end)
        selected.extend(entry for entry in entries if first <= entry[0] <= last)
    logger.info(
        "transform %s..%s: %d raw file(s) to read for %s; no raw data for %s",
        start,
        end,
        len(selected),
        active,
        result.tickers_without_data,
    )
    if not active:
        return result

    # 2. Read and validate everything before writing anything.
    tables = [_read_raw_file(lake, partition, day) for day, partition in selected]
    result.raw_files_read = len(tables)
    raw = pa.concat_tables(tables).to_pandas()
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

    # 3. Write one file per (date, ticker) and per (month, ticker).
    for index, key in enumerate(daily_keys):
        lake.write_parquet(key, daily_table.slice(index, 1))
    for index, key in enumerate(monthly_keys):
        lake.write_parquet(key, monthly_table.slice(index, 1))
    result.daily_rows, result.daily_keys = len(daily_keys), daily_keys
    result.monthly_rows, result.monthly_keys = len(monthly_keys), monthly_keys
    result.dates = sorted(set(daily["trade_date"]))

    # 4. Owned refined partitions that the raw data no longer backs.
    result.deleted_keys = _delete_stale(
        lake, active, start, end, result.months, set(daily_keys) | set(monthly_keys)
    )
    logger.info(
        "transform %s..%s wrote %d daily and %d monthly file(s), deleted %d",
        start,
        end,
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
    wanted = set(tickers)
    first, last = start.isoformat(), end.isoformat()
    stale = [
        p.key
        for p in lake.list_partitions(lake_module.QUOTES_DAILY, lake_module.REFINED_FILE)
        if p.values.get("ticker") in wanted
        and first <= p.values.get("dt", "") <= last
        and p.key not in written
    ]
    stale += [
        p.key
        for p in lake.list_partitions(lake_module.QUOTES_MONTHLY, lake_module.REFINED_FILE)
        if p.values.get("ticker") in wanted
        and p.values.get("month") in months
        and p.key not in written
    ]
    for key in stale:
        logger.warning("deleting %s: its raw data is no longer in the lake", lake.url(key))
        lake.delete(key)
    return stale
