"""Rules AWS enforces that the local stand-ins (DuckDB, moto, python-hcl2) do not.

Each test names the AWS page it encodes. Everything here passes on a laptop while the first
real run would fail, so each rule is checked statically, and each check is fed a broken
input once (the `_sees_` tests) to show it can fail.
"""

from __future__ import annotations

import re
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from b3pipeline.errors import InvalidTickerError
from b3pipeline.quality import QUALITY_CHECK_FILE, quality_check_parameters
from b3pipeline.tickers import B3_SYMBOL_PATTERN, validate_ticker
from tests.support.botocore_models import member_shape

from . import _hcl
from ._athena_sql import athena_parameter_markers, athena_parameter_problems

SQL_FILES = sorted((_hcl.ROOT / "sql").glob("*.sql"))

# ------------------------------------------------------------------ Athena parameters
# Athena, "Use parameterized queries", Considerations and limitations:
# https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_every_sql_parameter_sits_in_a_where_clause(path: Path) -> None:
    assert athena_parameter_problems(path.read_text(encoding="utf-8")) == []


def test_quality_check_takes_exactly_the_parameters_the_gate_sends() -> None:
    sql = (_hcl.ROOT / "sql" / QUALITY_CHECK_FILE).read_text(encoding="utf-8")
    sent = quality_check_parameters(date(2025, 8, 25), date(2025, 8, 29), ["PETR4"])
    assert len(athena_parameter_markers(sql)) == len(sent) > 0


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ? AS start_date FROM t",
        "WITH p AS (SELECT CAST(? AS date) AS d) SELECT * FROM t CROSS JOIN p WHERE t.dt = p.d",
        "SELECT a FROM t JOIN u ON u.k = ? WHERE a > 0",
        "SELECT a FROM t WHERE a IN (SELECT ? FROM u)",
        "SELECT a, count(*) FROM t WHERE a > 0 GROUP BY a HAVING count(*) > ?",
        "SELECT a FROM t WHERE a = '?'",
    ],
)
def test_the_where_clause_check_sees_a_misplaced_parameter(sql: str) -> None:
    assert athena_parameter_problems(sql)


def test_the_where_clause_check_accepts_parameters_in_nested_where_clauses() -> None:
    sql = "SELECT a FROM t WHERE a = ? AND b IN (SELECT c FROM u WHERE d BETWEEN ? AND ?)"
    assert athena_parameter_problems(sql) == []
    assert len(athena_parameter_markers(sql)) == 3


# ------------------------------------------------------------------ variable validations
# Terraform evaluates these conditions at plan time; here the few forms the module uses are
# evaluated in Python, so a test can ask "which values does the module accept?".

_PATTERN = r'"(?P<pattern>(?:[^"\\]|\\.)*)"'
_TERMS = {
    "regex": re.compile(rf"^can\(regex\({_PATTERN}, var\.(?P<var>\w+)\)\)$"),
    "not_regex": re.compile(rf"^!can\(regex\({_PATTERN}, var\.(?P<var>\w+)\)\)$"),
    "not_startswith": re.compile(r'^!startswith\(var\.(?P<var>\w+), "(?P<text>[^"]*)"\)$'),
    "not_endswith": re.compile(r'^!endswith\(var\.(?P<var>\w+), "(?P<text>[^"]*)"\)$'),
    "not_strcontains": re.compile(r'^!strcontains\(var\.(?P<var>\w+), "(?P<text>[^"]*)"\)$'),
}
#: `var.x == "" || <terms>`: the empty string (the variable's "not set") passes the block.
_EMPTY_OR = re.compile(r'^var\.(?P<var>\w+) == "" \|\| (?P<rest>.*)$')


def _term_accepts(term: str, variable: str, value: str) -> bool:
    known = [(kind, m) for kind, expression in _TERMS.items() if (m := expression.match(term))]
    if not known:
        raise AssertionError(f"extend _validation_accepts for the term {term!r}")
    kind, match = known[0]
    assert match["var"] == variable, term
    if kind in ("regex", "not_regex"):
        found = re.search(match["pattern"].replace("\\\\", "\\"), value) is not None
        return found if kind == "regex" else not found
    text = match["text"]
    if kind == "not_startswith":
        return not value.startswith(text)
    if kind == "not_endswith":
        return not value.endswith(text)
    return text not in value


