"""The quality gate and the analytics SQL, run through sqlglot on DuckDB over a real lake."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from b3pipeline.catalog import (
    LocalCatalog,
    athena_to_duckdb,
    parameter_count,
    read_sql_file,
    window_parameters,
)
from b3pipeline.errors import QueryError
from b3pipeline.lake import Lake, quotes_daily_key
from b3pipeline.quality import (
    ATHENA_MAX_PARAMETER_LENGTH,
    QUALITY_TICKERS_PER_QUERY,
    QualityReport,
    quality_check_parameters,
    quality_ticker_batches,
    run_quality_check,
)
from b3pipeline.scrape import scrape
from b3pipeline.tickers import MAX_TICKER_LENGTH, tickers_json, validate_tickers
from b3pipeline.transform import run_transform
from tests.support.botocore_models import member_shape, shape
from tests.support.quotes import StaticQuoteSource, make_bars

START, END = date(2025, 3, 3), date(2025, 8, 29)
NOW = datetime(2025, 8, 29, 22, 0, tzinfo=UTC)
TICKERS = ["PETR4", "VALE3"]


@pytest.fixture(scope="module")
def built_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quality") / "lake"
    lake = Lake.open(str(root))
    bars = make_bars("PETR4", START, 130) + make_bars("VALE3", START, 130, base=60.0)
    scrape(StaticQuoteSource(bars), lake, TICKERS, now=NOW)
    run_transform(lake, TICKERS, START, END, now=NOW)
    return root


@pytest.fixture
def lake(built_lake: Path, tmp_path: Path) -> Lake:
    """A fresh copy of the module's lake, so each test may damage its own."""
    return Lake.open(str(shutil.copytree(built_lake, tmp_path / "lake")))


def _check(lake: Lake, start: date = START, end: date = END) -> QualityReport:
    with LocalCatalog(lake) as catalog:
        return run_quality_check(catalog, start, end, TICKERS)


def _rewrite_daily(lake: Lake, day: date, ticker: str, **changes: object) -> None:
    key = quotes_daily_key(day, ticker)
    table = pq.read_table(lake.path(key))
    frame = table.to_pandas()
    for column, value in changes.items():
        frame[column] = value
    lake.write_parquet(key, table.from_pandas(frame, schema=table.schema, preserve_index=False))


def test_clean_run_passes_with_every_count_zero(lake: Lake) -> None:
    report = _check(lake)
    assert report.passed
    assert list(report.counts)[-1] == "total_violations"
    assert set(report.counts.values()) == {0}


def test_sql_file_takes_the_window_values_once_per_window() -> None:
    sql = read_sql_file("quality_check.sql")
    code = "\n".join(line.split("--")[0] for line in sql.splitlines())
    window = ["2025-03-03", "2025-08-29", '["PETR4","VALE3"]']
    assert window_parameters(START, END, TICKERS) == window
    assert quality_check_parameters(START, END, TICKERS) == window * 2
    assert code.count("?") == len(quality_check_parameters(START, END, TICKERS))


@pytest.mark.parametrize(
    ("changes", "violation"),
    [
        ({"high_price": 1.0}, "inconsistent_ranges"),  # high < low
        ({"close_price": 1_000.0}, "inconsistent_ranges"),  # close above high
        ({"open_price": None}, "bad_prices"),
        ({"low_price": -1.0}, "bad_prices"),
        ({"volume": -5}, "bad_volumes"),
    ],
)
def test_each_bad_value_is_counted(lake: Lake, changes: dict[str, object], violation: str) -> None:
    _rewrite_daily(lake, date(2025, 6, 3), "VALE3", **changes)
    report = _check(lake)
    assert not report.passed
    assert report.counts[violation] >= 1
    assert report.total_violations == sum(report.failures().values())


def test_rows_missing_between_raw_and_refined_are_counted(lake: Lake) -> None:
    lake.delete(quotes_daily_key(date(2025, 6, 3), "PETR4"))
    lake.delete(quotes_daily_key(date(2025, 6, 4), "PETR4"))
    report = _check(lake)
    assert report.failures() == {"missing_in_refined": 2}


def test_refined_rows_without_raw_are_counted(lake: Lake) -> None:
    lake.delete("raw/quotes/dt=2025-06-03/ticker=PETR4/quotes.parquet")
    assert _check(lake).failures() == {"missing_in_raw": 1}


