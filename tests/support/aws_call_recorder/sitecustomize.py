"""Installs tests/support/aws_calls.py in a process started with this folder on PYTHONPATH.

Loaded by file path, so the process's sys.path (what the component imports) is unchanged.
"""

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "b3_aws_calls_recorder", Path(__file__).resolve().parent.parent / "aws_calls.py"
)
if _spec is not None and _spec.loader is not None:
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _module  # dataclasses look their module up
    _spec.loader.exec_module(_module)
    _module.install_in_process_started_for_a_component()
