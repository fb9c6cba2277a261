"""Every role allows what its component calls, and no more.

The policies are the ones the real AWS provider renders (terraform/tests/rendered/iam/*.json;
terraform/tests/iam_policies.tftest.hcl proves each copy equals what Terraform renders, so a
policy edit that is not copied there fails `make tf-check`). The calls are recorded: the
component tests below run again in a subprocess with botocore's event hooks recording every
AWS call each component makes (tests/support/aws_calls.py), and each call is mapped to the
action and resource ARN IAM checks (tests/support/iam.py). The state machine's needs come
from its Task states, as AWS documents them per integration pattern, and Athena's own reads.

"No more": an action a role grants that no recorded or documented call needs fails too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from functools import cache
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from tests.infra import _hcl
from tests.support import aws_calls
from tests.support.iam import (
    Need,
    Stack,
    UnknownCallError,
    action_needed,
    allows,
    granted_actions,
    matches,
    needs_of_call,
)

pytestmark = pytest.mark.infra

IAM_TEST_FILE = _hcl.TERRAFORM / "tests" / "iam_policies.tftest.hcl"
RENDERED = _hcl.TERRAFORM / "tests" / "rendered" / "iam"

# The deployment terraform/tests/iam_policies.tftest.hcl renders (its variables, the caller
# identity and the resource names it overrides); test_the_stack_is_the_rendered_one checks.
PROJECT = "b3-quotes"
STACK = Stack(
    partition="aws",
    region="sa-east-1",
    account="123456789012",
    bucket="b3-quotes-lake-123456789012-sa-east-1",
    database="b3_lake",
    brapi_token_parameter="/b3-quotes/brapi-token",
    state_machine_name=f"{PROJECT}-pipeline",
)

# The tests that run each component against moto (in-process or in a subprocess of its
# own). Every AWS call the component makes there is checked, so a new call in the code is
# checked as soon as a test runs it.
COMPONENT_TESTS = {
    "scraper": [
        "tests/e2e/test_scraper_lambda_layer.py",
        "tests/unit/test_scraper_handler.py",
    ],
    "trigger": ["tests/unit/test_trigger_handler.py"],
    "glue_job": [
        "tests/spark/test_glue_job_on_moto.py",
        "tests/e2e/test_glue_job_catalog.py",
    ],
}

_LAMBDA_ROLE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"
_LAMBDA_XRAY = "https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html"
_LAMBDA_DEST = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html"
_GLUE_ROLE = "https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html"
_GLUE_LOGS = "https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html"
_GLUE_NAMESPACE = {"cloudwatch:namespace": "Glue"}
_GLUE_METRICS = (
    "https://docs.aws.amazon.com/glue/latest/dg/monitoring-awsglue-with-cloudwatch-metrics.html"
)
_SFN_LOGS = "https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html"
_SFN_XRAY = "https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html"
_SCHEDULER = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html"
_SCHEDULER_DLQ = (
    "https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html"
)


_SCRIPT = STACK.object_arn("artifacts/glue/transform_job.py")
_WHEEL = STACK.object_arn("artifacts/glue/b3pipeline-0.1.0-py3-none-any.whl")
_REFINED_FILE = STACK.object_arn("refined/quotes_daily/dt=2025-08-29/ticker=PETR4/part-0.parquet")
_STATE_MACHINE = STACK.arn("states", f"stateMachine:{STACK.state_machine_name}")
# The job's own log groups (--custom-logGroup-prefix, terraform/glue.tf).
_GLUE_LOG_PREFIX = f"/aws-glue/jobs/{PROJECT}-transform"
_GLUE_OUTPUT = STACK.arn("logs", f"log-group:{_GLUE_LOG_PREFIX}/output")


def _log_stream(group: str) -> str:
    return STACK.arn("logs", f"log-group:{group}:log-stream:2025/08/29/[$LATEST]0123abcd")


def _lambda_runtime_needs(function: str) -> list[tuple[str, Need]]:
    group = f"/aws/lambda/{PROJECT}-{function}"
    return [
        (_LAMBDA_ROLE, Need("logs:CreateLogStream", STACK.arn("logs", f"log-group:{group}:*"))),
        (_LAMBDA_ROLE, Need("logs:PutLogEvents", _log_stream(group))),
        (_LAMBDA_XRAY, Need("xray:PutTraceSegments", "*")),
        (_LAMBDA_XRAY, Need("xray:PutTelemetryRecords", "*")),
    ]


# What AWS documents a role needs beyond the calls its code makes (the runtime's own logs,
# traces, metrics and reads), or what the code calls on a path the recorded tests do not
# take. Each with the page (or code) that says so.
DOCUMENTED_NEEDS: dict[str, list[tuple[str, Need]]] = {
    "scraper": _lambda_runtime_needs("scraper"),
    "trigger": [
        *_lambda_runtime_needs("trigger"),
        (_LAMBDA_DEST, Need("sqs:SendMessage", STACK.arn("sqs", f"{PROJECT}-trigger-failures"))),
    ],
    "glue_job": [
        (_GLUE_ROLE, Need("s3:GetObject", _SCRIPT)),
        (_GLUE_ROLE, Need("s3:GetObject", _WHEEL)),
        (_GLUE_LOGS, Need("logs:CreateLogGroup", _GLUE_OUTPUT)),
        (_GLUE_LOGS, Need("logs:CreateLogStream", _log_stream(f"{_GLUE_LOG_PREFIX}/output"))),
        (_GLUE_LOGS, Need("logs:PutLogEvents", _log_stream(f"{_GLUE_LOG_PREFIX}/error"))),
        # Only when glue_job_metrics (off by default, as the policies are rendered) turns on
        # the job's metrics.
        *(
            [(_GLUE_METRICS, Need("cloudwatch:PutMetricData", "*", _GLUE_NAMESPACE))]
            if _hcl.variables()["glue_job_metrics"]["default"]
            else []
        ),
        # b3pipeline.lake deletes a refined file whose partition lost its rows on a rerun;
        # the recorded runs write fresh lakes, so they never take that path.
        (
            "src/b3pipeline/lake.py (delete_object)",
            Need("s3:DeleteObject", _REFINED_FILE),
        ),
    ],
    "pipeline": [
        *[
            (_SFN_LOGS, Need(f"logs:{action}", "*"))
            for action in (
                "CreateLogDelivery", "GetLogDelivery", "UpdateLogDelivery", "DeleteLogDelivery",
                "ListLogDeliveries", "PutResourcePolicy", "DescribeResourcePolicies",
                "DescribeLogGroups",
            )
        ],
        *[
            (_SFN_XRAY, Need(f"xray:{action}", "*"))
            for action in (
                "PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets"
            )
        ],
    ],
    "scheduler": [
        (_SCHEDULER, Need("states:StartExecution", _STATE_MACHINE)),
        (_SCHEDULER_DLQ, Need("sqs:SendMessage", STACK.arn("sqs", f"{PROJECT}-schedule-dlq"))),
    ],
}  # fmt: skip


# --------------------------------------------------------------- roles and their policies


def component_roles() -> dict[str, str]:
    """{component: aws_iam_role name} from the resources that run each component."""
    functions = _hcl.resources("aws_lambda_function")
    return {
        "scraper": _hcl.reference_name(functions["scraper"]["role"], "aws_iam_role"),
        "trigger": _hcl.reference_name(functions["trigger"]["role"], "aws_iam_role"),
        "glue_job": _hcl.reference_name(
            _hcl.resources("aws_glue_job")["transform"]["role_arn"], "aws_iam_role"
        ),
        "pipeline": _hcl.reference_name(
            _hcl.resources("aws_sfn_state_machine")["pipeline"]["role_arn"], "aws_iam_role"
        ),
        "scheduler": _hcl.reference_name(
            _hcl.resources("aws_scheduler_schedule")["daily"]["target"][0]["role_arn"],
            "aws_iam_role",
        ),
    }


@cache
def rendered_policy(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((RENDERED / f"{name}.json").read_text(encoding="utf-8"))
    return document


def role_policies(role: str) -> dict[str, dict[str, Any]]:
    """{aws_iam_role_policy name: its rendered document} of every inline policy of a role."""
    attached = {
        name: rendered_policy(name)
        for name, body in _hcl.resources("aws_iam_role_policy").items()
        if _hcl.reference_name(body["role"], "aws_iam_role") == role
    }
    assert attached, f"aws_iam_role.{role} has no inline policy"
    return attached


def permission_gaps(
    role: str, policies: Mapping[str, Mapping[str, Any]], needs: list[tuple[str, Need]]
) -> list[str]:
    """One line per need no policy of the role allows: the call, the role, the action."""
    return [
        f"{origin}: aws_iam_role.{role} does not allow {need.action} on {need.resource}"
        for origin, need in needs
        if not any(allows(policy, need) for policy in policies.values())
    ]


def excess_grants(
    role: str, policies: Mapping[str, Mapping[str, Any]], needs: list[tuple[str, Need]]
) -> list[str]:
    needed = {need.action for _, need in needs}
    return sorted(
        f"aws_iam_role_policy.{name} grants {action}, which no recorded or documented call needs"
        for name, policy in policies.items()
        for action in granted_actions(policy)
        if not action_needed(action, needed)
    )


# --------------------------------------------------------------- the recorded calls


@pytest.fixture(scope="module")
def recorded_calls(tmp_path_factory: pytest.TempPathFactory) -> list[aws_calls.AwsCall]:
    log = tmp_path_factory.mktemp("aws-calls") / "calls.jsonl"
    tests = sorted({test for paths in COMPONENT_TESTS.values() for test in paths})
    environment = {
        **os.environ,
        aws_calls.LOG_VARIABLE: str(log),
        "PYTHONPATH": os.pathsep.join(
            [str(aws_calls.RECORDER_PATH), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    environment.pop(aws_calls.COMPONENT_VARIABLE, None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=_hcl.ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, (
        f"the component tests failed while recording:\n{done.stdout[-4000:]}"
    )
    return list(aws_calls.read_calls(log))


def recorded_needs(component: str, calls: list[aws_calls.AwsCall]) -> list[tuple[str, Need]]:
    mine = [call for call in calls if call.component == component]
    assert mine, (
        f"no AWS call of {component} was recorded: did {COMPONENT_TESTS[component]} run it?"
    )
    needs: list[tuple[str, Need]] = []
    for call in {
        (c.service, c.operation, json.dumps(c.params, sort_keys=True)): c for c in mine
    }.values():
        for need in needs_of_call(STACK, call.service, call.operation, call.params):
            needs.append((f"{component} calls {call.describe()}", need))
    return needs


# --------------------------------------------------------------- the state machine


def _asl_values() -> dict[str, str]:
    """The ASL's placeholders as this stack's templatefile call renders them."""
    return {
        "scraper_function_arn": STACK.arn("lambda", f"function:{PROJECT}-scraper"),
        "glue_job_name": f"{PROJECT}-transform",
        "crawler_name": f"{PROJECT}-crawler",
        "athena_workgroup": f"{PROJECT}-wg",
        "glue_database": STACK.database,
        "quality_statement_name": "quality_check",
        "failure_topic_arn": STACK.arn("sns", f"{PROJECT}-failures"),
        "lake_uri": f"s3://{STACK.bucket}",
        "lake_bucket": STACK.bucket,
        "run_summaries_prefix": "runs/transform/",
        "default_tickers": "PETR4",
        "scrape_batch_size": "50",
        "scrape_max_concurrency": "2",
    }


def rendered_asl() -> dict[str, Any]:
    values = _asl_values()

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"ASL placeholder ${{{name}}}: add its stack value to _asl_values"
        return values[name]

    document: dict[str, Any] = json.loads(re.sub(r"\$\{(\w+)\}", value, _hcl.asl_text()))
    return document


def _sample_parameters(state: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters with each `X.$` replaced by a value of the shape it renders at run time."""
    sampled: dict[str, Any] = {}
    for key, value in parameters.items():
        if not key.endswith(".$"):
            sampled[key] = value
            continue
        template = re.match(r"States\.Format\('([^']*)'", str(value))
        if template is None:
            sampled[key[:-2]] = None  # only resource-naming parameters matter, checked below
            continue
        sampled[key[:-2]] = template.group(1).replace("{}", "run-id-0001")
    return sampled


