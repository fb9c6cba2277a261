"""The catalog's tables: name, lake location, file columns and partition columns.

Kept apart from b3pipeline.catalog (DuckDB, sqlglot) so that the Glue job, which installs
only the core's runtime requirements, can name the tables it registers partitions in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from b3pipeline import lake as lake_layout
from b3pipeline import schema


@dataclass(frozen=True)
class TableSpec:
    name: str  # the Glue / DuckDB table name
    location: str  # the table's folder under the lake root
    columns: pa.Schema  # what the files hold
    partitioning: pa.Schema  # what the folder names hold


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "raw_quotes", lake_layout.RAW_QUOTES, schema.RAW_QUOTES, lake_layout.DATE_PARTITIONING
    ),
    TableSpec(
        "quotes_daily", lake_layout.QUOTES_DAILY, schema.QUOTES_DAILY, lake_layout.DATE_PARTITIONING
    ),
    TableSpec(
        "quotes_monthly",
        lake_layout.QUOTES_MONTHLY,
        schema.QUOTES_MONTHLY,
        lake_layout.MONTH_PARTITIONING,
    ),
)
