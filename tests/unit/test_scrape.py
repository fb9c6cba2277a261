from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from b3pipeline import schema
from b3pipeline.brapi import QuoteHistory
from b3pipeline.errors import BrapiPayloadError, InvalidRequestError, InvalidTickerError
from b3pipeline.lake import Lake
from b3pipeline.manifest import Manifest
from b3pipeline.scrape import ScrapeRequest, scrape
from tests.support.quotes import StaticQuoteSource, make_bars

NOW = datetime(2025, 8, 29, 21, 30, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.open(str(tmp_path / "lake"))


def test_writes_one_raw_file_per_date_and_ticker(lake: Lake) -> None:
    bars = make_bars("PETR4", date(2025, 8, 25), 5) + make_bars("VALE3", date(2025, 8, 25), 5, 55.0)
    result = scrape(StaticQuoteSource(bars), lake, ["PETR4", "VALE3"], now=NOW, run_id="run-1")

    assert result.rows == 10
    assert result.dates == ["2025-08-25", "2025-08-26", "2025-08-27", "2025-08-28", "2025-08-29"]
    assert result.manifest_key == "raw/_manifests/run-1/_manifest.json"
    assert lake.list_keys("raw/quotes") == sorted(
        f"raw/quotes/dt={d}/ticker={t}/quotes.parquet"
        for d in result.dates
        for t in ("PETR4", "VALE3")
    )
    table = pq.read_table(lake.path("raw/quotes/dt=2025-08-27/ticker=VALE3/quotes.parquet"))
    assert table.schema.equals(schema.RAW_QUOTES)  # partition columns stay in folder names
    row = table.to_pylist()[0]
    vale = next(b for b in bars if b.ticker == "VALE3" and b.trade_date == date(2025, 8, 27))
    assert row["close"] == vale.close and row["adjusted_close"] == vale.adjusted_close
    assert row["volume"] == vale.volume and row["trade_date"] == vale.trade_date
    assert row["source"] == "brapi" and row["currency"] == "BRL" and row["request_range"] == "5d"
    assert row["ingested_at"] == NOW


def test_manifest_lists_what_was_written(lake: Lake) -> None:
    bars = make_bars("PETR4", date(2025, 8, 28), 2)
    result = scrape(
        StaticQuoteSource(bars), lake, ["PETR4"], now=NOW, run_id="run-2", execution_arn="arn:x"
    )
    manifest = Manifest.from_json(lake.read_bytes(result.manifest_key))
    assert manifest.producer == "scraper"
    assert manifest.execution_arn == "arn:x"
    assert manifest.dates == ["2025-08-28", "2025-08-29"]
    assert [f.key for f in manifest.files] == [f.key for f in result.files]
    assert manifest.rows == 2
    assert manifest.created_at == "2025-08-29T21:30:00Z"
    assert result.to_output() == {
        "tickers": ["PETR4"],
        "dates": ["2025-08-28", "2025-08-29"],
        "rows": 2,
        "manifest_key": "raw/_manifests/run-2/_manifest.json",
    }


def test_rerun_replaces_files_instead_of_adding_rows(lake: Lake) -> None:
    source = StaticQuoteSource(make_bars("PETR4", date(2025, 8, 25), 5))
    scrape(source, lake, ["PETR4"], now=NOW)
    first = {
        k: pq.read_table(lake.path(k)).drop(["ingested_at"]) for k in lake.list_keys("raw/quotes")
    }
    scrape(source, lake, ["PETR4"], now=datetime(2025, 8, 30, tzinfo=UTC))
    second = {
        k: pq.read_table(lake.path(k)).drop(["ingested_at"]) for k in lake.list_keys("raw/quotes")
    }
    assert first.keys() == second.keys()
    assert all(first[k].equals(second[k]) for k in first)


def test_window_is_passed_to_the_source(lake: Lake) -> None:
    source = StaticQuoteSource(make_bars("PETR4", date(2025, 8, 25), 5))
    result = scrape(source, lake, ["petr4"], date(2025, 8, 26), date(2025, 8, 27), now=NOW)
    assert source.calls == [(["PETR4"], date(2025, 8, 26), date(2025, 8, 27))]
    assert result.dates == ["2025-08-26", "2025-08-27"]


def test_no_bars_writes_an_empty_manifest_and_no_quotes(lake: Lake) -> None:
    result = scrape(StaticQuoteSource([]), lake, ["PETR4"], date(2025, 8, 30), date(2025, 8, 31))
    assert (result.rows, result.dates) == (0, [])
    assert lake.list_keys("raw/quotes") == []
    assert json.loads(lake.read_bytes(result.manifest_key))["files"] == []


def test_invalid_ticker_fails_before_fetching(lake: Lake) -> None:
    source = StaticQuoteSource([])
    with pytest.raises(InvalidTickerError):
        scrape(source, lake, ["PETR4", "NOT-A-TICKER"])
    assert source.calls == []
    assert lake.list_keys("") == []


def test_source_error_writes_nothing(lake: Lake) -> None:
    class BrokenSource(StaticQuoteSource):
        def fetch_daily_history(
            self,
            tickers: Sequence[str],
            start: date | None = None,
            end: date | None = None,
            today: date | None = None,
        ) -> QuoteHistory:
            raise BrapiPayloadError("PETR4 2025-08-29: high < low")

    with pytest.raises(BrapiPayloadError):
        scrape(BrokenSource([]), lake, ["PETR4"])
    assert lake.list_keys("") == []


class TestScrapeRequest:
    def test_scheduled_event_takes_latest_days(self) -> None:
        request = ScrapeRequest.from_event({"tickers": ["PETR4", "vale3"], "run_date": None})
        assert request == ScrapeRequest(tickers=["PETR4", "VALE3"], start=None, end=None)

    def test_run_date_is_a_one_day_window(self) -> None:
        request = ScrapeRequest.from_event(
            {"tickers": ["PETR4"], "run_date": "2025-08-29", "execution_arn": "arn:e"}
        )
        assert (request.start, request.end) == (date(2025, 8, 29), date(2025, 8, 29))
        assert request.execution_arn == "arn:e"

    def test_missing_tickers_use_the_default(self) -> None:
        assert ScrapeRequest.from_event({}, default_tickers=["ITUB4"]).tickers == ["ITUB4"]

    @pytest.mark.parametrize(
        "event",
        [{"run_date": "29/08/2025"}, {"tickers": 42}, {"tickers": ["PETR4"], "run_date": "soon"}],
    )
    def test_bad_events_are_rejected(self, event: dict[str, object]) -> None:
        with pytest.raises(InvalidRequestError):
            ScrapeRequest.from_event(event)