def _athena_tables_read(statement_sql: str) -> set[str]:
    tree = sqlglot.parse_one(statement_sql, read="athena")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {table.name for table in tree.find_all(exp.Table) if table.name not in ctes}


def _table_locations() -> dict[str, str]:
    locals_ = _hcl.locals_()
    return {
        name: _hcl.resolve_locals(spec["location"], locals_)
        for name, spec in locals_["catalog_tables"].items()
    }


_SFN_PAGE = "https://docs.aws.amazon.com/step-functions/latest/dg/{}-iam.html"
_ATHENA_GLUE = (
    "https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html"
)
_ATHENA_PREPARED = (
    "https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html"
)
_ATHENA_WORKGROUP = "https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html"


def athena_query_needs(origin: str, query: str) -> list[tuple[str, Need]]:
    """What a query run under the caller's credentials needs (Athena reads as the caller)."""
    workgroup = STACK.arn("athena", f"workgroup/{PROJECT}-wg")
    needs = [
        (f"{origin} ({_SFN_PAGE.format('athena')})", Need(f"athena:{a}", workgroup))
        for a in ("StartQueryExecution", "GetQueryExecution", "StopQueryExecution")
    ]
    needs.append((f"{origin} ({_ATHENA_WORKGROUP})", Need("athena:GetWorkGroup", workgroup)))
    needs.append(
        (
            f"{origin} ({_SFN_PAGE.format('athena')})",
            Need("athena:GetDataCatalog", STACK.arn("athena", "datacatalog/AwsDataCatalog")),
        )
    )
    statement_sql = query
    if query.strip().upper().startswith("EXECUTE"):
        needs.append(
            (f"{origin} ({_ATHENA_PREPARED})", Need("athena:GetPreparedStatement", workgroup))
        )
        statement_sql = (_hcl.ROOT / "sql" / "quality_check.sql").read_text(encoding="utf-8")
    # "glue:GetDatabase on the default database is mandatory" for every query, and the
    # query's own database, tables and partitions.
    for database in ("default", STACK.database):
        needs += [
            (f"{origin} ({_ATHENA_GLUE})", n)
            for n in needs_of_call(STACK, "glue", "GetDatabase", {"Name": database})
        ]
    # The catalog reads of the policy Step Functions generates for this integration (its
    # Athena page), beyond the three the Athena page calls mandatory for a SELECT.
    catalog = [STACK.arn("glue", "catalog"), STACK.arn("glue", f"database/{STACK.database}")]
    needs += [
        (f"{origin} ({_SFN_PAGE.format('athena')})", Need("glue:GetDatabases", arn))
        for arn in catalog
    ]
    locations = _table_locations()
    for table in sorted(_athena_tables_read(statement_sql)):
        for operation in ("GetTable", "GetPartitions"):
            needs += [
                (f"{origin} reads {table} ({_ATHENA_GLUE})", n)
                for n in needs_of_call(
                    STACK, "glue", operation, {"DatabaseName": STACK.database, "TableName": table}
                )
            ]
        for operation in ("GetTables", "GetPartition", "BatchGetPartition"):
            needs += [
                (
                    f"{origin} reads {table} ({_SFN_PAGE.format('athena')})",
                    Need(f"glue:{operation}", arn),
                )
                for arn in STACK.glue_table_arns(STACK.database, table)
            ]
        data = f"{locations[table]}dt=2025-08-29/ticker=PETR4/part-0.parquet"
        needs.append((f"{origin} reads {table}", Need("s3:GetObject", STACK.object_arn(data))))
        needs.append(
            (
                f"{origin} lists {table}",
                Need("s3:ListBucket", STACK.bucket_arn, {"s3:prefix": locations[table]}),
            )
        )
    results = STACK.object_arn("athena-results/0123-abcd.csv")
    page = f"{origin} ({_SFN_PAGE.format('athena')}: query results)"
    needs += [
        (page, Need("s3:GetBucketLocation", STACK.bucket_arn)),
        (page, Need("s3:ListBucketMultipartUploads", STACK.bucket_arn)),
        (page, Need("s3:PutObject", results)),
        (page, Need("s3:GetObject", results)),
        (page, Need("s3:AbortMultipartUpload", results)),
        (page, Need("s3:ListMultipartUploadParts", results)),
    ]
    return needs  # fmt: skip


