"""The `b3pipeline` command: arguments, exit codes, one-line errors and output formats."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from b3pipeline import cli
from b3pipeline.lake import Lake
from b3pipeline.quality import QualityReport
from b3pipeline.settings import Settings
from tests.support.quotes import StaticQuoteSource, make_bars

BARS = make_bars("PETR4", date(2025, 8, 25), 5)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "LAKE_URI",
        "B3_TICKERS",
        "BRAPI_TOKEN",
        "BRAPI_BASE_URL",
        "LOG_LEVEL",
        "LAKE_IO_CONCURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> StaticQuoteSource:
    """BRAPI replaced by in-memory bars (unit tests have no network)."""
    fake = StaticQuoteSource(list(BARS))
    monkeypatch.setattr(cli, "_client", lambda settings: fake)
    return fake


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_run_prints_summary_and_quality(
    source: StaticQuoteSource, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--tickers", "petr4", "--lake", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Scraped 5 rows for PETR4 (2025-08-25..2025-08-29)" in out
    assert "Quality check passed: 0 violations" in out
    assert (tmp_path / "reports" / "quotes_2025-08-29.png").exists()
    assert source.calls == [(["PETR4"], None, None)]


def test_date_and_window_reach_the_source(source: StaticQuoteSource, tmp_path: Path) -> None:
    assert cli.main(["run", "--date", "2025-08-27", "--lake", str(tmp_path)]) == 0
    window = ["--start", "2025-08-26", "--end", "2025-08-28"]
    assert cli.main(["run", *window, "--lake", str(tmp_path)]) == 0
    assert [c[1:] for c in source.calls] == [
        (date(2025, 8, 27), date(2025, 8, 27)),
        (date(2025, 8, 26), date(2025, 8, 28)),
    ]


def test_lake_and_tickers_come_from_settings(
    source: StaticQuoteSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_URI", str(tmp_path / "from-env"))
    monkeypatch.setenv("B3_TICKERS", "PETR4")
    assert cli.main(["run"]) == 0
    assert (tmp_path / "from-env" / "raw" / "quotes").is_dir()


def test_no_trading_day_exits_zero_and_writes_nothing(
    source: StaticQuoteSource, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--date", "2025-08-30", "--lake", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        "No trading day: BRAPI has no bar for PETR4 in 2025-08-30..2025-08-30 (a weekend, "
        "a holiday, or a day not closed yet); nothing was written.\n"
    )
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # not even a manifest


def test_a_window_the_source_does_not_cover_fails_saying_what_it_returned(
    source: StaticQuoteSource, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = ["--start", "2025-09-01", "--end", "2025-09-30"]
    assert cli.main(["backfill", *window, "--lake", str(tmp_path)]) == 1
    assert _one_line_error(capsys) == (
        "error: nothing to load: BRAPI returned PETR4 bars from 2025-08-25 to 2025-08-29 "
        "(range=5d), none in 2025-09-01..2025-09-30; nothing was written: choose a window "
        "within the dates BRAPI has"
    )
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_window_reaching_past_the_source_loads_what_there_is_with_a_note(
    source: StaticQuoteSource, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = ["--start", "2025-08-25", "--end", "2025-09-30"]
    assert cli.main(["backfill", *window, "--lake", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "Note: BRAPI returned PETR4 bars from 2025-08-25 to 2025-08-29 (range=5d): loaded "
        "2025-08-25..2025-08-29 of 2025-08-25..2025-09-30"
    )
    assert out[1].startswith("Scraped 5 rows for PETR4 (2025-08-25..2025-08-29)")


def test_failed_quality_gate_exits_one_with_the_counts(
    source: StaticQuoteSource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing_gate(catalog: object, start: date, end: date, tickers: list[str]) -> QualityReport:
        counts = {"bad_prices": 2, "bad_volumes": 0, "total_violations": 2}
        return QualityReport(start=start, end=end, tickers=tickers, counts=counts)

    monkeypatch.setattr("b3pipeline.pipeline.run_quality_check", failing_gate)
    assert cli.main(["run", "--lake", str(tmp_path)]) == 1
    err = _one_line_error(capsys)
    assert "quality check failed for 2025-08-25..2025-08-29: bad_prices=2" in err


def test_missing_lake_names_the_setting_and_the_option(
    source: StaticQuoteSource, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run"]) == 1
    error = _one_line_error(capsys)
    assert "LAKE_URI is not set" in error and "--lake" in error


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--date", "29/08/2025"], "is not a date like 2025-08-29"),
        (["run", "--tickers", "PETR4,BAD-1"], "'BAD-1' is not a B3 ticker"),
        (["backfill", "--start", "2025-08-01"], "the following arguments are required: --end"),
        (["run", "--start", "2025-08-26"], "give both --start and --end"),
        (["run", "--end", "2025-08-26"], "give both --start and --end"),
        (["run", "--start", "2025-08-28", "--end", "2025-08-26"], "is after --end 2025-08-26"),
        (["backfill", "--start", "2025-08-28", "--end", "2025-08-26"], "is after --end"),
        (["run", "--date", "2099-01-02"], "2099-01-02 is in the future (today is"),
        (["backfill", "--start", "2025-01-02", "--end", "2099-01-02"], "is in the future"),
        (["transform", "--start", "2025-08-28", "--end", "2025-08-26"], "is after --end"),
        (["check", "--start", "2025-08-28", "--end", "2025-08-26"], "is after --end"),
    ],
)
def test_unusable_arguments_are_usage_errors_and_write_nothing(
    source: StaticQuoteSource,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--lake", str(tmp_path / "lake")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: b3pipeline ") and message in err, err
    assert source.calls == []
    assert not (tmp_path / "lake").exists()


def test_query_formats(
    source: StaticQuoteSource, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--lake", str(tmp_path)]) == 0
    capsys.readouterr()
    sql = "SELECT trade_date, close_price FROM quotes_daily ORDER BY trade_date DESC LIMIT 2"
    expected = sorted(BARS, key=lambda b: b.trade_date, reverse=True)[:2]

    assert cli.main(["query", sql, "--format", "json", "--lake", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"trade_date": str(b.trade_date), "close_price": b.close} for b in expected]

    assert cli.main(["query", sql, "--format", "csv", "--lake", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "trade_date,close_price",
        *(f"{b.trade_date},{b.close}" for b in expected),
    ]

    assert cli.main(["query", sql, "--lake", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["trade_date", "close_price"]
    assert table[2].split() == [str(expected[0].trade_date), f"{expected[0].close:.2f}"]
    assert table[-1] == "(2 rows)"


def _subcommands(parser: argparse.ArgumentParser, prefix: str) -> dict[str, Any]:
    """Every (nested) subcommand of a parser by its full name, e.g. `aws run`."""
    found: dict[str, Any] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                found[f"{prefix}{name}"] = command
                found.update(_subcommands(command, f"{prefix}{name} "))
    return found


def test_every_command_and_option_explains_itself() -> None:
    commands = _subcommands(cli.build_parser(), "")
    assert set(commands) == {"run", "backfill", "transform", "check", "query", "aws", "aws run"}
    for name, command in commands.items():
        assert command.description, f"`b3pipeline {name} --help` has no description"
        for action in command._actions:
            assert action.help, f"`b3pipeline {name}` option {action.dest} has no help"


def test_logging_filters_are_installed_once() -> None:
    settings = Settings()
    for _ in range(3):
        cli.configure_logging(settings, verbose=False)
    retry_filters = logging.getLogger("urllib3.connectionpool").filters
    sqlglot_filters = logging.getLogger("sqlglot").filters
    assert [type(f).__name__ for f in retry_filters] == ["RetryLogAsDebug"]
    assert [type(f).__name__ for f in sqlglot_filters] == ["DropCommandFallbackWarning"]


def test_query_errors_exit_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["query", "SELECT nope FROM quotes_daily", "--lake", str(tmp_path)]) == 1
    first, *pointer = capsys.readouterr().err.splitlines()
    assert first.startswith("error: the query failed on the local catalog:") and "nope" in first
    assert any("^" in line for line in pointer)  # DuckDB's pointer to the bad token stays
    assert (
        cli.main(["query", "--file", str(tmp_path / "missing.sql"), "--lake", str(tmp_path)]) == 1
    )
    assert "cannot read the query file" in _one_line_error(capsys)


def test_transform_recomputes_refined_from_the_raw_in_the_lake(
    source: StaticQuoteSource, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--lake", str(tmp_path)]) == 0
    daily = tmp_path / "refined" / "quotes_daily"
    before = {p.relative_to(daily) for p in daily.rglob("*.parquet")}
    shutil.rmtree(tmp_path / "refined")
    capsys.readouterr()
    window = ["--start", "2025-08-26", "--end", "2025-08-28"]
    assert (
        cli.main(["transform", "--tickers", "PETR4,VALE3", *window, "--lake", str(tmp_path)]) == 0
    )
    out = capsys.readouterr().out
    assert "Transformed 2025-08-26..2025-08-28 for PETR4, VALE3" in out
    assert "5 raw files read, 3 daily and 1 monthly rows written" in out
    assert "No raw data in the window for VALE3" in out
    assert {p.relative_to(daily) for p in daily.rglob("*.parquet")} == {
        p for p in before if p.parts[0] in ("dt=2025-08-26", "dt=2025-08-27", "dt=2025-08-28")
    }
    assert source.calls == [(["PETR4"], None, None)]  # transform never asks BRAPI


def test_transform_needs_a_window(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["transform", "--start", "2025-08-01"])
    assert exit_info.value.code == 2
    assert "--end" in capsys.readouterr().err


def test_info_logs_only_with_verbose(
    source: StaticQuoteSource, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert cli.main(["run", "--lake", str(tmp_path)]) == 0
    assert [r for r in caplog.records if r.levelno < logging.WARNING] == []
    caplog.clear()
    assert cli.main(["run", "--lake", str(tmp_path), "--verbose"]) == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "b3pipeline.transform"]
    assert any("raw file(s) to read" in m for m in messages)
    logging.getLogger("b3pipeline").setLevel(logging.NOTSET)


def test_one_progress_bar_per_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    bars: list[dict[str, object]] = []

    class FakeBar:
        def __init__(self, desc: str, total: int, **options: object) -> None:
            self.n = 0
            self.state: dict[str, object] = {"desc": desc, "total": total, "n": 0, "closed": False}
            bars.append(self.state)

        def update(self, step: int) -> None:
            self.n += step
            self.state["n"] = self.n

        def close(self) -> None:
            self.state["closed"] = True

    monkeypatch.setattr("tqdm.tqdm", FakeBar)
    progress = cli.PhaseBars()
    for done in range(1, 4):
        progress("raw files written", done, 3)
    progress("raw files read", 1, 2)
    progress("raw files read", 2, 2)
    progress.close()
    assert bars == [
        {"desc": "raw files written", "total": 3, "n": 3, "closed": True},
        {"desc": "raw files read", "total": 2, "n": 2, "closed": True},
    ]


def test_lake_io_concurrency_reaches_the_lake(
    source: StaticQuoteSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real_open = Lake.open

    def spy(uri: str, concurrency: int = 32, *, create: bool = True) -> Lake:
        opened.append(concurrency)
        return real_open(uri, concurrency, create=create)

    monkeypatch.setattr(Lake, "open", spy)
    monkeypatch.setenv("LAKE_IO_CONCURRENCY", "5")
    assert cli.main(["run", "--lake", str(tmp_path)]) == 0
    assert opened == [5]
