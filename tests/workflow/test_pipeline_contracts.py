"""What the definition sends must be accepted by the real scraper handler, Glue entry and SQL.

The parameters come from TaskScheduled events of real executions (see sfn_harness.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from b3pipeline.tickers import parse_tickers
from tests.support.modules import load_module

from .cases import CASES
from .sfn_harness import ROOT, Engine

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def scraper_handler() -> ModuleType:
    return load_module("functions/scraper/handler.py", "b3_scraper_handler_contract")


@pytest.fixture(scope="module")
def glue_entry() -> ModuleType:
    return load_module("glue/transform_job.py", "b3_glue_transform_job_contract")


@pytest.mark.parametrize("test_case", ["HappyScheduledRun", "ScraperThrottledThenSucceeds"])
def test_scraper_accepts_what_scrape_quotes_sends(
    engine: Engine, scraper_handler: ModuleType, test_case: str
) -> None:
    result = engine.run(test_case, CASES[test_case].execution_input)
    for parameters in result.scheduled["Scrape Quotes"]:
        request: Any = scraper_handler.parse_event(parameters["Payload"])
        assert list(request.tickers) == ["PETR4"]
        assert request.execution_arn == result.arn


@pytest.mark.parametrize("test_case", ["HappyScheduledRun", "S3TriggeredRun"])
def test_glue_entry_accepts_what_run_transform_job_sends(
    engine: Engine, glue_entry: ModuleType, test_case: str
) -> None:
    result = engine.run(test_case, CASES[test_case].execution_input)
    arguments: dict[str, str] = result.first_parameters("Run Transform Job")["Arguments"]
    argv = ["transform_job.py"]  # how Glue hands the arguments to the script
    for name, value in arguments.items():
        argv += [name, value]
    parsed: Any = glue_entry.parse_arguments(argv)
    assert parsed.lake_uri == arguments["--lake_uri"]
    assert parsed.tickers == parse_tickers(arguments["--tickers"])
    assert parsed.start_date.isoformat() == arguments["--start_date"]
    assert parsed.end_date.isoformat() == arguments["--end_date"]


def test_quality_statement_gets_one_literal_per_sql_parameter(engine: Engine) -> None:
    result = engine.run("HappyScheduledRun", CASES["HappyScheduledRun"].execution_input)
    literals: list[str] = result.first_parameters("Run Quality Query")["ExecutionParameters"]
    sql = (ROOT / "sql" / "quality_check.sql").read_text(encoding="utf-8")
    without_comments = re.sub(r"--[^\n]*|'(?:[^']|'')*'", "", sql)
    assert without_comments.count("?") == len(literals) == 3
    start, end, tickers = (literal[1:-1] for literal in literals)
    assert all(literal.startswith("'") and literal.endswith("'") for literal in literals)
    assert start <= end
    assert parse_tickers(tickers) == ["PETR4"]


def test_quality_results_mock_matches_the_sql_last_column() -> None:
    sql = Path(ROOT / "sql" / "quality_check.sql").read_text(encoding="utf-8").lower()
    assert "total_violations" in sql
