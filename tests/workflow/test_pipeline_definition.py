"""Static checks of the definition: ASL validity, placeholders, guarded paths, diagram in sync."""

from __future__ import annotations

import json
import shutil
import subprocess
from types import ModuleType
from typing import Any

import pytest

from tests.support.modules import load_module

from .sfn_harness import ASL_PATH, PLACEHOLDERS, ROOT, placeholders_in, render_definition

pytestmark = pytest.mark.workflow

REQUIRED_STATES = [
    "Route Input", "Scrape Quotes", "Any New Data?", "No Trading Day", "Run Transform Job",
    "Start Crawler", "Wait For Crawler", "Get Crawler", "Crawler Finished?", "Run Quality Query",
    "Get Quality Results", "Quality Passed?", "Notify Failure", "Pipeline Failed",
    "Pipeline Succeeded",
]  # fmt: skip


def _definition() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    return body


def test_raw_file_is_json_with_exactly_the_agreed_placeholders() -> None:
    text = ASL_PATH.read_text(encoding="utf-8")
    assert placeholders_in(text) == set(PLACEHOLDERS)
    json.loads(render_definition(text, PLACEHOLDERS))


def test_required_states_exist() -> None:
    assert set(REQUIRED_STATES) <= set(_definition()["States"])


def test_every_task_retries_and_is_caught_into_notify_failure() -> None:
    states = _definition()["States"]
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        assert state.get("Retry"), name
        catch = state["Catch"]
        assert [c["ErrorEquals"] for c in catch] == [["States.ALL"]], name
        target = catch[0]["Next"]
        if name == "Notify Failure":
            assert target == "Pipeline Failed"
        else:
            assert states[target]["Next"] == "Notify Failure", name
        for retrier in state["Retry"]:
            assert {"BackoffRate", "MaxDelaySeconds", "JitterStrategy"} <= set(retrier), name


def _asl_validator() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: asl-validator cannot run")
    script = ROOT / "node_modules" / "asl-validator" / "dist" / "bin" / "asl-validator.js"
    if not script.exists():
        pytest.fail("asl-validator is not installed: run `npm ci` at the repository root")
    return [node, str(script)]


def test_asl_validator_accepts_raw_and_rendered_definition() -> None:
    command = _asl_validator()
    rendered = render_definition(ASL_PATH.read_text(encoding="utf-8"), PLACEHOLDERS)
    for args in (["--json-path", str(ASL_PATH)], ["--json-definition", rendered]):
        done = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def _diagram_script() -> ModuleType:
    return load_module("scripts/asl_diagram.py", "asl_diagram")


@pytest.mark.parametrize("document", ["README.md", "docs/state-machine.md"])
def test_docs_diagram_is_generated_from_the_definition(document: str) -> None:
    script = _diagram_script()
    doc = (ROOT / document).read_text(encoding="utf-8")
    assert script.BEGIN in doc
    assert script.render_doc(doc, _definition()) == doc, (
        f"{document} is stale: run .venv/bin/python scripts/asl_diagram.py --write"
    )
