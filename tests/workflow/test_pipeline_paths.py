"""Every MockConfigFile TestCase, executed on a real ASL interpreter: path, retries, outcome."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.botocore_models import shape

from .batch_mocks import FULL_MARKET_TICKERS, SCENARIOS, TWO_BAD
from .cases import (
    CASES,
    CHECK_INPUT,
    CHECK_SETTINGS,
    CHECK_TICKERS,
    FAILED,
    FROM_MANIFEST,
    HAPPY_DAILY_RUN,
    MALFORMED_SETTINGS,
    MALFORMED_TICKERS,
    NOTIFY_FAILED,
    S3_TRIGGERED,
    SCHEDULED,
)
from .sfn_harness import (
    ASL_PATH,
    PLACEHOLDERS,
    STATE_MACHINE_NAME,
    Engine,
    ExecutionResult,
    MotoEngine,
    load_mock_config,
    mock_test_case_names,
    render_definition,
)

pytestmark = pytest.mark.workflow


def test_every_mock_test_case_has_an_expected_path() -> None:
    assert sorted(mock_test_case_names()) == sorted(CASES)


@pytest.mark.parametrize("test_case", sorted(CASES))
def test_path(engine: Engine, test_case: str) -> None:
    expected = CASES[test_case]
    result = engine.run(test_case, expected.execution_input)

    execution_error = expected.error if expected.alert_sent else NOTIFY_FAILED
    assert (result.status, result.error) == (expected.status, execution_error), result.cause
    if expected.concurrent_from is None:
        assert result.states_entered == expected.states
    else:
        before = expected.states.index(expected.concurrent_from)
        assert result.states_entered[:before] == expected.states[:before]
        assert Counter(result.states_entered) == Counter(expected.states)
        assert result.states_entered[-1] == expected.states[-1]
    assert result.retries == expected.retries
    if expected.failed_state is not None:
        message = json.loads(result.first_parameters("Notify Failure")["Message"])
        assert message["state"] == expected.failed_state
        assert message["error"] == expected.error
        assert message["execution_id"] == result.arn
        assert message["cause"].startswith(expected.cause_prefix), message["cause"]
        if expected.caught_error is not None:
            caught = json.loads(message["cause"])
            assert caught["Error"] == expected.caught_error
            assert ("Cause" in caught) == expected.caught_cause, caught
            assert caught.get("Cause", "").startswith(expected.caught_cause_prefix), caught
        if expected.alert_sent:
            assert result.cause == message["cause"]
        else:
            # Its own cause names the run's error and why the publish failed.
            assert result.cause is not None
            assert result.cause.startswith(f"The run failed with {expected.error} "), result.cause
            assert expected.publish_error in result.cause, result.cause
        assert (
            result.first_parameters("Notify Failure")["TopicArn"]
            == PLACEHOLDERS["failure_topic_arn"]
        )
    else:
        assert "Notify Failure" not in result.states_entered


def _run(engine: Engine, test_case: str) -> ExecutionResult:
    return engine.run(test_case, CASES[test_case].execution_input)


def test_scheduled_run_sends_the_window_the_scraper_found(engine: Engine) -> None:
    result = _run(engine, "HappyScheduledRun")
    assert result.states_entered == HAPPY_DAILY_RUN

    scrape = result.first_parameters("Scrape Quotes")
    assert scrape == {
        "FunctionName": PLACEHOLDERS["scraper_function_arn"],
        "Payload": {
            "tickers": ["PETR4"],
            "run_date": None,
            "execution_arn": result.arn,
            "batch_count": 1,
        },
    }
    assert result.first_parameters("Merge Batches") == {
        "FunctionName": PLACEHOLDERS["scraper_function_arn"],
        "Payload": {"batches": [SCENARIOS["FiveDays"].outputs()[0]]},
    }
    assert result.first_parameters("Run Transform Job") == {
        "JobName": PLACEHOLDERS["glue_job_name"],
        "Arguments": {
            "--lake_uri": PLACEHOLDERS["lake_uri"],
            "--tickers": '["PETR4"]',
            "--start_date": "2025-08-25",
            "--end_date": "2025-08-29",
        },
    }
    assert "Start Crawler" not in result.states_entered
    assert result.first_parameters("Run Quality Query") == {
        "QueryString": f"EXECUTE {PLACEHOLDERS['quality_statement_name']}",
        "ExecutionParameters": ["'2025-08-25'", "'2025-08-29'", "'[\"PETR4\"]'"] * 2,
        "QueryExecutionContext": {"Database": PLACEHOLDERS["glue_database"]},
        "WorkGroup": PLACEHOLDERS["athena_workgroup"],
    }
    assert result.first_parameters("Get Quality Results")["QueryExecutionId"] == (
        "0f5b3c2a-8d7e-4f61-9b0a-1c2d3e4f5a6b"
    )


def test_a_crawl_asks_for_the_crawler_by_name(engine: Engine) -> None:
    result = _run(engine, "CatalogNotCurrentCrawls")
    assert result.first_parameters("Start Crawler") == {"Name": PLACEHOLDERS["crawler_name"]}
    assert result.first_parameters("Get Crawler") == {"Name": PLACEHOLDERS["crawler_name"]}


def test_the_summary_is_in_the_execution_state_as_json(engine: Engine) -> None:
    """After Parse Transform Summary the summary is JSON under $.transform.summary (what the
    console shows), and the summary's text is dropped."""
    result = _run(engine, "HappyScheduledRun")
    assert result.output is not None
    transform = result.output["transform"]
    assert set(transform) == {"JobRunId", "JobRunState", "summary"}
    assert transform["summary"]["job_run_id"] == transform["JobRunId"]
    assert transform["summary"]["catalog_current"] is True


