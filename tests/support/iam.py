"""IAM, as far as this project's roles need it: which action on which resource ARN an AWS API
call needs, and whether a policy document allows it.

Call -> permission follows AWS's Service Authorization Reference (one page per service:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html,
list_awsglue.html, list_awssystemsmanager.html, list_awsstepfunctions.html, list_amazonsns.html,
list_awslambda.html, list_amazonathena.html) and, for S3, "Required permissions for Amazon S3
API operations" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html):
several S3 operations are authorized by an action of another name. Glue catalog calls need the
catalog, the database and the table ARN ("Specifying AWS Glue resource ARNs",
https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html).

Policy evaluation follows "Policy evaluation logic" for identity policies: an explicit Deny
wins, then any Allow; Action matches case-insensitively, Resource case-sensitively, both
with `*` (any run of characters) and `?` (one character) as the only wildcards ("IAM JSON
policy elements: Resource"); a condition on a key the request lacks does not match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stack:
    """The deployment a rendered policy belongs to (terraform/tests/iam_policies.tftest.hcl)."""

    partition: str
    region: str
    account: str
    bucket: str
    database: str
    brapi_token_parameter: str
    state_machine_name: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    def object_arn(self, key: str) -> str:
        return f"{self.bucket_arn}/{key}"

    def glue_table_arns(self, database: str, table: str) -> list[str]:
        return [
            self.arn("glue", "catalog"),
            self.arn("glue", f"database/{database}"),
            self.arn("glue", f"table/{database}/{table}"),
        ]


@dataclass(frozen=True)
class Need:
    """One permission a call needs: an action on a resource, with the request's context keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.action} on {self.resource}"


# --------------------------------------------------------------- call -> permissions

# Lake keys start at one of these folders (DESIGN.md's lake layout); whatever precedes them
# is the lake's prefix inside the test's bucket (s3://bucket/lake), which the deployed lake
# (s3://bucket) does not have.
LAKE_TOP_FOLDERS = ("raw/", "refined/", "runs/", "athena-results/", "artifacts/")


def lake_key(key: str) -> str:
    for index in range(len(key)):
        if (index == 0 or key[index - 1] == "/") and key.startswith(LAKE_TOP_FOLDERS, index):
            return key[index:]
    return key


def _s3_object(action: str) -> Callable[[Stack, Mapping[str, Any]], list[Need]]:
    return lambda stack, p: [Need(action, stack.object_arn(lake_key(p["Key"])))]


def _s3_bucket(action: str) -> Callable[[Stack, Mapping[str, Any]], list[Need]]:
    def needs(stack: Stack, params: Mapping[str, Any]) -> list[Need]:
        prefix = lake_key(str(params.get("Prefix", "")))
        return [Need(action, stack.bucket_arn, {"s3:prefix": prefix})]

    return needs


def _s3_delete_objects(stack: Stack, params: Mapping[str, Any]) -> list[Need]:
    keys = [item["Key"] for item in params["Delete"]["Objects"]]
    return [Need("s3:DeleteObject", stack.object_arn(lake_key(key))) for key in keys]


def _glue_table(action: str) -> Callable[[Stack, Mapping[str, Any]], list[Need]]:
    def needs(stack: Stack, params: Mapping[str, Any]) -> list[Need]:
        table = params.get("TableName") or params["Name"]
        return [Need(action, arn) for arn in stack.glue_table_arns(stack.database, table)]

    return needs


def _glue_database(action: str) -> Callable[[Stack, Mapping[str, Any]], list[Need]]:
    def needs(stack: Stack, params: Mapping[str, Any]) -> list[Need]:
        database = params.get("Name") or params["DatabaseName"]
        name = "default" if database == "default" else stack.database
        return [
            Need(action, stack.arn("glue", "catalog")),
            Need(action, stack.arn("glue", f"database/{name}")),
        ]

    return needs


def _named(service: str, action: str, kind: str, param: str) -> Callable[..., list[Need]]:
    return lambda stack, p: [Need(action, stack.arn(service, f"{kind}{p[param]}"))]


def _by_arn(action: str, param: str) -> Callable[[Stack, Mapping[str, Any]], list[Need]]:
    return lambda stack, p: [Need(action, p[param])]


