"""What the definition sends must be accepted by the real scraper handler, Glue entry and SQL.

The parameters come from TaskScheduled events of real executions (see sfn_harness.py).
"""

from __future__ import annotations

import json
import re
from datetime import date
from types import ModuleType
from typing import Any

import pytest
import sqlglot

from b3pipeline.batch_output import FAILED_TICKERS_MAX_CHARS, MAX_RUN_TICKERS
from b3pipeline.catalog import read_sql_file
from b3pipeline.quality import (
    QUALITY_CHECK_FILE,
    QUALITY_TICKERS_PER_QUERY,
    TOTAL_COLUMN,
    quality_check_parameters,
    quality_ticker_batches,
)
from b3pipeline.run_summary import run_summary_key
from b3pipeline.ticker_pool import ticker_batches
from b3pipeline.tickers import parse_tickers
from tests.infra._athena_sql import athena_parameter_markers
from tests.support.botocore_models import shape
from tests.support.modules import FakeLambdaContext, load_module

from .batch_mocks import DEFAULT_BATCH_SIZE, mocked_payloads, mocked_payloads_in_config
from .cases import CASES
from .sfn_harness import ASL_PATH, PLACEHOLDERS, STATE_MACHINE_NAME, Engine, load_mock_config
from .summaries import mocked_summaries

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def scraper_handler() -> ModuleType:
    return load_module("functions/scraper/handler.py", "b3_scraper_handler_contract")


@pytest.fixture(scope="module")
def glue_entry() -> ModuleType:
    return load_module("glue/transform_job.py", "b3_glue_transform_job_contract")


@pytest.mark.parametrize(
    "test_case",
    ["HappyScheduledRun", "ScraperThrottledThenSucceeds", "FullMarketTwoTickersSetAside"],
)
def test_scraper_accepts_what_scrape_quotes_sends(
    engine: Engine, scraper_handler: ModuleType, test_case: str
) -> None:
    expected = CASES[test_case].execution_input
    result = engine.run(test_case, expected)
    batches = []
    for parameters in result.scheduled["Scrape Quotes"]:
        request: Any = scraper_handler.parse_event(parameters["Payload"])
        assert request.execution_arn == result.arn
        assert request.batch_count == len(ticker_batches(expected["tickers"], DEFAULT_BATCH_SIZE))
        batches.append(list(request.tickers))
    retried = sum(result.retries.values())
    assert len(batches) == request.batch_count + retried
    assert sorted(t for batch in batches for t in batch) == sorted(
        expected["tickers"] * (1 + retried)
    )


@pytest.mark.parametrize(
    "test_case",
    [
        "HappyScheduledRun",
        "NoTradingDay",
        "FullMarketInBatches",
        "FullMarketTwoTickersSetAside",
        "EveryTickerSetAside",
    ],
)
def test_the_real_merge_of_what_the_map_produced_is_the_mocked_merge(
    engine: Engine, scraper_handler: ModuleType, test_case: str
) -> None:
    """Merge Batches is mocked; the scraper's real merge, given what the Map really handed
    to Merge Batches, returns that mock (tickers compared as a set: iterations running at
    once take each other's invocation numbers, hence each other's mocked outputs)."""
    result = engine.run(test_case, CASES[test_case].execution_input)
    (merge,) = result.scheduled["Merge Batches"]
    real = scraper_handler.lambda_handler(
        merge["Payload"], FakeLambdaContext(function_name="b3-scraper")
    )
    name = load_mock_config()["StateMachines"][STATE_MACHINE_NAME]["TestCases"][test_case]
    (mocked,) = mocked_payloads_in_config(load_mock_config())[name["Merge Batches"]]
    assert sorted(real.pop("tickers")) == sorted(mocked.pop("tickers"))
    assert sorted(real.pop("manifest_keys")) == sorted(mocked.pop("manifest_keys"))
    assert real == mocked


def test_mocked_scraper_outputs_are_what_the_scraper_builds() -> None:
    """Each mocked Scrape Quotes answer is a batch output the scraper builds for its
    scenario, each mocked Merge Batches answer the real merge of them (refresh:
    python -m tests.workflow.batch_mocks)."""
    assert mocked_payloads_in_config(load_mock_config()) == mocked_payloads()


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


def test_the_tickers_failed_cause_fits_a_fail_state_s_cause() -> None:
    """Tickers Failed puts the merged failed_tickers (at most FAILED_TICKERS_MAX_CHARS as
    JSON, b3pipeline.batch_output) in a sentence that becomes Pipeline Failed's cause: at
    most 32,768 characters (ExecutionFailedEventDetails `cause`, botocore's SensitiveCause).
    json.dumps's ASCII escapes and spaces make its length an upper bound of the compact
    text States.JsonToString writes."""
    definition = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    cause = definition["States"]["Tickers Failed"]["Parameters"]["cause.$"]
    found = re.fullmatch(r"States\.Format\('(.*)', \$\.batch\.failed_count, (.*)\)", cause)
    assert found is not None, cause
    assert found.group(2) == "States.JsonToString($.batch.failed_tickers)"
    sentence = found.group(1)
    assert sentence.count("{}") == 2
    longest = len(sentence) - 4 + len(str(MAX_RUN_TICKERS)) + FAILED_TICKERS_MAX_CHARS
    assert longest <= shape("stepfunctions", "SensitiveCause")["max"]
