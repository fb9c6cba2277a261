"""`b3pipeline`: run the pipeline, backfill or transform a window, check or query the lake, or
start the deployed pipeline and follow it (`aws run`, logic in b3pipeline.aws_run).

Thin adapter: parses arguments, reads settings once, calls the core, prints the outcome.
Exit codes (DESIGN.md "Command line"): 0 done; 2 a usage error (argparse's convention:
its usage line, then `b3pipeline <command>: error: ...`), for malformed values and for
dates that cannot make a window (start after end, half a window, a future date); 1 a
failure, printed as one `error: ...` line that says what to do (a SQL error from `query`
may add DuckDB's pointer to the offending token). `main` is the one place that maps
exceptions to exit codes; each subcommand is a parser with a `handler` default.

Long phases (raw files read, raw files written, refined files written) each get one
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
from urllib.parse import urlsplit

from b3pipeline.brapi import BrapiClient, RetryLogAsDebug, today_in_sao_paulo
from b3pipeline.catalog import DropCommandFallbackWarning, LocalCatalog, QueryResult
from b3pipeline.catalog import parameter_count as sql_parameter_count
from b3pipeline.catalog_registration import GluePartitionCatalog, glue_partition_catalog
from b3pipeline.deployment import DEFAULT_TERRAFORM_DIR, read_terraform_outputs
from b3pipeline.errors import (
    B3PipelineError,
    BrapiHostNotFoundError,
    BrapiUnavailableError,
    InvalidRequestError,
    InvalidTickerError,
    LakeNotFoundError,
    QueryError,
    SettingsError,
)
from b3pipeline.lake import Lake, ProgressCallback
from b3pipeline.manifest import SCRAPER_PRODUCER
from b3pipeline.pipeline import (
    PipelineResult,
    WindowCheck,
    check_window,
    raise_for_violations,
    run_pipeline,
)
from b3pipeline.quality import TOTAL_COLUMN
from b3pipeline.run_report import format_table, report_lines
from b3pipeline.run_summary import TransformRunSummary, record_transform_run
from b3pipeline.settings import Settings
from b3pipeline.tickers import parse_tickers
from b3pipeline.transform import TransformResult, run_transform

logger = logging.getLogger("b3pipeline")

BACKFILL_PRODUCER = "backfill"
#: The offline stand-in the README and `make fake-brapi` / `make demo` use.
DEMO_HINT = "offline? `make demo` runs the whole pipeline against a local BRAPI stand-in"

Handler = Callable[[argparse.Namespace, Settings], int]


class UsageError(Exception):
    """Arguments that parse but cannot be used together: reported by argparse (exit 2)."""


# --------------------------------------------------------------------------- arguments


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


def _add_lake(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--lake",
        metavar="PATH_OR_S3_URI",
        help="the lake: a folder or s3://bucket[/prefix] (default: $LAKE_URI)",
    )


def _add_tickers(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--tickers",
        type=_tickers,
        help="comma-separated B3 tickers, e.g. PETR4,VALE3 (default: $B3_TICKERS or PETR4)",
    )


def _add_verbose(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log what each step does (at $LOG_LEVEL, default INFO); `run` and "
        "`backfill` also print every ticker's summary row",
    )


def _add_window(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--start", type=_iso_date, required=True, metavar="YYYY-MM-DD", help=f"first {what}"
    )
    command.add_argument(
        "--end", type=_iso_date, required=True, metavar="YYYY-MM-DD", help=f"last {what}"
    )


def _command(
    commands: Any, name: str, handler: Handler, summary: str, description: str
) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=description
    )
    command.set_defaults(handler=handler, parser=command)
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="b3pipeline",
        description="B3 daily quotes pipeline: BRAPI -> Parquet lake -> refined tables -> SQL.",
        epilog="Run `b3pipeline <command> --help` for a command's options. Exit codes: 0 "
        "done, 1 failed (one `error:` line), 2 bad arguments.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    run = _command(
        commands,
        "run",
        _run_pipeline,
        "scrape, transform, check quality and chart (the latest trading days by default)",
        "The daily job, locally: fetch from BRAPI (BRAPI_BASE_URL), write raw Parquet, "
        "recompute the refined tables of the window, run the quality gate, print a summary "
        "and write a chart. Without dates it takes the latest trading days; --date or "
        "--start/--end re-run recent days.",
    )
    _add_tickers(run)
    dates = run.add_mutually_exclusive_group()
    dates.add_argument("--date", type=_iso_date, metavar="YYYY-MM-DD", help="one trade date")
    dates.add_argument(
        "--start", type=_iso_date, metavar="YYYY-MM-DD", help="first trade date (with --end)"
    )
    run.add_argument(
        "--end", type=_iso_date, metavar="YYYY-MM-DD", help="last trade date (with --start)"
    )
    _add_lake(run)
    _add_verbose(run)

    backfill = _command(
        commands,
        "backfill",
        _run_pipeline,
        "load a past window (a first load, years of history)",
        "Load a past window: the same steps as `run`, for a first load or a long history. "
        "Its manifest says producer=backfill, so on the S3 lake of a deployed stack the "
        "trigger Lambda starts the state machine for it.",
    )
    _add_tickers(backfill)
    _add_window(backfill, "trade date")
    _add_lake(backfill)
    _add_verbose(backfill)

    transform = _command(
        commands,
        "transform",
        _run_transform,
        "recompute refined tables for a window from the raw already in the lake "
        "(what the Glue job does)",
        "Recompute quotes_daily and quotes_monthly of a window from the raw files already "
        "in the lake, without calling BRAPI: what the Glue job does. Use it after dropping "
        "raw files in by hand or changing a metric.",
    )
    _add_tickers(transform)
    _add_window(transform, "trade date to recompute")
    _add_lake(transform)
    transform.add_argument(
        "--catalog-database",
        metavar="GLUE_DATABASE",
        help="Glue database whose tables get the window's partitions, as the Glue job "
        "registers them (s3:// lakes only; no crawler needed afterwards)",
    )
    _add_verbose(transform)

    check = _command(
        commands,
        "check",
        _run_check,
        "run the data-quality gate (sql/quality_check.sql) on a window in the lake",
        "Run sql/quality_check.sql on DuckDB over a window already in the lake, print every "
        "violation count, and exit 1 when any is found (the gate a run ends with).",
    )
    _add_tickers(check)
    _add_window(check, "trade date to check")
    _add_lake(check)
    _add_verbose(check)

    query = _command(
        commands,
        "query",
        _run_query,
        "run Athena-dialect SQL on the local catalog",
        "Run one Athena (Trino) SQL statement on DuckDB over the whole lake, with the "
        "tables raw_quotes, quotes_daily and quotes_monthly.",
    )
    source = query.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "sql", nargs="?", help="the SQL text, e.g. 'SELECT * FROM quotes_daily LIMIT 5'"
    )
    source.add_argument("--file", type=Path, help="a .sql file, e.g. sql/monthly_summary.sql")
    query.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="output: an aligned table (default), CSV with a header, or a JSON array",
    )
    _add_lake(query)
    _add_verbose(query)

    aws = commands.add_parser(
        "aws",
        help="work with the pipeline deployed by `make deploy`",
        description="Commands for the stack `make deploy` built (region and ARNs default to "
        "Terraform's outputs).",
    )
    aws_commands = aws.add_subparsers(
        dest="aws_command",
        required=True,
        metavar="<command>",
        help="what to do with the deployed stack",
    )
    aws_run = _command(
        aws_commands,
        "run",
        _run_aws,
        "start the deployed state machine, follow it state by state, print the outcome",
        "Start one execution of the deployed pipeline and follow it: each state as it is "
        "entered and with its duration, the Glue job run while it waits for capacity or "
        "runs, then the status, the transform's run summary, the quality gate and the Glue "
        "job run's billed time and list price. Exit 0 only when the execution SUCCEEDED. "
        "Ctrl-C stops following, not the execution.",
    )
    aws_run.add_argument(
        "--state-machine-arn",
        help="the pipeline's state machine (default: `terraform output state_machine_arn`)",
    )
    aws_run.add_argument(
        "--region",
        help="its AWS region (default: `terraform output aws_region`, else the ARN's region)",
    )
    _add_tickers(aws_run)
    aws_run.add_argument(
        "--date",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="one trade date (default: the latest trading days BRAPI returns)",
    )
    aws_run.add_argument(
        "--no-wait",
        action="store_true",
        help="start the execution, print its ARN and console URL, and return",
    )
    aws_run.add_argument(
        "--terraform-dir",
        type=Path,
        default=DEFAULT_TERRAFORM_DIR,
        help="where `make deploy` applied Terraform (default: terraform)",
    )
    aws_run.add_argument(
        "--poll-seconds",
        type=_poll_seconds,
        default=2.0,
        help="seconds between two looks at the execution's history (default: 2)",
    )
    _add_verbose(aws_run)
    return parser


def _poll_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.01 <= value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0.01 to 60")
    return value


def _check_window(args: argparse.Namespace, today: date) -> tuple[date | None, date | None]:
    """The window the arguments give (None, None: the latest trading days)."""
    if getattr(args, "date", None) is not None:
        start, end = args.date, args.date
    else:
        start, end = args.start, args.end
    if (start is None) != (end is None):
        raise UsageError("give both --start and --end, or --date, or neither")
    if start is not None and end is not None and start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    if args.command in ("run", "backfill"):  # BRAPI has nothing after today
        for day in (start, end):
            if day is not None and day > today:
                raise UsageError(f"{day} is in the future (today is {today} in America/Sao_Paulo)")
    return start, end


def _required_window(args: argparse.Namespace, today: date) -> tuple[date, date]:
    start, end = _check_window(args, today)
    if start is None or end is None:  # argparse already requires both
        raise UsageError("give --start and --end")
    return start, end


# --------------------------------------------------------------------------- output


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _print_result(result: QueryResult, fmt: str) -> None:
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    elif fmt == "json":
        print(json.dumps(result.records(), indent=2, default=str))
    else:
        print(format_table(result.columns, result.rows))
        print(f"({_plural(len(result.rows), 'row')})")


def _report(result: PipelineResult, lake: Lake, verbose: bool) -> None:
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


def _report_check(checked: WindowCheck, lake: Lake) -> None:
    report = checked.report
    print(
        f"Quality check of {', '.join(report.tickers)} for {report.start}..{report.end} in "
        f"{lake.url()}: {checked.raw_rows} raw and {checked.daily_rows} refined daily rows"
    )
    rows = [(name, count) for name, count in report.counts.items() if name != TOTAL_COLUMN]
    rows.append((TOTAL_COLUMN, report.total_violations))
    print(format_table(["check", "violations"], rows))
    verdict = "passed" if report.passed else "FAILED"
    print(f"Quality check {verdict}: {report.total_violations} violations")


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


# --------------------------------------------------------------------------- commands


def _open_lake(args: argparse.Namespace, settings: Settings, *, create: bool) -> Lake:
    """The lake of --lake or LAKE_URI; commands that only read pass create=False."""
    uri = args.lake or settings.lake_uri
    if not uri:
        raise SettingsError(
            "LAKE_URI is not set and no --lake was given: pass --lake ./lake (a folder or "
            "s3://bucket[/prefix]) or set LAKE_URI"
        )
    return Lake.open(uri, settings.lake_io_concurrency, create=create)


def _client(settings: Settings) -> BrapiClient:
    return BrapiClient(
        settings.brapi_base_url, settings.brapi_token, policy=settings.fetch_policy()
    )


def _run_pipeline(args: argparse.Namespace, settings: Settings) -> int:
    start, end = _check_window(args, today_in_sao_paulo())
    tickers = args.tickers or settings.tickers
    lake = _open_lake(args, settings, create=True)
    producer = BACKFILL_PRODUCER if args.command == "backfill" else SCRAPER_PRODUCER
    with _progress_bars() as progress:
        result = run_pipeline(
            _client(settings), lake, tickers, start, end, producer=producer, progress=progress
        )
    _report(result, lake, args.verbose)
    result.raise_for_quality()
    result.raise_for_failed_tickers()
    return 0


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


def _run_transform(args: argparse.Namespace, settings: Settings) -> int:
    start, end = _required_window(args, today_in_sao_paulo())
    lake = _open_lake(args, settings, create=False)
    glue = _glue_catalog(args.catalog_database, lake)  # refused before anything is written
    with _progress_bars() as progress:
        transformed = run_transform(
            lake, args.tickers or settings.tickers, start, end, progress=progress
        )
    _report_transform(transformed, lake)
    if glue is not None:
        _report_registration(record_transform_run(lake, transformed, glue, None))
    return 0


def _run_check(args: argparse.Namespace, settings: Settings) -> int:
    start, end = _required_window(args, today_in_sao_paulo())
    lake = _open_lake(args, settings, create=False)
    checked = check_window(lake, args.tickers or settings.tickers, start, end)
    _report_check(checked, lake)
    raise_for_violations(checked.report)
    return 0


def _read_query_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QueryError(f"cannot read the query file {path}: {exc.strerror}") from exc


def _run_query(args: argparse.Namespace, settings: Settings) -> int:
    sql = args.sql if args.file is None else _read_query_file(args.file)
    wanted = sql_parameter_count(sql)
    if wanted:
        raise QueryError(
            f"the query takes {_plural(wanted, '`?` parameter')} and `b3pipeline query` "
            "passes none; the quality gate (sql/quality_check.sql) runs with `b3pipeline "
            "check --start YYYY-MM-DD --end YYYY-MM-DD [--tickers ...]`"
        )
    lake = _open_lake(args, settings, create=False)
    with LocalCatalog(lake) as catalog:
        _print_result(catalog.run_sql(sql), args.format)
    return 0


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


# --------------------------------------------------------------------------- main


def configure_logging(settings: Settings, verbose: bool) -> None:
    """Warnings and errors only, unless --verbose: then the project's logs at LOG_LEVEL.

    Other libraries (boto3, urllib3, ...) stay at WARNING either way, except urllib3's
    per-retry warning, which is DEBUG (shown with --verbose and LOG_LEVEL=DEBUG), and
    sqlglot's notice that it passes a statement such as SHOW TABLES through as text.
    """
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # NOTSET: the project's loggers inherit the root's WARNING.
    logging.getLogger("b3pipeline").setLevel(settings.log_level if verbose else logging.NOTSET)
    for name, log_filter in (
        ("urllib3.connectionpool", RetryLogAsDebug()),
        ("sqlglot", DropCommandFallbackWarning()),
    ):
        target = logging.getLogger(name)
        if not any(isinstance(f, type(log_filter)) for f in target.filters):
            target.addFilter(log_filter)


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def error_line(exc: B3PipelineError, settings: Settings | None) -> str:
    """The one line a failure prints: the error's message, then the next step when the
    message alone cannot know it (it comes from the core, which has no CLI)."""
    hint = None
    if isinstance(exc, BrapiHostNotFoundError):
        hint = DEMO_HINT
    elif isinstance(exc, LakeNotFoundError):
        hint = "check --lake (or LAKE_URI); `b3pipeline run` or `backfill` creates a lake"
    elif (
        isinstance(exc, BrapiUnavailableError)
        and settings is not None
        and _is_loopback(settings.brapi_base_url)
    ):
        hint = (
            f"BRAPI_BASE_URL={settings.brapi_base_url} is this machine: is the stand-in "
            "running? (`make fake-brapi`)"
        )
    return f"error: {exc}" + (f"; {hint}" if hint else "")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    settings: Settings | None = None
    try:
        settings = Settings.from_env()
        configure_logging(settings, args.verbose)
        return handler(args, settings)
    except UsageError as exc:
        command: argparse.ArgumentParser = args.parser
        command.error(str(exc))  # prints the usage and exits 2
    except B3PipelineError as exc:
        print(error_line(exc, settings), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
