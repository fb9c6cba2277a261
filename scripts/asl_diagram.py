"""Mermaid diagram of statemachine/pipeline.asl.json, kept inside README.md and
docs/state-machine.md (between the BEGIN/END markers).

    .venv/bin/python scripts/asl_diagram.py            print the diagram
    .venv/bin/python scripts/asl_diagram.py --write    refresh it in both documents
    .venv/bin/python scripts/asl_diagram.py --check    exit 1 if a document is stale

tests/workflow/test_pipeline_definition.py fails when a document and the definition disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ASL = ROOT / "statemachine" / "pipeline.asl.json"
DOCS = (ROOT / "README.md", ROOT / "docs" / "state-machine.md")
BEGIN = "<!-- BEGIN asl_diagram.py: generated from statemachine/pipeline.asl.json -->"
END = "<!-- END asl_diagram.py -->"
_SHAPES = {
    "Choice": ("{", "}"),
    "Succeed": ("([", "])"),
    "Fail": ("([", "])"),
    "Wait": ("[/", "/]"),
}


def _node_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name)


def _choice_label(rule: dict[str, Any]) -> str:
    if "Variable" in rule:
        ops = [k for k in rule if k not in ("Variable", "Next")]
        op = ops[0] if ops else "?"
        return f"{rule['Variable'].split('.')[-1]} {op} {json.dumps(rule[op])}"
    if "Not" in rule:
        return f"not ({_choice_label(rule['Not'])})"
    for combinator in ("And", "Or"):
        if combinator in rule:
            return f" {combinator.lower()} ".join(_choice_label(r) for r in rule[combinator])
    return "rule"


def _node_lines(states: dict[str, Any], indent: str) -> list[str]:
    """A node per state; a Map is a subgraph holding its iteration's states."""
    lines = []
    for name, state in states.items():
        if state["Type"] == "Map":
            processor = state["ItemProcessor"]
            node = _node_id(name)
            items = state.get("ItemsPath", "$").split(".")[-1]
            lines.append(f'{indent}subgraph {node}["{name}: Map, one iteration per {items} item"]')
            lines.append(f"{indent}    {node}_each((each)) --> {_node_id(processor['StartAt'])}")
            lines += _node_lines(processor["States"], indent + "    ")
            lines += _edge_lines(processor["States"], indent + "    ")
            lines.append(f"{indent}end")
            continue
        left, right = _SHAPES.get(state["Type"], ("[", "]"))
        resource = state.get("Resource", "").replace("arn:aws:states:::", "")
        label = f"{name}<br/><small>{resource}</small>" if resource else name
        lines.append(f'{indent}{_node_id(name)}{left}"{label}"{right}')
    return lines


def _edge_lines(states: dict[str, Any], indent: str) -> list[str]:
    lines = []
    for name, state in states.items():
        source = _node_id(name)
        for rule in state.get("Choices", []):
            text = _choice_label(rule).replace('"', "'")
            lines.append(f'{indent}{source} -->|"{text}"| {_node_id(rule["Next"])}')
        if "Default" in state:
            lines.append(f"{indent}{source} -->|default| {_node_id(state['Default'])}")
        if "Next" in state:
            lines.append(f"{indent}{source} --> {_node_id(state['Next'])}")
        for catch in state.get("Catch", []):
            errors = ", ".join(catch["ErrorEquals"])
            lines.append(f'{indent}{source} -.->|"catch {errors}"| {_node_id(catch["Next"])}')
    return lines


def mermaid(definition: dict[str, Any]) -> str:
    """One node per state, one edge per transition (Next, Choice rule, Default, Catch); a
    Map state is a subgraph of its iteration's states."""
    lines = ["flowchart TD", f"    start((start)) --> {_node_id(definition['StartAt'])}"]
    lines += _node_lines(definition["States"], "    ")
    lines += _edge_lines(definition["States"], "    ")
    return "\n".join(lines) + "\n"


def render_doc(doc: str, definition: dict[str, Any]) -> str:
    """doc with the block between BEGIN and END replaced by the current diagram."""
    start, stop = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    return doc[:start] + "\n```mermaid\n" + mermaid(definition) + "```\n" + doc[stop:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="refresh the documents")
    group.add_argument("--check", action="store_true", help="exit 1 if a document is stale")
    args = parser.parse_args(argv)
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    if not (args.write or args.check):
        sys.stdout.write(mermaid(definition))
        return 0
    stale = 0
    for path in DOCS:
        doc = path.read_text(encoding="utf-8")
        fresh = render_doc(doc, definition)
        if fresh == doc:
            continue
        if args.check:
            print(f"{path} is stale: run python scripts/asl_diagram.py --write", file=sys.stderr)
            stale += 1
        else:
            path.write_text(fresh, encoding="utf-8")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