_INTEGRATION = re.compile(r"^arn:aws:states:::(?P<target>[^.]+)(?P<pattern>\.\w+)?$")


def task_needs(name: str, state: Mapping[str, Any]) -> list[tuple[str, Need]]:
    """The permissions AWS documents for a Task's integration ("IAM policies for integrated
    services", one page per service), with the resources its Parameters name."""
    resource = state["Resource"]
    parameters = _sample_parameters(name, state.get("Parameters") or state.get("Arguments") or {})
    origin = f"Task {name!r} ({resource})"
    if resource.startswith("arn:aws:lambda:"):
        return [(origin, Need("lambda:InvokeFunction", resource))]
    match = _INTEGRATION.match(resource)
    if match is None:
        raise UnknownCallError(f"{origin}: teach tests/infra/test_iam_roles.py this resource")
    target, pattern = match.group("target").split(":"), match.group("pattern") or ""
    if target[0] == "aws-sdk":
        service, api = target[1], target[2][0].upper() + target[2][1:]
        return [(origin, n) for n in needs_of_call(STACK, service, api, parameters)]
    if target == ["lambda", "invoke"]:
        return [(origin, n) for n in needs_of_call(STACK, "lambda", "Invoke", parameters)]
    if target == ["sns", "publish"]:
        return [(origin, n) for n in needs_of_call(STACK, "sns", "Publish", parameters)]
    if target == ["glue", "startJobRun"]:
        job = STACK.arn("glue", f"job/{parameters['JobName']}")
        actions = ["StartJobRun"]
        if pattern == ".sync":
            actions += ["GetJobRun", "GetJobRuns", "BatchStopJobRun"]
        return [(f"{origin} ({_SFN_PAGE.format('glue')})", Need(f"glue:{a}", job)) for a in actions]
    if target == ["athena", "startQueryExecution"]:
        assert pattern == ".sync", f"{origin}: only the .sync pattern is mapped"
        return athena_query_needs(origin, str(parameters["QueryString"]))
    if target == ["athena", "getQueryResults"]:
        workgroup = STACK.arn("athena", f"workgroup/{PROJECT}-wg")
        results = STACK.object_arn("athena-results/0123-abcd.csv")
        return [
            (f"{origin} ({_SFN_PAGE.format('athena')})", Need("athena:GetQueryResults", workgroup)),
            (f"{origin} ({_SFN_PAGE.format('athena')})", Need("s3:GetObject", results)),
        ]
    raise UnknownCallError(f"{origin}: teach tests/infra/test_iam_roles.py this integration")


