"""`b3pipeline`: run the pipeline, backfill or transform a window, query the local catalog, or
start the deployed pipeline and follow it (`aws run`, logic in b3pipeline.aws_run).

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
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from b3pipeline.brapi import BrapiClient
from b3pipeline.catalog import LocalCatalog, QueryResult
from b3pipeline.catalog_registration import GluePartitionCatalog, glue_partition_catalog
from b3pipeline.deployment import DEFAULT_TERRAFORM_DIR, read_terraform_outputs
from b3pipeline.errors import (
    B3PipelineError,
    InvalidDateRangeError,
    InvalidRequestError,
    InvalidTickerError,
    QueryError,
)
from b3pipeline.lake import Lake, ProgressCallback
from b3pipeline.manifest import SCRAPER_PRODUCER
from b3pipeline.pipeline import PipelineResult, run_pipeline
from b3pipeline.run_summary import TransformRunSummary, record_transform_run
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
            help="log what each step does (at $LOG_LEVEL, default INFO)",
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

    transform.add_argument(
        "--catalog-database",
        help="Glue database whose tables get the window's partitions, as the Glue job registers "
        "them (s3:// lakes only; no crawler needed afterwards)",
    )

    query = commands.add_parser("query", help="run Athena-dialect SQL on the local catalog")
    source = query.add_mutually_exclusive_group(required=True)
    source.add_argument("sql", nargs="?", help="the SQL text, e.g. 'SELECT * FROM quotes_daily'")
    source.add_argument("--file", type=Path, help="a .sql file, e.g. sql/monthly_summary.sql")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_lake(query)
    add_verbose(query)

    _add_aws_commands(commands, add_tickers, add_verbose)
    return parser


# -- b3pipeline aws ... : the deployed pipeline ---------------------------------------------------
def _add_aws_commands(
    commands: Any,
    add_tickers: Callable[[argparse.ArgumentParser], None],
    add_verbose: Callable[[argparse.ArgumentParser], None],
) -> None:
    aws = commands.add_parser("aws", help="work with the pipeline deployed by `make deploy`")
    aws_commands = aws.add_subparsers(dest="aws_command", required=True)
    run = aws_commands.add_parser(
        "run",
        help="start the deployed state machine, follow it state by state, print the outcome",
        description="Start one execution of the deployed pipeline and follow it: each state "
        "as it is entered and with its duration, the Glue job run while it waits for "
        "capacity or runs, then the status, the transform's run summary, the quality gate "
        "and the Glue job run's billed time and list price. Exit 0 only when the execution "
        "SUCCEEDED. Ctrl-C stops following, not the execution.",
    )
    run.add_argument(
        "--state-machine-arn",
        help="the pipeline's state machine (default: `terraform output state_machine_arn`)",
    )
    run.add_argument(
        "--region",
        help="its AWS region (default: `terraform output aws_region`, else the ARN's region)",
    )
    add_tickers(run)
    run.add_argument(
        "--date",
        type=_iso_date,
        help="one trade date, YYYY-MM-DD (default: the latest trading days BRAPI returns)",
    )
    run.add_argument(
        "--no-wait",
        action="store_true",
        help="start the execution, print its ARN and console URL, and return",
    )
    run.add_argument(
        "--terraform-dir",
        type=Path,
        default=DEFAULT_TERRAFORM_DIR,
        help="where `make deploy` applied Terraform (default: terraform)",
    )
    run.add_argument(
        "--poll-seconds",
        type=_poll_seconds,
        default=2.0,
        help="seconds between two looks at the execution's history (default: 2)",
    )
    add_verbose(run)


def _poll_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.01 <= value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0.01 to 60")
    return value


def _run_aws(args: argparse.Namespace, settings: Settings) -> int:
    """`aws run`: everything but parsing and printing is in b3pipeline.aws_run."""
    from b3pipeline import aws_run

    request = aws_run.resolve_run_request(
        state_machine_arn=args.state_machine_arn,
        region=args.region,
        tickers=args.tickers,
        run_date=args.date,
        default_tickers=settings.tickers,
        read_outputs=lambda: read_terraform_outputs(
            args.terraform_dir, instead="pass --state-machine-arn (its region comes with it)"
        ),
    )
    sfn, glue, s3 = aws_run.aws_clients(request.target.region)
    started = aws_run.start_execution(sfn, request)
    day = request.run_date.isoformat() if request.run_date else "the latest trading days"
    print(f"Started {started.name} for {', '.join(request.tickers)} ({day})")
    print(f"  {started.arn}")
    print(f"  {started.console_url}")
    if args.no_wait:
        print(f"To stop it: {started.stop_command}")
        return 0
    follower = aws_run.ExecutionFollower(sfn, glue, s3, started, poll_seconds=args.poll_seconds)
    try:
        for line in follower.follow():
            print(line, flush=True)
    except KeyboardInterrupt:
        print(
            f"\nStopped following; the execution keeps running. To stop it:\n"
            f"  {started.stop_command}",
            file=sys.stderr,
        )
        return 130
    report = follower.report()
    print("\n".join(report.lines()))
    report.raise_for_status()
    return 0


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
    return BrapiClient(settings.brapi_base_url, settings.brapi_token)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:,.4f}".rstrip("0").rstrip(".")
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


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


def _report(result: PipelineResult, lake: Lake) -> None:
    scraped = result.scrape
    if result.no_trading_day:
        print(
            f"No trading day: BRAPI returned no bars for {', '.join(scraped.tickers)} "
            "in the window (weekend or holiday); nothing to transform."
        )
        return
    print(
        f"Scraped {scraped.rows} rows for {', '.join(scraped.tickers)} "
        f"({scraped.dates[0]}..{scraped.dates[-1]}) into {lake.url()}"
    )
    if result.summary:
        columns = list(result.summary[0])
        print(format_table(columns, [tuple(r.values()) for r in result.summary]))
    if result.quality is not None:
        verdict = "passed" if result.quality.passed else "FAILED"
        print(f"Quality check {verdict}: {result.quality.total_violations} violations")
    if result.chart_key:
        print(f"Chart: {lake.url(result.chart_key)}")


def _report_transform(result: TransformResult, lake: Lake) -> None:
    print(
        f"Transformed {result.start}..{result.end} for {', '.join(result.tickers)} in "
        f"{lake.url()}: {result.raw_files_read} raw files read, {result.daily_rows} daily and "
        f"{result.monthly_rows} monthly rows written, {len(result.deleted_keys)} stale "
        "files deleted"
    )
    if result.tickers_without_data:
        print(f"No raw data in the window for {', '.join(result.tickers_without_data)}")


def _glue_catalog(database: str | None, lake: Lake) -> GluePartitionCatalog | None:
    """The Glue database `transform --catalog-database` registers in, in the lake's region."""
    if database is None:
        return None
    if lake.is_local:
        raise InvalidRequestError(
            f"--catalog-database registers partitions in the Glue Data Catalog, whose tables "
            f"read s3:// lakes, but the lake is the folder {lake.url()}: give --lake "
            "s3://bucket, or leave --catalog-database out (the local catalog needs no "
            "registration)"
        )
    if not database.strip():
        raise InvalidRequestError("--catalog-database is empty: give the Glue database name")
    catalog = glue_partition_catalog(database, region=lake.s3_region)
    catalog.check_tables()
    return catalog


