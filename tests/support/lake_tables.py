"""Whole refined tables read back from a lake (local or S3), for assertions."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from b3pipeline import lake as lake_module
from b3pipeline import schema
from b3pipeline.lake import Lake


def read_refined(lake: Lake, monthly: bool = False) -> pa.Table:
    """Every row of quotes_daily (or quotes_monthly), partition columns added from the keys."""
    table = lake_module.QUOTES_MONTHLY if monthly else lake_module.QUOTES_DAILY
    partitioning = lake_module.MONTH_PARTITIONING if monthly else lake_module.DATE_PARTITIONING
    columns = schema.QUOTES_MONTHLY if monthly else schema.QUOTES_DAILY
    full = pa.schema([*columns, *partitioning])
    keys = lake.list_keys(table)
    if not keys:
        return full.empty_table()
    return lake.dataset(table, keys, partitioning, full).to_table()


def refined_rows(lake: Lake, monthly: bool = False) -> list[dict[str, Any]]:
    """read_refined's rows sorted by (ticker, month) or (ticker, trade_date)."""
    rows: list[dict[str, Any]] = read_refined(lake, monthly).to_pylist()
    order = ("ticker", "month") if monthly else ("ticker", "trade_date")
    return sorted(rows, key=lambda row: tuple(row[k] for k in order))
