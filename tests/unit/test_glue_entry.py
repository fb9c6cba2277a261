"""The Glue entry: argument parsing (with and without awsglue) and the main() contract."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from b3pipeline.errors import InvalidDateRangeError, InvalidTickerError
from b3pipeline.lake import Lake, quotes_daily_key, quotes_monthly_key
from tests.support.raw_builders import raw_frame, weekdays, write_raw

SCRIPT = Path(__file__).resolve().parents[2] / "glue" / "transform_job.py"


def _load_job() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("glue_transform_job", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module


job = _load_job()

GLUE_ARGV = [
    "/tmp/glue-python-scripts-x/transform_job.py",
    "--job-bookmark-option",
    "job-bookmark-disable",
    "--lake_uri",
    "s3://bucket/lake",
    "--JOB_ID",
    "j_0123",
    "--tickers",
    "PETR4,vale3",
    "--start_date",
    "2024-06-03",
    "--JOB_RUN_ID",
    "jr_0123",
    "--end_date",
    "2024-06-05",
    "--JOB_NAME",
    "b3-transform",
]


@pytest.fixture(autouse=True)
def _no_awsglue(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the fake below may provide awsglue; a real one must not leak into these tests.
    monkeypatch.setitem(sys.modules, "awsglue", None)
    monkeypatch.setitem(sys.modules, "awsglue.utils", None)


def test_fallback_parser_reads_glue_style_arguments_and_ignores_the_others() -> None:
    arguments = job.parse_arguments(GLUE_ARGV)
    assert arguments == job.TransformJobArguments(
        lake_uri="s3://bucket/lake",
        tickers=["PETR4", "VALE3"],
        start_date=date(2024, 6, 3),
        end_date=date(2024, 6, 5),
    )


def test_tickers_may_be_a_json_array() -> None:
    argv = [*GLUE_ARGV]
    argv[argv.index("PETR4,vale3")] = '["ITUB4","PETR4"]'
    assert job.parse_arguments(argv).tickers == ["ITUB4", "PETR4"]


def test_awsglue_get_resolved_options_is_used_when_importable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[list[str], list[str]]] = []

    def get_resolved_options(argv: list[str], names: list[str]) -> dict[str, str]:
        calls.append((argv, names))
        return {
            "lake_uri": "s3://from-glue",
            "tickers": "BOVA11",
            "start_date": "2024-01-02",
            "end_date": "2024-01-31",
        }

    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options  # type: ignore[attr-defined]
    package = types.ModuleType("awsglue")
    package.utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", package)
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)

    arguments = job.parse_arguments(GLUE_ARGV)
    assert calls == [(GLUE_ARGV, ["lake_uri", "tickers", "start_date", "end_date"])]
    assert arguments.lake_uri == "s3://from-glue"
    assert arguments.tickers == ["BOVA11"]
    assert (arguments.start_date, arguments.end_date) == (date(2024, 1, 2), date(2024, 1, 31))


@pytest.mark.parametrize(
    ("replace", "value", "error", "match"),
    [
        ("2024-06-03", "03/06/2024", InvalidDateRangeError, "--start_date '03/06/2024'"),
        ("2024-06-05", "2024-06-01", InvalidDateRangeError, "is after --end_date"),
        ("PETR4,vale3", "PETR", InvalidTickerError, "not a B3 ticker"),
    ],
)
def test_bad_arguments_are_clear_errors(
    replace: str, value: str, error: type[Exception], match: str
) -> None:
    argv = [value if item == replace else item for item in GLUE_ARGV]
    with pytest.raises(error, match=match):
        job.parse_arguments(argv)


def test_a_missing_argument_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        job.parse_arguments(["transform_job.py", "--lake_uri", "/tmp/x"])
    assert exited.value.code != 0
    assert "--tickers" in capsys.readouterr().err


def test_main_runs_the_transform_and_logs_a_json_summary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lake_dir = tmp_path / "lake"
    write_raw(Lake.open(str(lake_dir)), raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    argv = [
        "transform_job.py",
        "--lake_uri",
        str(lake_dir),
        "--tickers",
        "PETR4",
        "--start_date",
        "2024-06-04",
        "--end_date",
        "2024-06-05",
        "--JOB_ID",
        "j_1",
    ]
    caplog.set_level("INFO")
    assert job.main(argv) == 0
    lake = Lake.open(str(lake_dir))
    assert lake.exists(quotes_daily_key(date(2024, 6, 4), "PETR4"))
    assert lake.exists(quotes_daily_key(date(2024, 6, 5), "PETR4"))
    assert not lake.exists(quotes_daily_key(date(2024, 6, 3), "PETR4"))
    assert lake.exists(quotes_monthly_key("2024-06", "PETR4"))
    summaries: list[dict[str, Any]] = [
        json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")
    ]
    assert len(summaries) == 1
    assert summaries[0]["event"] == "transform_succeeded"
    assert summaries[0]["daily_rows"] == 2
    assert summaries[0]["dates"] == ["2024-06-04", "2024-06-05"]
    assert summaries[0]["tickers"] == ["PETR4"]


def test_main_returns_non_zero_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "transform_job.py",
        "--lake_uri",
        "ftp://nowhere",
        "--tickers",
        "PETR4",
        "--start_date",
        "2024-06-04",
        "--end_date",
        "2024-06-05",
    ]
    assert job.main(argv) == 1
    assert "only s3:// URIs and local folders" in capsys.readouterr().err
