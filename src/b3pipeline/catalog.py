"""The local catalog: DuckDB views named like the Glue tables, over the lake's Parquet.

The `sql/` files are written in Athena (Trino) dialect; `run_sql` transpiles them with
sqlglot and runs them here, so the same text serves Athena in AWS and DuckDB locally.
The tables are pyarrow datasets registered in DuckDB (scanned lazily from a local folder,
fetched through the lake's I/O pool from S3).

A run's catalog is pruned to its window (`CatalogWindow`: the dt partitions from start to
end and the months they touch, for the run's tickers), the way Athena prunes partitions:
what the lake holds outside the window is never listed or read, so it costs nothing and
cannot break the run. Without a window (`b3pipeline query`) every file is registered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
import sqlglot.errors
from sqlglot import exp

from b3pipeline.errors import QueryError
from b3pipeline.lake import Lake, month_of
from b3pipeline.tables import TABLES, TableSpec
from b3pipeline.tickers import tickers_json

SQL_DIR = Path(__file__).resolve().parent / "sql"


TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in TABLES)


@dataclass(frozen=True)
class CatalogWindow:
    """The partitions a run's queries may see: dates start..end (and the months they
    touch) of `tickers`."""

    start: date
    end: date
    tickers: tuple[str, ...]


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def window_parameters(start: date, end: date, tickers: Sequence[str]) -> list[str]:
    """The `?` values of a query over a run's window: first date, last date, tickers.

    Plain text, in the order quality_check.sql takes them (dates 'YYYY-MM-DD', tickers as
    JSON array text); Athena's ExecutionParameters carry the same values as SQL literals.
    """
    return [start.isoformat(), end.isoformat(), tickers_json(tickers)]


def read_sql_file(name: str) -> str:
    """The text of `sql/<name>` (e.g. 'quality_check.sql')."""
    path = SQL_DIR / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QueryError(f"cannot read {path}: {exc}") from exc


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _syntax_error(exc: sqlglot.errors.SqlglotError) -> str:
    """sqlglot's error as one plain line: what, where, near which text (its own message
    underlines the token with terminal escape codes)."""
    details = getattr(exc, "errors", None)
    if details:
        first = details[0]
        near = " ".join(f"{first.get('start_context', '')}{first.get('highlight', '')}".split())
        return (
            f"{first.get('description', 'syntax error')} at line {first.get('line')}, column "
            f"{first.get('col')} (near '{near[-40:]}')"
        )
    return " ".join(_ANSI_ESCAPE.sub("", str(exc)).split())


def _parse_athena(sql: str) -> exp.Expr:
    """One Athena (Trino) statement, parsed."""
    try:
        expressions = [e for e in sqlglot.parse(sql, read="athena") if e is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise QueryError(f"the query is not valid Athena SQL: {_syntax_error(exc)}") from exc
    if len(expressions) != 1:
        raise QueryError(f"expected one SQL statement, got {len(expressions)}")
    return expressions[0]


def athena_to_duckdb(sql: str) -> str:
    """Transpile one Athena (Trino) statement to DuckDB's dialect."""
    return _parse_athena(sql).sql(dialect="duckdb")


def parameter_count(sql: str) -> int:
    """How many positional `?` parameters one Athena statement takes."""
    return sum(1 for _ in _parse_athena(sql).find_all(exp.Placeholder))


class DropCommandFallbackWarning(logging.Filter):
    """sqlglot warns when it passes a statement it does not model (SHOW TABLES, DESCRIBE)
    through as text; DuckDB then runs that text as is, which is what the user asked, so
    the warning is noise. Install it on the `sqlglot` logger (the CLI does)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


class LocalCatalog:
    """DuckDB over the lake: tables raw_quotes, quotes_daily and quotes_monthly."""

    def __init__(
        self,
        lake: Lake,
        window: CatalogWindow | None = None,
        tables: Sequence[str] = TABLE_NAMES,
    ) -> None:
        unknown = sorted(set(tables) - set(TABLE_NAMES))
        if unknown:
            raise QueryError(f"unknown table(s) {unknown}: the catalog has {list(TABLE_NAMES)}")
        self.lake = lake
        self.window = window
        self.tables = [table for table in TABLES if table.name in tables]
        self.connection = duckdb.connect(database=":memory:")
        self.refresh()

    def refresh(self) -> None:
        """(Re)register the tables, so files written since are seen (the crawler's job in AWS).

        The tables are listed and (on S3) fetched at the same time, so their round trips
        overlap; DuckDB's connection is only used from this thread.
        """
        with ThreadPoolExecutor(max_workers=len(self.tables) or 1) as pool:
            datasets = list(pool.map(self._dataset, self.tables))
        for table, dataset in zip(self.tables, datasets):
            self.connection.register(table.name, dataset)

    def _files(self, table: TableSpec) -> list[str]:
        if self.window is None:
            return self.lake.list_keys(table.location)
        if table.partitioning.names[0] == "month":
            first, last = month_of(self.window.start), month_of(self.window.end)
        else:
            first, last = self.window.start.isoformat(), self.window.end.isoformat()
        # Every file of a partition folder is table data (as for Athena), not just ours.
        partitions = self.lake.list_partitions(
            table.location, None, first, last, tickers=self.window.tickers
        )
        return [p.key for p in partitions]

    def _dataset(self, table: TableSpec) -> Any:
        full_schema = pa.schema(list(table.columns) + list(table.partitioning))
        files = self._files(table)
        if not files:
            return full_schema.empty_table()
        return self.lake.dataset(table.location, files, table.partitioning, schema=full_schema)

    def run_sql(self, sql: str, parameters: Sequence[Any] | None = None) -> QueryResult:
        """Run one Athena-dialect statement (with positional `?` parameters)."""
        expression = _parse_athena(sql)
        expected = sum(1 for _ in expression.find_all(exp.Placeholder))
        given = len(parameters or [])
        if given != expected:
            raise QueryError(
                f"the query takes {expected} `?` parameter(s) and {given} value(s) were given"
            )
        statement = expression.sql(dialect="duckdb")
        try:
            cursor = self.connection.execute(statement, list(parameters or []))
            columns = [d[0] for d in cursor.description or []]
            rows = [tuple(row) for row in cursor.fetchall()]
        except duckdb.Error as exc:
            raise QueryError(f"the query failed on the local catalog: {exc}") from exc
        return QueryResult(columns=columns, rows=rows)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> LocalCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