def _validation_accepts(variable: str, value: str) -> bool:
    """Whether every validation block of `variable` accepts `value`."""
    blocks = _hcl.variables()[variable].get("validation", [])
    assert blocks, f"variable {variable} has no validation"
    for block in blocks:
        condition = block["condition"]
        assert condition.startswith("${") and condition.endswith("}"), condition
        condition = condition[2:-1]
        if match := _EMPTY_OR.match(condition):
            assert match["var"] == variable, condition
            if value == "":
                continue
            condition = match["rest"]
        if not all(_term_accepts(t.strip(), variable, value) for t in condition.split("&&")):
            return False
    return True


def _longest_accepted(variable: str, candidates: list[str]) -> str:
    accepted = [c for c in candidates if _validation_accepts(variable, c)]
    assert accepted, f"{variable} accepts none of the probes"
    return max(accepted, key=len)


# ------------------------------------------------------------------ partition
# Step Functions, "Service integrations": optimized integrations are addressed as
# arn:<partition>:states:::<service>:<api>; Terraform's aws_partition data source
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html: partitions aws,
# aws-cn, aws-us-gov). The ASL is written for the aws partition, so the region variable
# must refuse every region of another partition.

AWS_PARTITION_REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1",
    "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
]  # fmt: skip
OTHER_PARTITION_REGIONS = [
    "us-gov-west-1", "us-gov-east-1", "cn-north-1", "cn-northwest-1", "us-iso-east-1",
    "us-isob-east-1", "eusc-de-east-1",
]  # fmt: skip


def _asl_partitions() -> set[str]:
    return set(re.findall(r'"arn:([^:"$]*):', _hcl.asl_text()))


def test_asl_arns_hard_code_only_the_aws_partition() -> None:
    assert _asl_partitions() == {"aws"}


@pytest.mark.parametrize("region", AWS_PARTITION_REGIONS)
def test_region_variable_accepts_aws_partition_regions(region: str) -> None:
    assert _validation_accepts("aws_region", region)


@pytest.mark.parametrize("region", OTHER_PARTITION_REGIONS)
def test_region_variable_refuses_other_partitions_while_the_asl_hard_codes_aws(
    region: str,
) -> None:
    assert _asl_partitions() == {"aws"}
    assert not _validation_accepts("aws_region", region)


# ------------------------------------------------------------------ S3 bucket name
# Amazon S3, "General purpose bucket naming rules": 3 to 63 characters; lowercase letters,
# digits, dots and hyphens; begin and end with a letter or digit; must not start with xn--,
# sthree- or amzn-s3-demo-, nor end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html

_S3_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _default_bucket_name(project: str, region: str) -> str:
    expression = _hcl.locals_()["bucket_name"]
    template = re.search(r':\s*"(\$\{var\.project\}[^"]*)"\}$', expression)
    assert template, f"unexpected bucket_name local: {expression}"
    values = {"var.project": project, "local.account_id": "123456789012", "local.region": region}
    return re.sub(r"\$\{([\w.]+)\}", lambda m: values[m.group(1)], template.group(1))


def _s3_name_problems(name: str) -> list[str]:
    problems = [] if _S3_NAME.match(name) else [f"{name!r} ({len(name)} chars) breaks 3-63 chars"]
    problems += [f"{name!r} has adjacent periods"] if ".." in name else []
    problems += [f"{name!r} is an IP address"] if _S3_IP_ADDRESS.match(name) else []
    problems += [f"{name!r} starts with {p}" for p in _S3_RESERVED_PREFIXES if name.startswith(p)]
    problems += [f"{name!r} ends with {s}" for s in _S3_RESERVED_SUFFIXES if name.endswith(s)]
    return problems


def test_default_bucket_name_is_valid_for_every_allowed_project_and_region() -> None:
    projects = ["a" * n for n in range(1, 80)]
    regions = [f"ab-{'c' * n}-{'1' * d}" for n in range(1, 30) for d in (1, 2)]
    longest_project = _longest_accepted("project", projects)
    longest_region = _longest_accepted("aws_region", [*regions, *AWS_PARTITION_REGIONS])
    shortest_project = min((p for p in projects if _validation_accepts("project", p)), key=len)
    for project in (longest_project, shortest_project):
        for region in (longest_region, "sa-east-1"):
            assert _s3_name_problems(_default_bucket_name(project, region)) == []


