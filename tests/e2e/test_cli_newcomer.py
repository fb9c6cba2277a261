"""The `b3pipeline` command as a newcomer meets it: the installed console script run in a
subprocess, its exit code, stdout and stderr, against a BRAPI stand-in on 127.0.0.1.

Every failure is one `error: ...` line that says what to do (exit 1), every unusable
argument argparse's usage error (exit 2); commands that only read never create a lake;
a run writes nothing before everything it reads is known to be good.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from b3pipeline import lake as lake_module
from tests.support.fake_brapi import PETR4_HISTORY_CSV, petr4_fake, serve

pytestmark = pytest.mark.e2e

B3PIPELINE = Path(sys.executable).with_name("b3pipeline")  # what `pip install` put on PATH
QUALITY_SQL = Path(__file__).resolve().parents[2] / "sql" / "quality_check.sql"
# RFC 6761 reserves .invalid: no resolver anywhere answers for it.
UNRESOLVABLE_URL = "http://brapi-stand-in.invalid:8765"
DEMO_WINDOW = ("2022-01-03", "2022-09-09")


def b3pipeline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert B3PIPELINE.is_file(), f"{B3PIPELINE} is missing: install the project (make venv)"
    return subprocess.run(
        [str(B3PIPELINE), *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        timeout=180,
        check=False,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The failure's stderr, which must be exactly one `error: ...` line (exit 1)."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def trading_days(first: str, last: str) -> int:
    """Rows of the stand-in's history (the real PETR4 CSV) dated first..last."""
    with PETR4_HISTORY_CSV.open(newline="", encoding="utf-8") as handle:
        return sum(1 for row in csv.DictReader(handle) if first <= row["Date"] <= last)


