"""run_transform on s3:// through boto3, against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from b3pipeline.lake import Lake
from b3pipeline.transform import run_transform
from tests.support.lake_tables import refined_rows
from tests.support.moto_server import moto_environment
from tests.support.raw_builders import two_ticker_history, write_raw

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

BUCKET = "b3-lake-e2e"
NOW = datetime(2024, 9, 2, 12, 30, tzinfo=UTC)
TICKERS = ["PETR4", "VALE3"]
START, END = date(2024, 5, 27), date(2024, 7, 3)


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Client:
    for name, value in moto_environment(moto_endpoint, variable="AWS_ENDPOINT_URL_S3").items():
        monkeypatch.setenv(name, value)
    client: S3Client = boto3.client(
        "s3", endpoint_url=f"http://{moto_endpoint}", region_name="us-east-1"
    )
    client.create_bucket(Bucket=BUCKET)
    return client


def _s3_lake(prefix: str) -> Lake:
    """The lake as a user opens it: the endpoint comes from AWS_ENDPOINT_URL_S3."""
    return Lake.open(f"s3://{BUCKET}/{prefix}")


def _keys(s3: S3Client, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(keys)


def _table(lake: Lake, monthly: bool) -> list[dict[str, Any]]:
    return refined_rows(lake, monthly)


def test_transform_on_s3_equals_the_same_run_on_a_local_lake(
    moto_endpoint: str, s3: S3Client, tmp_path: Path
) -> None:
    prefix = "lake-vs-local"
    history = two_ticker_history()
    s3_lake = _s3_lake(prefix)
    local_lake = Lake.open(str(tmp_path / "lake"))
    raw_keys = write_raw(s3_lake, history)
    write_raw(local_lake, history)
    assert _keys(s3, f"{prefix}/raw/") == sorted(f"{prefix}/{key}" for key in raw_keys)

    on_s3 = run_transform(s3_lake, TICKERS, START, END, now=NOW)
    local = run_transform(local_lake, TICKERS, START, END, now=NOW)

    assert on_s3.daily_keys == local.daily_keys
    assert on_s3.monthly_keys == local.monthly_keys
    assert on_s3.raw_files_read == local.raw_files_read
    expected = sorted(f"{prefix}/{key}" for key in on_s3.daily_keys + on_s3.monthly_keys)
    assert _keys(s3, f"{prefix}/refined/") == expected
    # PETR4 has no May rows, so only VALE3 has a 2024-05 month; both have June and July.
    assert _keys(s3, f"{prefix}/refined/quotes_monthly/") == [
        f"{prefix}/refined/quotes_monthly/month={month}/ticker={ticker}/part-0.parquet"
        for month, ticker in [
            ("2024-05", "VALE3"),
            ("2024-06", "PETR4"),
            ("2024-06", "VALE3"),
            ("2024-07", "PETR4"),
            ("2024-07", "VALE3"),
        ]
    ]
    daily = _table(s3_lake, monthly=False)
    assert daily == _table(local_lake, monthly=False)
    assert {row["trade_date"] for row in daily} == {
        d for d in history["trade_date"] if START <= d <= END
    }
    assert _table(s3_lake, monthly=True) == _table(local_lake, monthly=True)
    assert any(row["sma_50"] is not None for row in daily)


def test_a_rerun_on_s3_replaces_files_without_duplicates(moto_endpoint: str, s3: S3Client) -> None:
    prefix = "lake-rerun"
    s3_lake = _s3_lake(prefix)
    history = two_ticker_history()
    write_raw(s3_lake, history[history["ticker"] == "VALE3"])
    first = run_transform(s3_lake, ["VALE3"], START, START, now=NOW)
    before = _keys(s3, f"{prefix}/refined/")
    later = datetime(2024, 9, 3, tzinfo=UTC)
    second = run_transform(s3_lake, ["VALE3"], START, START, now=later)
    assert second.daily_keys == first.daily_keys
    assert _keys(s3, f"{prefix}/refined/") == before
    daily = _table(s3_lake, monthly=False)
    assert [(row["dt"], row["processed_at"]) for row in daily] == [(START.isoformat(), later)]
    assert before == [f"{prefix}/{key}" for key in sorted(second.daily_keys + second.monthly_keys)]