def test_duplicates_and_partition_mismatch_are_counted(lake: Lake) -> None:
    source = quotes_daily_key(date(2025, 6, 3), "PETR4")
    copy = source.replace("part-0", "part-1")
    lake.write_bytes(copy, lake.read_bytes(source))
    assert _check(lake).failures() == {"duplicate_rows": 1}
    lake.delete(copy)
    misplaced = quotes_daily_key(date(2025, 6, 3), "PETR4").replace("2025-06-03", "2025-06-02")
    lake.write_bytes(misplaced, lake.read_bytes(source))
    failures = _check(lake).failures()
    assert failures["partition_mismatches"] == 1
    assert failures["duplicate_rows"] == 1


def test_gate_only_looks_at_its_window_and_tickers(lake: Lake) -> None:
    _rewrite_daily(lake, date(2025, 6, 3), "VALE3", volume=-5)
    assert _check(lake, date(2025, 7, 1), END).passed
    with LocalCatalog(lake) as catalog:
        assert run_quality_check(catalog, START, END, ["PETR4"]).passed
    # The raw window takes its own copy of the parameters: a refined row missing outside
    # the window or the tickers is not counted either.
    lake.delete(quotes_daily_key(date(2025, 6, 4), "VALE3"))
    assert _check(lake, date(2025, 7, 1), END).passed
    with LocalCatalog(lake) as catalog:
        assert run_quality_check(catalog, START, END, ["PETR4"]).passed
    assert _check(lake).failures() == {"missing_in_refined": 1, "bad_volumes": 1}


def test_latest_signals_match_the_refined_table(lake: Lake) -> None:
    with LocalCatalog(lake) as catalog:
        signals = catalog.run_sql(read_sql_file("latest_signals.sql")).records()
        daily = catalog.run_sql("SELECT * FROM quotes_daily ORDER BY ticker, trade_date").records()
    frame = pd.DataFrame(daily)
    assert [s["ticker"] for s in signals] == TICKERS
    for signal in signals:
        rows = frame[frame["ticker"] == signal["ticker"]]
        last, previous = rows.iloc[-1], rows.iloc[-2]
        assert signal["trade_date"] == last["trade_date"]
        assert signal["sma_20"] == pytest.approx(round(last["sma_20"], 2))
        expected_trend = "bullish" if last["sma_20"] > last["sma_50"] else "bearish"
        assert signal["trend"] == expected_trend
        crossed_up = previous["sma_20"] <= previous["sma_50"] and last["sma_20"] > last["sma_50"]
        crossed_down = previous["sma_20"] >= previous["sma_50"] and last["sma_20"] < last["sma_50"]
        expected = "golden_cross" if crossed_up else "death_cross" if crossed_down else "none"
        assert signal["crossover"] == expected


def test_monthly_summary_lists_every_month_newest_first(lake: Lake) -> None:
    with LocalCatalog(lake) as catalog:
        rows = catalog.run_sql(read_sql_file("monthly_summary.sql")).records()
        raw = catalog.run_sql(
            "SELECT ticker, substr(dt, 1, 7) AS month, count(*) AS n, sum(volume) AS v "
            "FROM raw_quotes GROUP BY 1, 2"
        ).records()
    expected = {(r["ticker"], r["month"]): (r["n"], r["v"]) for r in raw}
    assert {
        (r["ticker"], r["month"]): (r["trading_days"], r["total_volume"]) for r in rows
    } == expected
    petr4_months = [r["month"] for r in rows if r["ticker"] == "PETR4"]
    assert petr4_months == sorted(petr4_months, reverse=True)


def test_empty_lake_has_empty_tables(tmp_path: Path) -> None:
    with LocalCatalog(Lake.open(str(tmp_path / "empty"))) as catalog:
        assert catalog.run_sql("SELECT count(*) AS n FROM quotes_monthly").rows == [(0,)]
        assert run_quality_check(catalog, START, END, TICKERS).passed


