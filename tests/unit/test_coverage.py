"""What BRAPI returned against the window asked: closed days told apart from missing data."""

from __future__ import annotations

from datetime import date

import pytest

from b3pipeline.brapi import DailyBar, QuoteHistory
from b3pipeline.coverage import MAX_CLOSED_DAYS, window_coverage
from tests.support.quotes import make_bars

TODAY = date(2026, 3, 20)
# B3 closed for carnival 2026: Saturday 14 to Tuesday 17 February (Ash Wednesday trades).
CARNIVAL = (date(2026, 2, 14), date(2026, 2, 17))


def _history(
    bars: list[DailyBar],
    start: date | None,
    end: date | None,
    spans: dict[str, tuple[date, date]] | None,
) -> QuoteHistory:
    kept = [
        b
        for b in bars
        if (start is None or b.trade_date >= start) and (end is None or b.trade_date <= end)
    ]
    return QuoteHistory(bars=kept, request_range="1y", requested_at=None, spans=spans)


def _shortfalls(
    bars: list[DailyBar], start: date | None, end: date | None, *, known: bool = True
) -> list[str]:
    days = [b.trade_date for b in bars]
    spans = {"PETR4": (min(days), max(days))} if known and days else ({} if known else None)
    history = _history(bars, start, end, spans)
    return window_coverage(history, ["PETR4"], start, end, TODAY).shortfalls()


def _weekdays(first: date, last: date) -> list[DailyBar]:
    """PETR4 bars on every weekday first..last except the carnival days."""
    bars = make_bars("PETR4", first, (last - first).days + 1)
    return [
        b for b in bars if b.trade_date <= last and not CARNIVAL[0] <= b.trade_date <= CARNIVAL[1]
    ]


UP_TO_TODAY = _weekdays(date(2025, 6, 2), TODAY)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 3, 14), date(2026, 3, 15)),  # a weekend
        (date(2026, 3, 15), date(2026, 3, 15)),  # a Sunday
        CARNIVAL,  # four closed days in a row, the longest B3 closure
        (date(2026, 2, 17), date(2026, 2, 17)),  # carnival Tuesday alone
        (TODAY, TODAY),  # today, before BRAPI has the day's bar
    ],
)
def test_a_few_closed_days_are_no_trading_day_not_a_shortfall(start: date, end: date) -> None:
    bars = [b for b in UP_TO_TODAY if b.trade_date < TODAY]  # today's bar not out yet
    assert _shortfalls(bars, start, end) == []
    assert (end - start).days < MAX_CLOSED_DAYS


def test_a_window_after_the_source_history_says_what_it_returned() -> None:
    old = _weekdays(date(2018, 9, 12), date(2022, 9, 9))
    assert _shortfalls(old, date(2023, 1, 2), date(2023, 12, 29)) == [
        "BRAPI returned PETR4 bars from 2018-09-12 to 2022-09-09 (range=1y), "
        "none in 2023-01-02..2023-12-29"
    ]
    # One day is no holiday either when the bars stop long before it.
    assert _shortfalls(old, date(2025, 8, 29), date(2025, 8, 29)) == [
        "BRAPI returned PETR4 bars from 2018-09-12 to 2022-09-09 (range=1y), "
        "none in 2025-08-29..2025-08-29"
    ]


def test_a_window_reaching_beyond_the_data_is_loaded_with_a_note() -> None:
    old = _weekdays(date(2018, 9, 12), date(2022, 9, 9))
    assert _shortfalls(old, date(2022, 6, 1), date(2023, 6, 30)) == [
        "BRAPI returned PETR4 bars from 2018-09-12 to 2022-09-09 (range=1y): "
        "loaded 2022-06-01..2022-09-09 of 2022-06-01..2023-06-30"
    ]
    late = _weekdays(date(2025, 11, 3), TODAY)  # a listing in November
    assert _shortfalls(late, date(2025, 6, 2), date(2025, 12, 31)) == [
        "BRAPI returned PETR4 bars from 2025-11-03 to 2026-03-20 (range=1y): "
        "loaded 2025-11-03..2025-12-31 of 2025-06-02..2025-12-31"
    ]


def test_windows_the_source_covers_give_no_note() -> None:
    assert _shortfalls(UP_TO_TODAY, date(2025, 6, 1), date(2026, 3, 31)) == []  # end > today
    assert _shortfalls(UP_TO_TODAY, *CARNIVAL) == []
    # Starting on a Saturday before carnival: the first bar is four days later.
    assert _shortfalls(UP_TO_TODAY, date(2026, 2, 14), date(2026, 3, 6)) == []
    assert _shortfalls(UP_TO_TODAY, None, None) == []  # the latest days


def test_nothing_returned_at_all_is_a_shortfall_even_for_one_day() -> None:
    assert _shortfalls([], None, None) == ["BRAPI returned no PETR4 bar (range=1y)"]
    assert _shortfalls([], TODAY, TODAY) == [
        "BRAPI returned no PETR4 bar (range=1y), none in 2026-03-20..2026-03-20"
    ]


def test_a_source_that_does_not_say_what_it_returned_reports_nothing() -> None:
    old = _weekdays(date(2018, 9, 12), date(2022, 9, 9))
    assert _shortfalls(old, date(2023, 1, 2), date(2023, 12, 29), known=False) == []


def test_each_ticker_is_judged_on_its_own() -> None:
    bars = make_bars("PETR4", date(2026, 1, 5), 40) + make_bars("VALE3", date(2026, 2, 23), 10)
    history = QuoteHistory(
        bars=bars,
        request_range="3mo",
        requested_at=None,
        spans={
            "PETR4": (date(2026, 1, 5), date(2026, 2, 27)),
            "VALE3": (date(2026, 2, 23), date(2026, 3, 6)),
        },
    )
    coverage = window_coverage(
        history, ["PETR4", "VALE3", "ITUB4"], date(2026, 1, 5), date(2026, 3, 6), TODAY
    )
    assert coverage.shortfalls() == [
        "BRAPI returned PETR4 bars from 2026-01-05 to 2026-02-27 (range=3mo): "
        "loaded 2026-01-05..2026-02-27 of 2026-01-05..2026-03-06",
        "BRAPI returned VALE3 bars from 2026-02-23 to 2026-03-06 (range=3mo): "
        "loaded 2026-02-23..2026-03-06 of 2026-01-05..2026-03-06",
        "BRAPI returned no ITUB4 bar (range=3mo), none in 2026-01-05..2026-03-06",
    ]
