"""`python glue/transform_job.py ... --catalog_database <db> --JOB_RUN_ID <id>` as Glue runs
it, on a local SparkSession, against S3 and the Glue Data Catalog on moto's server.

The script runs as its own process (its own JVM and Python workers), with AWS_ENDPOINT_URL
pointing at moto from the start, so every executor's pyarrow and the driver's boto3 reach
the same server. Run twice: both succeed, the first registers every raw, daily and monthly
partition of the window, the second none but deregisters the partitions of the day whose
raw file was removed in between, and each run's summary is under its id.

The process has no region in its environment (no AWS_REGION, no AWS_DEFAULT_REGION) and no
AWS config file: whether Glue puts one in a job's environment is not documented, so every
client the job makes takes the region of --aws_region (Terraform's default argument). moto
keeps each region apart, so the catalog and the bucket live in sa-east-1, and us-east-1
(what a client without a region would fall back to nowhere) stays empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
import pytest

from b3pipeline.lake import Lake, raw_quotes_key
from tests.support.glue_tables import create_terraform_catalog, partition_values
from tests.support.modules import REPO_ROOT
from tests.support.moto_server import moto_environment
from tests.support.raw_builders import two_ticker_history, write_raw

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.spark

pytest.importorskip("pyspark", reason="pyspark is not installed: run `make test-spark`")

START, END = date(2024, 7, 1), date(2024, 7, 3)
TICKERS = "PETR4,VALE3"
REGION: Final = "sa-east-1"


def test_the_script_registers_its_window_on_moto_and_a_rerun_adds_none(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    aws_env = moto_environment(moto_endpoint)
    for name, value in aws_env.items():
        monkeypatch.setenv(name, value)
    suffix = uuid.uuid4().hex[:10]
    bucket, database = f"b3-lake-spark-{suffix}", f"b3_lake_spark_{suffix}"
    s3: S3Client = boto3.client("s3", region_name=REGION)
    glue: GlueClient = boto3.client("glue", region_name=REGION)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    create_terraform_catalog(glue, database, bucket)
    history = two_ticker_history()
    write_raw(Lake.open(f"s3://{bucket}", s3=s3), history)
    job_env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
        **{name: value for name, value in aws_env.items() if "REGION" not in name},
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    in_window = history[(history["trade_date"] >= START) & (history["trade_date"] <= END)]
    days = sorted([d.isoformat(), t] for d, t in zip(in_window["trade_date"], in_window["ticker"]))
    months = [["2024-07", "PETR4"], ["2024-07", "VALE3"]]
    total = 2 * len(days) + len(months)

    def run(job_run_id: str) -> dict[str, Any]:
        command = [
            sys.executable, "glue/transform_job.py",
            "--lake_uri", f"s3://{bucket}", "--tickers", TICKERS,
            "--start_date", START.isoformat(), "--end_date", END.isoformat(),
            "--catalog_database", database, "--JOB_RUN_ID", job_run_id,
            "--aws_region", REGION,
        ]  # fmt: skip
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=job_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        key = f"runs/transform/{job_run_id}.json"
        summary: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return summary

    first = run("jr_spark_first")
    assert partition_values(glue, database, "raw_quotes") == days
    assert partition_values(glue, database, "quotes_daily") == days
    assert partition_values(glue, database, "quotes_monthly") == months
    assert first["partitions"] == {
        "partitions": total, "registered": total, "already_present": 0, "failed": 0,
        "stale": 0, "deregistered": 0, "already_absent": 0, "deregister_failed": 0,
    }  # fmt: skip
    assert first["catalog_current"] is True

    # VALE3's first day is dropped from raw: the rerun deletes its refined day and takes its
    # raw and daily partitions out of the catalog.
    s3.delete_object(Bucket=bucket, Key=raw_quotes_key(START, "VALE3"))
    second = run("jr_spark_second")
    kept = [pair for pair in days if pair != [START.isoformat(), "VALE3"]]
    assert len(kept) == len(days) - 1
    assert partition_values(glue, database, "raw_quotes") == kept
    assert partition_values(glue, database, "quotes_daily") == kept
    assert second["partitions"] == {
        "partitions": total - 2, "registered": 0, "already_present": total - 2, "failed": 0,
        "stale": 2, "deregistered": 2, "already_absent": 0, "deregister_failed": 0,
    }  # fmt: skip
    assert second["catalog_current"] is True
    # Nothing went to the region a default would have picked.
    elsewhere = boto3.client("glue", region_name="us-east-1")
    assert database not in {db["Name"] for db in elsewhere.get_databases()["DatabaseList"]}
