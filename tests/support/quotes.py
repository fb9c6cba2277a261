"""In-memory quote sources and bar builders for tests that must not touch the network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from b3pipeline.brapi import DailyBar, QuoteHistory
from b3pipeline.ticker_pool import TickerFailure


def make_bars(ticker: str, first: date, days: int, base: float = 30.0) -> list[DailyBar]:
    """`days` weekday bars from `first` with prices that move a little every day."""
    bars: list[DailyBar] = []
    day = first
    while len(bars) < days:
        if day.weekday() < 5:
            close = round(base + 0.25 * len(bars) + (0.4 if len(bars) % 3 else -0.3), 2)
            bars.append(
                DailyBar(
                    ticker=ticker,
                    trade_date=day,
                    open=round(close - 0.1, 2),
                    high=round(close + 0.5, 2),
                    low=round(close - 0.6, 2),
                    close=close,
                    adjusted_close=close,
                    volume=1_000_000 + 1_000 * len(bars),
                    currency="BRL",
                )
            )
        day += timedelta(days=1)
    return bars


@dataclass
class StaticQuoteSource:
    """Answers fetch_daily_history from fixed bars, filtered to the window like BRAPI's client.

    `failed` sets tickers aside with a reason. Their bars, if any, are still returned:
    a careless source, to show that nothing of a failed ticker is written regardless.
    """

    bars: list[DailyBar]
    request_range: str = "5d"
    failed: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[list[str], date | None, date | None]] = field(default_factory=list)

    def fetch_daily_history(
        self,
        tickers: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        today: date | None = None,
    ) -> QuoteHistory:
        self.calls.append((list(tickers), start, end))
        selected = [
            b
            for b in self.bars
            if b.ticker in tickers
            and (start is None or b.trade_date >= start)
            and (end is None or b.trade_date <= end)
        ]
        selected.sort(key=lambda b: (b.ticker, b.trade_date))
        failures = [
            TickerFailure(ticker, reason)
            for ticker, reason in sorted(self.failed.items())
            if ticker in tickers
        ]
        spans: dict[str, tuple[date, date]] = {}
        for ticker in tickers:  # like BRAPI, it returns every bar it has; the client filters
            days = [b.trade_date for b in self.bars if b.ticker == ticker]
            if days and ticker not in self.failed:
                spans[ticker] = (min(days), max(days))
        return QuoteHistory(
            bars=selected,
            request_range=self.request_range,
            requested_at=None,
            spans=spans,
            failed=failures,
        )
