"""The PNG chart of a run, readable for any number of tickers and never taller than a screen.

Up to PANEL_TICKERS_MAX tickers: one panel each, adjusted close and its moving averages
over a fixed period, the CHART_CALENDAR_DAYS (about six months) ending at the run's last
date, so drawing it reads the same number of partitions however long the lake's history
is. More tickers (a full market): one market view of the run's last date, the day's
returns as a distribution and the top and bottom movers, which reads that one date only.
Either way the image is CHART_WIDTH_PX wide and at most CHART_MAX_HEIGHT_PX tall.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

# Figure (not pyplot) renders without a display or global backend state.
from matplotlib.figure import Figure

from b3pipeline.catalog import CatalogWindow, LocalCatalog
from b3pipeline.lake import REPORTS, Lake
from b3pipeline.tickers import tickers_json

#: The per-ticker chart's period: the 183 calendar days (six months) up to the last date.
CHART_CALENDAR_DAYS = 183
#: Up to this many tickers get a panel each; more get the market view.
PANEL_TICKERS_MAX = 3
#: Movers shown at each end of the market view.
MARKET_MOVERS = 10
DPI = 110
_WIDTH_IN, _PANEL_IN, _MAX_HEIGHT_IN, _MARKET_HEIGHT_IN = 11.0, 3.6, 9.0, 6.5
CHART_WIDTH_PX = round(_WIDTH_IN * DPI)
#: Fits a 1080-pixel screen with room for a window's title bar.
CHART_MAX_HEIGHT_PX = round(_MAX_HEIGHT_IN * DPI)

_CHART_SQL = """
SELECT ticker, trade_date, adj_close_price, sma_5, sma_20, sma_50
FROM quotes_daily
WHERE trade_date BETWEEN CAST(? AS date) AND CAST(? AS date)
  AND contains(CAST(json_parse(?) AS array(varchar)), ticker)
ORDER BY ticker, trade_date
"""

_MARKET_SQL = """
SELECT ticker, daily_return_pct
FROM quotes_daily
WHERE trade_date BETWEEN CAST(? AS date) AND CAST(? AS date)
  AND contains(CAST(json_parse(?) AS array(varchar)), ticker)
  AND daily_return_pct IS NOT NULL
ORDER BY daily_return_pct DESC, ticker
"""


def chart_key(end: date) -> str:
    return f"{REPORTS}/quotes_{end.isoformat()}.png"


def chart_window(tickers: Sequence[str], end: date) -> CatalogWindow:
    """The partitions the chart of a run ending on `end` reads."""
    if len(tickers) > PANEL_TICKERS_MAX:
        return CatalogWindow(end, end, tuple(tickers))
    return CatalogWindow(end - timedelta(days=CHART_CALENDAR_DAYS - 1), end, tuple(tickers))


def write_chart(lake: Lake, tickers: Sequence[str], end: date) -> str:
    """Draw the run's chart (see the module's docstring) and write it; returns its key.

    Reads quotes_daily of the chart's window only (its own pruned catalog).
    """
    window = chart_window(tickers, end)
    sql = _MARKET_SQL if len(tickers) > PANEL_TICKERS_MAX else _CHART_SQL
    with LocalCatalog(lake, window, tables=("quotes_daily",)) as catalog:
        records = catalog.run_sql(
            sql, [window.start.isoformat(), end.isoformat(), tickers_json(tickers)]
        ).records()
    if len(tickers) > PANEL_TICKERS_MAX:
        figure = _market_figure(records, len(tickers), end)
    else:
        figure = _panels_figure(records, tickers)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    key = chart_key(end)
    lake.write_bytes(key, buffer.getvalue())
    return key


def _panels_figure(records: list[dict[str, Any]], tickers: Sequence[str]) -> Figure:
    height = min(_PANEL_IN * len(tickers), _MAX_HEIGHT_IN)
    figure = Figure(figsize=(_WIDTH_IN, height))
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
    return figure


def _market_figure(records: list[dict[str, Any]], tickers: int, end: date) -> Figure:
    """The day's returns: their distribution (left), the top and bottom movers (right)."""
    figure = Figure(figsize=(_WIDTH_IN, _MARKET_HEIGHT_IN))
    spread, movers = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    returns = [float(r["daily_return_pct"]) for r in records]
    figure.suptitle(
        f"B3 on {end.isoformat()}: daily return of {len(returns)} of {tickers} tickers "
        "(adjusted close, %)"
    )
    if not returns:
        for axis in (spread, movers):
            axis.text(0.5, 0.5, "no daily returns yet", ha="center", transform=axis.transAxes)
            axis.set_axis_off()
        figure.tight_layout()
        return figure

    spread.hist(returns, bins=min(40, max(10, len(returns) // 5)), color="tab:blue", alpha=0.8)
    spread.axvline(0, color="black", lw=0.8)
    up = sum(r > 0 for r in returns)
    down = sum(r < 0 for r in returns)
    spread.set_title(
        f"distribution: {up} up, {down} down, median {statistics.median(returns):+.2f}%"
    )
    spread.set_xlabel("daily return (%)")
    spread.set_ylabel("tickers")
    spread.grid(alpha=0.3)

    count = min(MARKET_MOVERS, len(records) // 2) or len(records)
    top = records[:count]
    bottom = records[-count:] if len(records) > count else []
    shown = top + bottom
    labels = [r["ticker"] for r in shown]
    values = [float(r["daily_return_pct"]) for r in shown]
    positions = list(range(len(shown)))[::-1]
    movers.barh(positions, values, color=["tab:green" if v >= 0 else "tab:red" for v in values])
    movers.set_yticks(positions, labels, fontsize="small")
    movers.axvline(0, color="black", lw=0.8)
    movers.set_title(f"top and bottom {count} movers" if bottom else "movers")
    movers.set_xlabel("daily return (%)")
    movers.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure
