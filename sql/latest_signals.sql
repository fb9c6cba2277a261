-- Latest quote per ticker with its moving averages and SMA crossover signals
-- (Athena / Trino dialect). A golden cross is SMA 20 rising above SMA 50 on the latest
-- trading day; a death cross is SMA 20 falling below it.
WITH ordered AS (
    SELECT
        ticker,
        trade_date,
        close_price,
        adj_close_price,
        daily_return_pct,
        sma_5,
        sma_20,
        sma_50,
        volatility_20d_pct,
        lag(sma_20) OVER (PARTITION BY ticker ORDER BY trade_date) AS prev_sma_20,
        lag(sma_50) OVER (PARTITION BY ticker ORDER BY trade_date) AS prev_sma_50,
        row_number() OVER (PARTITION BY ticker ORDER BY trade_date DESC) AS recency
    FROM quotes_daily
)
SELECT
    ticker,
    trade_date,
    close_price,
    round(daily_return_pct, 2) AS daily_return_pct,
    round(sma_5, 2) AS sma_5,
    round(sma_20, 2) AS sma_20,
    round(sma_50, 2) AS sma_50,
    round(volatility_20d_pct, 2) AS volatility_20d_pct,
    CASE
        WHEN sma_20 IS NULL OR sma_50 IS NULL THEN 'insufficient_history'
        WHEN sma_20 > sma_50 THEN 'bullish'
        WHEN sma_20 < sma_50 THEN 'bearish'
        ELSE 'neutral'
    END AS trend,
    CASE
        WHEN prev_sma_20 <= prev_sma_50 AND sma_20 > sma_50 THEN 'golden_cross'
        WHEN prev_sma_20 >= prev_sma_50 AND sma_20 < sma_50 THEN 'death_cross'
        ELSE 'none'
    END AS crossover,
    CASE
        WHEN adj_close_price > sma_5 AND sma_5 > sma_20 THEN 'above_short_averages'
        WHEN adj_close_price < sma_5 AND sma_5 < sma_20 THEN 'below_short_averages'
        ELSE 'mixed'
    END AS momentum
FROM ordered
WHERE recency = 1
ORDER BY ticker