@pytest.mark.parametrize("project", ["xn--quotes", "sthree-quotes", "amzn-s3-demo-quotes"])
def test_project_variable_refuses_s3_reserved_prefixes(project: str) -> None:
    assert _s3_name_problems(_default_bucket_name(project, "sa-east-1"))
    assert not _validation_accepts("project", project)


def test_the_bucket_name_check_sees_a_name_too_long() -> None:
    assert _s3_name_problems(_default_bucket_name("a" * 31, "ap-southeast-1"))


# One name per rule family of the page above, each breaking that rule only.
BUCKET_NAMES_S3_REFUSES = {
    "too short": "b3",
    "too long": "b" * 64,
    "upper case": "B3-lake",
    "underscore": "b3_lake",
    "ends with a hyphen": "b3-lake-",
    "adjacent periods": "b3..lake",
    "IP address": "192.168.5.4",
    **{f"prefix {p}": f"{p}b3-lake" for p in _S3_RESERVED_PREFIXES},
    **{f"suffix {s}": f"b3-lake{s}" for s in _S3_RESERVED_SUFFIXES},
}
BUCKET_NAMES_S3_ACCEPTS = ["b3-lake", "b3.lake.2025", "192.168.5.4.lake", "b" * 63, "xn-b3-lake"]


@pytest.mark.parametrize(
    "name", BUCKET_NAMES_S3_REFUSES.values(), ids=list(BUCKET_NAMES_S3_REFUSES)
)
def test_bucket_name_variable_refuses_what_s3_refuses(name: str) -> None:
    assert _s3_name_problems(name)
    assert not _validation_accepts("bucket_name", name)


@pytest.mark.parametrize("name", ["", *BUCKET_NAMES_S3_ACCEPTS])
def test_bucket_name_variable_accepts_what_s3_accepts(name: str) -> None:
    """ "" is the variable's default: the <project>-lake-<account>-<region> name."""
    assert name == "" or _s3_name_problems(name) == []
    assert _validation_accepts("bucket_name", name)


# ------------------------------------------------------------------ tickers
# The scraper refuses a symbol b3pipeline.tickers does not accept (InvalidTickerError): the
# variable that feeds the schedule's input and B3_TICKERS refuses the same ones at plan.


def _tickers_validation_pattern() -> str:
    pattern = r'can\(regex\("((?:[^"\\]|\\.)*)", t\)\)'
    conditions = [block["condition"] for block in _hcl.variables()["tickers"]["validation"]]
    (found,) = [match for c in conditions if (match := re.search(pattern, c))]
    return found[1].replace("\\\\", "\\")


def test_tickers_variable_validates_with_the_code_s_regex() -> None:
    assert _tickers_validation_pattern() == B3_SYMBOL_PATTERN


@pytest.mark.parametrize(
    "symbol",
    ["PETR4", "VALE3", "BOVA11", "PETR4F", "BOVA11F", "B3SA3", "PETR", "PETR44444",
     "ABCD12345678", "4PET4", "PETR4FF", "PETR-4", "PET4"],
)  # fmt: skip
def test_tickers_variable_and_the_scraper_agree_on_a_symbol(symbol: str) -> None:
    terraform_accepts = re.search(_tickers_validation_pattern(), symbol) is not None
    try:
        validate_ticker(symbol)
    except InvalidTickerError:
        code_accepts = False
    else:
        code_accepts = True
    assert terraform_accepts == code_accepts


# ------------------------------------------------------------------ Athena statement name
# botocore's athena model, CreatePreparedStatement StatementName: length min/max and a
# pattern whose repeat needs a second character. The state machine runs EXECUTE <name>.


def _athena_accepts_statement_name(name: str) -> bool:
    model = member_shape("athena", "CreatePreparedStatementInput", "StatementName")
    return model["min"] <= len(name) <= model["max"] and bool(re.fullmatch(model["pattern"], name))


@pytest.mark.parametrize(
    "name",
    ["q", "qc", "quality_check", "_q", "Q1", "a" * 256, "a" * 257, "1q", "quality-check", ""],
)
def test_quality_statement_name_variable_accepts_only_names_athena_accepts(name: str) -> None:
    if _validation_accepts("quality_statement_name", name):
        assert _athena_accepts_statement_name(name), name


def test_the_statement_name_check_sees_a_name_athena_refuses() -> None:
    assert not _athena_accepts_statement_name("q")
    assert _validation_accepts("quality_statement_name", "qc")
    assert _validation_accepts(
        "quality_statement_name", _hcl.variables()["quality_statement_name"]["default"]
    )


