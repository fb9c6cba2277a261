-- Monthly summary per ticker: price range, volume and return of every month in the lake,
-- newest first (Athena / Trino dialect).
SELECT
    ticker,
    month,
    first_trade_date,
    last_trade_date,
    trading_days,
    open_price,
    close_price,
    high_price,
    low_price,
    round(avg_volume, 0) AS avg_volume,
    total_volume,
    round(monthly_return_pct, 2) AS monthly_return_pct,
    round((high_price / low_price - 1) * 100, 2) AS monthly_range_pct
FROM quotes_monthly
ORDER BY ticker, month DESC
