"""The Glue entry against an s3:// lake and a Glue Data Catalog, both on moto's server.

What DESIGN.md's "Done when" asks of the job: with --catalog_database and --JOB_RUN_ID it
registers every raw, daily and monthly partition of its window in the tables Terraform
defines, a rerun succeeds and adds none, and the run summary is at
runs/transform/<JOB_RUN_ID>.json. The job reaches S3 (pyarrow) and Glue (boto3) through
AWS_ENDPOINT_URL, like any S3-compatible endpoint.

Spark is the in-process stand-in (tests/support/fake_spark.py, tasks pickled as Spark ships
them): a local SparkSession's Python workers would not see this test's AWS_ENDPOINT_URL,
and tests/spark already checks the script's values on a real SparkSession.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from b3pipeline.errors import TransformJobError
from b3pipeline.lake import Lake
from tests.support.fake_spark import FakeSpark
from tests.support.glue_tables import create_terraform_catalog, partition_values
from tests.support.modules import load_module
from tests.support.moto_server import moto_environment
from tests.support.raw_builders import two_ticker_history, write_raw

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

TICKERS = ["PETR4", "VALE3"]
START, END = date(2024, 6, 24), date(2024, 7, 3)


@dataclass(frozen=True)
class Aws:
    """Clients and a fresh bucket and database on the session's moto server."""

    s3: S3Client
    glue: GlueClient
    bucket: str
    database: str

    def argv(self, job_run_id: str, database: str = "") -> list[str]:
        """What Glue hands the script: the run's arguments, the job's defaults, its own."""
        return [
            "/tmp/glue-python-scripts-x/transform_job.py",
            "--lake_uri", f"s3://{self.bucket}",
            "--tickers", json.dumps(TICKERS),
            "--start_date", START.isoformat(),
            "--end_date", END.isoformat(),
            "--catalog_database", database or self.database,
            "--JOB_ID", "j_e2e",
            "--JOB_RUN_ID", job_run_id,
            "--job-bookmark-option", "job-bookmark-disable",
        ]  # fmt: skip

    def summary(self, job_run_id: str) -> dict[str, Any]:
        key = f"runs/transform/{job_run_id}.json"
        summary: dict[str, Any] = json.loads(
            self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        )
        return summary


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    for name, value in moto_environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    s3: S3Client = boto3.client("s3")
    glue: GlueClient = boto3.client("glue")
    suffix = uuid.uuid4().hex[:10]
    bucket, database = f"b3-lake-{suffix}", f"b3_lake_{suffix}"
    s3.create_bucket(Bucket=bucket)
    create_terraform_catalog(glue, database, bucket)
    return Aws(s3, glue, bucket, database)


@pytest.fixture
def glue_job(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_module("glue/transform_job.py", "glue_transform_job_e2e")
    monkeypatch.setattr(module, "spark_session", FakeSpark)
    return module


def test_the_job_registers_its_window_and_a_rerun_adds_none(aws: Aws, glue_job: ModuleType) -> None:
    glue, database = aws.glue, aws.database
    history = two_ticker_history()
    write_raw(Lake.open(f"s3://{aws.bucket}"), history)
    in_window = history[(history["trade_date"] >= START) & (history["trade_date"] <= END)]
    day_partitions = sorted(
        [day.isoformat(), ticker]
        for day, ticker in zip(in_window["trade_date"], in_window["ticker"])
    )
    month_partitions = sorted(
        [month, ticker] for month in ("2024-06", "2024-07") for ticker in TICKERS
    )
    total = 2 * len(day_partitions) + len(month_partitions)
    assert day_partitions and len(day_partitions) < len(history)  # the window, not all

    glue_job.main(aws.argv("jr_first"))

    assert partition_values(glue, database, "raw_quotes") == day_partitions
    assert partition_values(glue, database, "quotes_daily") == day_partitions
    assert partition_values(glue, database, "quotes_monthly") == month_partitions
    partition = glue.get_partition(
        DatabaseName=database, TableName="quotes_daily", PartitionValues=day_partitions[0]
    )["Partition"]
    dt, ticker = day_partitions[0]
    assert partition["StorageDescriptor"]["Location"] == (
        f"s3://{aws.bucket}/refined/quotes_daily/dt={dt}/ticker={ticker}/"
    )
    first = aws.summary("jr_first")
    assert first["job_run_id"] == "jr_first"
    assert (first["catalog"], first["catalog_database"]) == ("glue", database)
    assert first["partitions"] == {
        "partitions": total, "registered": total, "already_present": 0, "failed": 0,
        "stale": 0, "deregistered": 0, "already_absent": 0, "deregister_failed": 0,
    }  # fmt: skip
    assert (first["schema_matches"], first["catalog_current"]) == (True, True)
    assert first["dates"] == sorted({day for day, _ in day_partitions})
    assert first["rows"]["daily"] == len(day_partitions)

    glue_job.main(aws.argv("jr_second"))

    assert partition_values(glue, database, "raw_quotes") == day_partitions
    assert partition_values(glue, database, "quotes_daily") == day_partitions
    assert partition_values(glue, database, "quotes_monthly") == month_partitions
    second = aws.summary("jr_second")
    assert second["partitions"] == {
        "partitions": total, "registered": 0, "already_present": total, "failed": 0,
        "stale": 0, "deregistered": 0, "already_absent": 0, "deregister_failed": 0,
    }  # fmt: skip
    assert second["catalog_current"] is True
    assert aws.summary("jr_first") == first  # each run keeps its own summary


def test_a_missing_database_fails_the_job_and_writes_no_summary(
    aws: Aws, glue_job: ModuleType
) -> None:
    write_raw(Lake.open(f"s3://{aws.bucket}"), two_ticker_history())
    with pytest.raises(TransformJobError, match="EntityNotFoundException"):
        glue_job.main(aws.argv("jr_nodb", database="no_such_db"))
    listed = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="runs/transform/jr_nodb")
    assert listed.get("KeyCount") == 0
