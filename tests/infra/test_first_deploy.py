"""What a first deploy on a new account needs of terraform/ (issue 15): defaults that fit a
new account's quotas, logs that expire, and the outputs `b3pipeline aws run` and the docs
read (the region above all)."""

from __future__ import annotations

import re

import pytest

from b3pipeline import aws_run
from tests.infra import _hcl

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(
    "variable", ["scraper_reserved_concurrency", "trigger_reserved_concurrency"]
)
def test_reserved_concurrency_is_opt_in(variable: str) -> None:
    """Lambda lets a function reserve only what leaves 100 unreserved in the account ("You can
    reserve up to the Unreserved account concurrency value that is shown, minus 100",
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html); new accounts
    start at 10, so any reservation by default fails the first apply."""
    body = _hcl.variables()[variable]
    assert body["default"] == -1
    assert "-1" in body["description"]


def test_the_functions_use_the_reserved_concurrency_variables() -> None:
    functions = _hcl.resources("aws_lambda_function")
    assert functions["scraper"]["reserved_concurrent_executions"] == (
        "${var.scraper_reserved_concurrency}"
    )
    assert functions["trigger"]["reserved_concurrent_executions"] == (
        "${var.trigger_reserved_concurrency}"
    )


def test_the_glue_job_logs_to_two_terraform_groups_that_expire() -> None:
    """Glue 5.x: with --custom-logGroup-prefix P the job logs to P/output and P/error instead
    of /aws-glue/jobs/output and /aws-glue/jobs/error, which Glue creates with no retention
    ("Logging for AWS Glue jobs",
    https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html)."""
    groups = _hcl.resources("aws_cloudwatch_log_group")["glue_job"]
    assert groups["for_each"] == '${toset(["output", "error"])}'
    assert groups["name"] == "${local.glue_job_log_prefix}/${each.key}"
    assert groups["retention_in_days"] == "${var.log_retention_days}"
    job = _hcl.resources("aws_glue_job")["transform"]
    assert job["default_arguments"]["--custom-logGroup-prefix"] == "${local.glue_job_log_prefix}"
    assert "${aws_cloudwatch_log_group.glue_job}" in job["depends_on"]
    prefix = _hcl.resolve_locals("${local.glue_job_log_prefix}", _hcl.locals_())
    # The docs' rule for a custom prefix: [^:*]*, at most 400 characters.
    assert re.fullmatch(r"[^:*]{1,400}", prefix.replace("${var.project}", "b3-quotes"))
    assert "--continuous-log-logGroup" not in job["default_arguments"], "a Glue 4.0 argument"


def test_the_job_role_writes_only_its_own_log_groups() -> None:
    document = _hcl.data_sources("aws_iam_policy_document")["glue_job"]
    statements = {s["sid"]: s for s in _hcl.policy_statements(document)}
    logs = statements["WriteJobLogs"]
    assert set(logs["actions"]) == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert logs["resources"] == (
        "${flatten([for group in aws_cloudwatch_log_group.glue_job : "
        '[group.arn, "${group.arn}:*"]])}'
    )
    other = [s for s in statements.values() if any(a.startswith("logs:") for a in s["actions"])]
    assert other == [logs]


def test_outputs_give_aws_run_and_the_docs_what_they_read() -> None:
    outputs = _hcl.outputs()
    assert outputs["aws_region"]["value"] == "${local.region}"
    assert outputs["tickers"]["value"] == "${var.tickers}"
    assert outputs["state_machine_arn"]["value"] == "${aws_sfn_state_machine.pipeline.arn}"
    assert outputs["lake_bucket"]["value"] == "${aws_s3_bucket.lake.bucket}"


def test_the_console_url_output_and_aws_run_agree_on_the_console() -> None:
    url = _hcl.outputs()["state_machine_console_url"]["value"]
    started = aws_run.StartedExecution("arn:x", "n", "sa-east-1", aws_run._utcnow())
    host = "https://${local.region}.console.aws.amazon.com/states/home?region=${local.region}#/"
    assert url.startswith(host)
    assert started.console_url.startswith(host.replace("${local.region}", "sa-east-1"))


def test_the_lake_bucket_is_never_force_destroyed() -> None:
    """Deleting data is `make destroy DELETE_DATA=1` (scripts/teardown.py), and only that."""
    assert "force_destroy" not in _hcl.resources("aws_s3_bucket")["lake"]
    assert "force_destroy_bucket" not in _hcl.variables()
