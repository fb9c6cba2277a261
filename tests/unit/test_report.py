"""The run's chart stays readable and screen-sized for any number of tickers, and what a
large run prints fits a screen."""

from __future__ import annotations

import struct
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from b3pipeline.coverage import Coverage
from b3pipeline.errors import TickersFailedError
from b3pipeline.lake import Lake
from b3pipeline.pipeline import PipelineResult, run_pipeline
from b3pipeline.report import (
    CHART_MAX_HEIGHT_PX,
    CHART_WIDTH_PX,
    PANEL_TICKERS_MAX,
    chart_window,
    write_chart,
)
from b3pipeline.run_report import (
    FAILURES_SHOWN,
    SUMMARY_MOVERS,
    format_table,
    movers,
    report_lines,
    summary_key,
)
from b3pipeline.scrape import ScrapeResult
from b3pipeline.ticker_pool import TickerFailure
from tests.support.quotes import StaticQuoteSource, make_bars

NOW = datetime(2025, 8, 29, 22, 0, tzinfo=UTC)
END = date(2025, 8, 29)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (right after the 8-byte signature)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def tickers(count: int) -> list[str]:
    return [f"M{i // 26:02d}{chr(65 + i % 26)}3" for i in range(count)]


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Two days of 40 tickers, refined: the second day has a return for each."""
    lake = Lake.open(str(tmp_path_factory.mktemp("market") / "lake"))
    names = tickers(40)
    bars = [bar for i, t in enumerate(names) for bar in make_bars(t, date(2025, 8, 28), 2, 10 + i)]
    run_pipeline(StaticQuoteSource(bars), lake, names, date(2025, 8, 28), END, now=NOW)
    return lake


@pytest.mark.parametrize("count", [1, 2, 3, 4, 40])
def test_chart_is_never_taller_than_a_screen(market: Lake, count: int) -> None:
    key = write_chart(market, tickers(count), END)

    width, height = png_size(market.read_bytes(key))

    assert width == CHART_WIDTH_PX == 1210
    assert height <= CHART_MAX_HEIGHT_PX == 990
    expected = {1: 396, 2: 792, 3: 990}.get(count, 715)  # panels, or the market view
    assert height == expected


def test_market_view_reads_only_the_last_date() -> None:
    many = tickers(PANEL_TICKERS_MAX + 1)
    assert chart_window(many, END).start == END
    assert (END - chart_window(many[:PANEL_TICKERS_MAX], END).start).days == 182


def test_market_view_without_returns_still_renders(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    names = tickers(5)
    bars = [bar for t in names for bar in make_bars(t, END, 1)]
    run_pipeline(StaticQuoteSource(bars), lake, names, END, END, now=NOW)

    assert png_size(lake.read_bytes(write_chart(lake, names, END))) == (1210, 715)


# --------------------------------------------------------------------------- summary


def summary_row(ticker: str, ret: float | None) -> dict[str, object]:
    return {
        "ticker": ticker,
        "days": 1,
        "first_date": END,
        "last_date": END,
        "last_close": 10.0,
        "last_return_pct": ret,
        "sma_20": None,
        "sma_50": None,
    }


def result_of(count: int, failed: int = 0) -> PipelineResult:
    names = tickers(count)
    failures = [TickerFailure(f"Z{i:03d}3", f"reason {i}") for i in range(failed)]
    scraped = ScrapeResult(
        "run", names, [END.isoformat()], count, "raw/_manifests/run/_manifest.json", [], failures
    )
    summary = [summary_row(t, (i - count / 2) / 10) for i, t in enumerate(names)]
    return PipelineResult(
        tickers=names,
        coverage=Coverage(start=END, end=END, tickers=[]),
        scrape=scraped,
        summary=summary,
        summary_key=summary_key(END),
        failed=failures,
    )


def test_a_full_market_summary_fits_a_screen(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))

    lines = "\n".join(report_lines(result_of(400, failed=2), lake)).splitlines()

    assert len(lines) <= 30
    assert (
        lines[0] == f"Scraped 400 rows for 400 tickers (2025-08-29..2025-08-29) into {lake.url()}"
    )
    assert lines[1:4] == [
        "Left out 2 ticker(s); nothing of theirs was written:",
        "  Z0003  reason 0",
        "  Z0013  reason 1",
    ]
    assert f"whole table is in the lake: {lake.url('reports/summary_2025-08-29.csv')}" in lines[4]
    text = "\n".join(lines)
    assert "M15J3" in text and "M00A3" in text  # the best (+19.9 %) and the worst (-20 %)
    assert "M07Q3" not in text  # a ticker in the middle


def test_verbose_or_a_small_run_prints_the_whole_table(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))

    verbose = report_lines(result_of(400), lake, verbose=True)
    small = report_lines(result_of(3), lake)

    assert len("\n".join(verbose).splitlines()) == 1 + 2 + 400  # scraped line, header, rows
    assert small[0].startswith("Scraped 3 rows for M00A3, M00B3, M00C3 (")
    assert len("\n".join(small).splitlines()) == 1 + 2 + 3


def test_many_failures_are_counted_after_the_first_ones(tmp_path: Path) -> None:
    lines = report_lines(result_of(100, failed=FAILURES_SHOWN + 7), Lake.open(str(tmp_path)))

    assert "  ... and 7 more (see the error below)" in lines


def test_movers_skip_tickers_without_a_return_and_never_repeat() -> None:
    rows = [summary_row("AAAA3", 2.0), summary_row("BBBB3", None), summary_row("CCCC3", -1.0)]

    top, bottom = movers(rows, SUMMARY_MOVERS)

    assert [r["ticker"] for r in top] == ["AAAA3", "CCCC3"]
    assert bottom == []


def test_failed_tickers_error_names_each_one_and_what_happened_to_the_rest() -> None:
    with pytest.raises(TickersFailedError) as info:
        result_of(400, failed=2).raise_for_failed_tickers()

    assert str(info.value).startswith(
        "2 of 402 tickers failed and were left out (the other 400 were written, refined and "
        "checked): Z0003 (reason 0); Z0013 (reason 1). "
    )
    result_of(3).raise_for_failed_tickers()  # none failed: nothing raised


def test_a_run_in_which_every_ticker_failed_is_not_a_trading_day_question(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    source = StaticQuoteSource(
        make_bars("PETR4", END, 1), failed={"PETR4": "high below low", "ZZZZ3": "unknown"}
    )

    with pytest.raises(TickersFailedError) as info:
        run_pipeline(source, lake, ["PETR4", "ZZZZ3"], END, END, now=NOW, today=END)

    assert str(info.value).startswith(
        "2 of 2 tickers failed and were left out (nothing was written): PETR4 (high below "
        "low); ZZZZ3 (unknown). Check those tickers (B3 symbols such as VALE3, BOVA11, ITUB4)"
    )
    assert lake.list_keys("") == []


def test_a_closed_day_with_a_failed_ticker_is_no_trading_day_then_names_it(
    tmp_path: Path,
) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    saturday = date(2025, 8, 30)
    source = StaticQuoteSource(make_bars("PETR4", END, 1), failed={"ZZZZ3": "unknown"})

    result = run_pipeline(
        source, lake, ["PETR4", "ZZZZ3"], saturday, saturday, now=NOW, today=saturday
    )

    assert result.no_trading_day and result.tickers == ["PETR4"]
    assert report_lines(result, lake)[-2:] == [
        "Left out 1 ticker(s); nothing of theirs was written:",
        "  ZZZZ3  unknown",
    ]
    with pytest.raises(TickersFailedError, match=r"\(the other ticker was without a trading day"):
        result.raise_for_failed_tickers()
    assert lake.list_keys("") == []


def test_table_has_one_number_format_per_column() -> None:
    table = format_table(
        ["ticker", "volume", "close", "ret"],
        [
            ("PETR4", 123456789, 31.4, -0.031415),
            ("VALE3", 5, 60.125, None),
            ("ITUB4", None, 7.0, float("nan")),
        ],
    ).splitlines()
    assert table == [
        "ticker     volume   close      ret",
        "------  ---------  ------  -------",
        "PETR4   123456789  31.400  -0.0314",
        "VALE3           5  60.125",
        "ITUB4               7.000      nan",
    ]
