-- Data-quality gate for one pipeline run (Athena / Trino dialect; runs locally on DuckDB
-- through sqlglot). Returns ONE row of violation counts for the run's window and tickers;
-- the run passes only when total_violations = 0.
--
-- Positional parameters (Athena ExecutionParameters of the prepared statement, DuckDB
-- prepared-statement values locally). Athena accepts a parameter only in a WHERE clause
-- (not in a SELECT list), so each window below filters on its own copy of the three values:
--   1, 4. first trade date of the window, 'YYYY-MM-DD' (compared with the dt partition text)
--   2, 5. last trade date of the window, 'YYYY-MM-DD'
--   3, 6. the tickers as a JSON array text, '["PETR4","VALE3"]'
-- b3pipeline.quality.quality_check_parameters builds that list; the state machine sends it.
WITH raw_window AS (
    SELECT r.ticker, r.trade_date, r.dt
    FROM raw_quotes AS r
    WHERE r.dt BETWEEN ? AND ?
      AND contains(CAST(json_parse(?) AS array(varchar)), r.ticker)
),
daily_window AS (
    SELECT d.*
    FROM quotes_daily AS d
    WHERE d.dt BETWEEN ? AND ?
      AND contains(CAST(json_parse(?) AS array(varchar)), d.ticker)
),
raw_keys AS (
    SELECT DISTINCT ticker, trade_date FROM raw_window
),
daily_keys AS (
    SELECT DISTINCT ticker, trade_date FROM daily_window
),
counts AS (
    SELECT
        (SELECT count(*) FROM raw_keys AS rk
          WHERE NOT EXISTS (SELECT 1 FROM daily_keys AS dk
                             WHERE dk.ticker = rk.ticker AND dk.trade_date = rk.trade_date)
        ) AS missing_in_refined,
        (SELECT count(*) FROM daily_keys AS dk
          WHERE NOT EXISTS (SELECT 1 FROM raw_keys AS rk
                             WHERE rk.ticker = dk.ticker AND rk.trade_date = dk.trade_date)
        ) AS missing_in_raw,
        (SELECT coalesce(sum(n - 1), 0)
           FROM (SELECT count(*) AS n FROM daily_window GROUP BY ticker, trade_date) AS g
          WHERE n > 1
        ) AS duplicate_rows,
        (SELECT count(*) FROM raw_window WHERE CAST(trade_date AS varchar) <> dt)
        + (SELECT count(*) FROM daily_window WHERE CAST(trade_date AS varchar) <> dt)
        AS partition_mismatches,
        (SELECT count(*) FROM daily_window
          WHERE open_price IS NULL OR high_price IS NULL OR low_price IS NULL
             OR close_price IS NULL OR adj_close_price IS NULL
             OR open_price <= 0 OR high_price <= 0 OR low_price <= 0
             OR close_price <= 0 OR adj_close_price <= 0
        ) AS bad_prices,
        (SELECT count(*) FROM daily_window
          WHERE high_price < low_price
             OR open_price NOT BETWEEN low_price AND high_price
             OR close_price NOT BETWEEN low_price AND high_price
        ) AS inconsistent_ranges,
        (SELECT count(*) FROM daily_window WHERE volume IS NULL OR volume < 0
        ) AS bad_volumes
)
SELECT
    missing_in_refined,
    missing_in_raw,
    duplicate_rows,
    partition_mismatches,
    bad_prices,
    inconsistent_ranges,
    bad_volumes,
    missing_in_refined + missing_in_raw + duplicate_rows + partition_mismatches
        + bad_prices + inconsistent_ranges + bad_volumes AS total_violations
FROM counts
