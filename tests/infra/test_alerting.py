"""One alert per failed execution, and none lost (terraform/monitoring.tf).

Notify Failure publishes every failure the state machine sees, then the execution ends in a
B3Pipeline.* error. The EventBridge rule on Step Functions' status-change events sends the
FAILED executions it did not see: any other error (States.Runtime, States.DataLimitExceeded,
a Map failing outside its Catch), and B3Pipeline.NotifyFailed (its own publish failed).
TIMED_OUT and ABORTED executions never pass through Notify Failure: their alarms stay.

- Step Functions, "EventBridge (CloudWatch Events) for Step Functions execution status
  changes": the event's detail carries DescribeExecution's information
  (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
- EventBridge, "Content filtering in Amazon EventBridge event patterns": anything-but with a
  prefix, exists, null; the matchers of one field's array are alternatives
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html).
  The pattern is judged by moto's EventBridge (PutRule, PutEvents, an SQS target): moto
  implements no TestEventPattern, and its matching is AWS's as documented for these matchers.
- EventBridge, "Transforming target input": values go into the template unescaped.
- EventBridge, "Cross-service confused deputy prevention": aws:SourceArn is the rule's ARN.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from . import _hcl

pytestmark = pytest.mark.infra

PATTERN_FILE = _hcl.TERRAFORM / "failed_without_alert.pattern.json"
RENDERED_TOPIC_POLICY = _hcl.TERRAFORM / "tests" / "rendered" / "iam" / "sns_topic_failures.json"
ACCOUNT = "123456789012"  # what terraform/tests/iam_policies.tftest.hcl renders with
REGION = "sa-east-1"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:b3-quotes-pipeline"
NOTIFY_FAILED = "B3Pipeline.NotifyFailed"


def rendered_pattern(text: str, state_machine_arn: str = STATE_MACHINE) -> str:
    """The pattern as Terraform's templatefile() renders it for this state machine."""
    return text.replace("${state_machine_arn}", state_machine_arn)


