"""Reading Terraform's outputs (b3pipeline.deployment): every failure says what to pass instead."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from b3pipeline.deployment import read_terraform_outputs
from b3pipeline.errors import DeploymentOutputsError

INSTEAD = "pass --state-machine-arn"


def _runner(returncode: int = 0, stdout: str = "", stderr: str = "") -> Any:
    calls: list[list[str]] = []

    def run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_outputs_are_read_as_name_to_value() -> None:
    printed = {
        "state_machine_arn": {"sensitive": False, "type": "string", "value": "arn:x"},
        "tickers": {"sensitive": False, "type": ["list", "string"], "value": ["PETR4"]},
    }
    run = _runner(stdout=json.dumps(printed))
    outputs = read_terraform_outputs(Path("infra"), instead=INSTEAD, terraform="tf", run=run)
    assert outputs.values == {"state_machine_arn": "arn:x", "tickers": ["PETR4"]}
    assert run.calls == [["tf", "-chdir=infra", "output", "-json", "-no-color"]]
    assert outputs.require("tickers", INSTEAD) == ["PETR4"]


def test_terraform_missing_names_the_option() -> None:
    def run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(command[0])

    with pytest.raises(DeploymentOutputsError) as caught:
        read_terraform_outputs(Path("terraform"), instead=INSTEAD, run=run)
    assert str(caught.value) == (
        "cannot read the deployment's outputs: 'terraform' is not installed or not on PATH; "
        "pass --state-machine-arn"
    )


def test_no_state_names_the_option() -> None:
    with pytest.raises(DeploymentOutputsError, match=r"found no outputs: nothing is deployed .*"):
        read_terraform_outputs(Path("terraform"), instead=INSTEAD, run=_runner(stdout="{}\n"))


def test_a_failing_terraform_shows_its_last_lines() -> None:
    run = _runner(returncode=1, stderr="\nError: Backend initialization required\n\nrun init\n")
    with pytest.raises(DeploymentOutputsError) as caught:
        read_terraform_outputs(Path("terraform"), instead=INSTEAD, run=run)
    assert "(Error: Backend initialization required run init); pass --state-machine-arn" in str(
        caught.value
    )


def test_a_missing_output_says_to_apply_or_pass() -> None:
    run = _runner(stdout=json.dumps({"lake_bucket": {"value": "b"}}))
    outputs = read_terraform_outputs(Path("terraform"), instead=INSTEAD, run=run)
    with pytest.raises(DeploymentOutputsError, match="no output 'aws_region': apply the current"):
        outputs.require("aws_region", "pass --region")
