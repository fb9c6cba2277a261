"""What Terraform deployed, read from `terraform -chdir=<dir> output -json`.

`b3pipeline aws run` takes its defaults from these outputs and `make destroy`
(scripts/teardown.py) finds the lake bucket with them. Every failure says what to pass
instead, so a user without Terraform, or without its state on this machine, is never stuck.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b3pipeline.errors import DeploymentOutputsError

#: The directory `make deploy` applies (relative to the repository root).
DEFAULT_TERRAFORM_DIR = Path("terraform")
OUTPUT_TIMEOUT_SECONDS = 120

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class DeploymentOutputs:
    """The root module's outputs ({name: value}) and where they came from."""

    values: Mapping[str, Any]
    source: str  # the command that printed them, for messages

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def require(self, name: str, instead: str) -> Any:
        """The output `name`; missing, an error that says to apply or to pass `instead`."""
        value = self.values.get(name)
        if value is None or value == "":
            raise DeploymentOutputsError(
                f"`{self.source}` has no output {name!r}: apply the current terraform/ "
                f"(make deploy), or {instead}"
            )
        return value


def terraform_output_command(directory: Path, terraform: str = "terraform") -> list[str]:
    return [terraform, f"-chdir={directory}", "output", "-json", "-no-color"]


def read_terraform_outputs(
    directory: Path = DEFAULT_TERRAFORM_DIR,
    *,
    instead: str,
    terraform: str = "terraform",
    run: Runner = subprocess.run,
) -> DeploymentOutputs:
    """Every output of the Terraform state in `directory`.

    `instead` finishes every error message: what the user can pass rather than rely on
    Terraform (e.g. "pass --state-machine-arn"). Raises DeploymentOutputsError when
    Terraform is missing, fails, prints no JSON, or has no outputs (nothing applied there).
    """
    command = terraform_output_command(directory, terraform)
    shown = " ".join(command)
    try:
        completed = run(
            command, capture_output=True, text=True, timeout=OUTPUT_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError as exc:
        raise DeploymentOutputsError(
            f"cannot read the deployment's outputs: {terraform!r} is not installed or not on "
            f"PATH; {instead}"
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeploymentOutputsError(f"`{shown}` did not run ({exc}); {instead}") from exc
    if completed.returncode != 0:
        detail = _last_lines(completed.stderr or completed.stdout)
        raise DeploymentOutputsError(
            f"`{shown}` failed ({detail or f'exit {completed.returncode}'}); {instead}"
        )
    try:
        parsed = json.loads(completed.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise DeploymentOutputsError(f"`{shown}` printed no JSON; {instead}") from exc
    if not isinstance(parsed, dict) or not parsed:
        raise DeploymentOutputsError(
            f"`{shown}` found no outputs: nothing is deployed from {directory} on this machine "
            f"(run make deploy first, or run this where its Terraform state is); {instead}"
        )
    values = {
        str(name): output.get("value") if isinstance(output, dict) else None
        for name, output in parsed.items()
    }
    return DeploymentOutputs(values, shown)


def _last_lines(text: str, count: int = 3) -> str:
    lines: Sequence[str] = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[-count:])
