"""`b3pipeline`: run the pipeline, backfill or transform a window, or query the local catalog.

Thin adapter: parses arguments, reads settings once, calls the core, prints the outcome.
Expected failures print `error: ...` (one line; a SQL error from `query` may add DuckDB's
pointer to the offending token) and exit 1; usage errors exit 2.

Long phases (raw files written, raw files read, refined files written) each get one
progress bar on a terminal; log lines are printed above the bars instead of through them.
Only warnings and errors are logged unless `--verbose` (then LOG_LEVEL, default INFO).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from b3pipeline.brapi import BrapiClient
from b3pipeline.catalog import LocalCatalog, QueryResult
from b3pipeline.errors import (
    B3PipelineError,
    InvalidDateRangeError,
    InvalidTickerError,
    QueryError,
)
from b3pipeline.lake import Lake, ProgressCallback
from b3pipeline.manifest import SCRAPER_PRODUCER
from b3pipeline.pipeline import PipelineResult, run_pipeline
from b3pipeline.run_report import format_table, report_lines
from b3pipeline.settings import Settings
from b3pipeline.tickers import parse_tickers
from b3pipeline.transform import TransformResult, run_transform

logger = logging.getLogger("b3pipeline")

BACKFILL_PRODUCER = "backfill"


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-08-29") from exc


def _tickers(text: str) -> list[str]:
    try:
        return parse_tickers(text)
    except InvalidTickerError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="b3pipeline",
        description="B3 daily quotes pipeline: BRAPI -> Parquet lake -> refined tables -> SQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def add_lake(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--lake", help="lake folder or s3://bucket[/prefix] (default: $LAKE_URI)"
        )

    def add_tickers(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--tickers",
            type=_tickers,
            help="comma-separated B3 tickers, e.g. PETR4,VALE3 (default: $B3_TICKERS or PETR4)",
        )

    def add_verbose(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="log what each step does (at $LOG_LEVEL, default INFO); `run` and "
            "`backfill` also print every ticker's summary row",
        )

    run = commands.add_parser(
        "run",
        help="scrape, transform, check quality and chart (the latest trading days by default)",
    )
    add_tickers(run)
    dates = run.add_mutually_exclusive_group()
    dates.add_argument("--date", type=_iso_date, help="one trade date, YYYY-MM-DD")
    dates.add_argument("--start", type=_iso_date, help="first trade date of a window")
    run.add_argument("--end", type=_iso_date, help="last trade date of a window (with --start)")
    add_lake(run)
    add_verbose(run)

    backfill = commands.add_parser("backfill", help="load a past window, with progress bars")
    add_tickers(backfill)
    backfill.add_argument("--start", type=_iso_date, required=True, help="first trade date")
    backfill.add_argument("--end", type=_iso_date, required=True, help="last trade date")
    add_lake(backfill)
    add_verbose(backfill)

    transform = commands.add_parser(
        "transform",
        help="recompute refined tables for a window from the raw already in the lake "
        "(what the Glue job does)",
    )
    add_tickers(transform)
    transform.add_argument("--start", type=_iso_date, required=True, help="first trade date")
    transform.add_argument("--end", type=_iso_date, required=True, help="last trade date")
    add_lake(transform)
    add_verbose(transform)

    query = commands.add_parser("query", help="run Athena-dialect SQL on the local catalog")
    source = query.add_mutually_exclusive_group(required=True)
    source.add_argument("sql", nargs="?", help="the SQL text, e.g. 'SELECT * FROM quotes_daily'")
    source.add_argument("--file", type=Path, help="a .sql file, e.g. sql/monthly_summary.sql")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_lake(query)
    add_verbose(query)
    return parser


def _window(args: argparse.Namespace) -> tuple[date | None, date | None]:
    if getattr(args, "date", None):
        return args.date, args.date
    start, end = args.start, args.end
    if (start is None) != (end is None):
        raise InvalidDateRangeError("give both --start and --end, or --date, or neither")
    if start is not None and end is not None and start > end:
        raise InvalidDateRangeError(f"--start {start} is after --end {end}")
    return start, end


def _open_lake(args: argparse.Namespace, settings: Settings) -> Lake:
    return Lake.open(args.lake or settings.require_lake_uri(), settings.lake_io_concurrency)


def _client(settings: Settings) -> BrapiClient:
    return BrapiClient(
        settings.brapi_base_url, settings.brapi_token, policy=settings.fetch_policy()
    )


def _read_query_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QueryError(f"cannot read the query file {path}: {exc.strerror}") from exc


def _print_result(result: QueryResult, fmt: str) -> None:
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    elif fmt == "json":
        print(json.dumps(result.records(), indent=2, default=str))
    else:
        print(format_table(result.columns, result.rows))
        print(f"({len(result.rows)} rows)")


def _report(result: PipelineResult, lake: Lake, verbose: bool) -> None:
    scraped = result.scrape
    if result.no_trading_day:
        print(
            f"No trading day: BRAPI returned no bars for {', '.join(scraped.tickers)} "
            "in the window (weekend or holiday); nothing to transform."
        )
    for line in report_lines(result, lake, verbose):
        print(line)


def _report_transform(result: TransformResult, lake: Lake) -> None:
    print(
        f"Transformed {result.start}..{result.end} for {', '.join(result.tickers)} in "
        f"{lake.url()}: {result.raw_files_read} raw files read, {result.daily_rows} daily and "
        f"{result.monthly_rows} monthly rows written, {len(result.deleted_keys)} stale "
        "files deleted"
    )
    if result.tickers_without_data:
        print(f"No raw data in the window for {', '.join(result.tickers_without_data)}")


class PhaseBars:
    """One progress bar per phase: a new phase closes the previous phase's bar.

    Bars show on a terminal only, so pipes and logs stay clean.
    """

    def __init__(self) -> None:
        self._phase: str | None = None
        self._bar: Any = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            from tqdm import tqdm

            self.close()
            self._phase = phase
            quiet = not sys.stderr.isatty()  # pipes and captured output stay clean
            self._bar = tqdm(desc=phase, total=total, unit="file", disable=quiet, leave=True)
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._phase = None, None


@contextlib.contextmanager
def _progress_bars() -> Iterator[ProgressCallback]:
    from tqdm.contrib.logging import logging_redirect_tqdm

    bars = PhaseBars()
    # Log records go through tqdm.write while bars are open, above them, not across them.
    with logging_redirect_tqdm(loggers=[logging.getLogger()]):
        try:
            yield bars
        finally:
            bars.close()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "query":
        sql = args.sql if args.file is None else _read_query_file(args.file)
        with LocalCatalog(_open_lake(args, settings)) as catalog:
            _print_result(catalog.run_sql(sql), args.format)
        return 0

    tickers = args.tickers or settings.tickers
    start, end = _window(args)
    lake = _open_lake(args, settings)
    if args.command == "transform":
        with _progress_bars() as progress:
            transformed = run_transform(lake, tickers, args.start, args.end, progress=progress)
        _report_transform(transformed, lake)
        return 0
    producer = BACKFILL_PRODUCER if args.command == "backfill" else SCRAPER_PRODUCER
    with _progress_bars() as progress:
        result = run_pipeline(
            _client(settings), lake, tickers, start, end, producer=producer, progress=progress
        )
    _report(result, lake, args.verbose)
    result.raise_for_quality()
    result.raise_for_failed_tickers()
    return 0


def configure_logging(settings: Settings, verbose: bool) -> None:
    """Warnings and errors only, unless --verbose: then the project's logs at LOG_LEVEL.

    Other libraries (boto3, urllib3, ...) stay at WARNING either way.
    """
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # NOTSET: the project's loggers inherit the root's WARNING.
    logging.getLogger("b3pipeline").setLevel(settings.log_level if verbose else logging.NOTSET)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings, args.verbose)
        return _run(args, settings)
    except B3PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
