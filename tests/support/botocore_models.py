"""AWS's own API models, as botocore bundles them: the operations' modeled errors and the
parameters' limits that the local stand-ins (moto, DuckDB) do not enforce."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import botocore

_DATA = Path(botocore.__file__).parent / "data"


@cache
def service_model(service: str) -> dict[str, Any]:
    """botocore/data/<service>/<newest api version>/service-2.json(.gz), parsed."""
    versions = sorted(path for path in (_DATA / service).iterdir() if path.is_dir())
    newest = versions[-1]
    packed = newest / "service-2.json.gz"
    raw = gzip.decompress(packed.read_bytes()) if packed.exists() else None
    if raw is None:
        raw = (newest / "service-2.json").read_bytes()
    model: dict[str, Any] = json.loads(raw)
    return model


def modeled_errors(service: str, operation: str) -> list[str]:
    """The shape names of the errors `operation` declares, e.g. ['NoSuchKey', ...]."""
    errors = service_model(service)["operations"][operation].get("errors", [])
    return [error["shape"] for error in errors]


def shape(service: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = service_model(service)["shapes"][name]
    return found


def member_shape(service: str, structure: str, member: str) -> dict[str, Any]:
    """The shape a structure's member refers to (its limits: min, max, ...)."""
    return shape(service, shape(service, structure)["members"][member]["shape"])
