"""glue/transform_job.py on a real local SparkSession (pyspark 3.5, Glue 5.1's Spark).

The lake holds the real PETR4 daily history (tests/fixtures), a second ticker that starts
inside the lookback, and a ticker without data. The reference is the local pipeline's own
`run_transform` over an identical copy of the lake: the Spark job, one task per ticker,
must write the same files with the same values (processed_at aside).
"""

from __future__ import annotations

import math
import shutil
import statistics
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from b3pipeline.errors import TransformJobError
from b3pipeline.lake import Lake, raw_quotes_key
from b3pipeline.transform import run_transform
from tests.support.fake_brapi import PETR4_HISTORY_CSV
from tests.support.raw_builders import INGESTED_AT, raw_frame, weekdays, write_raw

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark

# Without the `spark` extra (a venv that only `make run` set up) there is no Spark to run
# on; `make test` and `make test-spark` install it, so there these tests always run.
pytest.importorskip("pyspark", reason="pyspark is not installed: run `make test-spark`")

START, END = date(2022, 5, 16), date(2022, 9, 9)
TICKERS = ["PETR4", "VALE3", "ITUB4"]  # ITUB4 has no raw data
PETR4_FROM = date(2021, 6, 1)  # enough history for every lookback of the window


def _petr4_raw() -> pd.DataFrame:
    """The fixture's real PETR4 bars from PETR4_FROM on, as raw quotes rows."""
    csv = pd.read_csv(PETR4_HISTORY_CSV)
    csv["Date"] = pd.to_datetime(csv["Date"]).dt.date
    csv = csv.loc[csv["Date"] >= PETR4_FROM].reset_index(drop=True)
    n = len(csv)
    return pd.DataFrame(
        {
            "ticker": ["PETR4"] * n,
            "trade_date": list(csv["Date"]),
            "open": csv["Open"].astype("float64"),
            "high": csv["High"].astype("float64"),
            "low": csv["Low"].astype("float64"),
            "close": csv["Close"].astype("float64"),
            "adjusted_close": csv["Adj Close"].astype("float64"),
            "volume": pd.array(csv["Volume"].tolist(), dtype="Int64"),
            "currency": ["BRL"] * n,
            "source": ["brapi"] * n,
            "ingested_at": [INGESTED_AT] * n,
            "request_range": ["max"] * n,
        }
    )


