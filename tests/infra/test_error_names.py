"""Every error name a Retry or Catch waits for is one AWS can raise for that Task.

A name no integration raises is accepted by every engine and never matches on AWS: a retry
that never happens, a catch that never fires. The names come from AWS itself:

* AWS SDK integrations (aws-sdk:<service>:<action>): "the resulting Error field is composed
  of the service name and the error name", with an Exception suffix added when the error
  name has none (Step Functions, "Learning to use AWS service SDK integrations in Step
  Functions", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html;
  S3's BucketAlreadyExists is S3.BucketAlreadyExistsException). The error names an action
  can raise are the errors its API model declares: botocore's bundled service model,
  operations[<Action>].errors.
* Optimized integrations use the same service prefix over the API they call (and poll, for
  .sync); a .sync job that fails or times out is States.TaskFailed / States.Timeout.
* A few generic names that no API model lists, each documented for its integration
  (`GENERIC`, with its source), and the function's own error types for a Lambda (the
  Python runtime reports the exception's class name as the error).
* States.* names from "Handling errors in Step Functions workflows"
  (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html);
  States.Runtime and States.DataLimitExceeded are not among them: no Retry or Catch takes
  them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from b3pipeline import errors
from tests.support.botocore_models import modeled_errors

from . import _hcl

pytestmark = pytest.mark.infra

STATES_ERRORS = frozenset(
    {
        "States.ALL",
        "States.HeartbeatTimeout",
        "States.Timeout",
        "States.TaskFailed",
        "States.Permissions",
        "States.ResultPathMatchFailure",
        "States.ParameterPathFailure",
        "States.BranchFailed",
        "States.NoChoiceMatched",
        "States.IntrinsicFailure",
        "States.ExceedToleratedFailureThreshold",
        "States.ItemReaderFailed",
        "States.ResultWriterFailed",
    }
)

#: Names no API model lists, each documented (or, where marked, observed) for its integration.
GENERIC: dict[str, dict[str, str]] = {
    "lambda:invoke": {
        # "Handle Lambda service exceptions":
        # https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
        "Lambda.ClientExecutionTimeoutException": "bp-lambda-serviceexception",
        "Lambda.ServiceException": "bp-lambda-serviceexception",
        "Lambda.AWSLambdaException": "bp-lambda-serviceexception",
        "Lambda.SdkClientException": "bp-lambda-serviceexception",
        "Lambda.Unknown": "bp-lambda-serviceexception",
    },
    "aws-sdk:s3:getObject": {
        # GetObject models only NoSuchKey and InvalidObjectState; any other S3 error (a 503
        # SlowDown, a 500) is the SDK's base exception for the service, S3Exception ("Base
        # class for all service related exceptions thrown by the S3 client", AWS SDK
        # docs), seen as S3.S3Exception from Step Functions by AWS's own Construct Hub
        # (cdklabs/construct-hub pull request 1904: a transient 503 on an aws-sdk S3 task).
        # A request that never reached S3 is the SDK's SdkClientException, as for Lambda.
        "S3.S3Exception": "SDK base exception; cdklabs/construct-hub#1904",
        "S3.SdkClientException": "SDK client exception, as Lambda.SdkClientException",
    },
}


@dataclass(frozen=True)
class Integration:
    """What a Task's Resource calls: the error prefix and the API operations behind it."""

    prefix: str
    service: str  # botocore's service name
    operations: tuple[str, ...]
    function_errors: bool = False  # a Lambda: its own exception class names too
    generic: dict[str, str] = field(default_factory=dict)

    def names(self) -> set[str]:
        modeled = {
            f"{self.prefix}.{shape if shape.endswith('Exception') else shape + 'Exception'}"
            for operation in self.operations
            for shape in modeled_errors(self.service, operation)
        }
        return modeled | set(self.generic)


