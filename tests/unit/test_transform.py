"""compute_daily / compute_monthly on hand-checkable frames, run_transform on a local lake."""

from __future__ import annotations

import math
import statistics
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from b3pipeline import lake as lake_module
from b3pipeline import schema
from b3pipeline.errors import InvalidDateRangeError, InvalidTickerError, TransformError
from b3pipeline.lake import Lake
from b3pipeline.transform import (
    compute_daily,
    compute_monthly,
    months_touched,
    raw_read_window,
    run_transform,
)
from tests.support.raw_builders import raw_frame, raw_table, two_ticker_history, weekdays, write_raw

NOW = datetime(2024, 9, 2, 12, 30, tzinfo=timezone.utc)


# -- compute_daily ----------------------------------------------------------------------------
def test_daily_return_is_the_change_of_adjusted_close_in_percent() -> None:
    days = weekdays(date(2024, 3, 4), 3)
    daily = compute_daily(raw_frame("PETR4", days, adjusted_closes=[10.0, 11.0, 12.1]))
    returns = daily["daily_return_pct"].tolist()
    assert math.isnan(returns[0])
    assert returns[1:] == pytest.approx([10.0, 10.0])
    # R5 rename: adjusted close and close stay distinct columns.
    assert daily["adj_close_price"].tolist() == [10.0, 11.0, 12.1]
    assert daily["close_price"].tolist() == pytest.approx([11.0, 12.0, 13.1])


def test_moving_averages_are_null_until_n_values_exist() -> None:
    days = weekdays(date(2024, 1, 2), 60)
    adj = [float(i) for i in range(1, 61)]
    daily = compute_daily(raw_frame("PETR4", days, adjusted_closes=adj))
    for window in (5, 20, 50):
        column = daily[f"sma_{window}"]
        assert column.iloc[: window - 1].isna().all(), window
        # The mean of 1..N is (N + 1) / 2; one row later the window has moved by one.
        assert column.iloc[window - 1] == pytest.approx((window + 1) / 2)
        assert column.iloc[window] == pytest.approx((window + 3) / 2)
    assert daily["sma_5"].iloc[-1] == pytest.approx(sum(adj[-5:]) / 5)


def test_volatility_is_the_sample_std_of_20_returns_annualised() -> None:
    days = weekdays(date(2024, 1, 2), 23)
    rng = np.random.default_rng(3)
    adj = list(20 * np.exp(np.cumsum(rng.normal(0, 0.02, 23))))
    daily = compute_daily(raw_frame("PETR4", days, adjusted_closes=adj))
    returns = [(adj[i] / adj[i - 1] - 1) * 100 for i in range(1, 23)]
    volatility = daily["volatility_20d_pct"]
    # Row 19 has only 19 returns (the first day has none); row 20 has the first 20.
    assert volatility.iloc[:20].isna().all()
    expected = statistics.stdev(returns[0:20]) * math.sqrt(252)
    assert volatility.iloc[20] == pytest.approx(expected, rel=1e-12)
    assert volatility.iloc[20] != pytest.approx(statistics.pstdev(returns[0:20]) * math.sqrt(252))
    assert volatility.iloc[22] == pytest.approx(
        statistics.stdev(returns[2:22]) * math.sqrt(252), rel=1e-12
    )


def test_days_since_previous_trade_and_iso_day_of_week() -> None:
    # Thu, Fri, (weekend) Mon, (holiday Tue) Wed, and a Sunday session to pin 7.
    days = [date(2024, 2, 8), date(2024, 2, 9), date(2024, 2, 12), date(2024, 2, 14)]
    days.append(date(2024, 2, 18))
    daily = compute_daily(raw_frame("PETR4", days))
    gaps = daily["days_since_prev_trade"]
    assert gaps.isna().tolist() == [True, False, False, False, False]
    assert gaps.iloc[1:].astype(int).tolist() == [1, 3, 2, 4]
    assert daily["day_of_week"].astype(int).tolist() == [4, 5, 1, 3, 7]
    assert daily["trade_date"].tolist() == days


def test_metrics_are_per_ticker_and_input_order_does_not_matter() -> None:
    days = weekdays(date(2024, 1, 2), 6)
    raw = pd.concat(
        [
            raw_frame("VALE3", days, adjusted_closes=[50, 55, 60.5, 50, 50, 50]),
            raw_frame("PETR4", days, adjusted_closes=[10, 20, 10, 20, 10, 20]),
        ],
        ignore_index=True,
    )
    shuffled = raw.sample(frac=1.0, random_state=4)
    daily = compute_daily(shuffled)
    assert daily["ticker"].tolist() == ["PETR4"] * 6 + ["VALE3"] * 6
    petr = daily[daily["ticker"] == "PETR4"]
    vale = daily[daily["ticker"] == "VALE3"]
    assert math.isnan(vale["daily_return_pct"].iloc[0])  # not computed from PETR4's last day
    assert vale["daily_return_pct"].iloc[1:3].tolist() == pytest.approx([10.0, 10.0])
    assert petr["sma_5"].iloc[4] == pytest.approx(14.0)
    assert vale["days_since_prev_trade"].isna().iloc[0]
    pd.testing.assert_frame_equal(daily, compute_daily(raw))


