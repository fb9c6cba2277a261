"""`b3pipeline transform --catalog-database` on an s3:// lake registers the window's
partitions in Glue, as the Glue job does (b3pipeline.catalog_registration), so a hand
backfill needs no crawler. S3 and Glue are moto's server; the tables are Terraform's."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING

import boto3
import pytest

from b3pipeline import cli
from b3pipeline.lake import Lake
from tests.support.glue_tables import create_terraform_catalog, partition_values
from tests.support.moto_server import moto_environment
from tests.support.raw_builders import two_ticker_history, write_raw

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

pytestmark = pytest.mark.e2e

START, END = date(2024, 6, 24), date(2024, 7, 3)


def test_transform_registers_the_window_in_glue_and_a_rerun_adds_none(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in moto_environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LAKE_URI", raising=False)
    suffix = uuid.uuid4().hex[:10]
    bucket, database = f"b3-lake-{suffix}", f"b3_lake_{suffix}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    glue: GlueClient = boto3.client("glue")
    create_terraform_catalog(glue, database, bucket)
    history = two_ticker_history()
    write_raw(Lake.open(f"s3://{bucket}"), history)
    in_window = history[(history["trade_date"] >= START) & (history["trade_date"] <= END)]
    days = sorted([d.isoformat(), t] for d, t in zip(in_window["trade_date"], in_window["ticker"]))
    months = sorted([m, t] for m in ("2024-06", "2024-07") for t in ("PETR4", "VALE3"))
    total = 2 * len(days) + len(months)
    arguments = [
        "transform", "--tickers", "PETR4,VALE3", "--start", START.isoformat(),
        "--end", END.isoformat(), "--lake", f"s3://{bucket}", "--catalog-database", database,
    ]  # fmt: skip

    assert cli.main(arguments) == 0

    assert partition_values(glue, database, "raw_quotes") == days
    assert partition_values(glue, database, "quotes_daily") == days
    assert partition_values(glue, database, "quotes_monthly") == months
    out = capsys.readouterr().out
    assert (
        f"Glue database {database}: {total} partitions registered, 0 already present, 0 failed; "
        "catalog current: yes"
    ) in out

    assert cli.main(arguments) == 0

    assert partition_values(glue, database, "quotes_daily") == days
    assert f"0 partitions registered, {total} already present, 0 failed" in capsys.readouterr().out


def test_a_missing_database_fails_with_one_line_naming_it(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in moto_environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    bucket = f"b3-lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    write_raw(Lake.open(f"s3://{bucket}"), two_ticker_history())
    arguments = [
        "transform", "--tickers", "PETR4", "--start", START.isoformat(), "--end",
        END.isoformat(), "--lake", f"s3://{bucket}", "--catalog-database", "no_such_db",
    ]  # fmt: skip
    assert cli.main(arguments) == 1
    # moto's server may log its requests to stderr too: the CLI's own lines start "error:".
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: GetTable on Glue table no_such_db.raw_quotes failed")
    assert "EntityNotFoundException" in errors[0]
    # Refused before the transform: nothing refined was written.
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="refined/")
    assert listed["KeyCount"] == 0
