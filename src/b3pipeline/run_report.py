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
from decimal import Decimal
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _column_formatter(values: Sequence[Any]) -> tuple[Callable[[Any], str], bool]:
    """One format per column: integers as digits, other numbers with the decimals the
    column needs (up to 4) so points line up; no thousands separators, which read as
    decimal marks in Brazil. Returns (format, right-aligned)."""
    present = [v for v in values if v is not None]
    if not present or not all(_is_number(v) for v in present):
        return (lambda v: "" if v is None else str(v)), False
    if all(isinstance(v, int) for v in present):
        return (lambda v: "" if v is None else str(v)), True
    decimals = max(len(f"{float(v):.4f}".partition(".")[2].rstrip("0")) for v in present)
    return (lambda v: "" if v is None else f"{float(v):.{decimals}f}"), True


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as an aligned text table under a header (numbers right-aligned)."""
    formats = [_column_formatter([row[i] for row in rows]) for i in range(len(columns))]
    cells = [[fmt(v) for v, (fmt, _) in zip(row, formats)] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if right else v.ljust(w) for v, w, (_, right) in zip(values, widths, formats)
        ).rstrip()

    lines = [line(columns), "  ".join("-" * w for w in widths)]
    lines += [line(r) for r in cells]
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


def _named(tickers: Sequence[str]) -> str:
    """The tickers by name up to SUMMARY_TABLE_MAX_ROWS, otherwise their count."""
    if len(tickers) <= SUMMARY_TABLE_MAX_ROWS:
        return ", ".join(tickers)
    return f"{len(tickers)} tickers"


def report_lines(result: PipelineResult, lake: Lake, verbose: bool = False) -> list[str]:
    """The run's notes, summary, failures and outputs as lines (the CLI prints them)."""
    lines = [f"Note: {shortfall}" for shortfall in result.coverage.shortfalls()]
    scraped = result.scrape
    if scraped is None:
        if result.tickers:
            coverage = result.coverage
            window = (
                f" in {coverage.start}..{coverage.end}" if coverage.start and coverage.end else ""
            )
            lines.append(
                f"No trading day: BRAPI has no bar for {_named(result.tickers)}{window} "
                "(a weekend, a holiday, or a day not closed yet); nothing was written."
            )
    else:
        lines.append(
            f"Scraped {scraped.rows} rows for {_named(scraped.tickers)} "
            f"({scraped.dates[0]}..{scraped.dates[-1]}) into {lake.url()}"
        )
    if result.failed:
        lines.append(f"Left out {len(result.failed)} ticker(s); nothing of theirs was written:")
        shown = result.failed[:FAILURES_SHOWN]
        width = max(len(f.ticker) for f in shown)
        lines += [f"  {f.ticker.ljust(width)}  {f.reason}" for f in shown]
        if len(result.failed) > len(shown):
            lines.append(f"  ... and {len(result.failed) - len(shown)} more (see the error below)")
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