def test_a_null_adjusted_close_nulls_the_windows_that_hold_it() -> None:
    days = weekdays(date(2024, 1, 2), 12)
    adj: list[float | None] = [float(i) for i in range(1, 13)]
    adj[5] = None
    daily = compute_daily(raw_frame("PETR4", days, adjusted_closes=adj))
    # Windows ending on rows 5..9 hold the null; row 4's (1..5) and row 10's do not.
    assert daily["sma_5"].isna().tolist() == [True] * 4 + [False] + [True] * 5 + [False] * 2
    assert daily["sma_5"].iloc[10] == pytest.approx(9.0)
    assert daily["daily_return_pct"].isna().tolist()[:8] == [True] + [False] * 4 + [True] * 2 + [
        False
    ]


def test_trade_date_may_arrive_as_datetime64_or_dates() -> None:
    days = weekdays(date(2024, 1, 2), 30)
    as_dates = raw_frame("PETR4", days)
    as_datetimes = as_dates.assign(trade_date=pd.to_datetime(as_dates["trade_date"]))
    as_strings = as_dates.assign(trade_date=[d.isoformat() for d in days])
    expected = compute_daily(as_dates)
    pd.testing.assert_frame_equal(compute_daily(as_datetimes), expected)
    pd.testing.assert_frame_equal(compute_daily(as_strings), expected)


def test_missing_raw_column_is_a_transform_error() -> None:
    raw = raw_frame("PETR4", weekdays(date(2024, 1, 2), 3)).drop(columns=["adjusted_close"])
    with pytest.raises(TransformError, match="adjusted_close"):
        compute_daily(raw)


def test_duplicate_ticker_and_date_is_a_transform_error() -> None:
    raw = raw_frame("PETR4", [date(2024, 1, 2), date(2024, 1, 2)])
    with pytest.raises(TransformError, match="PETR4 on 2024-01-02"):
        compute_daily(raw)


# -- compute_monthly --------------------------------------------------------------------------
def test_monthly_aggregates_and_return_against_the_previous_month() -> None:
    days = [date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2)]
    days += [date(2024, 2, 5), date(2024, 4, 1)]
    raw = raw_frame(
        "PETR4",
        days,
        adjusted_closes=[9.0, 10.0, 11.0, 14.0, 12.0, 6.0],
        volumes=[100, 300, 1000, 2000, 6000, 7],
    )
    raw.loc[3, "high"] = 99.0  # the month's high is not the last day's
    raw.loc[2, "low"] = 1.0
    monthly = compute_monthly(raw).set_index("month")
    assert monthly.index.tolist() == ["2024-01", "2024-02", "2024-04"]
    feb = monthly.loc["2024-02"]
    assert feb["ticker"] == "PETR4"
    assert feb["first_trade_date"] == date(2024, 2, 1)
    assert feb["last_trade_date"] == date(2024, 2, 5)
    assert feb["trading_days"] == 3
    assert feb["open_price"] == pytest.approx(11.0 + 1 - 0.25)  # first day's open
    assert feb["close_price"] == pytest.approx(12.0 + 1)  # last day's close
    assert feb["high_price"] == 99.0
    assert feb["low_price"] == 1.0
    assert feb["total_volume"] == 9000
    assert feb["avg_volume"] == pytest.approx(3000.0)
    assert feb["monthly_return_pct"] == pytest.approx((12.0 / 10.0 - 1) * 100)
    # January is the first month in the data; March is absent, so April has no return.
    assert monthly["monthly_return_pct"].isna().tolist() == [True, False, True]
    assert monthly.loc["2024-01", "total_volume"] == 400


def test_monthly_is_per_ticker() -> None:
    raw = pd.concat(
        [
            raw_frame("PETR4", [date(2024, 1, 31), date(2024, 2, 1)], adjusted_closes=[10, 11]),
            raw_frame("VALE3", [date(2024, 2, 1)], adjusted_closes=[50]),
        ],
        ignore_index=True,
    )
    monthly = compute_monthly(raw)
    assert list(zip(monthly["month"], monthly["ticker"])) == [
        ("2024-01", "PETR4"),
        ("2024-02", "PETR4"),
        ("2024-02", "VALE3"),
    ]
    assert monthly["monthly_return_pct"].iloc[1] == pytest.approx(10.0)
    assert math.isnan(monthly["monthly_return_pct"].iloc[2])


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


def _written(lake: Lake, monthly: bool = False) -> pa.Table:
    """Every refined row in the lake, with the partition columns added from the paths."""
    table = lake_module.QUOTES_MONTHLY if monthly else lake_module.QUOTES_DAILY
    partitioning = lake_module.MONTH_PARTITIONING if monthly else lake_module.DATE_PARTITIONING
    target = schema.QUOTES_MONTHLY if monthly else schema.QUOTES_DAILY
    partitions = lake.list_partitions(table, lake_module.REFINED_FILE)
    read = lake.read_partitions(table, partitions, partitioning)
    if read is None:
        return pa.Table.from_pylist([], schema=pa.schema([*target, *partitioning]))
    return read


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
        datetime(2024, 7, 1, 18, 0, tzinfo=timezone.utc),
        datetime(2024, 7, 2, 21, 0, tzinfo=timezone.utc),
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
