"""Static checks of the definition: ASL validity, placeholders, guarded paths, diagram in sync."""

from __future__ import annotations

import json
import shutil
import subprocess
from types import ModuleType
from typing import Any

import pytest

from tests.support.modules import load_module

from .sfn_harness import (
    ASL_PATH,
    PLACEHOLDERS,
    ROOT,
    all_states,
    placeholders_in,
    render_definition,
)

pytestmark = pytest.mark.workflow

REQUIRED_STATES = [
    "Route Input", "Scrape Batches", "Scrape Quotes", "Merge Batches", "Any New Data?",
    "No Trading Day", "Run Transform Job", "Start Crawler", "Wait For Crawler", "Get Crawler",
    "Crawler Finished?", "Run Quality Query", "Get Quality Results", "Quality Passed?",
    "Any Tickers Failed?", "Tickers Failed", "Notify Failure", "Alert Not Sent",
    "Pipeline Failed", "Pipeline Succeeded",
]  # fmt: skip


def _definition() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    return body


def test_raw_file_is_json_with_exactly_the_agreed_placeholders() -> None:
    text = ASL_PATH.read_text(encoding="utf-8")
    assert placeholders_in(text) == set(PLACEHOLDERS)
    json.loads(render_definition(text, PLACEHOLDERS))


def test_required_states_exist() -> None:
    assert set(REQUIRED_STATES) <= set(all_states(_definition()["States"]))


def _caught_into_notify_failure(name: str, state: dict[str, Any], states: dict[str, Any]) -> None:
    """The last catcher takes States.ALL, and every catcher leads to the alert; the alert's
    own failure leads to B3Pipeline.NotifyFailed, the error terraform/monitoring.tf's
    EventBridge rule sends."""
    catch = state["Catch"]
    assert catch[-1]["ErrorEquals"] == ["States.ALL"], name
    for catcher in catch:
        target = catcher["Next"]
        if name == "Notify Failure":
            assert target == "Alert Not Sent"
            assert states[target]["Parameters"]["error"] == "B3Pipeline.NotifyFailed"
            assert states[target]["Next"] == "Pipeline Failed"
        else:
            assert states[target]["Next"] == "Notify Failure", name


def _caught_into_a_failed_iteration(
    name: str, state: dict[str, Any], inner: dict[str, Any]
) -> None:
    """Inside a Map, a Catch leads through a Pass (which names the item) to a Fail state:
    the iteration fails, and the Map's own Catch takes it to the alert."""
    for catcher in state.get("Catch", []):
        handler = inner[catcher["Next"]]
        assert handler["Type"] == "Pass", name
        assert inner[handler["Next"]]["Type"] == "Fail", name


def test_every_task_retries_and_is_caught_into_notify_failure() -> None:
    """A Task at the top level has its own Catch; a Task inside a Map fails its iteration,
    and the Map's Catch takes whatever fails in an iteration."""
    states = _definition()["States"]
    tasks: dict[str, dict[str, Any]] = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            _caught_into_notify_failure(name, state, states)
            tasks[name] = state
        elif state["Type"] == "Map":
            _caught_into_notify_failure(name, state, states)
            inner = state["ItemProcessor"]["States"]
            for inner_name, inner_state in inner.items():
                _caught_into_a_failed_iteration(inner_name, inner_state, inner)
                if inner_state["Type"] == "Task":
                    tasks[inner_name] = inner_state
    assert {"Scrape Quotes", "Merge Batches", "Run Transform Job", "Run Quality Query"} <= set(
        tasks
    )
    for name, state in tasks.items():
        assert state.get("Retry"), name
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


# ------------------------------------------------------------------ retries that wait for capacity
# Step Functions retriers ("Handling errors in Step Functions workflows", Retry): the n-th
# retry waits IntervalSeconds * BackoffRate**n, capped at MaxDelaySeconds; JitterStrategy FULL
# makes it "a random number between 0 and the computed backoff" (AWS CDK, JitterType), NONE
# the computed backoff itself. Waiting for capacity (another job run, another crawl, BRAPI
# coming back) needs a floor: a near-zero first retry fails again at once.
CAPACITY_ERRORS = frozenset(
    {
        "Glue.ConcurrentRunsExceededException",
        "Glue.CrawlerRunningException",
        "BrapiUnavailableError",
    }
)
MIN_CAPACITY_WAIT_SECONDS = 30


def shortest_waits(retrier: dict[str, Any]) -> list[float]:
    """The least each retry of `retrier` can wait, in seconds (AWS's defaults when unset)."""
    interval = retrier.get("IntervalSeconds", 1)
    rate = retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    if retrier.get("JitterStrategy", "NONE") == "FULL":
        return [0.0] * retrier.get("MaxAttempts", 3)
    return [min(cap, interval * rate**n) for n in range(retrier.get("MaxAttempts", 3))]


def capacity_wait_problems(states: dict[str, Any]) -> list[str]:
    problems = []
    for name, state in all_states(states).items():
        for retrier in state.get("Retry", []):
            waited = set(retrier["ErrorEquals"]) & CAPACITY_ERRORS
            waits = shortest_waits(retrier)
            if waited and min(waits) < MIN_CAPACITY_WAIT_SECONDS:
                problems.append(f"{name}: {sorted(waited)} may retry after {min(waits)} s")
    return problems


def test_retries_that_wait_for_capacity_wait_at_least_half_a_minute() -> None:
    states = _definition()["States"]
    assert capacity_wait_problems(states) == []
    retried = {
        error
        for state in all_states(states).values()
        for retrier in state.get("Retry", [])
        for error in retrier["ErrorEquals"]
    }
    assert retried >= CAPACITY_ERRORS


def test_the_capacity_check_sees_full_jitter() -> None:
    states = _definition()["States"]
    states["Start Crawler"]["Retry"][0]["JitterStrategy"] = "FULL"
    assert capacity_wait_problems(states) == [
        "Start Crawler: ['Glue.CrawlerRunningException'] may retry after 0.0 s"
    ]