def test_s3_run_takes_window_and_tickers_from_the_manifest(engine: Engine) -> None:
    result = _run(engine, "S3TriggeredRun")
    assert "Scrape Quotes" not in result.scheduled
    assert result.first_parameters("Run Transform Job")["Arguments"] == {
        "--lake_uri": PLACEHOLDERS["lake_uri"],
        "--tickers": '["PETR4","VALE3"]',
        "--start_date": S3_TRIGGERED["dates"][0],
        "--end_date": S3_TRIGGERED["dates"][-1],
    }
    assert (
        result.first_parameters("Run Quality Query")["ExecutionParameters"]
        == [
            "'2025-08-04'",
            "'2025-08-08'",
            '\'["PETR4","VALE3"]\'',
        ]
        * 2
    )


def test_settings_are_optional_and_merge_over_defaults(engine: Engine) -> None:
    # Only one setting given: the other keeps its default (no settings at all would wait 30 s).
    result = engine.run("CrawlerNeverFinishes", {"settings": {"crawler_poll_seconds": 0}})
    assert result.error == "B3Pipeline.CrawlerTimeout"
    assert result.states_entered.count("Get Crawler") == 40
    # No tickers given: the scheduled default (PETR4) reaches the scraper.
    assert result.first_parameters("Scrape Quotes")["Payload"]["tickers"] == ["PETR4"]


@pytest.mark.parametrize(("settings", "states_before"), MALFORMED_SETTINGS)
def test_malformed_settings_end_in_an_alerted_failure(
    engine: Engine, settings: Any, states_before: list[str]
) -> None:
    result = engine.run("MalformedSettings", {**SCHEDULED, "settings": settings})
    assert (result.status, result.error) == ("FAILED", "B3Pipeline.InputCheckFailed"), result.cause
    assert result.states_entered == [*states_before, "Invalid Settings", *FAILED]
    message = json.loads(result.first_parameters("Notify Failure")["Message"])
    assert message["error"] == "B3Pipeline.InputCheckFailed"
    assert message["cause"] == _fixed_cause("Invalid Settings")