# ------------------------------------------------------------------ Glue crawler role
# AWS Glue, "Crawler prerequisites": the crawler's role needs AWSGlueServiceRole "or a scoped
# down version of this policy" plus read access to the data store
# (https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html); AWSGlueServiceRole
# (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSGlueServiceRole.html)
# grants s3:GetBucketLocation/ListBucket/GetBucketAcl, cloudwatch:PutMetricData and the
# /aws-glue/* log groups. Scoped to this crawler: the lake bucket, its table locations, the
# catalog's lake tables and the crawler log group.

LAKE_ARN = "arn:aws:s3:::b3-quotes-lake-123456789012-sa-east-1"
_PART = "ticker=PETR4/part-0.parquet"
_CRAWLER_NEEDS: list[tuple[str, str]] = [
    ("s3:ListBucket", LAKE_ARN),
    ("s3:GetBucketLocation", LAKE_ARN),
    ("s3:GetBucketAcl", LAKE_ARN),
    ("s3:GetObject", f"{LAKE_ARN}/raw/quotes/dt=2025-08-29/ticker=PETR4/quotes.parquet"),
    ("s3:GetObject", f"{LAKE_ARN}/refined/quotes_daily/dt=2025-08-29/{_PART}"),
    ("s3:GetObject", f"{LAKE_ARN}/refined/quotes_monthly/month=2025-08/{_PART}"),
    (
        "logs:PutLogEvents",
        "arn:aws:logs:sa-east-1:123456789012:log-group:/aws-glue/crawlers:log-stream:b3-quotes-crawler",
    ),
    ("logs:CreateLogStream", "arn:aws:logs:sa-east-1:123456789012:log-group:/aws-glue/crawlers"),
]  # fmt: skip
_CRAWLER_CATALOG_ACTIONS = {
    "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
    "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
    "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:BatchUpdatePartition",
}  # fmt: skip


def _resolved(resource: str) -> str:
    values = {
        **_hcl.locals_(),
        "partition": "aws",
        "region": "sa-east-1",
        "account_id": "123456789012",
    }
    text = _hcl.resolve_locals(resource, values)
    return text.replace("${aws_s3_bucket.lake.arn}", LAKE_ARN)


def _allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    for statement in statements:
        if statement.get("effect", "Allow") != "Allow" or statement.get("condition"):
            continue
        actions = {a.lower() for a in statement.get("actions", [])}
        resources = [_resolved(r) for r in statement.get("resources", [])]
        if action.lower() in actions and any(fnmatchcase(resource, r) for r in resources):
            return True
    return False


def _crawler_statements() -> list[dict[str, Any]]:
    crawler = next(iter(_hcl.resources("aws_glue_crawler").values()))
    assert crawler["role"] == "${aws_iam_role.crawler.arn}"
    policy = _hcl.resources("aws_iam_role_policy")["crawler"]
    assert policy["role"] == "${aws_iam_role.crawler.id}"
    document = policy["policy"].removeprefix("${data.aws_iam_policy_document.")
    return _hcl.policy_statements(_hcl.data_sources("aws_iam_policy_document")[document[:-6]])


def _crawler_permission_gaps(statements: list[dict[str, Any]]) -> list[str]:
    gaps = [f"{a} on {r}" for a, r in _CRAWLER_NEEDS if not _allows(statements, a, r)]
    granted = {a for s in statements for a in s.get("actions", [])}
    gaps += sorted(_CRAWLER_CATALOG_ACTIONS - granted)
    metrics = [s for s in statements if "cloudwatch:PutMetricData" in s.get("actions", [])]
    if not metrics:
        gaps.append("cloudwatch:PutMetricData")
    return gaps


def test_crawler_role_has_the_documented_crawler_permissions() -> None:
    assert _crawler_permission_gaps(_crawler_statements()) == []


def test_the_crawler_check_sees_a_prefix_conditioned_list() -> None:
    statements = [dict(s) for s in _crawler_statements()]
    for statement in statements:
        if "s3:ListBucket" in statement.get("actions", []):
            statement["condition"] = [{"test": "StringLike", "variable": "s3:prefix"}]
    assert "s3:ListBucket on " + LAKE_ARN in _crawler_permission_gaps(statements)
