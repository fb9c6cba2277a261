"""What the definition sends must be accepted by the real scraper handler, Glue entry and SQL.

The parameters come from TaskScheduled events of real executions (see sfn_harness.py).
"""

from __future__ import annotations

import json
from datetime import date
from types import ModuleType
from typing import Any

import pytest
import sqlglot

from b3pipeline.catalog import read_sql_file
from b3pipeline.quality import (
    QUALITY_CHECK_FILE,
    QUALITY_TICKERS_PER_QUERY,
    TOTAL_COLUMN,
    quality_check_parameters,
    quality_ticker_batches,
)
from b3pipeline.run_summary import run_summary_key
from b3pipeline.tickers import parse_tickers
from tests.infra._athena_sql import athena_parameter_markers
from tests.support.botocore_models import shape
from tests.support.modules import load_module

from .cases import CASES
from .sfn_harness import ASL_PATH, PLACEHOLDERS, Engine, load_mock_config
from .summaries import mocked_summaries

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


@pytest.mark.parametrize(
    ("test_case", "queries"),
    [("HappyScheduledRun", 1), ("S3TriggeredRun", 1), ("FullMarketQualityBatches", 4)],
)
def test_quality_statement_gets_the_parameters_the_local_gate_uses(
    engine: Engine, test_case: str, queries: int
) -> None:
    """Athena's ExecutionParameters are SQL literals: each value in single quotes, in the
    order of the statement's `?` (Athena, "Use parameterized queries"), each at most 1024
    characters (StartQueryExecution, botocore's athena model). One query per batch of
    tickers: the batches and each query's values are the ones the local gate uses."""
    result = engine.run(test_case, CASES[test_case].execution_input)
    window = result.first_parameters("Run Transform Job")["Arguments"]
    start = date.fromisoformat(window["--start_date"])
    end = date.fromisoformat(window["--end_date"])
    batches = quality_ticker_batches(parse_tickers(window["--tickers"]))
    expected = sorted(
        [f"'{value}'" for value in quality_check_parameters(start, end, batch)] for batch in batches
    )
    sent = sorted(query["ExecutionParameters"] for query in result.scheduled["Run Quality Query"])
    assert len(sent) == len(batches) == queries
    assert sent == expected
    markers = len(athena_parameter_markers(read_sql_file(QUALITY_CHECK_FILE)))
    limit = shape("athena", "ExecutionParameter")["max"]
    for literals in sent:
        assert len(literals) == markers
        assert max(len(literal) for literal in literals) <= limit


def test_the_state_machine_batches_tickers_as_the_gate_does() -> None:
    definition = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    batches = definition["States"]["Compute Window"]["Parameters"]["quality_batches.$"]
    assert batches == f"States.ArrayPartition($.batch.tickers, {QUALITY_TICKERS_PER_QUERY})"
    checks = definition["States"]["Run Quality Checks"]
    assert checks["ItemsPath"] == "$.window.quality_batches"


def test_quality_results_mocks_have_the_sql_columns() -> None:
    """The mocked GetQueryResults answers name the columns quality_check.sql returns."""
    sql = read_sql_file(QUALITY_CHECK_FILE)
    query = sqlglot.parse_one(sql, read="athena")
    assert isinstance(query, sqlglot.exp.Select)
    columns = query.named_selects
    assert columns[-1] == TOTAL_COLUMN
    responses = load_mock_config()["MockedResponses"]
    quality = {
        f"{name} {attempts}": answer
        for name, response in responses.items()
        if name.startswith("Quality")
        for attempts, answer in response.items()
    }
    assert quality
    for name, answer in quality.items():
        result_set = answer["Return"]["ResultSet"]
        names = [c["Name"] for c in result_set["ResultSetMetadata"]["ColumnInfo"]]
        assert names == columns, name
        for row in result_set["Rows"]:
            assert len(row["Data"]) == len(columns), name


@pytest.mark.parametrize("test_case", ["HappyScheduledRun", "CatalogNotCurrentCrawls"])
def test_the_summary_is_read_where_the_job_writes_it(engine: Engine, test_case: str) -> None:
    """The Key is the job's own run_summary_key for the run's Id, in the lake's bucket
    (Terraform's lake_uri is s3://<bucket>, so lake keys are object keys)."""
    result = engine.run(test_case, CASES[test_case].execution_input)
    job_run_id = load_mock_config()["MockedResponses"]["GlueSucceeded"]["0"]["Return"]["Id"]
    assert result.first_parameters("Read Transform Summary") == {
        "Bucket": PLACEHOLDERS["lake_bucket"],
        "Key": run_summary_key(job_run_id),
    }
    assert PLACEHOLDERS["lake_uri"] == f"s3://{PLACEHOLDERS['lake_bucket']}"


def test_mocked_summaries_are_what_the_job_writes() -> None:
    """Each mocked GetObject Body that stands for a real run is, byte for byte, what
    b3pipeline.run_summary builds for that run (refresh: python -m tests.workflow.summaries)."""
    responses = load_mock_config()["MockedResponses"]
    expected = mocked_summaries()
    assert expected
    for name, body in expected.items():
        returns = [a["Return"] for a in responses[name].values() if "Return" in a]
        assert returns, name
        for answer in returns:
            assert answer["Body"] == body, name
            assert answer["ContentLength"] == len(body.encode("utf-8")), name
    current = json.loads(expected["SummaryCatalogCurrent"])
    assert current["catalog_current"] is True
    assert json.loads(expected["SummaryRegistrationFailed"])["catalog_current"] is False