def files(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A lake with the demo's window of real PETR4 history, loaded by the CLI once."""
    root = tmp_path_factory.mktemp("newcomer") / "lake"
    env = {**os.environ}
    with serve(petr4_fake()) as url:
        env["BRAPI_BASE_URL"] = url
        done = b3pipeline(
            "backfill",
            "--start",
            DEMO_WINDOW[0],
            "--end",
            DEMO_WINDOW[1],
            "--lake",
            str(root),
            env=env,
        )
    assert done.returncode == 0, done.stderr
    yield root


@pytest.fixture
def lake(backfilled: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(backfilled, tmp_path / "lake"))


@pytest.fixture
def env(brapi_url: str) -> dict[str, str]:
    """The user's environment with BRAPI_BASE_URL on the stand-in (brapi_url sets it)."""
    return dict(os.environ)


# --------------------------------------------------------------------------- no network


def test_no_network_fails_at_once_in_one_line_pointing_to_the_demo(tmp_path: Path) -> None:
    env = {**os.environ, "BRAPI_BASE_URL": UNRESOLVABLE_URL}
    env.pop("LOG_LEVEL", None)

    done = b3pipeline("run", "--lake", str(tmp_path / "lake"), env=env)

    error = one_error_line(done)  # no urllib3 "WARNING ... Retrying" lines before it
    assert "the host brapi-stand-in.invalid of http://brapi-stand-in.invalid:8765 does not" in error
    assert "not retried" in error and "transient" not in error
    assert error.endswith(
        "offline? `make demo` runs the whole pipeline against a local BRAPI stand-in"
    )
    assert files(tmp_path / "lake") == {}

    # With every log shown, urllib3's retries would appear (at DEBUG): there is none.
    verbose = b3pipeline(
        "run", "-v", "--lake", str(tmp_path / "lake"), env={**env, "LOG_LEVEL": "DEBUG"}
    )
    assert verbose.returncode == 1
    assert "Retrying" not in verbose.stderr, verbose.stderr
    assert verbose.stderr.splitlines()[-1] == error


# --------------------------------------------------------------------------- windows


def test_a_window_with_no_bar_says_what_brapi_returned_and_writes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    lake = tmp_path / "lake"

    done = b3pipeline(
        "backfill", "--start", "2023-01-02", "--end", "2023-12-29", "--lake", str(lake), env=env
    )

    error = one_error_line(done)
    assert error.startswith("error: nothing to load: BRAPI returned PETR4 bars from ")
    # The range is the smallest covering 2023-01-02..today: it grows as time passes.
    assert re.search(r"to 2022-09-09 \(range=\w+\), none in 2023-01-02..2023-12-29; ", error)
    assert "No trading day" not in done.stdout
    assert files(lake) == {}  # no raw file, no empty manifest


def test_a_window_reaching_past_the_data_is_loaded_with_a_note(
    env: dict[str, str], tmp_path: Path
) -> None:
    lake = tmp_path / "lake"

    done = b3pipeline(
        "backfill", "--start", "2022-08-01", "--end", "2023-06-30", "--lake", str(lake), env=env
    )

    assert done.returncode == 0, done.stderr
    note, scraped = done.stdout.splitlines()[:2]
    assert re.fullmatch(
        r"Note: BRAPI returned PETR4 bars from \S+ to 2022-09-09 \(range=\w+\): "
        r"loaded 2022-08-01\.\.2022-09-09 of 2022-08-01\.\.2023-06-30",
        note,
    ), note
    days = trading_days("2022-08-01", "2022-09-09")
    assert scraped.startswith(f"Scraped {days} rows for PETR4 (2022-08-01..2022-09-09)")


def test_a_weekend_is_no_trading_day_and_writes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    lake = tmp_path / "lake"

    done = b3pipeline("run", "--date", "2022-09-10", "--lake", str(lake), env=env)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(
        "No trading day: BRAPI has no bar for PETR4 in 2022-09-10..2022-09-10"
    )
    assert files(lake) == {}


# --------------------------------------------------------------------------- check


def test_check_prints_every_count_and_fails_on_a_violation(lake: Path, env: dict[str, str]) -> None:
    window = ["--start", "2022-08-01", "--end", "2022-09-09", "--lake", str(lake)]

    passed = b3pipeline("check", *window, env=env)
    assert (passed.returncode, passed.stderr) == (0, ""), passed.stderr
    out = passed.stdout.splitlines()
    days = trading_days("2022-08-01", "2022-09-09")
    assert out[0] == (
        f"Quality check of PETR4 for 2022-08-01..2022-09-09 in {lake}: {days} raw and {days} "
        "refined daily rows"
    )
    assert out[1].split() == ["check", "violations"]
    assert [line.split() for line in out[3:-1]] == [
        ["missing_in_refined", "0"],
        ["missing_in_raw", "0"],
        ["duplicate_rows", "0"],
        ["partition_mismatches", "0"],
        ["bad_prices", "0"],
        ["inconsistent_ranges", "0"],
        ["bad_volumes", "0"],
        ["total_violations", "0"],
    ]
    assert out[-1] == "Quality check passed: 0 violations"

    (lake / lake_module.quotes_daily_key(date(2022, 8, 15), "PETR4")).unlink()
    failed = b3pipeline("check", *window, env=env)
    assert one_error_line(failed) == (
        "error: quality check failed for 2022-08-01..2022-09-09: missing_in_refined=1 "
        "(inspect with `b3pipeline query` and rerun the window once fixed)"
    )
    counts = dict(line.split() for line in failed.stdout.splitlines()[3:-1])
    assert counts["missing_in_refined"] == "1" and counts["total_violations"] == "1"
    assert failed.stdout.splitlines()[-1] == "Quality check FAILED: 1 violations"

    empty = b3pipeline(
        "check", "--start", "2023-01-02", "--end", "2023-01-31", "--lake", str(lake), env=env
    )
    assert "holds no PETR4 row dated 2023-01-02..2023-01-31: nothing to check" in one_error_line(
        empty
    )


def test_query_of_the_quality_file_points_to_check(lake: Path, env: dict[str, str]) -> None:
    done = b3pipeline("query", "--file", str(QUALITY_SQL), "--lake", str(lake), env=env)

    error = one_error_line(done)
    assert re.search(
        r"the query takes \d+ `\?` parameters and `b3pipeline query` passes none", error
    )
    assert "`b3pipeline check --start YYYY-MM-DD --end YYYY-MM-DD" in error


# --------------------------------------------------------------------------- read only


@pytest.mark.parametrize(
    "command",
    [
        ["query", "SELECT 1"],
        ["check", "--start", "2022-08-01", "--end", "2022-08-31"],
        ["transform", "--start", "2022-08-01", "--end", "2022-08-31"],
    ],
)
def test_commands_that_read_never_create_a_lake(
    command: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    typo = tmp_path / "lkae"

    done = b3pipeline(*command, "--lake", str(typo), env=env)

    assert one_error_line(done) == (
        f"error: the lake folder {typo} does not exist; check --lake (or LAKE_URI); "
        "`b3pipeline run` or `backfill` creates a lake"
    )
    assert not typo.exists()


def test_no_lake_at_all_names_the_option_and_the_setting(env: dict[str, str]) -> None:
    done = b3pipeline("query", "SELECT 1", env=env)

    assert one_error_line(done) == (
        "error: LAKE_URI is not set and no --lake was given: pass --lake ./lake (a folder or "
        "s3://bucket[/prefix]) or set LAKE_URI"
    )


# --------------------------------------------------------------------------- repair


def test_a_bad_raw_file_in_the_lookback_stops_the_run_before_any_write(
    lake: Path, env: dict[str, str]
) -> None:
    bad = lake / lake_module.raw_quotes_key(date(2022, 8, 15), "PETR4")
    bad.write_bytes(b"PAR1 not parquet")
    before = files(lake)

    done = b3pipeline("run", "--date", "2022-09-09", "--lake", str(lake), env=env)

    error = one_error_line(done)
    assert error.startswith(f"error: cannot read raw file {bad} (")
    assert "nothing was written" in error
    fix = "b3pipeline run --tickers PETR4 --date 2022-08-15"
    assert f"`{fix}`" in error
    assert files(lake) == before  # no new raw file, no manifest, no refined file

    repaired = b3pipeline(*fix.split()[1:], "--lake", str(lake), env=env)
    assert repaired.returncode == 0, repaired.stderr
    rerun = b3pipeline("run", "--date", "2022-09-09", "--lake", str(lake), env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "Quality check passed: 0 violations" in rerun.stdout


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["run", "--start", "2022-09-09", "--end", "2022-09-01"],
            "--start 2022-09-09 is after --end 2022-09-01",
        ),
        (["run", "--start", "2022-09-01"], "give both --start and --end, or --date, or neither"),
        (["run", "--date", "2099-01-02"], "2099-01-02 is in the future (today is "),
        (["backfill", "--start", "2022-01-03"], "the following arguments are required: --end"),
    ],
)
def test_unusable_arguments_exit_2_with_the_usage(
    argv: list[str], message: str, env: dict[str, str], tmp_path: Path
) -> None:
    done = b3pipeline(*argv, "--lake", str(tmp_path / "lake"), env=env)

    assert done.returncode == 2, (done.stdout, done.stderr)
    usage, *_, error = done.stderr.splitlines()
    assert usage.startswith(f"usage: b3pipeline {argv[0]} ")
    assert error.startswith(f"b3pipeline {argv[0]}: error: ") and message in error
    assert not (tmp_path / "lake").exists()


