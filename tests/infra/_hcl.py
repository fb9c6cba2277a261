"""Reading the Terraform root module with python-hcl2 (no Terraform binary needed).

python-hcl2 8 keeps string quotes ('"abc"'), wraps expressions as '${...}' and adds
'__is_block__' / '__comments__' markers; `clean` turns that into plain Python values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
ASL = ROOT / "statemachine" / "pipeline.asl.json"

_META_KEYS = {"__is_block__", "__comments__", "__start_line__", "__end_line__"}


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def clean(value: Any) -> Any:
    """Drop parser markers and surrounding quotes, recursively."""
    if isinstance(value, dict):
        return {unquote(k): clean(v) for k, v in value.items() if k not in _META_KEYS}
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, str):
        return unquote(value)
    return value


def tf_files() -> list[Path]:
    return sorted(TERRAFORM.glob("*.tf"))


@cache
def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        parsed: dict[str, Any] = hcl2.load(handle)
    return parsed


def _blocks(kind: str) -> Iterator[Any]:
    for path in tf_files():
        yield from load(path).get(kind, [])


def resources(resource_type: str) -> dict[str, dict[str, Any]]:
    """{name: body} of every `resource "<resource_type>" "<name>"`."""
    return _labelled("resource", resource_type)


def data_sources(data_type: str) -> dict[str, dict[str, Any]]:
    return _labelled("data", data_type)


def _labelled(kind: str, type_name: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in _blocks(kind):
        for raw_type, by_name in block.items():
            if unquote(raw_type) != type_name:
                continue
            for raw_name, body in by_name.items():
                found[unquote(raw_name)] = clean(body)
    return found


def all_resources() -> dict[str, dict[str, Any]]:
    """{"type.name": body} of every managed resource."""
    found: dict[str, dict[str, Any]] = {}
    for block in _blocks("resource"):
        for raw_type, by_name in block.items():
            for raw_name, body in by_name.items():
                found[f"{unquote(raw_type)}.{unquote(raw_name)}"] = clean(body)
    return found


def locals_() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in _blocks("locals"):
        merged.update(clean(block))
    return merged


def variables() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in _blocks("variable"):
        for raw_name, body in block.items():
            found[unquote(raw_name)] = clean(body)
    return found


def outputs() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in _blocks("output"):
        for raw_name, body in block.items():
            found[unquote(raw_name)] = clean(body)
    return found


def resolve_locals(text: str, values: dict[str, Any]) -> str:
    """Expand `${local.x}` and `${path.module}` references (repeatedly) in a string."""
    for _ in range(10):
        expanded = re.sub(
            r"\$\{local\.(\w+)\}",
            lambda m: str(values[m.group(1)]),
            text.replace("${path.module}", str(TERRAFORM)),
        )
        if expanded == text:
            break
        text = expanded
    return text


def policy_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements of an aws_iam_policy_document, including `dynamic "statement"` contents."""
    statements: list[dict[str, Any]] = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        for label, body in dynamic.items():
            if label == "statement":
                statements.extend(body.get("content", []))
    return statements


def asl_text() -> str:
    return ASL.read_text(encoding="utf-8")


def asl_placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))


def render_asl(text: str) -> dict[str, Any]:
    """The ASL with each ${placeholder} replaced by a dummy value, as JSON."""
    rendered = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", r"dummy-\1", text)
    document: dict[str, Any] = json.loads(rendered)
    return document


def task_states(states: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, state in states.items():
        if state.get("Type") == "Task":
            found.append((name, state))
        for branch in state.get("Branches", []):
            found.extend(task_states(branch["States"]))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found.extend(task_states(state[key]["States"]))
    return found


def reference_name(expression: str, kind: str) -> str:
    match = re.fullmatch(rf"\$\{{{re.escape(kind)}\.(\w+)\.\w+\}}", expression)
    assert match, f"expected a reference to {kind}.<name>, got {expression!r}"
    return match.group(1)
