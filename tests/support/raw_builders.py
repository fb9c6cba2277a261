"""Synthetic raw quotes for tests: frames you can reason about, and lakes built from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from b3pipeline import schema
from b3pipeline.lake import Lake, raw_quotes_key

INGESTED_AT = datetime(2024, 1, 1, 21, 0, tzinfo=UTC)


def weekdays(first: date, count: int, skip: Sequence[date] = ()) -> list[date]:
    """`count` Monday-to-Friday dates from `first` on, leaving out `skip` (holidays)."""
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5 and day not in skip:
            days.append(day)
        day += timedelta(days=1)
    return days


def raw_frame(
    ticker: str,
    trade_dates: Sequence[date],
    adjusted_closes: Sequence[float | None] | None = None,
    volumes: Sequence[int | None] | None = None,
    seed: int = 7,
) -> pd.DataFrame:
    """Raw quotes rows for one ticker (columns of schema.RAW_QUOTES plus `ticker`).

    Without `adjusted_closes`, prices follow a seeded random walk around 30; close is the
    adjusted close plus 1 so a test can tell the two apart.
    """
    n = len(trade_dates)
    rng = np.random.default_rng(seed)
    if adjusted_closes is None:
        walk = 30 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
        adjusted_closes = [round(float(v), 4) for v in walk]
    if volumes is None:
        volumes = [int(v) for v in rng.integers(1_000_000, 50_000_000, n)]
    adj = np.array([np.nan if v is None else v for v in adjusted_closes], dtype="float64")
    close = adj + 1
    return pd.DataFrame(
        {
            "ticker": [ticker] * n,
            "trade_date": list(trade_dates),
            "open": close - 0.25,
            "high": close + 0.5,
            "low": close - 0.5,
            "close": close,
            "adjusted_close": adj,
            "volume": pd.array(list(volumes), dtype="Int64"),
            "currency": ["BRL"] * n,
            "source": ["brapi"] * n,
            "ingested_at": [INGESTED_AT] * n,
            "request_range": ["3mo"] * n,
        }
    )


def raw_table(frame: pd.DataFrame) -> pa.Table:
    """Rows of `raw_frame` as a table with exactly schema.RAW_QUOTES (no partition columns)."""
    columns = frame.loc[:, schema.RAW_QUOTES.names]
    table = pa.Table.from_pandas(columns, schema=schema.RAW_QUOTES, preserve_index=False)
    return table.replace_schema_metadata(None)


def write_raw(lake: Lake, frame: pd.DataFrame) -> list[str]:
    """Write each row of `frame` as its raw partition file; returns the keys written."""
    table = raw_table(frame)
    keys = []
    for index, (ticker, trade_date) in enumerate(zip(frame["ticker"], frame["trade_date"])):
        key = raw_quotes_key(trade_date, ticker)
        lake.write_parquet(key, table.slice(index, 1))
        keys.append(key)
    return keys


def two_ticker_history() -> pd.DataFrame:
    """About seven months of weekdays for PETR4 and five for VALE3, with gaps:

    - PETR4 misses 2024-02-12/13 (Carnival) and every day of 2024-05 (a suspended month);
    - VALE3 starts on 2024-03-01, so its first 50 days straddle windows.
    """
    carnival = (date(2024, 2, 12), date(2024, 2, 13))
    petr_days = [
        d for d in weekdays(date(2024, 1, 2), 160, skip=carnival) if d.month != 5 and d.year == 2024
    ]
    vale_days = weekdays(date(2024, 3, 1), 110)
    return pd.concat(
        [raw_frame("PETR4", petr_days, seed=1), raw_frame("VALE3", vale_days, seed=2)],
        ignore_index=True,
    )
