"""A full market through the CLI on the loopback BRAPI: 400 good tickers and two bad ones.

One ticker BRAPI does not know (404) and one whose last bar has a null close must not stop
the other 400: those are scraped (10 per request, 8 requests at a time), refined and
checked; nothing of the two is written; the run exits 1 naming both and why.
"""

from __future__ import annotations

import json
import struct
from datetime import date, timedelta
from pathlib import Path

import pytest

from b3pipeline.cli import main
from tests.support.fake_brapi import (
    FakeBrapi,
    ScriptedResponse,
    market_tickers,
    serve,
    synthetic_market,
    weekdays_back,
)

pytestmark = pytest.mark.e2e

GOOD = market_tickers(400)
UNKNOWN, NULL_CLOSE = "ZZZZ3", "ZZZY3"
# The null close shares a request with nine good tickers; the unknown one is last, with one.
REQUESTED = [*GOOD[:5], NULL_CLOSE, *GOOD[5:], UNKNOWN]


def _partitions(root: Path, table: str) -> set[tuple[str, str]]:
    return {
        (p.parent.parent.name.split("=")[1], p.parent.name.split("=")[1])
        for p in (root / table).rglob("*.parquet")
    }


@pytest.fixture
def day() -> date:
    last = date.today() - timedelta(days=3)
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    return last


@pytest.fixture
def market(day: date) -> FakeBrapi:
    days = weekdays_back(day, 3)
    bars = synthetic_market([*GOOD, NULL_CLOSE], days)
    bars[NULL_CLOSE][-1]["close"] = None
    return FakeBrapi(bars=bars, today=date.today())


def test_400_good_tickers_land_and_two_bad_ones_are_named(
    market: FakeBrapi,
    day: date,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = tmp_path / "lake"
    market.delay_seconds = 0.05  # long enough for the requests to overlap
    monkeypatch.setenv("BRAPI_CONCURRENCY", "8")
    monkeypatch.setenv("BRAPI_TICKERS_PER_REQUEST", "10")
    monkeypatch.delenv("BRAPI_TOKEN", raising=False)
    monkeypatch.delenv("B3_MAX_FAILED_TICKER_SHARE", raising=False)
    with serve(market) as url:
        monkeypatch.setenv("BRAPI_BASE_URL", url)
        code = main(
            ["run", "--tickers", ",".join(REQUESTED), "--date", str(day), "--lake", str(lake)]
        )
    out, err = capsys.readouterr()

    assert code == 1
    assert err.count("\n") == 1 and err.startswith(
        "error: 2 of 402 tickers failed and were left out (the other 400 were written, refined "
        f"and checked): {NULL_CLOSE} (bad BRAPI data: {day}: close is missing or null); "
        f"{UNKNOWN} (unknown to BRAPI, HTTP 404: 'Não encontramos a ação {UNKNOWN}'). "
    ), err

    expected = {(str(day), ticker) for ticker in GOOD}
    assert _partitions(lake, "raw/quotes") == expected
    assert _partitions(lake, "refined/quotes_daily") == expected
    assert _partitions(lake, "refined/quotes_monthly") == {
        (day.strftime("%Y-%m"), ticker) for ticker in GOOD
    }
    assert not [p for p in lake.rglob("*") if UNKNOWN in str(p) or NULL_CLOSE in str(p)]
    (manifest_path,) = (lake / "raw" / "_manifests").glob("*/_manifest.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["tickers"] == [t for t in REQUESTED if t in GOOD]
    assert manifest["dates"] == [str(day)]
    assert len(manifest["files"]) == 400 and {f["rows"] for f in manifest["files"]} == {1}
    assert manifest["failed_tickers"] == [
        {"ticker": NULL_CLOSE, "reason": f"bad BRAPI data: {day}: close is missing or null"},
        {
            "ticker": UNKNOWN,
            "reason": f"unknown to BRAPI, HTTP 404: 'Não encontramos a ação {UNKNOWN}'",
        },
    ]

    # 41 requests of up to 10 tickers; the last one's 404 is asked again one ticker at a time.
    paths = [r["path"] for r in market.requests]
    assert len(paths) == 43
    assert paths.count(f"/api/quote/{GOOD[-1]},{UNKNOWN}") == 1
    assert {f"/api/quote/{GOOD[-1]}", f"/api/quote/{UNKNOWN}"} <= set(paths)
    assert 2 <= market.most_in_flight <= 8

    lines = out.splitlines()
    assert len(lines) <= 30, out
    assert lines[0] == f"Scraped 400 rows for 400 tickers ({day}..{day}) into {lake}"
    assert "Quality check passed: 0 violations" in lines
    chart = (lake / "reports" / f"quotes_{day}.png").read_bytes()
    assert struct.unpack(">II", chart[16:24]) == (1210, 715)
    summary = (lake / "reports" / f"summary_{day}.csv").read_text().splitlines()
    assert len(summary) == 401 and summary[0].startswith("ticker,days,first_date,last_date")


def test_a_429_waits_for_retry_after(
    market: FakeBrapi, day: date, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retry-After on a 429 is honoured by the client's retry policy (urllib3 Retry)."""
    market.script(
        ScriptedResponse(
            429, {"error": True, "message": "Muitas requisições"}, {"Retry-After": "2"}
        )
    )
    monkeypatch.delenv("BRAPI_TOKEN", raising=False)
    with serve(market) as url:
        monkeypatch.setenv("BRAPI_BASE_URL", url)
        code = main(["run", "--tickers", GOOD[0], "--date", str(day), "--lake", str(tmp_path)])

    assert code == 0
    first, second = market.requests
    assert first["path"] == second["path"] == f"/api/quote/{GOOD[0]}"
    assert second["at"] - first["at"] >= 1.9  # the backoff alone would be about 0 s