@pytest.fixture(scope="module")
def raw_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake folder with raw quotes only; tests copy it before transforming."""
    folder = tmp_path_factory.mktemp("raw-lake")
    lake = Lake.open(str(folder))
    write_raw(lake, _petr4_raw())
    # VALE3 starts 30 trading days before START: its sma_50 is null early in the window.
    write_raw(lake, raw_frame("VALE3", weekdays(date(2022, 4, 4), 115), seed=3))
    return folder


@pytest.fixture
def lakes(raw_lake: Path, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    spark_lake, local_lake = tmp_path / "spark", tmp_path / "local"
    shutil.copytree(raw_lake, spark_lake)
    shutil.copytree(raw_lake, local_lake)
    yield spark_lake, local_lake


def _argv(lake: Path, tickers: list[str]) -> list[str]:
    return [
        "transform_job.py",
        "--lake_uri",
        str(lake),
        "--tickers",
        ",".join(tickers),
        "--start_date",
        START.isoformat(),
        "--end_date",
        END.isoformat(),
        "--JOB_RUN_ID",
        "jr_local",
    ]


def _refined_files(lake: Path) -> dict[str, Path]:
    return {
        path.relative_to(lake).as_posix(): path
        for path in sorted((lake / "refined").rglob("*"))
        if path.is_file()
    }


def test_spark_job_writes_what_the_local_pipeline_writes(
    spark: SparkSession, glue_job: ModuleType, lakes: tuple[Path, Path]
) -> None:
    spark_lake, local_lake = lakes
    glue_job.main(_argv(spark_lake, TICKERS))
    local = run_transform(Lake.open(str(local_lake)), TICKERS, START, END, now=datetime.now(UTC))
    assert local.tickers_without_data == ["ITUB4"]

    spark_files, local_files = _refined_files(spark_lake), _refined_files(local_lake)
    assert sorted(spark_files) == sorted(local_files)
    assert len(spark_files) == local.daily_rows + local.monthly_rows
    assert {key.split("/")[-1] for key in spark_files} == {"part-0.parquet"}
    assert {key.split("/")[-2] for key in spark_files} == {"ticker=PETR4", "ticker=VALE3"}

    stamps: set[Any] = set()
    for key, path in spark_files.items():
        written, expected = pq.read_table(path), pq.read_table(local_files[key])
        assert written.schema.equals(expected.schema), key
        assert written.num_rows == 1, key
        stamps.update(written.column("processed_at").to_pylist())
        written, expected = (
            written.drop_columns(["processed_at"]),
            expected.drop_columns(["processed_at"]),
        )
        assert written.equals(expected), f"{key}: {written.to_pylist()} != {expected.to_pylist()}"
    assert len(stamps) == 1, "every task stamps the driver's one processed_at"


def test_spark_job_values_match_an_independent_computation(
    spark: SparkSession, glue_job: ModuleType, lakes: tuple[Path, Path]
) -> None:
    # Plain Python over the fixture's real PETR4 bars, not the core's code.
    spark_lake, _ = lakes
    glue_job.main(_argv(spark_lake, ["PETR4"]))
    history = _petr4_raw()
    adj = [float(v) for v in history["adjusted_close"]]
    dates = list(history["trade_date"])
    returns = [None] + [(adj[i] / adj[i - 1] - 1) * 100 for i in range(1, len(adj))]
    checked = 0
    for i, day in enumerate(dates):
        if not START <= day <= END:
            continue
        key = f"refined/quotes_daily/dt={day.isoformat()}/ticker=PETR4/part-0.parquet"
        (row,) = pq.read_table(spark_lake / key).to_pylist()
        window_returns = [r for r in returns[i - 19 : i + 1] if r is not None]
        assert row["trade_date"] == day
        expected = {
            "adj_close_price": adj[i],
            "daily_return_pct": returns[i],
            "sma_5": statistics.fmean(adj[i - 4 : i + 1]),
            "sma_50": statistics.fmean(adj[i - 49 : i + 1]),
            "volatility_20d_pct": statistics.stdev(window_returns) * math.sqrt(252),
            "days_since_prev_trade": (day - dates[i - 1]).days,
            "day_of_week": day.isoweekday(),
        }
        for column, value in expected.items():
            assert row[column] == pytest.approx(value, rel=1e-9), (day, column)
        checked += 1
    assert checked == sum(START <= day <= END for day in dates) > 70


def test_one_file_per_partition_and_nothing_else(
    spark: SparkSession, glue_job: ModuleType, lakes: tuple[Path, Path]
) -> None:
    spark_lake, _ = lakes
    glue_job.main(_argv(spark_lake, ["VALE3", "PETR4"]))
    partitions = [
        folder for folder in (spark_lake / "refined").rglob("ticker=*") if folder.is_dir()
    ]
    assert len(partitions) > 100
    for folder in partitions:
        assert [p.name for p in folder.iterdir()] == ["part-0.parquet"], folder
    leftovers = [
        p for p in (spark_lake / "refined").rglob("*") if p.is_file() and p.parent not in partitions
    ]
    assert leftovers == [], "no _SUCCESS, .crc or temporary files"


def test_a_failing_ticker_fails_the_spark_job_with_its_name(
    spark: SparkSession,
    glue_job: ModuleType,
    lakes: tuple[Path, Path],
) -> None:
    spark_lake, _ = lakes
    lake = Lake.open(str(spark_lake))
    bad = raw_quotes_key(date(2022, 6, 1), "VALE3")
    lake.write_parquet(bad, pq.read_table(lake.path(bad)).drop_columns(["adjusted_close"]))

    with pytest.raises(TransformJobError) as raised:
        glue_job.main(_argv(spark_lake, TICKERS))

    err = str(raised.value)
    assert "transform failed for 1 of 3 ticker(s) (VALE3)" in err
    assert "adjusted_close" in err and "dt=2022-06-01" in err
    assert not any("ticker=VALE3" in key for key in _refined_files(spark_lake))
