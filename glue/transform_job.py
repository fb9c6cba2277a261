"""AWS Glue 5.1 Spark (glueetl) entry: parse the job arguments, run the transform split by
ticker across the executors, merge on the driver, register the run's partitions in the
catalog and write the run summary.

Job arguments (DESIGN.md): --lake_uri, --tickers (comma list or JSON array), --start_date,
--end_date (YYYY-MM-DD), and optionally --catalog_database (the Glue database whose tables
get the run's partitions; without it nothing is registered) and --aws_region (the region of
every AWS client the job makes, S3 and Glue, on the driver and the executors; Terraform sets
both as default arguments, since whether Glue puts a region in the job's environment is not
documented; without it the environment's AWS_REGION / AWS_DEFAULT_REGION is used, and a run
that registers partitions without any region fails at start). Glue adds its own: --JOB_RUN_ID
names the run summary (runs/transform/<JOB_RUN_ID>.json, which the state machine reads);
without it (a local run) the summary is only logged. The others (--JOB_ID,
--job-bookmark-option, ...) are ignored. The script is uploaded alone; b3pipeline comes from
the wheel that --additional-python-modules installs on the driver and every executor.

A failed run raises TransformJobError with what failed and what to do: Glue records the
uncaught exception as the job run's ErrorMessage, which the state machine's alert carries.

Outside Glue (no awsglue) the same script runs on a local SparkSession (`local[*]`):
    python glue/transform_job.py --lake_uri ./lake --tickers PETR4 \
        --start_date 2022-09-01 --end_date 2022-09-09 [--JOB_RUN_ID local-1]
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from b3pipeline.catalog_registration import GluePartitionCatalog, glue_partition_catalog
from b3pipeline.errors import (
    B3PipelineError,
    InvalidDateRangeError,
    InvalidRequestError,
    TransformJobError,
)
from b3pipeline.lake import Lake
from b3pipeline.run_summary import record_transform_run, validate_job_run_id
from b3pipeline.settings import Settings
from b3pipeline.ticker_split import merge_ticker_outcomes, transform_ticker
from b3pipeline.tickers import parse_tickers
from b3pipeline.transform import TransformResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ARGUMENTS = ("lake_uri", "tickers", "start_date", "end_date")
OPTIONAL_ARGUMENTS = ("catalog_database", "aws_region")
#: Glue passes it to every run; awsglue refuses to be asked for it (a reserved argument)
#: but always returns it, None when absent.
JOB_RUN_ID = "JOB_RUN_ID"
APP_NAME = "b3pipeline-transform"

logger = logging.getLogger("b3pipeline.glue.transform_job")


@dataclass(frozen=True)
class TransformJobArguments:
    lake_uri: str
    tickers: list[str]
    start_date: date
    end_date: date
    catalog_database: str | None = None
    job_run_id: str | None = None
    aws_region: str | None = None


def _resolve_options(argv: list[str]) -> dict[str, str | None]:
    """{name: value} for ARGUMENTS, the OPTIONAL_ARGUMENTS and JOB_RUN_ID (None when absent),
    as awsglue's getResolvedOptions gives them.

    argv is sys.argv-shaped: argv[0] is the script and is skipped.
    """
    names = [*ARGUMENTS, *OPTIONAL_ARGUMENTS, JOB_RUN_ID]
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog="transform_job", allow_abbrev=False)
        for name in names:
            parser.add_argument(f"--{name}", required=name in ARGUMENTS)
        known, _glue_extras = parser.parse_known_args(argv[1:])
        return {name: getattr(known, name) for name in names}
    # getResolvedOptions makes every name it is asked for required: ask for an optional
    # one only when it was given.
    given = [name for name in OPTIONAL_ARGUMENTS if f"--{name}" in argv[1:]]
    resolved: dict[str, str | None] = getResolvedOptions(argv, [*ARGUMENTS, *given])
    return {name: resolved.get(name) for name in names}


def _required(options: dict[str, str | None], name: str) -> str:
    value = options[name]
    if value is None:
        raise InvalidRequestError(f"--{name} is missing")
    return value


def _parse_date(name: str, text: str) -> date:
    try:
        if len(text.strip()) != 10:
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidDateRangeError(f"--{name} {text!r} is not a date: use YYYY-MM-DD") from exc


def parse_arguments(argv: list[str]) -> TransformJobArguments:
    options = _resolve_options(argv)
    start = _parse_date("start_date", _required(options, "start_date"))
    end = _parse_date("end_date", _required(options, "end_date"))
    if start > end:
        raise InvalidDateRangeError(
            f"--start_date {start.isoformat()} is after --end_date {end.isoformat()}"
        )
    database = options["catalog_database"]
    if database is not None and not database.strip():
        raise InvalidRequestError(
            "--catalog_database is empty: give the Glue database name, or leave it out to "
            "register nothing"
        )
    region = options["aws_region"]
    if region is not None and not region.strip():
        raise InvalidRequestError(
            "--aws_region is empty: give the region of the lake bucket and the Glue catalog, "
            "such as sa-east-1"
        )
    job_run_id = options[JOB_RUN_ID]
    return TransformJobArguments(
        lake_uri=_required(options, "lake_uri").strip(),
        tickers=parse_tickers(_required(options, "tickers")),
        start_date=start,
        end_date=end,
        catalog_database=None if database is None else database.strip(),
        job_run_id=None if job_run_id is None else validate_job_run_id(job_run_id),
        aws_region=None if region is None else region.strip(),
    )


def spark_session() -> SparkSession:
    """Glue's SparkSession inside Glue; a local one on every core elsewhere.

    getOrCreate: a session that already exists in this process (a test's) is reused.
    """
    try:
        from awsglue.context import GlueContext
    except ImportError:
        # Local workers are new Python processes: they must be this interpreter, the one
        # with b3pipeline installed, not whatever `python3` is first on PATH.
        os.environ["PYSPARK_PYTHON"] = sys.executable
        # Driver and workers talk over loopback only, whatever the host name resolves to.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        return (
            SparkSession.builder.master("local[*]")
            .appName(APP_NAME)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
    from pyspark.context import SparkContext

    session: SparkSession = GlueContext(SparkContext.getOrCreate()).spark_session
    return session


def run_job(
    spark: SparkSession, arguments: TransformJobArguments, region: str | None = None
) -> TransformResult:
    """One Spark task per ticker, each running the core transform; the merged result.

    processed_at is fixed here, on the driver, so every task stamps the same instant; the
    region travels with the task, so no executor depends on its environment.
    """
    processed_at = datetime.now(UTC)
    task = functools.partial(
        transform_ticker,
        lake_uri=arguments.lake_uri,
        start=arguments.start_date,
        end=arguments.end_date,
        processed_at=processed_at,
        region=region,
    )
    tickers = arguments.tickers
    outcomes = spark.sparkContext.parallelize(tickers, len(tickers)).map(task).collect()
    return merge_ticker_outcomes(
        tickers, arguments.start_date, arguments.end_date, processed_at, outcomes
    )


def job_region(arguments: TransformJobArguments) -> str | None:
    """--aws_region, else the environment's AWS_REGION / AWS_DEFAULT_REGION, else None."""
    return arguments.aws_region or Settings.from_env().aws_region


def partition_catalog(
    arguments: TransformJobArguments, region: str | None
) -> GluePartitionCatalog | None:
    """The Glue database named by --catalog_database; None without it (nothing registered)."""
    if arguments.catalog_database is None:
        return None
    if region is None:
        raise InvalidRequestError(
            f"--catalog_database {arguments.catalog_database} needs a region for the Glue "
            "Data Catalog: give --aws_region (Terraform sets it as a default argument)"
        )
    return glue_partition_catalog(arguments.catalog_database, region)


def main(argv: list[str] | None = None) -> None:
    """Transform the window, register its partitions and write the run summary (under
    --JOB_RUN_ID). Partitions the catalog refused do not fail the run: the summary says the
    catalog is not current and the state machine runs the crawler.

    Any failure raises TransformJobError (raised from the cause) with one message saying
    what failed and what to do; a Glue run that ends with an uncaught exception is FAILED
    with that exception as its ErrorMessage.
    """
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        arguments = parse_arguments(sys.argv if argv is None else argv)
        region = job_region(arguments)
        # A bad URI or a missing region fails here, before Spark starts.
        lake = Lake.open(arguments.lake_uri, region=region)
        catalog = partition_catalog(arguments, region)
        result = run_job(spark_session(), arguments, region)
        summary = record_transform_run(lake, result, catalog, arguments.job_run_id)
    except B3PipelineError as exc:
        logger.error("transform failed: %s", exc)
        raise TransformJobError(f"transform failed: {exc}") from exc
    event = {"event": "transform_succeeded", **result.summary()}
    event["catalog_current"] = summary.catalog_current
    logger.info(json.dumps(event, sort_keys=True))


if __name__ == "__main__":
    main()
