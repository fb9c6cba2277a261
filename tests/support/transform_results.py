"""A TransformResult as run_transform reports it, for tests of what consumes one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from b3pipeline.lake import month_of, quotes_daily_key, quotes_monthly_key
from b3pipeline.transform import TransformResult


def transform_result(
    tickers: list[str],
    days: Sequence[date],
    processed_at: datetime,
    tickers_without_data: Sequence[str] = (),
) -> TransformResult:
    """One daily file per (day, ticker) and one monthly file per (month, ticker)."""
    months = sorted({month_of(day) for day in days})
    daily = [quotes_daily_key(day, t) for day in days for t in tickers]
    monthly = [quotes_monthly_key(m, t) for m in months for t in tickers]
    return TransformResult(
        tickers=tickers,
        start=min(days),
        end=max(days),
        processed_at=processed_at,
        daily_rows=len(daily),
        monthly_rows=len(monthly),
        daily_keys=daily,
        monthly_keys=monthly,
        dates=sorted(days),
        months=months,
        tickers_without_data=list(tickers_without_data),
    )