@pytest.mark.parametrize(
    "execution_input", [[], ["PETR4"], "PETR4", 30, True, None], ids=lambda value: repr(value)
)
def test_input_that_is_not_an_object_ends_in_an_alerted_failure(
    engine: Engine, execution_input: Any
) -> None:
    result = engine.run("MalformedInput", execution_input)
    assert (result.status, result.error) == ("FAILED", "B3Pipeline.InputCheckFailed"), result.cause
    assert result.states_entered == [*CHECK_INPUT, "Invalid Input", *FAILED]
    message = json.loads(result.first_parameters("Notify Failure")["Message"])
    assert message["cause"] == _fixed_cause("Invalid Input")


def _fixed_cause(state: str) -> str:
    cause: str = json.loads(ASL_PATH.read_text(encoding="utf-8"))["States"][state]["Parameters"][
        "cause"
    ]
    return cause


# AWS's limits on what an alert carries: the Fail state's cause is the execution's cause
# (botocore's stepfunctions model, SensitiveCause: at most 32,768 characters), and SNS
# publishes messages of up to 256 KB ("Amazon SNS message size": a larger Publish is refused
# with InvalidParameter, retried, caught, and the alert is lost).
FAIL_CAUSE_MAX = shape("stepfunctions", "SensitiveCause")["max"]
SNS_MESSAGE_MAX_BYTES = 262_144
# Twice as large as a cause may be, and small enough that Load Defaults, which holds the
# input and its JSON text, stays under the 256 KiB a state's data may reach.
LARGE = [f"{n:05d}-{'X' * 94}" for n in range(700)]


@pytest.mark.parametrize(
    ("execution_input", "invalid_state", "states_before"),
    [
        (LARGE, "Invalid Input", CHECK_INPUT),
        ({**SCHEDULED, "settings": {"crawl": "".join(LARGE)}}, "Invalid Settings", CHECK_SETTINGS),
        ({**SCHEDULED, "tickers": "".join(LARGE)}, "Invalid Tickers", CHECK_TICKERS),
    ],
    ids=["input", "settings", "tickers"],
)
def test_a_large_invalid_input_still_gets_its_alert(
    engine: Engine, execution_input: Any, invalid_state: str, states_before: list[str]
) -> None:
    """The alert carries a fixed cause, not the input: no input can make it too large to send."""
    assert len(json.dumps(execution_input)) > 2 * FAIL_CAUSE_MAX
    result = engine.run("MalformedInput", execution_input)
    assert (result.status, result.error) == ("FAILED", "B3Pipeline.InputCheckFailed")
    assert result.states_entered == [*states_before, invalid_state, *FAILED]
    published = result.first_parameters("Notify Failure")["Message"]
    assert len(published.encode("utf-8")) <= SNS_MESSAGE_MAX_BYTES
    assert result.cause is not None and len(result.cause) <= FAIL_CAUSE_MAX
    assert json.loads(published)["cause"] == result.cause == _fixed_cause(invalid_state)


@pytest.mark.parametrize(
    "batch",
    [
        {"tickers": "PETR4"},
        {"tickers": []},
        {"tickers": [4]},
        {"dates": "2025-08-04"},
        {"dates": None},
        {"dates": [20250804]},
    ],
    ids=lambda batch: json.dumps(batch),
)
def test_a_malformed_s3_batch_ends_in_an_alerted_failure(
    engine: Engine, batch: dict[str, Any]
) -> None:
    """An S3-triggered input is the trigger's (b3pipeline.trigger) or a person's: the same
    check as the scraper's result keeps Compute Window and the quality batches from reading
    a list that is not one (States.Runtime)."""
    result = engine.run("MalformedInput", {**S3_TRIGGERED, **batch})
    assert (result.status, result.error) == ("FAILED", "B3Pipeline.BatchCheckFailed"), result.cause
    assert result.states_entered == [*FROM_MANIFEST[:-1], "Batch Invalid", *FAILED]