_PERMISSIONS: dict[tuple[str, str], Callable[[Stack, Mapping[str, Any]], list[Need]]] = {
    ("s3", "PutObject"): _s3_object("s3:PutObject"),
    ("s3", "GetObject"): _s3_object("s3:GetObject"),
    ("s3", "HeadObject"): _s3_object("s3:GetObject"),
    ("s3", "DeleteObject"): _s3_object("s3:DeleteObject"),
    ("s3", "DeleteObjects"): _s3_delete_objects,
    ("s3", "ListObjectsV2"): _s3_bucket("s3:ListBucket"),
    ("s3", "ListObjects"): _s3_bucket("s3:ListBucket"),
    ("s3", "HeadBucket"): _s3_bucket("s3:ListBucket"),
    ("s3", "GetBucketLocation"): _s3_bucket("s3:GetBucketLocation"),
    ("glue", "GetTable"): _glue_table("glue:GetTable"),
    ("glue", "GetPartitions"): _glue_table("glue:GetPartitions"),
    ("glue", "GetPartition"): _glue_table("glue:GetPartition"),
    ("glue", "BatchGetPartition"): _glue_table("glue:BatchGetPartition"),
    ("glue", "CreatePartition"): _glue_table("glue:CreatePartition"),
    ("glue", "BatchCreatePartition"): _glue_table("glue:BatchCreatePartition"),
    ("glue", "BatchDeletePartition"): _glue_table("glue:BatchDeletePartition"),
    ("glue", "DeletePartition"): _glue_table("glue:DeletePartition"),
    ("glue", "GetDatabase"): _glue_database("glue:GetDatabase"),
    ("glue", "StartCrawler"): _named("glue", "glue:StartCrawler", "crawler/", "Name"),
    ("glue", "GetCrawler"): _named("glue", "glue:GetCrawler", "crawler/", "Name"),
    ("ssm", "GetParameter"): lambda stack, p: [
        Need("ssm:GetParameter", stack.arn("ssm", f"parameter{stack.brapi_token_parameter}"))
    ],
    ("stepfunctions", "StartExecution"): lambda stack, p: [
        Need(
            "states:StartExecution", stack.arn("states", f"stateMachine:{stack.state_machine_name}")
        )
    ],
    ("sns", "Publish"): _by_arn("sns:Publish", "TopicArn"),
    ("lambda", "Invoke"): _by_arn("lambda:InvokeFunction", "FunctionName"),
}


class UnknownCallError(Exception):
    """A call this module cannot map to IAM yet."""


def needs_of_call(
    stack: Stack, service: str, operation: str, params: Mapping[str, Any]
) -> list[Need]:
    """What a call needs, in the stack's names (the test's bucket and database stand for them)."""
    try:
        rule = _PERMISSIONS[(service, operation)]
    except KeyError:
        raise UnknownCallError(
            f"{service}.{operation} has no IAM rule in tests/support/iam.py: add one from the "
            "Service Authorization Reference page of the service (action and resource ARN)"
        ) from None
    try:
        return rule(stack, params)
    except KeyError as missing:
        raise UnknownCallError(
            f"{service}.{operation}: the recorded call lacks parameter {missing} that its IAM "
            "resource is made from (tests/support/aws_calls.py RESOURCE_PARAMETERS)"
        ) from None


# --------------------------------------------------------------- policy evaluation


def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` and `?` only (`[` is a plain character, unlike fnmatch)."""
    return _wildcard(pattern, ignore_case=ignore_case).fullmatch(value) is not None


def _listed(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _condition_holds(
    condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]
) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            if key not in context:
                return False
            values = _listed(wanted)
            if operator == "StringEquals":
                ok = context[key] in values
            elif operator == "StringLike":
                ok = any(matches(v, context[key]) for v in values)
            else:
                raise AssertionError(
                    f"teach tests/support/iam.py the condition operator {operator}"
                )
            if not ok:
                return False
    return True


def _statement_applies(statement: Mapping[str, Any], need: Need) -> bool:
    actions = _listed(statement.get("Action"))
    if "NotAction" in statement or "NotResource" in statement:
        raise AssertionError("NotAction/NotResource: teach tests/support/iam.py before using them")
    if not any(matches(a, need.action, ignore_case=True) for a in actions):
        return False
    if not any(matches(r, need.resource) for r in _listed(statement.get("Resource"))):
        return False
    return _condition_holds(statement.get("Condition", {}), need.context)


def allows(policy: Mapping[str, Any], need: Need) -> bool:
    statements = _listed_statements(policy)
    if any(s.get("Effect") == "Deny" and _statement_applies(s, need) for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and _statement_applies(s, need) for s in statements)


def _listed_statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statement = policy["Statement"]
    return [statement] if isinstance(statement, Mapping) else list(statement)


def granted_actions(policy: Mapping[str, Any]) -> set[str]:
    return {
        action
        for statement in _listed_statements(policy)
        if statement.get("Effect") == "Allow"
        for action in _listed(statement.get("Action"))
    }


def action_needed(granted: str, needed: Iterable[str]) -> bool:
    return any(matches(granted, action, ignore_case=True) for action in needed)
