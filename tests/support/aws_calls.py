"""Record the AWS calls the deployed components make, with botocore's own event hooks.

Every botocore Session gets a `provide-client-params` handler (botocore emits it for each
API call, with the operation model and the caller's parameters, before validation), so
every client of every session in the process is covered, whoever created it. A call is
kept when it is made on behalf of a component: its thread's stack, or the main thread's
(the lake's thread pool works for the handler the main thread is blocked in), passes
through the component's entry file; or the process was started for it (a Spark worker of
the Glue job inherits B3_AWS_CALL_COMPONENT from the driver). The test harness's own calls
(create the bucket, read back what was written) are not the component's and are dropped.

Calls are appended as JSON lines to the file named by B3_AWS_CALL_LOG. Subprocesses record
too when PYTHONPATH starts with RECORDER_PATH, whose sitecustomize.py installs this module.
Only stdlib and botocore here: it loads in every process of a recording run.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

LOG_VARIABLE = "B3_AWS_CALL_LOG"
COMPONENT_VARIABLE = "B3_AWS_CALL_COMPONENT"
REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDER_PATH = Path(__file__).resolve().parent / "aws_call_recorder"

# The entry file of each component that runs in AWS under a role of its own.
COMPONENT_ENTRIES: Mapping[Path, str] = {
    REPO_ROOT / "functions" / "scraper" / "handler.py": "scraper",
    REPO_ROOT / "functions" / "trigger" / "handler.py": "trigger",
    REPO_ROOT / "glue" / "transform_job.py": "glue_job",
}

# The parameters that name what a call touches (the IAM resource and condition keys).
RESOURCE_PARAMETERS = (
    "Bucket",
    "Key",
    "Prefix",
    "Delete",
    "DatabaseName",
    "TableName",
    "Name",
    "CatalogId",
    "stateMachineArn",
    "FunctionName",
    "TopicArn",
    "WorkGroup",
    "JobName",
)


@dataclass(frozen=True)
class AwsCall:
    """One API call: botocore's service name, the operation, what it names, who made it."""

    component: str
    service: str
    operation: str
    params: Mapping[str, Any]

    def describe(self) -> str:
        named = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.service}.{self.operation}({named})"


def _component_in(frame: FrameType | None) -> str | None:
    while frame is not None:
        try:
            path = Path(frame.f_code.co_filename).resolve()
        except OSError:  # pragma: no cover - a frame of generated code
            path = Path()
        component = COMPONENT_ENTRIES.get(path)
        if component:
            return component
        frame = frame.f_back
    return None


def calling_component() -> str | None:
    """The component this call is made for, or None for the harness's own calls."""
    component = _component_in(sys._getframe(1))
    if component is None and threading.current_thread() is not threading.main_thread():
        main = threading.main_thread().ident
        component = _component_in(sys._current_frames().get(main or -1))
    return component or os.environ.get(COMPONENT_VARIABLE) or None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _record(**kwargs: Any) -> None:
    params: Mapping[str, Any] = kwargs["params"]
    model = kwargs["model"]
    component = calling_component()
    log = os.environ.get(LOG_VARIABLE)
    if component is None or not log:
        return
    line = json.dumps(
        {
            "component": component,
            "service": model.service_model.service_name,
            "operation": model.name,
            "params": {k: _jsonable(params[k]) for k in RESOURCE_PARAMETERS if k in params},
        },
        sort_keys=True,
    )
    with Path(log).open("a", encoding="utf-8") as handle:  # one write per line: O_APPEND
        handle.write(line + "\n")


_installed = False


def install() -> None:
    """Hook every botocore Session created from now on (idempotent)."""
    global _installed
    if _installed:
        return
    import botocore.session

    original_init = botocore.session.Session.__init__

    def init_with_recorder(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.register("provide-client-params", _record, unique_id="b3-aws-call-recorder")

    botocore.session.Session.__init__ = init_with_recorder  # type: ignore[method-assign]
    _installed = True


def install_in_process_started_for_a_component() -> None:
    """sitecustomize's entry: install, and mark a component's own process for its children."""
    if not os.environ.get(LOG_VARIABLE):
        return
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else Path()
    if script in COMPONENT_ENTRIES:
        os.environ[COMPONENT_VARIABLE] = COMPONENT_ENTRIES[script]
    install()


def read_calls(log: Path) -> Iterator[AwsCall]:
    if not log.exists():
        return
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        yield AwsCall(entry["component"], entry["service"], entry["operation"], entry["params"])