@pytest.mark.parametrize(
    ("test_case", "delays"),
    [("GlueConcurrentRunRetry", [60.0]), ("CrawlerAlreadyRunningRetry", [30.0])],
)
def test_retries_that_wait_for_capacity_wait_their_whole_interval(
    engine: Engine, test_case: str, delays: list[float]
) -> None:
    """No jitter on these retriers: the first retry waits the full IntervalSeconds, never the
    near-zero delay full jitter can draw (moto records the delays instead of sleeping)."""
    result = engine.run(test_case, CASES[test_case].execution_input)
    if result.retry_delays is None:
        pytest.skip("only the moto engine reports its retry delays")
    assert result.retry_delays == delays


def test_the_crawler_loop_remembers_when_this_crawl_was_started(engine: Engine) -> None:
    """Start Crawler keeps its entry time to the second, in the form GetCrawler reports a
    crawl's StartTime (RFC 3339, UTC): Crawler Finished? compares the two."""
    before = datetime.now(UTC).replace(microsecond=0)
    result = engine.run("CrawlerShowsEarlierCrawlFirst", SCHEDULED)
    after = datetime.now(UTC)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    started_at = result.output["crawler"]["started_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", started_at), started_at
    assert before <= datetime.fromisoformat(started_at) <= after
    assert result.output["crawler"]["polls"] == 3


# ------------------------------------------------------------------ the fan-out over batches
def test_a_full_market_is_scraped_in_batches_and_merged_into_one_window(engine: Engine) -> None:
    """400 tickers: Plan Batches cuts them in 8 batches of 50 (the default size), each one
    scraper invocation with the run's batch count; Merge Batches gets every batch's output,
    and the transform and the quality gate get the merged window."""
    result = _run(engine, "FullMarketInBatches")
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None and "scrape_plan" not in result.output  # dropped

    scraped = result.scheduled["Scrape Quotes"]
    batches = [call["Payload"]["tickers"] for call in scraped]
    assert len(scraped) == 8
    assert sorted(batches) == sorted(
        FULL_MARKET_TICKERS[start : start + 50] for start in range(0, 400, 50)
    )
    for call in scraped:
        assert call["FunctionName"] == PLACEHOLDERS["scraper_function_arn"]
        assert call["Payload"]["batch_count"] == 8
        assert call["Payload"]["run_date"] is None
        assert call["Payload"]["execution_arn"] == result.arn
    (merge,) = result.scheduled["Merge Batches"]
    outputs = merge["Payload"]["batches"]
    assert len(outputs) == 8
    assert sorted(t for output in outputs for t in output["tickers"]) == sorted(FULL_MARKET_TICKERS)
    window = result.first_parameters("Run Transform Job")["Arguments"]
    assert sorted(json.loads(window["--tickers"])) == sorted(FULL_MARKET_TICKERS)
    assert (window["--start_date"], window["--end_date"]) == ("2025-08-29", "2025-08-29")
    assert len(result.scheduled["Run Quality Query"]) == 4


def test_the_map_runs_as_many_batches_at_once_as_the_setting_says() -> None:
    """MaxConcurrencyPath reads settings.scrape_max_concurrency (Map state, Inline mode:
    "MaxConcurrencyPath"; at most 40 iterations at once)."""
    definition = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    scrape = definition["States"]["Scrape Batches"]
    assert scrape["MaxConcurrencyPath"] == "$.settings.scrape_max_concurrency"
    assert scrape["ItemsPath"] == "$.scrape_plan.batches"
    assert definition["States"]["Plan Batches"]["Parameters"]["batches.$"] == (
        "States.ArrayPartition($.input.tickers, $.settings.scrape_batch_size)"
    )


def test_two_tickers_set_aside_are_named_with_their_reasons_after_the_quality_gate(
    engine: Engine,
) -> None:
    result = _run(engine, "FullMarketTwoTickersSetAside")
    assert result.error == "B3Pipeline.TickersFailed", result.cause
    window = result.first_parameters("Run Transform Job")["Arguments"]
    assert sorted(json.loads(window["--tickers"])) == sorted(FULL_MARKET_TICKERS)
    assert result.states_entered.index("Any Tickers Failed?") > result.states_entered.index(
        "Run Quality Checks"
    )
    assert result.cause is not None
    named = json.loads(result.cause[result.cause.index(": [") + 2 :])
    assert named == [{"ticker": t, "reason": TWO_BAD[t]} for t in sorted(TWO_BAD)]


