"""The test engine behaves as AWS documents where moto's own engine does not.

Each rule runs on a small state machine through MotoEngine (tests/workflow/sfn_harness.py,
whose `started()` fixture installs the corrections); every test here fails on moto 5.2.5
without them. The last test shows what the rule means for the pipeline itself: its
check of the scraper's merged output exists because a ResultSelector would end the run in
States.Runtime.

Step Functions, "Handling errors in Step Functions workflows":
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
- "States.ALL ... cannot catch the States.DataLimitExceeded terminal error or Runtime error
  types"; error names starting with "States." are the service's own.
Step Functions, "Choice workflow state":
https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html
- a Choice rule whose Variable is not in the input fails the execution (IsPresent aside).
Step Functions, "Configuration file for mocked service integrations":
https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-mock-cfg-file.html
- a mocked response's key is the number of the state's invocation ("0", "1-2", "3").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .cases import SCHEDULED
from .sfn_harness import (
    ASL_PATH,
    PLACEHOLDERS,
    STATE_MACHINE_NAME,
    Engine,
    MotoEngine,
    load_mock_config,
    render_definition,
)

pytestmark = pytest.mark.workflow

LAMBDA = "arn:aws:states:::lambda:invoke"
FUNCTION = PLACEHOLDERS["scraper_function_arn"]
CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Handler"}]
RETRY_ALL = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}]


@pytest.fixture
def moto(engine: Engine) -> MotoEngine:
    if not isinstance(engine, MotoEngine):
        pytest.skip("these rules are about moto's engine; Step Functions Local has its own")
    return engine


def _task(**fields: Any) -> dict[str, Any]:
    """A Lambda Task state with `fields` added."""
    return {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": FUNCTION}, **fields}


def _machine(task: dict[str, Any]) -> dict[str, Any]:
    """A Task named Call (Retry and Catch on States.ALL unless given) and a catch Handler."""
    call = _task(**{"Retry": RETRY_ALL, "Catch": CATCH_ALL, "End": True, **task})
    return {
        "StartAt": "Call",
        "States": {"Call": call, "Handler": {"Type": "Pass", "End": True}},
    }


def _mocks(**responses: dict[str, Any]) -> dict[str, Any]:
    """A MockConfigFile with one TestCase mocking each named state."""
    return {
        "StateMachines": {
            STATE_MACHINE_NAME: {"TestCases": {"Case": {state: state for state in responses}}}
        },
        "MockedResponses": responses,
    }


def test_states_all_does_not_catch_a_runtime_error_in_a_selector(moto: MotoEngine) -> None:
    result = moto.run_definition(
        _machine({"ResultSelector": {"tickers.$": "$.Payload.tickers"}}),
        _mocks(Call={"0": {"Return": {"StatusCode": 200, "Payload": {"errorMessage": "x"}}}}),
        {},
    )
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "Handler" not in result.states_entered
    assert result.retries == {}  # a Retry on States.ALL does not retry it either


def test_states_all_does_not_catch_a_mocked_runtime_error(moto: MotoEngine) -> None:
    result = moto.run_definition(
        _machine({}),
        _mocks(Call={"0": {"Throw": {"Error": "States.Runtime", "Cause": "broken path"}}}),
        {},
    )
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause is not None and result.cause.endswith("broken path")
    assert result.states_entered == ["Call"]


@pytest.mark.parametrize("error", ["States.TaskFailed", "States.Timeout", "States.Permissions"])
def test_a_mocked_states_error_is_caught_by_its_name(moto: MotoEngine, error: str) -> None:
    task = {"Retry": [], "Catch": [{**CATCH_ALL[0], "ErrorEquals": [error]}]}
    result = moto.run_definition(
        _machine(task), _mocks(Call={"0": {"Throw": {"Error": error, "Cause": "why"}}}), {}
    )
    assert (result.status, result.states_entered) == ("SUCCEEDED", ["Call", "Handler"])
    assert result.output == {"caught": {"Error": error, "Cause": "why"}}


def test_a_states_error_leaves_a_map_iteration_as_itself(moto: MotoEngine) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Call",
                    "States": {"Call": _task(End=True)},
                },
                "Catch": [{**CATCH_ALL[0], "ErrorEquals": ["States.TaskFailed"]}],
                "End": True,
            },
            "Handler": {"Type": "Pass", "End": True},
        },
    }
    failed = {"0": {"Throw": {"Error": "States.TaskFailed", "Cause": "query FAILED"}}}
    result = moto.run_definition(definition, _mocks(Call=failed), {"items": [1]})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    assert result.output["caught"] == {"Error": "States.TaskFailed", "Cause": "query FAILED"}


def test_mocked_responses_follow_the_invocation_number(moto: MotoEngine) -> None:
    """A state entered four times gets the responses keyed 0, 1-2, 1-2, 3."""
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": _task(
                ResultSelector={"answer.$": "$.Payload"}, ResultPath="$.last", Next="Done?"
            ),
            "Done?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.last.answer", "StringEquals": "d", "Next": "End"}],
                "Default": "Call",
            },
            "End": {"Type": "Succeed"},
        },
    }
    responses = {
        "0": {"Return": {"Payload": "a"}},
        "1-2": {"Return": {"Payload": "b"}},
        "3": {"Return": {"Payload": "d"}},
    }
    result = moto.run_definition(definition, _mocks(Call=responses), {})
    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["Call", "Done?"] * 4 + ["End"]


def _choice(rule: dict[str, Any]) -> dict[str, Any]:
    """A Choice whose one rule leads to Matched (else Unmatched)."""
    return {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{**rule, "Next": "Matched"}],
                "Default": "Unmatched",
            },
            "Matched": {"Type": "Succeed"},
            "Unmatched": {"Type": "Succeed"},
        },
    }


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.tickers[0]", "StringEquals": "PETR4"},
        {"Variable": "$.tickers[0]", "IsString": True},
        {"Not": {"Variable": "$.tickers[0]", "IsString": True}},
        {"Variable": "$.count", "NumericGreaterThan": 0},
    ],
    ids=json.dumps,
)
def test_a_choice_rule_on_a_missing_variable_is_a_runtime_error(
    moto: MotoEngine, rule: dict[str, Any]
) -> None:
    """ "Choice workflow state": "If the state input doesn't contain the $.type field, the
    execution fails" (moto answers false instead)."""
    result = moto.run_definition(_choice(rule), _mocks(), {"tickers": []})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.states_entered == ["Check"]


