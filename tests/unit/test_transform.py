"""run_transform on a local lake: window planning, reads, writes and deletes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from b3pipeline import lake as lake_module
from b3pipeline import schema
from b3pipeline.errors import InvalidDateRangeError, InvalidTickerError, TransformError
from b3pipeline.lake import Lake
from b3pipeline.metrics import compute_daily, compute_monthly
from b3pipeline.transform import months_touched, raw_read_window, run_transform
from tests.support.lake_tables import read_refined
from tests.support.raw_builders import raw_frame, raw_table, two_ticker_history, weekdays, write_raw

NOW = datetime(2024, 9, 2, 12, 30, tzinfo=UTC)


# -- windows ----------------------------------------------------------------------------------
def test_months_touched_and_read_window() -> None:
    assert months_touched(date(2023, 11, 30), date(2024, 2, 1)) == [
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
    ]
    days = weekdays(date(2024, 1, 2), 120)
    start = days[80]
    first, last = raw_read_window(days, start, start)
    assert first == days[30]  # 50 trading days back is earlier than the month before
    assert last == date(start.year, start.month, 31 if start.month == 5 else 30)
    first, last = raw_read_window(days, date(2024, 1, 15), date(2024, 1, 16))
    assert (first, last) == (date(2023, 12, 1), date(2024, 1, 31))


# -- run_transform on a local lake ------------------------------------------------------------
DAILY_VALUES = pa.schema(
    [("ticker", pa.string()), *[f for f in schema.QUOTES_DAILY if f.name != "processed_at"]]
)
MONTHLY_VALUES = pa.schema(
    [
        ("month", pa.string()),
        ("ticker", pa.string()),
        *[f for f in schema.QUOTES_MONTHLY if f.name != "processed_at"],
    ]
)


@pytest.fixture
def history() -> pd.DataFrame:
    return two_ticker_history()


@pytest.fixture
def lake(tmp_path: Path, history: pd.DataFrame) -> Lake:
    lake = Lake.open(str(tmp_path / "lake"))
    write_raw(lake, history)
    return lake


def _rows(table: pa.Table, order: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return sorted(rows, key=lambda row: tuple(row[k] for k in order))


_written = read_refined


def _expected_daily(history: pd.DataFrame, start: date, end: date) -> list[dict[str, Any]]:
    full = compute_daily(history)
    window = full[[start <= d <= end for d in full["trade_date"]]]
    table = pa.Table.from_pandas(window, schema=DAILY_VALUES, preserve_index=False)
    return _rows(table, ["ticker", "trade_date"])


def _expected_monthly(history: pd.DataFrame, months: list[str]) -> list[dict[str, Any]]:
    full = compute_monthly(history)
    window = full[full["month"].isin(months)]
    table = pa.Table.from_pandas(window, schema=MONTHLY_VALUES, preserve_index=False)
    return _rows(table, ["ticker", "month"])


def _refined_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "refined").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2024, 4, 10), date(2024, 6, 20)),  # spans PETR4's missing May
        (date(2024, 7, 1), date(2024, 7, 1)),  # one day, first of a month
        (date(2024, 3, 1), date(2024, 3, 8)),  # VALE3's first days
        (date(2024, 1, 2), date(2024, 8, 31)),  # everything
    ],
)
def test_a_windowed_run_equals_a_full_recomputation(
    lake: Lake, history: pd.DataFrame, start: date, end: date
) -> None:
    result = run_transform(lake, ["PETR4", "VALE3"], start, end, now=NOW)

    daily = _written(lake)
    assert _rows(daily.select(DAILY_VALUES.names), ["ticker", "trade_date"]) == _expected_daily(
        history, start, end
    )
    months = months_touched(start, end)
    monthly = _written(lake, monthly=True).select(MONTHLY_VALUES.names)
    assert _rows(monthly, ["ticker", "month"]) == [
        row
        for row in _expected_monthly(history, months)
        if row["ticker"] not in result.tickers_without_data
    ]
    # Only partitions in [start, end] and in the touched months were written.
    assert all(start <= d <= end for d in daily.column("trade_date").to_pylist())
    assert sorted(result.daily_keys) == sorted(
        lake_module.quotes_daily_key(d, t)
        for t, d in zip(history["ticker"], history["trade_date"])
        if start <= d <= end
    )
    assert all(k.split("month=")[1][:7] in months for k in result.monthly_keys)
    assert result.daily_rows == len(result.daily_keys)


def test_a_windowed_run_reads_only_its_window(
    tmp_path: Path, lake: Lake, history: pd.DataFrame
) -> None:
    # Corrupt raw files far outside the window: the run must not open them.
    for day in (date(2024, 1, 2), date(2024, 1, 3), date(2024, 8, 14)):
        (tmp_path / "lake" / lake_module.raw_quotes_key(day, "PETR4")).write_bytes(b"not parquet")
    result = run_transform(lake, ["PETR4"], date(2024, 6, 3), date(2024, 6, 5), now=NOW)
    assert result.daily_rows == 3
    assert result.raw_files_read < len(history[history["ticker"] == "PETR4"])
    # 50 trading days before 2024-06-03 (PETR4 skips May) reach back into March.
    assert result.raw_files_read >= 50 + 3


def test_month_rows_include_raw_days_after_end(lake: Lake, history: pd.DataFrame) -> None:
    result = run_transform(lake, ["PETR4"], date(2024, 6, 3), date(2024, 6, 10), now=NOW)
    assert result.monthly_keys == [lake_module.quotes_monthly_key("2024-06", "PETR4")]
    june = _written(lake, monthly=True).to_pylist()[0]
    assert june["last_trade_date"] == date(2024, 6, 28)
    assert june["trading_days"] == 20
    assert june["monthly_return_pct"] is None  # PETR4 did not trade in May
    assert [d.isoformat() for d in result.dates] == [
        "2024-06-03",
        "2024-06-04",
        "2024-06-05",
        "2024-06-06",
        "2024-06-07",
        "2024-06-10",
    ]


def test_files_have_the_exact_schema_and_processed_at(tmp_path: Path, lake: Lake) -> None:
    result = run_transform(lake, ["VALE3"], date(2024, 7, 1), date(2024, 7, 2), now=NOW)
    root = tmp_path / "lake"
    daily_file = root / result.daily_keys[0]
    monthly_file = root / result.monthly_keys[0]
    assert pq.read_schema(daily_file).remove_metadata().equals(schema.QUOTES_DAILY)
    assert pq.read_schema(monthly_file).remove_metadata().equals(schema.QUOTES_MONTHLY)
    assert pq.read_table(daily_file).num_rows == 1
    stamps = set(_written(lake).column("processed_at").to_pylist())
    stamps |= set(_written(lake, monthly=True).column("processed_at").to_pylist())
    assert stamps == {NOW}
    assert result.summary()["processed_at"] == NOW.isoformat()


def test_now_is_stored_in_utc(lake: Lake) -> None:
    sao_paulo = timezone(timedelta(hours=-3))
    run_transform(
        lake, ["VALE3"], date(2024, 7, 1), date(2024, 7, 1), now=datetime(2024, 7, 1, 18, 0)
    )
    run_transform(
        lake,
        ["VALE3"],
        date(2024, 7, 2),
        date(2024, 7, 2),
        now=datetime(2024, 7, 2, 18, 0, tzinfo=sao_paulo),
    )
    stamps = sorted(_written(lake).column("processed_at").to_pylist())
    assert stamps == [
        datetime(2024, 7, 1, 18, 0, tzinfo=UTC),
        datetime(2024, 7, 2, 21, 0, tzinfo=UTC),
    ]


def test_a_rerun_rewrites_identical_rows_except_processed_at(lake: Lake) -> None:
    start, end = date(2024, 5, 20), date(2024, 6, 7)
    first = run_transform(lake, ["PETR4", "VALE3"], start, end, now=NOW)
    before_daily, before_monthly = _written(lake), _written(lake, monthly=True)
    later = NOW + timedelta(days=1)
    second = run_transform(lake, ["PETR4", "VALE3"], start, end, now=later)
    after_daily, after_monthly = _written(lake), _written(lake, monthly=True)
    assert second.daily_keys == first.daily_keys
    assert second.monthly_keys == first.monthly_keys
    assert after_daily.num_rows == before_daily.num_rows  # no duplicates
    keep = [c for c in before_daily.column_names if c != "processed_at"]
    assert after_daily.select(keep).equals(before_daily.select(keep))
    keep = [c for c in before_monthly.column_names if c != "processed_at"]
    assert after_monthly.select(keep).equals(before_monthly.select(keep))
    assert set(after_daily.column("processed_at").to_pylist()) == {later}


def test_start_after_end_raises_and_writes_nothing(tmp_path: Path, lake: Lake) -> None:
    with pytest.raises(InvalidDateRangeError, match="after end"):
        run_transform(lake, ["PETR4"], date(2024, 6, 2), date(2024, 6, 1), now=NOW)
    with pytest.raises(InvalidTickerError, match="no ticker"):
        run_transform(lake, [], date(2024, 6, 1), date(2024, 6, 2), now=NOW)
    assert _refined_files(tmp_path / "lake") == []


def test_a_malformed_raw_file_in_the_window_names_it_and_writes_nothing(
    tmp_path: Path, lake: Lake, history: pd.DataFrame
) -> None:
    day = date(2024, 6, 4)
    key = lake_module.raw_quotes_key(day, "PETR4")
    bad = raw_table(history[(history["ticker"] == "PETR4") & (history["trade_date"] == day)])
    lake.write_parquet(key, bad.select([c for c in bad.column_names if c != "volume"]))
    with pytest.raises(TransformError, match=rf"{key}.*lacks the column\(s\) volume"):
        run_transform(lake, ["PETR4", "VALE3"], date(2024, 6, 3), date(2024, 6, 5), now=NOW)
    assert _refined_files(tmp_path / "lake") == []

    lake.write_parquet(key, bad.set_column(1, "open", pa.array(["1.0"])))
    with pytest.raises(TransformError, match=rf"{key}: column open is string"):
        run_transform(lake, ["PETR4"], date(2024, 6, 3), date(2024, 6, 5), now=NOW)

    other_day = raw_table(history[history["trade_date"] == date(2024, 6, 3)].iloc[:1])
    lake.write_parquet(key, other_day)
    with pytest.raises(TransformError, match="must hold one row with trade_date 2024-06-04"):
        run_transform(lake, ["PETR4"], date(2024, 6, 3), date(2024, 6, 5), now=NOW)
    assert _refined_files(tmp_path / "lake") == []


def test_a_ticker_without_raw_data_is_reported_not_written(tmp_path: Path, lake: Lake) -> None:
    carnival = run_transform(lake, ["PETR4"], date(2024, 2, 12), date(2024, 2, 13), now=NOW)
    assert carnival.tickers_without_data == ["PETR4"]
    assert _refined_files(tmp_path / "lake") == []

    result = run_transform(lake, ["PETR4", "ITUB4"], date(2024, 6, 3), date(2024, 6, 3), now=NOW)
    assert result.tickers_without_data == ["ITUB4"]
    assert all("ticker=PETR4" in key for key in result.daily_keys + result.monthly_keys)
    nothing = run_transform(lake, ["VALE3"], date(2024, 8, 10), date(2024, 8, 12), now=NOW)
    assert nothing.tickers_without_data == ["VALE3"]
    assert (nothing.daily_rows, nothing.monthly_rows, nothing.raw_files_read) == (0, 0, 0)
    assert nothing.summary()["tickers_without_data"] == ["VALE3"]


def test_refined_rows_whose_raw_is_gone_are_deleted(lake: Lake) -> None:
    start, end = date(2024, 6, 3), date(2024, 6, 7)
    run_transform(lake, ["PETR4"], start, end, now=NOW)
    gone = lake_module.quotes_daily_key(date(2024, 6, 5), "PETR4")
    assert lake.exists(gone)
    lake.delete(lake_module.raw_quotes_key(date(2024, 6, 5), "PETR4"))
    result = run_transform(lake, ["PETR4"], start, end, now=NOW)
    assert result.deleted_keys == [gone]
    assert not lake.exists(gone)
    assert result.daily_rows == 4


def test_a_long_gap_extends_the_listing_back_until_50_trading_days(tmp_path: Path) -> None:
    """A ticker suspended for eight months: its sma_50 after resuming still needs the 50
    trading days before the gap, which are far beyond the first 91 listed days."""
    before_gap = weekdays(date(2023, 1, 2), 70)
    after_gap = weekdays(date(2024, 1, 2), 10)
    history = raw_frame("PETR4", before_gap + after_gap, seed=5)
    lake = Lake.open(str(tmp_path / "lake"))
    write_raw(lake, history)
    day = after_gap[-1]

    result = run_transform(lake, ["PETR4"], day, day, now=NOW)

    assert result.raw_files_read == 50 + 1
    assert _rows(read_refined(lake).select(DAILY_VALUES.names), ["ticker", "trade_date"]) == (
        _expected_daily(history, day, day)
    )
    assert read_refined(lake).column("sma_50").to_pylist()[0] is not None


def test_a_young_ticker_looks_back_to_the_first_date_of_the_lake(tmp_path: Path) -> None:
    old = raw_frame("VALE3", weekdays(date(2020, 1, 2), 30), seed=3)
    young = raw_frame("PETR4", weekdays(date(2024, 3, 1), 12), seed=4)
    lake = Lake.open(str(tmp_path / "lake"))
    write_raw(lake, pd.concat([old, young], ignore_index=True))
    day = weekdays(date(2024, 3, 1), 12)[-1]
    result = run_transform(lake, ["PETR4"], day, day, now=NOW)
    assert result.raw_files_read == 12  # every PETR4 day, and no VALE3 file
    assert _rows(read_refined(lake).select(DAILY_VALUES.names), ["ticker", "trade_date"]) == (
        _expected_daily(young, day, day)
    )
