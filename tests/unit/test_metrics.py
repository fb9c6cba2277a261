"""compute_daily / compute_monthly (b3pipeline.metrics) on hand-checkable frames."""

from __future__ import annotations

import math
import statistics
from datetime import date

import numpy as np
import pandas as pd
import pytest

from b3pipeline.errors import TransformError
from b3pipeline.metrics import compute_daily, compute_monthly
from tests.support.raw_builders import raw_frame, weekdays


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