def state_machine_needs() -> list[tuple[str, Need]]:
    tasks = _hcl.task_states(rendered_asl()["States"])
    assert tasks, "the ASL has no Task state"
    return [need for name, state in tasks for need in task_needs(name, state)]


def component_needs(component: str, calls: list[aws_calls.AwsCall]) -> list[tuple[str, Need]]:
    needs = list(DOCUMENTED_NEEDS.get(component, []))
    if component in COMPONENT_TESTS:
        needs += recorded_needs(component, calls)
    if component == "pipeline":
        needs += state_machine_needs()
    return needs


# --------------------------------------------------------------- the checks


def test_the_stack_is_the_rendered_one() -> None:
    text = IAM_TEST_FILE.read_text(encoding="utf-8")
    for value in (STACK.bucket, STACK.region, STACK.account, STACK.brapi_token_parameter):
        assert value in text, f"{value} is not the deployment {IAM_TEST_FILE.name} renders"
    assert _hcl.variables()["glue_database"]["default"] == STACK.database
    assert _hcl.variables()["project"]["default"] == PROJECT


def test_every_inline_policy_has_a_rendered_copy_compared_by_terraform() -> None:
    text = IAM_TEST_FILE.read_text(encoding="utf-8")
    for name in _hcl.resources("aws_iam_role_policy"):
        assert (RENDERED / f"{name}.json").is_file(), f"run `make tf-render` for {name}"
        compared = (
            f"jsondecode(aws_iam_role_policy.{name}.policy) == "
            f'jsondecode(file("tests/rendered/iam/{name}.json"))'
        )
        assert compared in text, f"{IAM_TEST_FILE.name} does not compare {name} with its copy"


