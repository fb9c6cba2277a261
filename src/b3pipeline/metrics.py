"""The refined tables' metrics as pure functions on pandas frames (no I/O, no dates to plan).

`compute_daily` gives quotes_daily's values for every raw row, `compute_monthly` the
quotes_monthly roll-up; `b3pipeline.transform` decides which raw rows to feed them and
writes what they return. Column definitions are in DESIGN.md.

Decisions:

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
* ``processed_at`` is a property of the run, not of the data: these functions leave it out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from b3pipeline import schema
from b3pipeline.errors import TransformError

SMA_WINDOWS = (5, 20, 50)
VOLATILITY_WINDOW = 20
TRADING_DAYS_PER_YEAR = 252

#: Raw columns the metrics use (besides `ticker`), with schema.RAW_QUOTES's types.
RAW_VALUE_COLUMNS = ("trade_date", "open", "high", "low", "close", "adjusted_close", "volume")

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


def _normalise_raw(raw: pd.DataFrame) -> pd.DataFrame:
    """Select the columns used, with stable dtypes on every pandas/pyarrow version.

    trade_date may arrive as datetime.date objects, datetime64 of any unit or ISO strings;
    volume as int64, nullable Int64 or float64 (int64 with nulls). Returns a frame sorted by
    (ticker, trade_date) with a fresh RangeIndex, trade_date as datetime64 at midnight.
    """
    missing = [c for c in ("ticker", *RAW_VALUE_COLUMNS) if c not in raw.columns]
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