def status_change(status: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The detail of a "Step Functions Execution Status Change" event, as the page above
    shows it (the error and cause as DescribeExecution gives them)."""
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:b3-quotes-pipeline:run-1"
    return {
        "executionArn": execution,
        "stateMachineArn": STATE_MACHINE,
        "name": "run-1",
        "status": status,
        "startDate": 1756507214968,
        "stopDate": 1756507217576,
        "input": "{}",
        "output": None,
        **(detail or {}),
    }


def matches(pattern: str, detail: dict[str, Any]) -> bool:
    """Whether a rule with `pattern` delivers the event with this detail to its target."""
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        events.put_rule(Name="failed-without-alert", EventPattern=pattern)
        events.put_targets(
            Rule="failed-without-alert",
            Targets=[{"Id": "alerts", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )
        sent = events.put_events(
            Entries=[
                {
                    "Source": "aws.states",
                    "DetailType": "Step Functions Execution Status Change",
                    "Resources": [detail["executionArn"]],
                    "Detail": json.dumps(detail),
                }
            ]
        )
        assert sent["FailedEntryCount"] == 0
        delivered = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages")
    return bool(delivered)


def asl_failure_errors() -> set[str]:
    """Every error an execution can end with through Pipeline Failed ($.failure.error)."""
    states = _hcl.render_asl(_hcl.asl_text())["States"]
    return {
        state["Parameters"]["error"]
        for state in states.values()
        if state.get("ResultPath") == "$.failure" and "error" in state.get("Parameters", {})
    }


@pytest.fixture(scope="module")
def pattern() -> str:
    return rendered_pattern(PATTERN_FILE.read_text(encoding="utf-8"))


def test_the_asl_ends_every_failure_in_a_b3pipeline_error_and_one_for_an_unsent_alert() -> None:
    errors = asl_failure_errors()
    assert NOTIFY_FAILED in errors
    assert len(errors) > 5
    assert all(error.startswith("B3Pipeline.") for error in errors), errors


@pytest.mark.parametrize("error", sorted(asl_failure_errors() - {NOTIFY_FAILED}))
def test_a_failure_notify_failure_sent_is_not_sent_again(pattern: str, error: str) -> None:
    assert not matches(pattern, status_change("FAILED", {"error": error, "cause": "..."}))


@pytest.mark.parametrize(
    "detail",
    [
        {"error": NOTIFY_FAILED, "cause": "The run failed with B3Pipeline.ScrapeFailed ..."},
        {"error": "States.Runtime", "cause": "The JsonPath argument for the field ..."},
        {"error": "States.DataLimitExceeded", "cause": "The state/task returned a result ..."},
        {"error": "States.TaskFailed", "cause": "A Map failed outside its Catch"},
        {"error": "B3PipelineX", "cause": "not the B3Pipeline. prefix"},
        {"error": None, "cause": None},
        {},
    ],
    ids=["notify-failed", "runtime", "data-limit", "task-failed", "near-prefix", "null", "absent"],
)
def test_a_failure_notify_failure_did_not_send_is_sent(
    pattern: str, detail: dict[str, Any]
) -> None:
    """An event without an error (or a null one) is sent too: a duplicate, never a silence."""
    assert matches(pattern, status_change("FAILED", detail))


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED", "TIMED_OUT", "ABORTED"])
def test_other_outcomes_are_left_to_their_alarms(pattern: str, status: str) -> None:
    assert not matches(pattern, status_change(status, {"error": "States.Timeout"}))


def test_another_state_machine_s_failures_are_not_sent(pattern: str) -> None:
    detail = status_change("FAILED", {"error": "States.Runtime"})
    detail["stateMachineArn"] = STATE_MACHINE.replace("b3-quotes", "other")
    assert not matches(pattern, detail)


def test_the_pattern_check_sees_a_pattern_that_resends_caught_failures() -> None:
    """Without the anything-but prefix, every caught failure would mail twice."""
    document = json.loads(rendered_pattern(PATTERN_FILE.read_text(encoding="utf-8")))
    document["detail"].pop("error")
    detail = status_change("FAILED", {"error": "B3Pipeline.ScrapeFailed", "cause": "..."})
    assert not matches(rendered_pattern(PATTERN_FILE.read_text(encoding="utf-8")), detail)
    assert matches(json.dumps(document), detail)


# ------------------------------------------------------------------ the Terraform around it


def _monitoring() -> dict[str, dict[str, Any]]:
    return {
        address: body
        for address, body in _hcl.all_resources().items()
        if address.startswith(("aws_cloudwatch_event_", "aws_cloudwatch_metric_alarm."))
    }


def test_the_rule_renders_the_pattern_file_for_this_state_machine() -> None:
    rule = _hcl.resources("aws_cloudwatch_event_rule")["failed_without_alert"]
    pattern = rule["event_pattern"]
    assert "failed_without_alert.pattern.json" in pattern
    assert "state_machine_arn = aws_sfn_state_machine.pipeline.arn" in pattern
    assert _hcl.asl_placeholders(PATTERN_FILE.read_text(encoding="utf-8")) == {"state_machine_arn"}


def test_the_rule_publishes_a_quote_free_message_to_the_failure_topic() -> None:
    target = _hcl.resources("aws_cloudwatch_event_target")["failed_without_alert"]
    assert target["rule"] == "${aws_cloudwatch_event_rule.failed_without_alert.name}"
    assert target["arn"] == "${aws_sns_topic.failures.arn}"
    assert "role_arn" not in target  # SNS targets are authorized by the topic policy
    (transformer,) = target["input_transformer"]
    # Values that never hold a double quote: the template is a JSON string as EventBridge
    # fills it, unescaped.
    assert set(transformer["input_paths"].values()) <= {
        "$.detail.executionArn",
        "$.detail.name",
        "$.detail.error",
    }
    template = transformer["input_template"].replace('\\"', '"')
    assert isinstance(json.loads(template), str)
    assert set(re.findall(r"<([\w.-]+)>", template)) == set(transformer["input_paths"])


def test_timed_out_and_aborted_executions_keep_their_alarms_and_failed_has_none() -> None:
    locals_ = _hcl.locals_()
    alarms = locals_["execution_alarms"]
    assert sorted(alarms.values()) == ["ExecutionsAborted", "ExecutionsTimedOut"]
    assert not any("ExecutionsFailed" in json.dumps(body) for body in _monitoring().values())


def test_an_undeliverable_rule_alarms_on_the_topic() -> None:
    alarm = _hcl.resources("aws_cloudwatch_metric_alarm")["failed_without_alert_undelivered"]
    assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Events", "FailedInvocations")
    assert alarm["dimensions"] == {
        "RuleName": "${aws_cloudwatch_event_rule.failed_without_alert.name}"
    }
    assert alarm["alarm_actions"] == ["${aws_sns_topic.failures.arn}"]


# ------------------------------------------------------------------ the topic policy
# A topic policy replaces the default one. EventBridge's page on SNS targets shows the
# default a new topic has ("Using resource-based policies for Amazon EventBridge", Amazon SNS
# permissions): the account's principals (CloudWatch alarms among them) may manage and
# publish, under AWS:SourceOwner.

DEFAULT_TOPIC_ACTIONS = {
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
}


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def topic_policy_problems(policy: dict[str, Any], rule_arn: str) -> list[str]:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:b3-quotes-failures"
    problems: list[str] = []
    statements = {statement["Sid"]: statement for statement in policy["Statement"]}
    default = statements.pop("AccountDefault", None)
    if default is None or not (
        _actions(default) == DEFAULT_TOPIC_ACTIONS
        and default["Principal"] == {"AWS": "*"}
        and default.get("Condition") == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
        and default["Resource"] == topic
    ):
        problems.append("the default statement (account owner, alarms) is not kept as it was")
    rule = statements.pop("FailedWithoutAlertRule", None)
    if rule is None or not (
        _actions(rule) == {"SNS:Publish"}
        and rule["Principal"] == {"Service": "events.amazonaws.com"}
        and rule.get("Condition") == {"ArnEquals": {"aws:SourceArn": rule_arn}}
        and rule["Resource"] == topic
    ):
        problems.append("EventBridge may not publish, or not only for the failure rule")
    problems += [f"unexpected statement {sid}" for sid in statements]
    problems += [
        f"{s['Sid']} is not an Allow" for s in policy["Statement"] if s["Effect"] != "Allow"
    ]
    return problems


def _rule_arn() -> str:
    name = _hcl.resources("aws_cloudwatch_event_rule")["failed_without_alert"]["name"]
    name = _hcl.resolve_locals(name, _hcl.locals_()).replace("${var.project}", "b3-quotes")
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"


def _rendered_topic_policy() -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(RENDERED_TOPIC_POLICY.read_text(encoding="utf-8"))
    return policy


def test_the_topic_policy_keeps_the_default_and_lets_only_the_failure_rule_publish() -> None:
    assert topic_policy_problems(_rendered_topic_policy(), _rule_arn()) == []


def test_the_topic_policy_check_sees_a_lost_default_and_an_open_events_grant() -> None:
    policy = _rendered_topic_policy()
    statements = [s for s in policy["Statement"] if s["Sid"] != "AccountDefault"]
    for statement in statements:
        statement.pop("Condition", None)
    assert topic_policy_problems({**policy, "Statement": statements}, _rule_arn()) == [
        "the default statement (account owner, alarms) is not kept as it was",
        "EventBridge may not publish, or not only for the failure rule",
    ]


def test_the_rendered_copy_is_the_one_terraform_compares() -> None:
    text = (_hcl.TERRAFORM / "tests" / "iam_policies.tftest.hcl").read_text(encoding="utf-8")
    assert (
        'jsondecode(aws_sns_topic_policy.failures.policy) == jsondecode(file("tests/rendered/'
        'iam/sns_topic_failures.json"))'
    ) in text
    assert f'arn = "{_rule_arn()}"' in text


def test_pattern_file_is_json_before_rendering() -> None:
    assert isinstance(json.loads(Path(PATTERN_FILE).read_text(encoding="utf-8")), dict)