@pytest.mark.parametrize("component", ["scraper", "trigger", "glue_job", "pipeline", "scheduler"])
def test_role_allows_every_call_of_its_component(
    component: str, recorded_calls: list[aws_calls.AwsCall]
) -> None:
    role = component_roles()[component]
    gaps = permission_gaps(role, role_policies(role), component_needs(component, recorded_calls))
    assert gaps == [], "\n".join(gaps)


@pytest.mark.parametrize("component", ["scraper", "trigger", "glue_job", "pipeline", "scheduler"])
def test_role_grants_nothing_its_component_does_not_need(
    component: str, recorded_calls: list[aws_calls.AwsCall]
) -> None:
    role = component_roles()[component]
    excess = excess_grants(role, role_policies(role), component_needs(component, recorded_calls))
    assert excess == [], "\n".join(excess)


def test_every_component_role_is_checked() -> None:
    checked = set(component_roles().values()) | {"crawler"}  # crawler: test_aws_rules.py
    assert set(_hcl.resources("aws_iam_role")) == checked


# --------------------------------------------------------------- the checks can fail


def _without(policy: Mapping[str, Any], action: str) -> dict[str, Any]:
    statements = []
    for statement in policy["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        kept = [a for a in actions if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**policy, "Statement": statements}


def test_a_call_the_role_does_not_allow_is_named_with_role_and_action() -> None:
    need = needs_of_call(
        STACK,
        "s3",
        "PutObject",
        {"Bucket": "test", "Key": "lake/raw/quotes/dt=2025-08-29/ticker=PETR4/quotes.parquet"},
    )
    origin = "scraper calls s3.PutObject(Bucket='test', Key='lake/raw/...')"
    broken = {"scraper": _without(rendered_policy("scraper"), "s3:PutObject")}
    (gap,) = permission_gaps("scraper", broken, [(origin, n) for n in need])
    assert gap == (
        f"{origin}: aws_iam_role.scraper does not allow s3:PutObject on "
        f"{STACK.bucket_arn}/raw/quotes/dt=2025-08-29/ticker=PETR4/quotes.parquet"
    )


def test_athena_needs_the_default_database() -> None:
    broken = {
        "pipeline": {
            **rendered_policy("pipeline"),
            "Statement": [
                {**s, "Resource": [r for r in s["Resource"] if not r.endswith("database/default")]}
                if isinstance(s["Resource"], list) else s
                for s in rendered_policy("pipeline")["Statement"]
            ],
        }
    }  # fmt: skip
    gaps = permission_gaps("pipeline", broken, state_machine_needs())
    assert any(
        g.endswith(f"glue:GetDatabase on {STACK.arn('glue', 'database/default')}") for g in gaps
    )


def test_an_unneeded_grant_is_named() -> None:
    policy = rendered_policy("trigger")
    extra = {
        **policy,
        "Statement": [
            *policy["Statement"],
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
        ],
    }
    unneeded = ", which no recorded or documented call needs"
    assert excess_grants("trigger", {"trigger": extra}, DOCUMENTED_NEEDS["trigger"]) == [
        f"aws_iam_role_policy.trigger grants {action}{unneeded}"
        for action in ("s3:GetObject", "s3:ListBucket", "states:StartExecution")
    ]


def test_an_unmapped_call_fails_loudly() -> None:
    with pytest.raises(UnknownCallError, match=r"s3\.PutBucketPolicy has no IAM rule"):
        needs_of_call(STACK, "s3", "PutBucketPolicy", {"Bucket": "b"})


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "expected"),
    [
        ("arn:aws:s3:::b/raw/*", "arn:aws:s3:::b/raw/quotes/x.parquet", False, True),
        ("arn:aws:s3:::b/raw/*", "arn:aws:s3:::b/RAW/quotes/x.parquet", False, False),
        ("arn:aws:s3:::b/dt=202?-*", "arn:aws:s3:::b/dt=2025-08-29", False, True),
        ("arn:aws:s3:::b/dt=202?-*", "arn:aws:s3:::b/dt=20255-08", False, False),
        ("arn:aws:s3:::b/[ab]*", "arn:aws:s3:::b/a1", False, False),  # [ is literal in IAM
        ("s3:Get*", "s3:getobject", True, True),
        ("s3:Get*", "s3:PutObject", True, False),
    ],
)
def test_wildcards_match_as_iam_does(
    pattern: str, value: str, ignore_case: bool, expected: bool
) -> None:
    assert matches(pattern, value, ignore_case=ignore_case) is expected