def test_a_run_whose_every_ticker_was_set_aside_transforms_nothing(engine: Engine) -> None:
    result = _run(engine, "EveryTickerSetAside")
    assert result.error == "B3Pipeline.TickersFailed", result.cause
    assert "Run Transform Job" not in result.scheduled
    assert "No Trading Day" not in result.states_entered
    assert result.cause is not None and '"ZZZZ3"' in result.cause and '"YYYY3"' in result.cause


def test_a_batch_failing_after_its_retries_stops_the_run_naming_it(engine: Engine) -> None:
    """The second of three one-ticker batches stays unavailable through the Task's two
    BrapiUnavailableError retries (60 s, then 120 s, no jitter); the third never runs."""
    result = _run(engine, "ScrapeBatchFailsAfterRetries")
    assert [call["Payload"]["tickers"] for call in result.scheduled["Scrape Quotes"]] == [
        ["PETR4"],
        ["VALE3"],
        ["VALE3"],
        ["VALE3"],
    ]
    assert "Merge Batches" not in result.scheduled
    assert "Run Transform Job" not in result.scheduled
    if result.retry_delays is not None:
        assert result.retry_delays == [60.0, 120.0]


@pytest.mark.parametrize(("tickers", "failure"), MALFORMED_TICKERS, ids=lambda v: repr(v)[:40])
def test_malformed_tickers_end_in_an_alerted_failure(
    engine: Engine, tickers: Any, failure: str
) -> None:
    result = engine.run("MalformedTickers", {**SCHEDULED, "tickers": tickers})
    assert (result.status, result.error) == ("FAILED", "B3Pipeline.InputCheckFailed"), result.cause
    assert result.states_entered == [*CHECK_TICKERS, failure, *FAILED]
    message = json.loads(result.first_parameters("Notify Failure")["Message"])
    if failure == "Invalid Tickers":  # a fixed cause: the input itself could be too large
        assert message["cause"] == _fixed_cause("Invalid Tickers")
    else:
        assert message["cause"].startswith(f"The execution input has {len(tickers)} tickers")


def test_a_run_that_names_nothing_takes_the_deployed_defaults(engine: Engine) -> None:
    """Load Defaults is rendered from Terraform's tickers, scrape_batch_size and
    scrape_max_concurrency (terraform/orchestration.tf): a run started without them, by
    `aws run`, by hand or by the schedule, scrapes the deployed tickers in the deployed
    batches, not a default written into the definition."""
    if not isinstance(engine, MotoEngine):
        pytest.skip("renders the definition with other placeholder values: moto only")
    values = {
        **PLACEHOLDERS,
        "default_tickers": "VALE3,ITUB4",
        "scrape_batch_size": "1",
        "scrape_max_concurrency": "1",
    }
    definition = json.loads(render_definition(ASL_PATH.read_text(encoding="utf-8"), values))
    config = load_mock_config()
    scraped = dict(config["MockedResponses"]["ScraperFiveDays"]["0"])
    mocks = {
        "StateMachines": {
            STATE_MACHINE_NAME: {
                "TestCases": {
                    "DeployedDefaults": {
                        "Scrape Quotes": "Scraped",
                        "Merge Batches": "MergeRefused",
                        "Notify Failure": "FailureNotified",
                    }
                }
            }
        },
        "MockedResponses": {
            "Scraped": {"0-1": scraped},
            "MergeRefused": {"0": {"Throw": {"Error": "Lambda.Unknown", "Cause": "stop here"}}},
            "FailureNotified": config["MockedResponses"]["FailureNotified"],
        },
    }
    result = engine.run_definition(definition, mocks, {"run_date": None})
    batches = [call["Payload"]["tickers"] for call in result.scheduled["Scrape Quotes"]]
    assert batches == [["VALE3"], ["ITUB4"]]
    assert (result.status, result.error) == ("FAILED", "B3Pipeline.ScrapeFailed")