def test_invalid_sql_is_a_query_error(lake: Lake) -> None:
    with pytest.raises(QueryError, match="not valid Athena SQL"):
        athena_to_duckdb("SELECT FROM WHERE (")
    with (
        LocalCatalog(lake) as catalog,
        pytest.raises(QueryError, match="failed on the local catalog"),
    ):
        catalog.run_sql("SELECT no_such_column FROM quotes_daily")
    with pytest.raises(QueryError, match="one SQL statement"):
        athena_to_duckdb("SELECT 1; SELECT 2")


def test_a_syntax_error_is_one_plain_line_saying_where() -> None:
    with pytest.raises(QueryError) as info:
        athena_to_duckdb("SELEC nope FROM quotes_daily")
    assert str(info.value) == (
        "the query is not valid Athena SQL: Invalid expression / Unexpected token at line 1, "
        "column 15 (near 'SELEC nope FROM')"
    )  # sqlglot's own message underlines the token with terminal escape codes


def test_parameters_must_match_the_placeholders(lake: Lake) -> None:
    quality_sql = read_sql_file("quality_check.sql")
    assert parameter_count(quality_sql) == len(quality_check_parameters(START, END, TICKERS))
    with LocalCatalog(lake) as catalog:
        with pytest.raises(QueryError) as info:
            catalog.run_sql(quality_sql)
        expected = len(quality_check_parameters(START, END, TICKERS))
        assert str(info.value) == (
            f"the query takes {expected} `?` parameter(s) and 0 value(s) were given"
        )
        assert catalog.run_sql("SELECT ? AS one", [1]).rows == [(1,)]


# ------------------------------------------------------------------ Athena's parameter limit
# Athena, StartQueryExecution: each ExecutionParameter is 1 to 1024 characters (botocore's
# athena model, ExecutionParameter); the state machine sends each value in SQL quotes.


def _longest_tickers(count: int) -> list[str]:
    """`count` distinct valid symbols of MAX_TICKER_LENGTH characters (ABCD11F, ...)."""
    symbols = [f"A{n:03d}11F" for n in range(count)]
    assert all(len(symbol) == MAX_TICKER_LENGTH for symbol in validate_tickers(symbols))
    return symbols


def test_the_parameter_limit_is_athenas() -> None:
    assert shape("athena", "ExecutionParameter")["max"] == ATHENA_MAX_PARAMETER_LENGTH
    assert "max" not in member_shape("athena", "StartQueryExecutionInput", "ExecutionParameters")


def test_every_quoted_parameter_of_a_full_market_fits_athenas_limit() -> None:
    tickers = _longest_tickers(430)
    batches = quality_ticker_batches(tickers)
    assert [len(batch) for batch in batches] == [100, 100, 100, 100, 30]
    assert [ticker for batch in batches for ticker in batch] == tickers
    lengths = [
        len(f"'{value}'")
        for batch in batches
        for value in quality_check_parameters(START, END, batch)
    ]
    assert max(lengths) == 1003 <= ATHENA_MAX_PARAMETER_LENGTH


def test_a_batch_is_as_large_as_the_limit_allows_with_a_margin() -> None:
    """102 of the longest symbols still fit in 1024 quoted characters, 103 do not: a batch of
    QUALITY_TICKERS_PER_QUERY stays below the limit, whatever the symbols."""
    assert len(f"'{tickers_json(_longest_tickers(102))}'") == 1023
    assert len(f"'{tickers_json(_longest_tickers(103))}'") == 1033
    assert QUALITY_TICKERS_PER_QUERY <= 102


def test_one_query_never_takes_more_than_a_batch() -> None:
    with pytest.raises(QueryError, match="101 tickers in one quality query"):
        quality_check_parameters(START, END, _longest_tickers(101))


def test_the_gate_adds_up_the_counts_of_its_batches(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One query per ticker (batches of 1) counts what one query over both counts."""
    _rewrite_daily(lake, date(2025, 6, 3), "VALE3", volume=-5)
    lake.delete(quotes_daily_key(date(2025, 6, 4), "PETR4"))
    whole = _check(lake)
    monkeypatch.setattr("b3pipeline.quality.QUALITY_TICKERS_PER_QUERY", 1)
    assert quality_ticker_batches(TICKERS) == [["PETR4"], ["VALE3"]]
    batched = _check(lake)
    assert batched.counts == whole.counts
    assert batched.failures() == {"missing_in_refined": 1, "bad_volumes": 1}
    assert batched.total_violations == 2
