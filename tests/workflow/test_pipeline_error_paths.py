"""Failure paths read only what is sure to be there, so every failure reaches the alert.

Step Functions, "Handling errors in Step Functions workflows" (Catch, error output):
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
A Catch's error output has an Error and, only when the failure gave one, a Cause (a task
timeout can carry none). A Pass state that reads a missing path fails with States.Runtime,
which `States.ALL` does not catch: the alert would never be sent. So a Catch handler reads
the caught object whole (`States.JsonToString($.caught)`), never `$.caught.Cause`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .sfn_harness import ASL_PATH

pytestmark = pytest.mark.workflow

ALERT = "Notify Failure"
_PATH = re.compile(r"\$\$?(?:\.[A-Za-z0-9_]+|\[[^\]]*\])*")


def _states() -> dict[str, Any]:
    states: dict[str, Any] = json.loads(ASL_PATH.read_text(encoding="utf-8"))["States"]
    return states


def paths_read(value: Any) -> set[str]:
    """Every JSONPath a Parameters/ResultSelector block reads (keys ending in `.$`)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$") and isinstance(item, str):
                found |= set(_PATH.findall(item))
            else:
                found |= paths_read(item)
    elif isinstance(value, list):
        for item in value:
            found |= paths_read(item)
    return found


def catch_handler_problems(states: dict[str, Any]) -> list[str]:
    """What a Catch handler reads beyond what every error output is sure to have."""
    problems: list[str] = []
    for name, state in states.items():
        for catcher in state.get("Catch", []):
            handler_name = catcher["Next"]
            if name == ALERT:
                continue  # the alert's own failure: Alert Not Sent reads the $.failure it sent
            handler = states[handler_name]
            caught = catcher["ResultPath"]
            for path in sorted(paths_read(handler.get("Parameters", {}))):
                if path != caught and not path.startswith("$$."):
                    problems.append(f"{handler_name} (catching {name}) reads {path}")
            if handler.get("Next") != ALERT:
                problems.append(f"{handler_name} does not go to {ALERT}")
    return problems


def test_catch_handlers_read_only_the_whole_caught_object() -> None:
    assert catch_handler_problems(_states()) == []


def test_the_catch_handler_check_sees_a_read_of_cause() -> None:
    states = _states()
    handler = states["Run Transform Job Error"]["Parameters"]
    handler["cause.$"] = "States.Format('{}: {}', $.caught.Error, $.caught.Cause)"
    assert catch_handler_problems(states) == [
        "Run Transform Job Error (catching Run Transform Job) reads $.caught.Cause",
        "Run Transform Job Error (catching Run Transform Job) reads $.caught.Error",
    ]


def test_every_way_into_the_alert_writes_the_failure_the_fail_state_reads() -> None:
    states = _states()
    into_alert = [name for name, state in states.items() if state.get("Next") == ALERT]
    assert into_alert
    for name in into_alert:
        state = states[name]
        assert state["Type"] == "Pass", name
        assert state["ResultPath"] == "$.failure", name
        parameters = state["Parameters"]
        assert parameters["error"].startswith("B3Pipeline."), name
        assert {"state", "execution_id.$"} <= set(parameters), name
        assert "cause.$" in parameters or "cause" in parameters, name
    assert paths_read(states[ALERT]["Parameters"]) == {"$.failure"}
    failed = states["Pipeline Failed"]
    assert (failed["ErrorPath"], failed["CausePath"]) == ("$.failure.error", "$.failure.cause")
