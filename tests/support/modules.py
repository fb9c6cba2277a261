"""Load the repo's scripts and Lambda handlers, which are files rather than packages."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_module(relative_path: str, name: str) -> ModuleType:
    """Execute `relative_path` (from the repo root) as a fresh module called `name`."""
    path = REPO_ROOT / relative_path
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeLambdaContext:
    """The LambdaContext attributes Powertools' inject_lambda_context reads."""

    function_name: str = "b3-function"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:b3-function"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
