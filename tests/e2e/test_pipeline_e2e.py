"""The whole local pipeline (the `b3pipeline` CLI) against a loopback server speaking BRAPI.

The server serves the real PETR4 daily history (tests/fixtures, a Yahoo CSV) in BRAPI's
shape. Expected refined values are computed here independently, in plain Python from the
CSV, and compared with what the pipeline wrote.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pyarrow.dataset as ds
import pytest

from b3pipeline.cli import main
from tests.support.fake_brapi import PETR4_HISTORY_CSV, FakeBrapi, ScriptedResponse
from tests.support.moto_server import moto_environment

pytestmark = pytest.mark.e2e

FIRST, LAST = date(2018, 9, 12), date(2022, 9, 9)


def _history() -> list[dict[str, Any]]:
    with PETR4_HISTORY_CSV.open(newline="", encoding="utf-8") as handle:
        return [
            {
                "trade_date": date.fromisoformat(r["Date"]),
                "open": float(r["Open"]),
                "high": float(r["High"]),
                "low": float(r["Low"]),
                "close": float(r["Close"]),
                "adj": float(r["Adj Close"]),
                "volume": int(r["Volume"]),
            }
            for r in csv.DictReader(handle)
        ]


def _expected_daily(history: list[dict[str, Any]]) -> dict[date, dict[str, Any]]:
    expected: dict[date, dict[str, Any]] = {}
    returns: list[float] = []
    for i, row in enumerate(history):
        adj = [r["adj"] for r in history[: i + 1]]
        ret = None if i == 0 else (adj[-1] / adj[-2] - 1) * 100
        if ret is not None:
            returns.append(ret)
        expected[row["trade_date"]] = {
            "open_price": row["open"],
            "high_price": row["high"],
            "low_price": row["low"],
            "close_price": row["close"],
            "adj_close_price": row["adj"],
            "volume": row["volume"],
            "daily_return_pct": ret,
            "sma_5": statistics.fmean(adj[-5:]) if len(adj) >= 5 else None,
            "sma_20": statistics.fmean(adj[-20:]) if len(adj) >= 20 else None,
            "sma_50": statistics.fmean(adj[-50:]) if len(adj) >= 50 else None,
            "volatility_20d_pct": (
                statistics.stdev(returns[-20:]) * math.sqrt(252) if len(returns) >= 20 else None
            ),
            "days_since_prev_trade": (
                None if i == 0 else (row["trade_date"] - history[i - 1]["trade_date"]).days
            ),
            "day_of_week": row["trade_date"].isoweekday(),
        }
    return expected


def _expected_monthly(history: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    months: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in history:
        months[row["trade_date"].strftime("%Y-%m")].append(row)
    expected = {}
    for month, rows in months.items():
        year, number = int(month[:4]), int(month[5:])
        previous = f"{year - (number == 1)}-{(number - 2) % 12 + 1:02d}"
        prior = months.get(previous)
        expected[month] = {
            "first_trade_date": rows[0]["trade_date"],
            "last_trade_date": rows[-1]["trade_date"],
            "trading_days": len(rows),
            "open_price": rows[0]["open"],
            "close_price": rows[-1]["close"],
            "high_price": max(r["high"] for r in rows),
            "low_price": min(r["low"] for r in rows),
            "avg_volume": statistics.fmean(r["volume"] for r in rows),
            "total_volume": sum(r["volume"] for r in rows),
            "monthly_return_pct": (rows[-1]["adj"] / prior[-1]["adj"] - 1) * 100 if prior else None,
        }
    return expected


def _table(lake: Path, name: str, partitions: list[str]) -> list[dict[str, Any]]:
    dataset = ds.dataset(lake / "refined" / name, format="parquet", partitioning="hive")
    rows: list[dict[str, Any]] = dataset.to_table().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[p]) for p in partitions))


def _assert_row(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for column, value in expected.items():
        if isinstance(value, float):
            assert actual[column] == pytest.approx(value, rel=1e-9, abs=1e-9), f"{where} {column}"
        else:
            assert actual[column] == value, f"{where} {column}"


def _files(lake: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()
    }


def _without_processed_at(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "processed_at"} for r in rows]


@pytest.fixture(scope="module")
def history() -> list[dict[str, Any]]:
    return _history()


def test_backfill_writes_refined_values_equal_to_an_independent_computation(
    brapi_url: str,
    tmp_path: Path,
    history: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = tmp_path / "lake"
    code = main(
        [
            "backfill",
            "--tickers",
            "PETR4",
            "--start",
            str(FIRST),
            "--end",
            str(LAST),
            "--lake",
            str(lake),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Quality check passed: 0 violations" in out

    daily = _table(lake, "quotes_daily", ["ticker", "dt"])
    expected_daily = _expected_daily(history)
    assert len(daily) == len(history) == len(expected_daily)
    for row in daily:
        assert row["ticker"] == "PETR4" and row["dt"] == row["trade_date"].isoformat()
        _assert_row(row, expected_daily[row["trade_date"]], f"daily {row['trade_date']}")

    monthly = _table(lake, "quotes_monthly", ["ticker", "month"])
    expected_monthly = _expected_monthly(history)
    assert [r["month"] for r in monthly] == sorted(expected_monthly)
    for row in monthly:
        _assert_row(row, expected_monthly[row["month"]], f"monthly {row['month']}")

    chart = lake / "reports" / f"quotes_{LAST}.png"
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    manifests = list((lake / "raw" / "_manifests").glob("*/_manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["producer"] == "backfill"
    assert len(manifest["files"]) == len(history)


def test_windowed_rerun_leaves_refined_data_unchanged(brapi_url: str, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert main(["backfill", "--start", "2022-01-03", "--end", str(LAST), "--lake", str(lake)]) == 0
    before_daily = _without_processed_at(_table(lake, "quotes_daily", ["ticker", "dt"]))
    before_monthly = _without_processed_at(_table(lake, "quotes_monthly", ["ticker", "month"]))
    raw_before = sorted(p.relative_to(lake) for p in (lake / "raw" / "quotes").rglob("*.parquet"))

    assert main(["run", "--start", "2022-08-15", "--end", str(LAST), "--lake", str(lake)]) == 0
    assert main(["run", "--date", "2022-06-01", "--lake", str(lake)]) == 0

    assert _without_processed_at(_table(lake, "quotes_daily", ["ticker", "dt"])) == before_daily
    assert (
        _without_processed_at(_table(lake, "quotes_monthly", ["ticker", "month"])) == before_monthly
    )
    assert (
        sorted(p.relative_to(lake) for p in (lake / "raw" / "quotes").rglob("*.parquet"))
        == raw_before
    )


def test_run_without_dates_takes_the_latest_trading_days(
    brapi_url: str,
    fake_brapi: FakeBrapi,
    tmp_path: Path,
    history: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = tmp_path / "lake"
    assert main(["run", "--tickers", "PETR4", "--lake", str(lake)]) == 0
    latest = [r["trade_date"].isoformat() for r in history[-5:]]
    assert (
        sorted(p.parent.parent.name[3:] for p in (lake / "raw" / "quotes").rglob("*.parquet"))
        == latest
    )
    assert fake_brapi.requests[0]["query"] == {"range": ["5d"], "interval": ["1d"]}
    out = capsys.readouterr().out
    assert f"({latest[0]}..{latest[-1]})" in out and "Quality check passed" in out


def test_bad_payload_fails_clearly_and_writes_nothing(
    brapi_url: str, fake_brapi: FakeBrapi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = [dict(b) for b in fake_brapi.bars["PETR4"][-5:]]
    bars[2]["high"] = bars[2]["low"] - 1  # high below low on the third day
    fake_brapi.script(
        ScriptedResponse(
            200, {"results": [{"symbol": "PETR4", "currency": "BRL", "historicalDataPrice": bars}]}
        )
    )
    lake = tmp_path / "lake"
    code = main(["run", "--lake", str(lake)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert "PETR4" in err and "2022-09-06" in err and "high" in err
    assert _files(lake) == {}


def test_bad_payload_on_a_rerun_leaves_the_lake_as_it_was(
    brapi_url: str, fake_brapi: FakeBrapi, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    assert main(["run", "--lake", str(lake)]) == 0
    before = _files(lake)
    fake_brapi.script(ScriptedResponse(200, "<html>maintenance</html>"))
    assert main(["run", "--lake", str(lake)]) == 1
    assert _files(lake) == before


def test_transient_503_is_retried(brapi_url: str, fake_brapi: FakeBrapi, tmp_path: Path) -> None:
    fake_brapi.script(ScriptedResponse(503, {"error": True, "message": "Service Unavailable"}))
    assert main(["run", "--lake", str(tmp_path / "lake")]) == 0
    assert [r["path"] for r in fake_brapi.requests] == ["/api/quote/PETR4", "/api/quote/PETR4"]


def test_unknown_ticker_is_a_one_line_error(
    brapi_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--tickers", "ZZZZ3", "--lake", str(tmp_path / "lake")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "ZZZZ3" in err and len(err.strip().splitlines()) == 1


def test_query_runs_athena_sql_on_the_local_catalog(
    brapi_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    history: list[dict[str, Any]],
) -> None:
    lake = tmp_path / "lake"
    assert main(["run", "--lake", str(lake)]) == 0
    capsys.readouterr()
    sql = (
        "SELECT ticker, count(*) AS days, max(close_price) AS top FROM quotes_daily GROUP BY ticker"
    )
    assert main(["query", sql, "--format", "json", "--lake", str(lake)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"ticker": "PETR4", "days": 5, "top": max(r["close"] for r in history[-5:])}]
    assert (
        main(["query", "--file", "sql/latest_signals.sql", "--format", "csv", "--lake", str(lake)])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ticker,trade_date,close_price") and lines[1].startswith(
        "PETR4,2022-09-09,"
    )


def test_run_on_an_s3_lake(
    brapi_url: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--lake s3://...` through the standard AWS variables, against moto's S3 server."""
    for name, value in moto_environment(moto_endpoint, variable="AWS_ENDPOINT_URL_S3").items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=f"http://{moto_endpoint}", region_name="us-east-1")
    s3.create_bucket(Bucket="b3-cli-lake")

    assert main(["run", "--lake", "s3://b3-cli-lake/lake"]) == 0
    assert main(["run", "--lake", str(tmp_path / "local")]) == 0

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="b3-cli-lake")["Contents"]]
    local = sorted(
        str(p.relative_to(tmp_path / "local")) for p in (tmp_path / "local").rglob("*.parquet")
    )
    assert sorted(k[len("lake/") :] for k in keys if k.endswith(".parquet")) == local
    assert any(k.startswith("lake/raw/_manifests/") for k in keys)
    assert "lake/reports/quotes_2022-09-09.png" in keys