def test_deny_wins_and_a_missing_condition_key_does_not_match() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"},
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "Glue"}},
            },
        ]
    }
    assert allows(policy, Need("s3:GetObject", "arn:aws:s3:::b/k"))
    assert not allows(policy, Need("s3:DeleteObject", "arn:aws:s3:::b/k"))
    assert allows(policy, Need("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Glue"}))
    assert not allows(policy, Need("cloudwatch:PutMetricData", "*"))
    assert not allows(policy, Need("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "X"}))


def test_s3_operations_map_to_the_actions_s3_authorizes_them_with() -> None:
    bucket, key = {"Bucket": "test"}, {"Bucket": "test", "Key": "lake/runs/transform/j.json"}
    summary = STACK.object_arn("runs/transform/j.json")
    assert needs_of_call(STACK, "s3", "HeadObject", key) == [Need("s3:GetObject", summary)]
    assert needs_of_call(STACK, "s3", "HeadBucket", bucket) == [
        Need("s3:ListBucket", STACK.bucket_arn, {"s3:prefix": ""})
    ]
    deletes = {
        "Bucket": "test",
        "Delete": {"Objects": [{"Key": "refined/a"}, {"Key": "refined/b"}]},
    }
    assert [n.resource for n in needs_of_call(STACK, "s3", "DeleteObjects", deletes)] == [
        STACK.object_arn("refined/a"),
        STACK.object_arn("refined/b"),
    ]
    glue = needs_of_call(
        STACK, "glue", "GetTable", {"DatabaseName": "tmp_db", "Name": "quotes_daily"}
    )
    assert [n.resource for n in glue] == STACK.glue_table_arns("b3_lake", "quotes_daily")