def test_is_present_may_look_at_a_missing_variable(moto: MotoEngine) -> None:
    rule = {"Variable": "$.tickers[0]", "IsPresent": False}
    result = moto.run_definition(_choice(rule), _mocks(), {"tickers": []})
    assert (result.status, result.states_entered) == ("SUCCEEDED", ["Check", "Matched"])


def test_the_pipeline_without_its_scraper_check_ends_in_an_uncaught_runtime_error(
    moto: MotoEngine,
) -> None:
    """The ResultSelector the scraper's Task had before Batch Valid? existed, here on Merge
    Batches (the scraper function's call whose output the run reads): a Lambda payload
    without tickers (an errorMessage object) ends the run in States.Runtime, with no alert,
    although the state's Catch takes States.ALL."""
    definition = json.loads(render_definition(ASL_PATH.read_text(encoding="utf-8"), PLACEHOLDERS))
    merge = definition["States"]["Merge Batches"]
    merge["ResultSelector"] = {
        "tickers.$": "$.Payload.tickers",
        "dates.$": "$.Payload.dates",
        "rows.$": "$.Payload.rows",
        "manifest_keys.$": "$.Payload.manifest_keys",
    }
    merge["ResultPath"] = "$.batch"
    merge["Next"] = "Any New Data?"
    config = load_mock_config()
    mocks = config["StateMachines"][STATE_MACHINE_NAME]["TestCases"]["ScraperBrokeItsContract"]
    result = moto.run_definition(
        definition,
        {
            "StateMachines": {STATE_MACHINE_NAME: {"TestCases": {"Broken": mocks}}},
            "MockedResponses": config["MockedResponses"],
        },
        SCHEDULED,
    )
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.states_entered[-1] == "Merge Batches"
    assert "Notify Failure" not in result.states_entered
