"""The PNG chart of a run: adjusted close and its moving averages, one panel per ticker.

The chart covers a fixed period, the CHART_CALENDAR_DAYS (about six months) ending at the
run's last date, so drawing it reads the same number of partitions however long the
lake's history is.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta

# Figure (not pyplot) renders without a display or global backend state.
from matplotlib.figure import Figure

from b3pipeline.catalog import CatalogWindow, LocalCatalog
from b3pipeline.lake import REPORTS, Lake
from b3pipeline.tickers import tickers_json

#: The chart's period: the 183 calendar days (six months) up to the run's last date.
CHART_CALENDAR_DAYS = 183

_CHART_SQL = """
SELECT ticker, trade_date, adj_close_price, sma_5, sma_20, sma_50
FROM quotes_daily
WHERE trade_date BETWEEN CAST(? AS date) AND CAST(? AS date)
  AND contains(CAST(json_parse(?) AS array(varchar)), ticker)
ORDER BY ticker, trade_date
"""


def chart_key(end: date) -> str:
    return f"{REPORTS}/quotes_{end.isoformat()}.png"


def chart_window(tickers: Sequence[str], end: date) -> CatalogWindow:
    """The partitions the chart of a run ending on `end` reads."""
    return CatalogWindow(end - timedelta(days=CHART_CALENDAR_DAYS - 1), end, tuple(tickers))


def write_chart(lake: Lake, tickers: Sequence[str], end: date) -> str:
    """Plot the chart period up to `end` for each ticker; returns the chart's key.

    Reads quotes_daily of the chart's window only (its own pruned catalog).
    """
    window = chart_window(tickers, end)
    with LocalCatalog(lake, window, tables=("quotes_daily",)) as catalog:
        result = catalog.run_sql(
            _CHART_SQL, [window.start.isoformat(), end.isoformat(), tickers_json(tickers)]
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
