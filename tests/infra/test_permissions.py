"""docs/iam/: the deployer's policy covers every AWS service terraform/ creates resources in,
plus the calls a deploy makes beyond creating them; both policies are well-formed and name
the default project's resources as terraform/ names them. (That `aws run` needs no more
than the operator policy is checked where it runs: tests/e2e/test_aws_run_on_moto.py.)"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from tests.infra import _hcl

pytestmark = pytest.mark.infra

IAM = _hcl.ROOT / "docs" / "iam"
#: The IAM service prefix of each resource type prefix terraform/ uses.
SERVICE_OF_TYPE = {
    "aws_iam_": "iam",
    "aws_s3_": "s3",
    "aws_lambda_": "lambda",
    "aws_glue_": "glue",
    "aws_athena_": "athena",
    "aws_sfn_": "states",
    "aws_scheduler_": "scheduler",
    "aws_sqs_": "sqs",
    "aws_sns_": "sns",
    "aws_cloudwatch_log_": "logs",
    "aws_cloudwatch_metric_alarm": "cloudwatch",
}
#: What a deploy calls beyond creating its resources (AWS's pages, cited in docs/deploy.md).
EXTRA_ACTIONS = [
    "iam:PassRole",  # every role handed to Lambda, Glue, Step Functions, Scheduler
    "states:ValidateStateMachineDefinition",  # the provider validates the ASL first
    "logs:CreateLogDelivery",  # Step Functions logging, set up by the caller
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "lambda:GetLayerVersion",  # the AWS SDK for pandas layer, another account's
    "s3:ListBucketVersions",  # make destroy empties a versioned bucket
    "s3:DeleteObjectVersion",
    "logs:PutRetentionPolicy",
]


def _policy(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((IAM / name).read_text(encoding="utf-8"))
    return loaded


def _allowed(policy: dict[str, Any]) -> list[str]:
    actions: list[str] = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        value = statement["Action"]
        actions += [value] if isinstance(value, str) else value
    return actions


def _allows(policy: dict[str, Any], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in _allowed(policy))


@pytest.mark.parametrize("name", ["deployer-policy.json", "operator-policy.json"])
def test_the_policies_are_well_formed(name: str) -> None:
    policy = _policy(name)
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert statement["Resource"], statement["Sid"]
        for action in _allowed({"Statement": [statement]}):
            assert action.count(":") == 1 and action == action.strip(), action


def test_every_resource_type_terraform_creates_has_its_service_in_the_deployer_policy() -> None:
    policy = _policy("deployer-policy.json")
    types = {address.split(".")[0] for address in _hcl.all_resources()}
    unmapped = sorted(t for t in types if not any(t.startswith(p) for p in SERVICE_OF_TYPE))
    assert unmapped == [], "map the new resource type's service, and grant it"
    services = {
        service
        for prefix, service in SERVICE_OF_TYPE.items()
        for t in types
        if t.startswith(prefix)
    }
    for service in sorted(services):
        assert any(action.startswith(f"{service}:") for action in _allowed(policy)), service


@pytest.mark.parametrize("action", EXTRA_ACTIONS)
def test_the_deployer_may_make_the_calls_a_deploy_makes_beyond_its_resources(action: str) -> None:
    assert _allows(_policy("deployer-policy.json"), action)


def test_roles_are_passed_only_to_the_services_that_assume_them() -> None:
    statement = next(
        s for s in _policy("deployer-policy.json")["Statement"] if s["Action"] == ["iam:PassRole"]
    )
    passed = statement["Condition"]["StringEquals"]["iam:PassedToService"]
    principals = set()
    for document in _hcl.data_sources("aws_iam_policy_document").values():
        for entry in _hcl.policy_statements(document):
            for principal in entry.get("principals", []):
                if principal.get("type") == "Service":
                    principals.update(principal["identifiers"])
    assert sorted(passed) == sorted(principals)


def test_the_policies_name_the_default_project_s_resources() -> None:
    project = _hcl.variables()["project"]["default"]
    locals_ = _hcl.locals_()
    names = {
        key: _hcl.resolve_locals(f"${{local.{key}}}", locals_).replace("${var.project}", project)
        for key in ("state_machine_name", "glue_job_name", "workgroup_name")
    }
    operator = json.dumps(_policy("operator-policy.json"))
    assert f"stateMachine:{names['state_machine_name']}" in operator
    assert f"execution:{names['state_machine_name']}:*" in operator
    assert f"job/{names['glue_job_name']}" in operator
    assert f"workgroup/{names['workgroup_name']}" in operator
    assert f"{project}-lake-*/runs/transform/*" in operator
    assert f"/aws-glue/jobs/{names['glue_job_name']}/*" in operator
