"""The core wheel installs on Glue 5.1 with no index, and the transform works there.

The Glue job installs the wheel with `--python-modules-installer-option --no-index`
(terraform/glue.tf), so pip may use only what Glue 5.1 already provides. AWS lists those
libraries in "Using Python libraries with AWS Glue" (Python modules already provided in
AWS Glue 5.1): https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html

Here a Python 3.11 virtualenv holds exactly the versions of that list the core needs (and
pytest, to run the tests); the built wheel is installed into it with `pip install
--no-index`, which fails when a requirement is unmet, and the transform's unit tests run
there on pandas 2 (the dev environment has pandas 3). The virtualenv is kept in
`.venv-glue51/` (git ignores `.venv-*/`) and rebuilt only when the versions change.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from scripts import package

from tests.support.modules import REPO_ROOT

pytestmark = pytest.mark.spark

#: What Glue 5.1 provides, of what the core imports (AWS's list, above).
GLUE_51_PROVIDED = {
    "pandas": "2.3.3",
    "pyarrow": "22.0.0",
    "numpy": "2.3.4",
    "boto3": "1.40.61",
    "requests": "2.32.5",
}
#: Test tooling in the same virtualenv (not part of what is checked).
TEST_TOOLS = ("pytest==9.2.0", "pytest-socket==0.8.1")
VENV = REPO_ROOT / ".venv-glue51"
#: The transform's unit tests: what the Glue job's driver and executors run.
TRANSFORM_TESTS = (
    "tests/unit/test_transform.py",
    "tests/unit/test_metrics.py",
    "tests/unit/test_ticker_split.py",
    "tests/unit/test_glue_entry.py",
)
#: Imports that come with a requirement of another name.
DISTRIBUTION_OF = {"botocore": "boto3", "urllib3": "requests"}


def _requirements() -> list[Requirement]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return [Requirement(text) for text in project["dependencies"]]


def _is_type_checking_block(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:`: imports for mypy only (stubs), never made at run time."""
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def _runtime_imports(node: ast.AST) -> set[str]:
    if _is_type_checking_block(node):
        return set()
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return {node.module.split(".")[0]}
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        found |= _runtime_imports(child)
    return found


def _third_party_imports(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        found |= _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
    local = {"b3pipeline", "awsglue", "pyspark"}
    return found - set(sys.stdlib_module_names) - local


def test_glue_provides_every_requirement_of_the_wheel() -> None:
    requirements = _requirements()
    assert {requirement.name for requirement in requirements} == set(GLUE_51_PROVIDED)
    for requirement in requirements:
        assert requirement.specifier.contains(GLUE_51_PROVIDED[requirement.name]), requirement


def test_what_the_glue_job_imports_is_declared() -> None:
    """Every third-party module the Glue job's code imports is a requirement of the wheel
    (the local runner's modules, which it never imports, are in the `local` extra)."""
    local_runner = {"catalog.py", "quality.py", "report.py", "cli.py", "pipeline.py"}
    sources = [
        path
        for path in (REPO_ROOT / "src" / "b3pipeline").glob("*.py")
        if path.name not in local_runner
    ]
    sources.append(REPO_ROOT / "glue" / "transform_job.py")
    imported = {DISTRIBUTION_OF.get(name, name) for name in _third_party_imports(sources)}
    assert imported <= {requirement.name for requirement in _requirements()}
    assert {"numpy", "boto3", "pandas", "pyarrow", "requests"} <= imported


def _python311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        pytest.skip("Glue 5.1 runs Python 3.11, which is not installed here")
    return found


def _run(
    command: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=cwd, env=env, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


def _glue_venv() -> Path:
    """.venv-glue51 with exactly GLUE_51_PROVIDED and the test tools; reused while they match."""
    pins = sorted([f"{name}=={version}" for name, version in GLUE_51_PROVIDED.items()])
    stamp = VENV / ".installed"
    wanted = "\n".join([*pins, *TEST_TOOLS]) + "\n"
    python = VENV / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    _run([_python311(), "-m", "venv", str(VENV)])
    _run([str(python), "-m", "pip", "install", "--quiet", *pins, *TEST_TOOLS])
    stamp.write_text(wanted)
    return python


def test_the_wheel_installs_with_no_index_and_the_transform_passes_on_glues_libraries(
    tmp_path: Path,
) -> None:
    python = _glue_venv()
    wheel = package.build_core_wheel(tmp_path, package.source_date_epoch())
    pip = [str(python), "-m", "pip"]
    subprocess.run([*pip, "uninstall", "--quiet", "--yes", "b3pipeline"], check=False)
    # No index: pip can only use what the virtualenv (Glue) already has.
    _run([*pip, "install", "--quiet", "--no-index", str(wheel)])
    _run([*pip, "check"])
    versions = _run(
        [str(python), "-c", "import b3pipeline, numpy, pandas, pyarrow, boto3, requests as r;"
         "print(pandas.__version__, pyarrow.__version__, numpy.__version__, boto3.__version__,"
         " r.__version__, b3pipeline.__file__)"]
    ).stdout.split()  # fmt: skip
    assert versions[:5] == list(GLUE_51_PROVIDED.values())
    assert str(VENV) in versions[5], "b3pipeline must come from the wheel, not the source tree"
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    tests = _run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *TRANSFORM_TESTS],
        cwd=REPO_ROOT,
        env=environment,
        timeout=900,
    )
    assert " passed" in tests.stdout and "failed" not in tests.stdout, tests.stdout[-2000:]