OPTIMIZED: dict[str, Integration] = {
    "lambda:invoke": Integration(
        "Lambda", "lambda", ("Invoke",), function_errors=True, generic=GENERIC["lambda:invoke"]
    ),
    # .sync: StartJobRun, then GetJobRun until the run ends.
    "glue:startJobRun.sync": Integration("Glue", "glue", ("StartJobRun", "GetJobRun")),
    "athena:startQueryExecution.sync": Integration(
        "Athena", "athena", ("StartQueryExecution", "GetQueryExecution")
    ),
    "athena:getQueryResults": Integration("Athena", "athena", ("GetQueryResults",)),
    "sns:publish": Integration("SNS", "sns", ("Publish",)),
}
# botocore service name -> the Pascal-case service name Step Functions prefixes errors with.
SDK_PREFIXES = {"s3": "S3", "glue": "Glue", "athena": "Athena"}


def integration(resource: str) -> Integration:
    target = resource.removeprefix("arn:aws:states:::")
    if target in OPTIMIZED:
        return OPTIMIZED[target]
    kind, service, action = target.split(":")
    assert kind == "aws-sdk", f"no error-name rule for {resource}: add it to OPTIMIZED"
    operation = action[0].upper() + action[1:]
    return Integration(
        SDK_PREFIXES[service], service, (operation,), generic=GENERIC.get(target, {})
    )


def function_error_types() -> set[str]:
    """The error types the scraper Lambda can raise: b3pipeline's exception classes."""
    return {
        name
        for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, errors.B3PipelineError)
    }


def tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        if "ItemProcessor" in state:
            yield from tasks(state["ItemProcessor"]["States"])


def error_name_problems(definition: dict[str, Any]) -> list[str]:
    """Retry and Catch names that the Task's integration cannot raise."""
    problems = []
    for name, state in tasks(definition["States"]):
        allowed = integration(state["Resource"])
        known = allowed.names()
        for handler in [*state.get("Retry", []), *state.get("Catch", [])]:
            for error in handler["ErrorEquals"]:
                if error.startswith("States."):
                    ok = error in STATES_ERRORS
                elif "." in error:
                    ok = error in known
                else:
                    ok = allowed.function_errors and error in function_error_types()
                if not ok:
                    problems.append(f"{name}: {error}")
    return problems


def _definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(_hcl.asl_text())
    return definition


def test_every_retried_or_caught_error_is_one_aws_can_raise() -> None:
    assert error_name_problems(_definition()) == []


def test_the_names_come_from_the_api_models() -> None:
    """What the rule accepts for each Task, as read from botocore's models."""
    assert integration("arn:aws:states:::aws-sdk:s3:getObject").names() == {
        "S3.NoSuchKeyException",
        "S3.InvalidObjectStateException",
        "S3.S3Exception",
        "S3.SdkClientException",
    }
    assert integration("arn:aws:states:::aws-sdk:glue:getCrawler").names() == {
        "Glue.EntityNotFoundException",
        "Glue.OperationTimeoutException",
    }
    assert (
        "Glue.ConcurrentRunsExceededException"
        in integration("arn:aws:states:::glue:startJobRun.sync").names()
    )
    assert "BrapiUnavailableError" in function_error_types()


@pytest.mark.parametrize(
    ("state", "error"),
    [
        ("Read Transform Summary", "S3.SlowDownException"),  # a code S3 sends, not a shape
        ("Read Transform Summary", "S3.InternalErrorException"),
        ("Start Crawler", "Glue.ThrottlingException"),  # not modeled for StartCrawler
        ("Get Crawler", "Glue.InternalServiceException"),  # not modeled for GetCrawler
        ("Scrape Quotes", "BrapiGoneError"),  # no such exception in b3pipeline.errors
        ("Merge Batches", "Lambda.ThrottlingException"),  # not an Invoke error
        ("Run Transform Job", "States.Runtime"),  # no Retry or Catch takes it
    ],
)
def test_the_rule_sees_a_name_aws_never_raises(state: str, error: str) -> None:
    definition = _definition()
    found = dict(tasks(definition["States"]))  # Scrape Quotes is inside Scrape Batches
    found[state]["Retry"][0]["ErrorEquals"].append(error)
    assert error_name_problems(definition) == [f"{state}: {error}"]


def test_the_rule_sees_names_inside_a_map() -> None:
    definition = _definition()
    inner = definition["States"]["Run Quality Checks"]["ItemProcessor"]["States"]
    inner["Get Quality Results"]["Retry"][0]["ErrorEquals"].append("Athena.ThrottlingException")
    assert error_name_problems(definition) == ["Get Quality Results: Athena.ThrottlingException"]
