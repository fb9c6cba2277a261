"""Scrape and transform on an S3 lake (moto in-process): what each run asks of S3.

A run's requests depend on its window, not on the lake's history: ListObjectsV2 ranges
start after the window's first dt= prefix (StartAfter) and stop past its last; the only
GETs are the raw files of the window and its lookback. A write failing mid-run under
concurrency stops the run with the key named, leaves no partial object, and a rerun
repairs. (S3 rule: "Amazon S3 never adds partial objects; if you receive a success
response, Amazon S3 added the entire object": https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from b3pipeline import lake as lake_module
from b3pipeline.errors import LakeError
from b3pipeline.lake import Lake
from b3pipeline.manifest import Manifest
from b3pipeline.pipeline import run_pipeline
from b3pipeline.scrape import scrape
from b3pipeline.transform import run_transform
from tests.support.lake_tables import refined_rows
from tests.support.quotes import StaticQuoteSource, make_bars
from tests.support.raw_builders import raw_frame, weekdays, write_raw
from tests.support.s3_requests import BUCKET, fail_on, moto_s3, object_keys, watch

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOW = datetime(2025, 9, 1, 21, 0, tzinfo=UTC)
TICKERS = ["PETR4", "VALE3"]


@pytest.fixture
def s3() -> Iterator[S3Client]:
    with moto_s3() as client:
        yield client


def _history(trading_days: int) -> tuple[pd.DataFrame, list[date]]:
    days = weekdays(date(2021, 1, 4), trading_days)
    frame = pd.concat(
        [raw_frame(t, days, seed=seed) for seed, t in enumerate(TICKERS)], ignore_index=True
    )
    return frame, days


@pytest.mark.parametrize("years", [1, 4])
def test_a_daily_transform_lists_and_reads_only_its_window(s3: S3Client, years: int) -> None:
    history, days = _history(252 * years)
    lake = Lake.open(f"s3://{BUCKET}/lake", concurrency=8, s3=s3)
    write_raw(lake, history)
    day = days[-1]
    log = watch(s3)

    result = run_transform(lake, TICKERS, day, day, now=NOW)

    counts = log.counts()
    # raw window, then the owned daily and monthly partitions (stale check): three ranges.
    assert counts["ListObjectsV2"] == 3, log.of("ListObjectsV2")
    raw_list = log.of("ListObjectsV2")[0]
    assert raw_list["Prefix"] == "lake/raw/quotes/dt="
    assert raw_list["StartAfter"] == f"lake/raw/quotes/dt={day - timedelta(days=91)}"
    read = sorted(params["Key"] for params in log.of("GetObject"))
    assert len(read) == result.raw_files_read == counts["GetObject"]
    first_read = min(k.split("dt=")[1][:10] for k in read)
    assert first_read == str(days[-51])  # the 50 trading days sma_50 needs, no more
    assert counts["PutObject"] == len(result.daily_keys) + len(result.monthly_keys) == 4
    assert set(counts) == {"ListObjectsV2", "GetObject", "PutObject"}


def test_a_refined_write_failing_mid_run_stops_it_and_a_rerun_repairs(s3: S3Client) -> None:
    history, days = _history(120)
    lake = Lake.open(f"s3://{BUCKET}", concurrency=8, s3=s3)
    write_raw(lake, history)
    start, end = days[40], days[-1]
    broken = lake_module.quotes_daily_key(days[60], "VALE3")
    repair = fail_on(s3, "PutObject", lambda params: params["Key"] == broken)

    with pytest.raises(LakeError, match=rf"cannot write s3://{BUCKET}/{broken}: .*injected"):
        run_transform(lake, TICKERS, start, end, now=NOW)
    written = object_keys(s3, "refined/")
    assert broken not in written  # whole or not at all: no partial object
    assert len(written) < 2 * 80 + 2 * 5  # the run stopped

    repair()
    result = run_transform(lake, TICKERS, start, end, now=NOW)
    assert object_keys(s3, "refined/") == sorted(result.daily_keys + result.monthly_keys)
    clean = Lake.open(f"s3://{BUCKET}/clean", s3=s3)
    write_raw(clean, history)
    run_transform(clean, TICKERS, start, end, now=NOW)
    assert refined_rows(lake) == refined_rows(clean)
    assert refined_rows(lake, monthly=True) == refined_rows(clean, monthly=True)


def test_a_raw_write_failing_mid_scrape_writes_no_manifest_and_a_rerun_repairs(
    s3: S3Client,
) -> None:
    lake = Lake.open(f"s3://{BUCKET}", concurrency=8, s3=s3)
    bars = make_bars("PETR4", date(2025, 3, 3), 100) + make_bars("VALE3", date(2025, 3, 3), 100)
    source = StaticQuoteSource(bars)
    broken = lake_module.raw_quotes_key(date(2025, 5, 6), "PETR4")
    repair = fail_on(s3, "PutObject", lambda params: params["Key"] == broken)

    with pytest.raises(LakeError, match=broken):
        scrape(source, lake, TICKERS, now=NOW, run_id="failed-run")
    assert broken not in object_keys(s3)
    assert object_keys(s3, "raw/_manifests/") == []  # no manifest: the trigger never fires

    repair()
    result = scrape(source, lake, TICKERS, now=NOW, run_id="rerun")
    assert object_keys(s3, "raw/quotes/") == sorted(f.key for f in result.files)
    assert len(result.files) == 200
    assert result.manifest_key is not None
    manifest = Manifest.from_json(lake.read_bytes(result.manifest_key))
    # Keys in the manifest are in (date, ticker) order whatever order the writes finished in.
    assert [f.key for f in manifest.files] == sorted(
        (f.key for f in manifest.files), key=lambda k: (k.split("dt=")[1][:10], k)
    )
    assert [f.key for f in manifest.files] == [f.key for f in result.files]


def test_a_daily_pipeline_run_never_lists_or_reads_the_old_history(s3: S3Client) -> None:
    """scrape -> transform -> quality -> summary -> chart on a 3-year lake: every listing is
    a bounded range and every object read is within the chart's six months or the
    lookback; nothing older is touched."""
    history, days = _history(3 * 252)
    lake = Lake.open(f"s3://{BUCKET}", concurrency=8, s3=s3)
    write_raw(lake, history[history["trade_date"] < days[-1]])
    run_transform(lake, TICKERS, days[0], days[-2], now=NOW)
    bars = [b for t in TICKERS for b in make_bars(t, days[-1], 1)]
    log = watch(s3)

    result = run_pipeline(StaticQuoteSource(bars), lake, TICKERS, days[-1], days[-1], now=NOW)

    assert result.quality is not None and result.quality.passed
    lists = log.of("ListObjectsV2")
    # transform: raw window, stale daily, stale monthly; catalog: raw, daily, monthly; chart.
    assert len(lists) == 7
    oldest = str(days[-1] - timedelta(days=183))
    for params in lists:
        first_value = params["StartAfter"].rsplit("=", 1)[1]  # a dt= day or a month= month
        assert first_value >= oldest[: len(first_value)], params
    read_dates = {params["Key"].split("=", 1)[1][:10] for params in log.of("GetObject")}
    assert min(read_dates) >= oldest
    assert set(log.counts()) == {"ListObjectsV2", "GetObject", "PutObject"}
