"""The PNG chart of a run: adjusted close and its moving averages, one panel per ticker."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

# Figure (not pyplot) renders without a display or global backend state.
from matplotlib.figure import Figure

from b3pipeline.catalog import LocalCatalog
from b3pipeline.lake import REPORTS, Lake
from b3pipeline.tickers import tickers_json

CHART_TRADING_DAYS = 180

_CHART_SQL = """
SELECT ticker, trade_date, adj_close_price, sma_5, sma_20, sma_50
FROM (
    SELECT *, row_number() OVER (PARTITION BY ticker ORDER BY trade_date DESC) AS recency
    FROM quotes_daily
    WHERE trade_date <= CAST(? AS date)
      AND contains(CAST(json_parse(?) AS array(varchar)), ticker)
) AS recent
WHERE recency <= ?
ORDER BY ticker, trade_date
"""


def chart_key(end: date) -> str:
    return f"{REPORTS}/quotes_{end.isoformat()}.png"


def write_chart(catalog: LocalCatalog, lake: Lake, tickers: Sequence[str], end: date) -> str:
    """Plot the last CHART_TRADING_DAYS up to `end` for each ticker; returns the chart's key."""
    result = catalog.run_sql(
        _CHART_SQL, [end.isoformat(), tickers_json(tickers), CHART_TRADING_DAYS]
    )
    records = result.records()
    figure = Figure(figsize=(11, 3.6 * len(tickers)))
    axes = figure.subplots(len(tickers), 1, squeeze=False)
    for axis, ticker in zip(axes[:, 0], tickers):
        rows = [r for r in records if r["ticker"] == ticker]
        days = [r["trade_date"] for r in rows]
        axis.plot(days, [r["adj_close_price"] for r in rows], label="adj close", lw=1.6)
        for column, style in (("sma_5", ":"), ("sma_20", "--"), ("sma_50", "-.")):
            axis.plot(days, [r[column] for r in rows], style, label=column.upper(), lw=1.1)
        axis.set_title(f"{ticker}: adjusted close and simple moving averages (BRL)")
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize="small")
        if not rows:
            axis.text(0.5, 0.5, "no refined data", ha="center", transform=axis.transAxes)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    key = chart_key(end)
    lake.write_bytes(key, buffer.getvalue())
    return key