def _report_registration(summary: TransformRunSummary) -> None:
    counts = summary.to_dict()["partitions"]
    current = "yes" if summary.catalog_current else "no"
    print(
        f"Glue database {summary.catalog_database}: {counts['registered']} partitions "
        f"registered, {counts['already_present']} already present, {counts['failed']} failed; "
        f"catalog current: {current}"
    )
    for table in summary.tables:
        for failure in table.failed_partitions:
            print(f"  {table.table} {failure.partition.value_map()}: {failure.error_code}")
        for difference in table.schema_differences or ():
            print(f"  {table.table}: {difference}")
    if not summary.catalog_current:
        print(
            "The catalog is not current: fix what is listed above, or run the crawler "
            "(aws glue start-crawler --region <region> --name <project>-crawler)"
        )


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
    if args.command == "aws":
        return _run_aws(args, settings)
    if args.command == "query":
        sql = args.sql if args.file is None else _read_query_file(args.file)
        with LocalCatalog(_open_lake(args, settings)) as catalog:
            _print_result(catalog.run_sql(sql), args.format)
        return 0

    tickers = args.tickers or settings.tickers
    start, end = _window(args)
    lake = _open_lake(args, settings)
    if args.command == "transform":
        glue = _glue_catalog(args.catalog_database, lake)  # refused before anything is written
        with _progress_bars() as progress:
            transformed = run_transform(lake, tickers, args.start, args.end, progress=progress)
        _report_transform(transformed, lake)
        if glue is not None:
            _report_registration(record_transform_run(lake, transformed, glue, None))
        return 0
    producer = BACKFILL_PRODUCER if args.command == "backfill" else SCRAPER_PRODUCER
    with _progress_bars() as progress:
        result = run_pipeline(
            _client(settings), lake, tickers, start, end, producer=producer, progress=progress
        )
    _report(result, lake)
    result.raise_for_quality()
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
