"""Column contracts of the lake's tables (DESIGN.md). Partition columns are not in the files."""

from __future__ import annotations

import pyarrow as pa

_UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

# raw/quotes/dt=/ticker=/quotes.parquet (+ partition columns dt, ticker)
RAW_QUOTES = pa.schema(
    [
        ("trade_date", pa.date32()),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("adjusted_close", pa.float64()),
        ("volume", pa.int64()),
        ("currency", pa.string()),
        ("source", pa.string()),
        ("ingested_at", _UTC_TIMESTAMP),
        ("request_range", pa.string()),
    ]
)

# refined/quotes_daily/dt=/ticker=/part-0.parquet (+ partition columns dt, ticker)
QUOTES_DAILY = pa.schema(
    [
        ("trade_date", pa.date32()),
        ("open_price", pa.float64()),
        ("high_price", pa.float64()),
        ("low_price", pa.float64()),
        ("close_price", pa.float64()),
        ("adj_close_price", pa.float64()),
        ("volume", pa.int64()),
        ("daily_return_pct", pa.float64()),
        ("sma_5", pa.float64()),
        ("sma_20", pa.float64()),
        ("sma_50", pa.float64()),
        ("volatility_20d_pct", pa.float64()),
        ("days_since_prev_trade", pa.int32()),
        ("day_of_week", pa.int8()),
        ("processed_at", _UTC_TIMESTAMP),
    ]
)

# refined/quotes_monthly/month=/ticker=/part-0.parquet (+ partition columns month, ticker)
QUOTES_MONTHLY = pa.schema(
    [
        ("first_trade_date", pa.date32()),
        ("last_trade_date", pa.date32()),
        ("trading_days", pa.int32()),
        ("open_price", pa.float64()),
        ("close_price", pa.float64()),
        ("high_price", pa.float64()),
        ("low_price", pa.float64()),
        ("avg_volume", pa.float64()),
        ("total_volume", pa.int64()),
        ("monthly_return_pct", pa.float64()),
        ("processed_at", _UTC_TIMESTAMP),
    ]
)