# --------------------------------------------------------------------------- polish


def test_sql_errors_are_plain_and_show_tables_is_quiet(lake: Path, env: dict[str, str]) -> None:
    bad = b3pipeline("query", "SELEC nope FROM quotes_daily", "--lake", str(lake), env=env)
    assert one_error_line(bad) == (
        "error: the query is not valid Athena SQL: Invalid expression / Unexpected token at "
        "line 1, column 15 (near 'SELEC nope FROM')"
    )
    assert "\x1b[" not in bad.stderr

    tables = b3pipeline("query", "SHOW TABLES", "--lake", str(lake), env=env)
    assert (tables.returncode, tables.stderr) == (0, "")  # no sqlglot "unsupported" warning
    assert tables.stdout.split() == [
        "name",
        "-" * len("quotes_monthly"),
        "quotes_daily",
        "quotes_monthly",
        "raw_quotes",
        "(3",
        "rows)",
    ]


def test_numbers_have_one_format_per_column(lake: Path, env: dict[str, str]) -> None:
    sql = (
        "SELECT trade_date, volume, close_price, daily_return_pct FROM quotes_daily "
        "WHERE trade_date BETWEEN DATE '2022-09-01' AND DATE '2022-09-09' ORDER BY trade_date"
    )
    done = b3pipeline("query", sql, "--lake", str(lake), env=env)

    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:-1]]
    days = trading_days("2022-09-01", "2022-09-09")
    assert len(rows) == days and done.stdout.splitlines()[-1] == f"({days} rows)"
    for _, volume, close, ret in rows:
        assert volume.isdigit()  # no thousands separator: in Brazil a comma is the decimal mark
        assert len(close.split(".")[1]) == len(rows[0][2].split(".")[1])
        assert len(ret.split(".")[1]) == len(rows[0][3].split(".")[1])
    one = b3pipeline("query", "SELECT 1 AS n", "--lake", str(lake), env=env)
    assert one.stdout.splitlines()[-1] == "(1 row)"


def test_an_unknown_ticker_is_not_offered_as_its_own_example(
    env: dict[str, str], tmp_path: Path
) -> None:
    done = b3pipeline("run", "--tickers", "VALE3", "--lake", str(tmp_path / "lake"), env=env)

    error = one_error_line(done)  # the stand-in serves PETR4 only: VALE3 is its 404
    assert "VALE3 (unknown to BRAPI, HTTP 404: 'Não encontramos a ação VALE3')" in error
    assert "Check those tickers (B3 symbols such as " in error
    assert "VALE3" not in error.split("B3 symbols such as ", 1)[1]


def test_help_pages_describe_the_command_and_every_option(env: dict[str, str]) -> None:
    top = b3pipeline("--help", env=env)
    assert top.returncode == 0
    for command in ("run", "backfill", "transform", "check", "query"):
        assert f"\n    {command} " in top.stdout or f"\n    {command}\n" in top.stdout, top.stdout

    query = b3pipeline("query", "--help", env=env)
    assert query.returncode == 0
    text = " ".join(query.stdout.split())  # argparse wraps lines to the terminal
    assert "Run one Athena (Trino) SQL statement on DuckDB over the whole lake" in text
    assert "--format {table,csv,json} output: an aligned table (default), CSV with a" in text
