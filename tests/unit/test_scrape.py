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
    assert result.manifest_key is not None
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
        "failed_tickers": [],
    }
    assert "failed_tickers" not in json.loads(lake.read_bytes(result.manifest_key))


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
    assert result.manifest_key is not None
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


def test_failed_tickers_write_nothing_and_are_named(lake: Lake) -> None:
    bars = [
        *make_bars("PETR4", date(2025, 8, 28), 2),
        *make_bars("ZZZZ3", date(2025, 8, 28), 2),  # returned, yet set aside: never written
    ]
    source = StaticQuoteSource(
        bars, failed={"ZZZZ3": "BRAPI does not know it", "NULL3": "close is missing or null"}
    )

    result = scrape(source, lake, ["PETR4", "ZZZZ3", "NULL3"], now=NOW, run_id="run-3")

    assert result.tickers == ["PETR4"]
    assert [f.ticker for f in result.failed] == ["NULL3", "ZZZZ3"]
    assert lake.list_keys("raw/quotes") == [
        f"raw/quotes/dt=2025-08-{day}/ticker=PETR4/quotes.parquet" for day in (28, 29)
    ]
    manifest = json.loads(lake.read_bytes("raw/_manifests/run-3/_manifest.json"))
    assert manifest["tickers"] == ["PETR4"]
    assert manifest["failed_tickers"] == [
        {"ticker": "NULL3", "reason": "close is missing or null"},
        {"ticker": "ZZZZ3", "reason": "BRAPI does not know it"},
    ]
    assert Manifest.from_json(json.dumps(manifest)).failed_tickers == manifest["failed_tickers"]
    assert result.to_output() == {
        "tickers": ["PETR4"],
        "dates": ["2025-08-28", "2025-08-29"],
        "rows": 2,
        "manifest_key": "raw/_manifests/run-3/_manifest.json",
        "failed_tickers": manifest["failed_tickers"],
    }


def test_every_ticker_failed_writes_nothing_at_all(lake: Lake) -> None:
    source = StaticQuoteSource(
        make_bars("PETR4", date(2025, 8, 28), 2), failed={"PETR4": "high below low"}
    )

    result = scrape(source, lake, ["PETR4"], now=NOW)

    assert lake.list_keys("") == []
    assert result.to_output() == {
        "tickers": [],
        "dates": [],
        "rows": 0,
        "manifest_key": None,
        "failed_tickers": [{"ticker": "PETR4", "reason": "high below low"}],
    }


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

    def test_null_tickers_use_the_default(self) -> None:
        event = {"tickers": None, "run_date": None}
        assert ScrapeRequest.from_event(event, default_tickers=["ITUB4"]).tickers == ["ITUB4"]

    @pytest.mark.parametrize(
        ("event", "message"),
        [
            ({"run_date": "29/08/2025"}, "run_date '29/08/2025' is not a date"),
            ({"tickers": 42}, "tickers must be a list of symbols .* got 42"),
            ({"tickers": "PETR4,VALE3"}, "tickers must be a list of symbols .* got 'PETR4,VALE3'"),
            ({"tickers": {"0": "PETR4"}}, "tickers must be a list"),
            ({"tickers": []}, "tickers is an empty list: a batch needs at least one ticker"),
            ({"tickers": ["PETR4", 42]}, r"tickers\[1\] is 42, not a symbol string"),
            ({"tickers": [None]}, r"tickers\[0\] is None"),
            ({"tickers": ["PETR4"], "run_date": "soon"}, "run_date 'soon'"),
        ],
    )
    def test_bad_events_are_rejected(self, event: dict[str, object], message: str) -> None:
        with pytest.raises(InvalidRequestError, match=message):
            ScrapeRequest.from_event(event)
