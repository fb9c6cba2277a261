"""What the quote source returned, against the window that was asked for.

A window without a single bar is a weekend, a holiday or a day not closed yet only when it
is a few days long and the source's bars reach it. Otherwise the source covers less than
asked (its history of the ticker starts later or ends earlier: a listing, a delisting, a
stand-in with old data), and the user is told what it returned, never "no trading day".
A window that the source covers only in part is loaded, with a note saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from b3pipeline.brapi import QuoteHistory

#: B3's longest closure: carnival, Saturday to Tuesday (Ash Wednesday trades from 13:00).
#: Up to this many days without a bar at either end of a window are the calendar's doing.
MAX_CLOSED_DAYS = 4


@dataclass(frozen=True)
class TickerCoverage:
    ticker: str
    returned: tuple[date, date] | None  # first and last bar the source returned, any date
    loaded: tuple[date, date] | None  # first and last bar inside the window
    request_range: str

    def describe_returned(self) -> str:
        if self.returned is None:
            return f"BRAPI returned no {self.ticker} bar (range={self.request_range})"
        first, last = self.returned
        return (
            f"BRAPI returned {self.ticker} bars from {first} to {last} (range={self.request_range})"
        )


@dataclass(frozen=True)
class Coverage:
    """Per ticker, what the source returned and what of it fell in the window.

    `start`/`end` are the window asked (None: the latest trading days); `end` is cut to
    `today`, since no source has bars after it. `known` is False when the source did not
    say what it returned (then nothing is reported).
    """

    start: date | None
    end: date | None
    tickers: list[TickerCoverage]
    known: bool = True

    def shortfall(self, ticker: TickerCoverage) -> str | None:
        """Why `ticker` covers less than asked, or None when it covers the window."""
        if not self.known:
            return None
        if self.start is None or self.end is None:
            return None if ticker.loaded else ticker.describe_returned()
        window = f"{self.start}..{self.end}"
        if ticker.loaded is not None:
            first, last = ticker.loaded
            if (first - self.start).days <= MAX_CLOSED_DAYS and (
                self.end - last
            ).days <= MAX_CLOSED_DAYS:
                return None
            return f"{ticker.describe_returned()}: loaded {first}..{last} of {window}"
        if self._closed_days(ticker):
            return None
        return f"{ticker.describe_returned()}, none in {window}"

    def _closed_days(self, ticker: TickerCoverage) -> bool:
        """No bar in a window of a few days that the returned bars reach: a weekend, a
        holiday, or a day whose bar is not out yet."""
        if ticker.returned is None or self.start is None or self.end is None:
            return False
        first, last = ticker.returned
        few_days = (self.end - self.start).days < MAX_CLOSED_DAYS
        reached = first <= self.end and (self.start - last).days <= MAX_CLOSED_DAYS + 1
        return few_days and reached

    def shortfalls(self) -> list[str]:
        """One sentence per ticker that covers less than asked."""
        found = (self.shortfall(ticker) for ticker in self.tickers)
        return [text for text in found if text is not None]


def window_coverage(
    history: QuoteHistory,
    tickers: Sequence[str],
    start: date | None,
    end: date | None,
    today: date,
) -> Coverage:
    """Compare what `history` holds with the window [start, end] asked of the source."""
    loaded: dict[str, tuple[date, date]] = {}
    for bar in history.bars:  # sorted by (ticker, trade_date)
        first = loaded.get(bar.ticker, (bar.trade_date, bar.trade_date))[0]
        loaded[bar.ticker] = (first, bar.trade_date)
    spans = history.spans or {}
    return Coverage(
        start=start,
        end=min(end, today) if end is not None else None,
        tickers=[
            TickerCoverage(
                ticker=ticker,
                returned=spans.get(ticker),
                loaded=loaded.get(ticker),
                request_range=history.request_range,
            )
            for ticker in tickers
        ],
        known=history.spans is not None,
    )
