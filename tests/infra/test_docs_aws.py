"""The AWS parts of README.md and docs/**/*.md against the code: every `aws` command passes
`--region`, every Glue price is glue_pricing's, every error a run can end with is in the
troubleshooting table, and the README's quick start is three steps."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from b3pipeline.glue_pricing import DPU_HOUR_USD
from tests.infra import _hcl

pytestmark = pytest.mark.infra

ROOT = _hcl.ROOT
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_SHELL_BLOCK = re.compile(r"^```(?:bash|sh|shell|console|zsh)\n(.*?)^```", re.M | re.S)
#: Where one command ends and another starts on a shell line.
_SEPARATORS = re.compile(r"\$\(|&&|\|\||[;|`(]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def shell_lines(markdown: str) -> list[str]:
    """The logical lines of every shell code block: continuations joined, comments dropped."""
    lines: list[str] = []
    for block in _SHELL_BLOCK.findall(markdown):
        joined = re.sub(r"\s*\\\n\s*", " ", block)
        for line in joined.splitlines():
            code = line.split(" #", 1)[0].strip()
            if code and not code.startswith("#"):
                lines.append(code)
    return lines


def aws_commands(line: str) -> list[str]:
    """Each command of a shell line that runs the AWS CLI (after any VAR=value prefixes)."""
    found = []
    for part in _SEPARATORS.split(line):
        words = part.strip().split()
        while words and _ASSIGNMENT.match(words[0]):
            words = words[1:]
        if words and words[0] == "aws":
            found.append(" ".join(words))
    return found


def _has_region(command: str) -> bool:
    try:
        words = shlex.split(command, posix=True)
    except ValueError:  # an unbalanced quote split off by a separator: fall back to words
        words = command.split()
    return any(word == "--region" or word.startswith("--region=") for word in words)


def test_the_command_finder_sees_aws_wherever_a_command_starts() -> None:
    line = "ARN=$(aws sts get-caller-identity) && X=1 aws s3 ls | grep a; (aws glue get-job)"
    assert aws_commands(line) == [
        "aws sts get-caller-identity)",
        "aws s3 ls",
        "aws glue get-job)",
    ]
    assert aws_commands("make aws-run AWS_RUN_ARGS='--tickers PETR4'") == []
    assert shell_lines("```sh\naws s3 ls \\\n  --region x  # list\n```\n") == [
        "aws s3 ls --region x"
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_aws_command_in_the_docs_passes_region(document: Path) -> None:
    """The CLI's default region is often not the stack's: without --region, put-parameter
    stores the token where the scraper never looks and start-execution finds no machine."""
    text = document.read_text(encoding="utf-8")
    missing = [
        command
        for line in shell_lines(text)
        for command in aws_commands(line)
        if not _has_region(command)
    ]
    assert missing == []


def test_the_docs_run_aws_commands() -> None:
    """The region check above checks something: the docs do show aws commands."""
    commands = [
        command
        for document in DOCUMENTS
        for line in shell_lines(document.read_text(encoding="utf-8"))
        for command in aws_commands(line)
    ]
    assert len(commands) >= 6
    assert any(command.startswith("aws ssm put-parameter") for command in commands)
    assert any(command.startswith("aws stepfunctions start-execution") for command in commands)


_PRICE = re.compile(r"\$(\d+\.\d+)(?: per |/)DPU-hour")


def test_every_glue_rate_in_the_docs_is_glue_pricing_s() -> None:
    """One source of the $/DPU-hour figures: b3pipeline.glue_pricing (what aws run prices
    with). The crawler's rate is STANDARD's."""
    quoted = {
        float(match)
        for document in DOCUMENTS
        for match in _PRICE.findall(document.read_text(encoding="utf-8"))
    }
    assert quoted == set(DPU_HOUR_USD.values())
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for execution_class in ("FLEX", "STANDARD"):
        rate = DPU_HOUR_USD[execution_class]
        assert f"{execution_class} (${rate:.2f} per DPU-hour)" in deploy


def _troubleshooting() -> str:
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    start = deploy.index("Errors a first run can meet")
    return deploy[start : deploy.index("\n## ", start)]


def test_every_error_the_state_machine_ends_with_has_a_fix() -> None:
    asl = json.loads(_hcl.asl_text())
    errors = {
        state["Parameters"]["error"]
        for state in asl["States"].values()
        if isinstance(state.get("Parameters"), dict) and "error" in state["Parameters"]
    }
    assert errors, "the ASL names its B3Pipeline errors in the ... Error states"
    table = _troubleshooting()
    assert sorted(error for error in errors if f"`{error}" not in table) == []


@pytest.mark.parametrize(
    "printed",
    [
        "is not installed or not on PATH",  # b3pipeline.deployment
        "found no outputs",
        "does not match the state machine's region",  # b3pipeline.aws_run
        "StateMachineDoesNotExist",
        "AccessDeniedException",
        "no AWS credentials found",
        "run summary not read",
        "TIMED_OUT",
        "ABORTED",
    ],
)
def test_every_error_aws_run_prints_has_a_fix(printed: str) -> None:
    assert printed in _troubleshooting()


def test_the_readme_quick_start_is_deploy_run_query() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Deploying to AWS") :]
    section = section[: section.index("\n## ", 1)]
    steps = re.findall(r"^(\d+)\. \*\*(.+?)\*\*(.*?)(?=^\d+\. |^\S|\Z)", section, re.M | re.S)
    assert [number for number, _, _ in steps] == ["1", "2", "3"]
    (_, _, deploy), (_, _, run), (_, _, query) = steps
    assert deploy.strip().startswith("`make deploy`")
    assert run.strip().startswith("`make aws-run`")
    assert "SELECT " in query and "FROM quotes_daily" in query
