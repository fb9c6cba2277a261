"""What a local run prints: a summary that fits a screen whatever the number of tickers.

A handful of tickers get the whole per-ticker table. A large run (a full market) gets its
counts, the tickers left out with their reasons, and the top and bottom movers; the whole
table is in the lake (`reports/summary_<last date>.csv`, written every run) and printed
with `--verbose`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from b3pipeline.lake import REPORTS, Lake

if TYPE_CHECKING:
    from b3pipeline.pipeline import PipelineResult

#: Up to this many tickers the summary prints the whole table and names every ticker.
SUMMARY_TABLE_MAX_ROWS = 10
#: Movers printed at each end of a large run's summary.
SUMMARY_MOVERS = 5
#: Failed tickers listed in the summary; the error line names every one.
FAILURES_SHOWN = 10
RETURN_COLUMN = "last_return_pct"


def summary_key(end: date) -> str:
    return f"{REPORTS}/summary_{end.isoformat()}.csv"


def write_summary_csv(lake: Lake, summary: Sequence[dict[str, Any]], end: date) -> str:
    """The whole per-ticker summary table as CSV in the lake; returns its key."""
    buffer = io.StringIO()
    if summary:
        writer = csv.DictWriter(buffer, fieldnames=list(summary[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(summary)
    key = summary_key(end)
    lake.write_bytes(key, buffer.getvalue().encode("utf-8"))
    return key


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:,.4f}".rstrip("0").rstrip(".")
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _records_table(records: Sequence[dict[str, Any]]) -> str:
    return format_table(list(records[0]), [tuple(r.values()) for r in records])


def movers(
    summary: Sequence[dict[str, Any]], count: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The `count` best and worst tickers by their last daily return (tickers without one,
    e.g. on their first day in the lake, are left out; a ticker is in one list only)."""
    ranked = sorted(
        (r for r in summary if r.get(RETURN_COLUMN) is not None),
        key=lambda r: (-r[RETURN_COLUMN], r["ticker"]),
    )
    top = ranked[:count]
    return top, ranked[max(len(top), len(ranked) - count) :]


def report_lines(result: PipelineResult, lake: Lake, verbose: bool = False) -> list[str]:
    """The run's summary, failures and outputs as lines (the CLI prints them)."""
    scraped = result.scrape
    lines: list[str] = []
    if scraped.rows:
        named = (
            ", ".join(scraped.tickers)
            if len(scraped.tickers) <= SUMMARY_TABLE_MAX_ROWS
            else f"{len(scraped.tickers)} tickers"
        )
        lines.append(
            f"Scraped {scraped.rows:,} rows for {named} "
            f"({scraped.dates[0]}..{scraped.dates[-1]}) into {lake.url()}"
        )
    if scraped.failed:
        lines.append(f"Left out {len(scraped.failed)} ticker(s); nothing of theirs was written:")
        shown = scraped.failed[:FAILURES_SHOWN]
        width = max(len(f.ticker) for f in shown)
        lines += [f"  {f.ticker.ljust(width)}  {f.reason}" for f in shown]
        if len(scraped.failed) > len(shown):
            lines.append(f"  ... and {len(scraped.failed) - len(shown)} more (see the error below)")
    lines += _summary_lines(result, lake.url, verbose)
    if result.quality is not None:
        verdict = "passed" if result.quality.passed else "FAILED"
        lines.append(f"Quality check {verdict}: {result.quality.total_violations} violations")
    if result.chart_key:
        lines.append(f"Chart: {lake.url(result.chart_key)}")
    return lines


def _summary_lines(result: PipelineResult, url: Callable[[str], str], verbose: bool) -> list[str]:
    summary = result.summary
    if not summary:
        return []
    where = f": {url(result.summary_key)}" if result.summary_key else ""
    if verbose or len(summary) <= SUMMARY_TABLE_MAX_ROWS:
        return [_records_table(summary)]
    top, bottom = movers(summary, SUMMARY_MOVERS)
    lines = [f"{len(summary)} tickers; the whole table is in the lake{where} (or use --verbose)"]
    if not top:
        return [*lines, "No daily returns yet (each ticker's first day in the lake)"]
    lines += [f"Top {len(top)} by last daily return (%):", _records_table(top)]
    if bottom:
        lines += [f"Bottom {len(bottom)}:", _records_table(bottom)]
    return lines
