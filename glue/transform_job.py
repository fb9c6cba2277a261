"""AWS Glue 5.1 Spark (glueetl) entry: parse the job arguments, run the transform split by
ticker across the executors, merge and log the summary on the driver.

Job arguments (DESIGN.md): --lake_uri, --tickers (comma list or JSON array), --start_date,
--end_date (YYYY-MM-DD). Glue adds its own (--JOB_ID, --JOB_RUN_ID, --job-bookmark-option,
...), which are ignored. The script is uploaded alone; b3pipeline comes from the wheel that
--additional-python-modules installs on the driver and every executor.

Outside Glue (no awsglue) the same script runs on a local SparkSession (`local[*]`):
    python glue/transform_job.py --lake_uri ./lake --tickers PETR4 \
        --start_date 2022-09-01 --end_date 2022-09-09
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Optional

from b3pipeline.errors import B3PipelineError, InvalidDateRangeError
from b3pipeline.lake import Lake
from b3pipeline.ticker_split import merge_ticker_outcomes, transform_ticker
from b3pipeline.tickers import parse_tickers
from b3pipeline.transform import TransformResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ARGUMENTS = ("lake_uri", "tickers", "start_date", "end_date")
APP_NAME = "b3pipeline-transform"

logger = logging.getLogger("b3pipeline.glue.transform_job")


@dataclass(frozen=True)
class TransformJobArguments:
    lake_uri: str
    tickers: list[str]
    start_date: date
    end_date: date


def _resolve_options(argv: list[str]) -> dict[str, str]:
    """{name: value} for ARGUMENTS, as awsglue's getResolvedOptions gives them.

    argv is sys.argv-shaped: argv[0] is the script and is skipped.
    """
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog="transform_job", allow_abbrev=False)
        for name in ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        known, _glue_extras = parser.parse_known_args(argv[1:])
        return {name: getattr(known, name) for name in ARGUMENTS}
    resolved: dict[str, str] = getResolvedOptions(argv, list(ARGUMENTS))
    return resolved


def _parse_date(name: str, text: str) -> date:
    try:
        if len(text.strip()) != 10:
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidDateRangeError(f"--{name} {text!r} is not a date: use YYYY-MM-DD") from exc


def parse_arguments(argv: list[str]) -> TransformJobArguments:
    options = _resolve_options(argv)
    start = _parse_date("start_date", options["start_date"])
    end = _parse_date("end_date", options["end_date"])
    if start > end:
        raise InvalidDateRangeError(
            f"--start_date {start.isoformat()} is after --end_date {end.isoformat()}"
        )
    return TransformJobArguments(
        lake_uri=options["lake_uri"].strip(),
        tickers=parse_tickers(options["tickers"]),
        start_date=start,
        end_date=end,
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


def run_job(spark: SparkSession, arguments: TransformJobArguments) -> TransformResult:
    """One Spark task per ticker, each running the core transform; the merged result.

    processed_at is fixed here, on the driver, so every task stamps the same instant.
    """
    processed_at = datetime.now(timezone.utc)
    task = functools.partial(
        transform_ticker,
        lake_uri=arguments.lake_uri,
        start=arguments.start_date,
        end=arguments.end_date,
        processed_at=processed_at,
    )
    tickers = arguments.tickers
    outcomes = spark.sparkContext.parallelize(tickers, len(tickers)).map(task).collect()
    return merge_ticker_outcomes(
        tickers, arguments.start_date, arguments.end_date, processed_at, outcomes
    )


def main(argv: Optional[list[str]] = None) -> int:
    """0 when every ticker's partitions were written; 1 with one message otherwise."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        arguments = parse_arguments(sys.argv if argv is None else argv)
        Lake.open(arguments.lake_uri)  # a bad URI fails here, before Spark starts
        result = run_job(spark_session(), arguments)
        # Driver-side follow-ups on the merged `result` go here (catalog partition
        # registration with --catalog_database, the run summary under --JOB_RUN_ID).
    except B3PipelineError as exc:
        logger.error("transform failed: %s", exc)
        print(f"transform failed: {exc}", file=sys.stderr)
        return 1
    logger.info(json.dumps({"event": "transform_succeeded", **result.summary()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    # Only a failure exits explicitly: a script that simply ends is a succeeded Glue run,
    # and SystemExit(1) makes the run FAILED, which the state machine's Catch handles.
    if main() != 0:
        sys.exit(1)
