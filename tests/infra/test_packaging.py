"""`make package` (scripts/package.py): reproducible artifacts with the right contents.

These tests run pip (downloading the pinned wheels once per session into a temporary
wheelhouse), so they need the package index like `make package` does.
"""

from __future__ import annotations

import ast
import hashlib
import re
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts import package

from tests.infra import _hcl

pytestmark = pytest.mark.infra


# Provided by the Lambda runtime (boto3) or the AWS SDK for pandas layer.
RUNTIME_OR_LAYER = {"boto3", "botocore", "pandas", "pyarrow", "numpy", "awswrangler"}


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wheelhouse")


@pytest.fixture
def fixed_epoch(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    yield 1700000000


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _top_level(archive: zipfile.ZipFile) -> set[str]:
    return {name.split("/")[0] for name in archive.namelist()}


def _assert_normalized(archive: zipfile.ZipFile, epoch: int) -> None:
    names = archive.namelist()
    assert names == sorted(names, key=package._zip_order)
    stamp = time.gmtime(epoch)[:6]
    for info in archive.infolist():
        assert info.date_time == stamp, info.filename
        assert info.external_attr >> 16 == 0o100644, info.filename
        assert "__pycache__" not in info.filename and not info.filename.endswith(".pyc")


def _assert_function_zip(path: Path, epoch: int) -> None:
    with zipfile.ZipFile(path) as archive:
        _assert_normalized(archive, epoch)
        names = set(archive.namelist())
        top = _top_level(archive)
    assert "handler.py" in names, "the handler must sit at the zip root"
    assert "b3pipeline/__init__.py" in names
    assert "b3pipeline/py.typed" in names
    assert "aws_lambda_powertools" in top
    leaked = {name for name in top if name.split("-")[0].lower() in package.FORBIDDEN_TOP_LEVEL}
    assert leaked == set(), "pandas/pyarrow/numpy/boto3 come from the layer and runtime"
    assert "bin" not in top


def test_function_zip_is_reproducible(tmp_path: Path, wheelhouse: Path, fixed_epoch: int) -> None:
    # A stand-in handler, so this runs whether or not the real handlers exist yet.
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def lambda_handler(event, context):\n    return event\n")
    spec = package.FunctionSpec("scraper", source, package.FUNCTIONS["scraper"].pins)
    first = package.build_function(spec, tmp_path / "a", wheelhouse, fixed_epoch)
    # Touch every input: mtimes must not leak into the zip.
    (source / "handler.py").touch()
    second = package.build_function(spec, tmp_path / "b", wheelhouse, fixed_epoch)
    assert _digest(first) == _digest(second)
    _assert_function_zip(first, fixed_epoch)
    with zipfile.ZipFile(first) as archive:
        assert {
            "requests",
            "urllib3",
            "certifi",
            "idna",
            "charset_normalizer",
            "tzdata",
        } <= _top_level(archive)


@pytest.mark.parametrize("name", sorted(package.FUNCTIONS))
def test_real_function_zip(name: str, tmp_path: Path, wheelhouse: Path, fixed_epoch: int) -> None:
    spec = package.FUNCTIONS[name]
    handler = spec.source / "handler.py"
    if not handler.is_file():
        pytest.skip(f"{handler.relative_to(_hcl.ROOT)} is not written yet")
    built = package.build(tmp_path, [name], wheelhouse)
    assert built == [tmp_path / spec.zip_name]
    again = package.build(tmp_path / "again", [name], wheelhouse)
    assert _digest(built[0]) == _digest(again[0])
    _assert_function_zip(built[0], fixed_epoch)

    # Every module the handler imports is in the zip, the standard library, or the runtime.
    with zipfile.ZipFile(built[0]) as archive:
        available = {part.removesuffix(".py") for part in _top_level(archive)}
    imported: set[str] = set()
    for node in ast.walk(ast.parse(handler.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    unresolved = imported - available - set(sys.stdlib_module_names) - RUNTIME_OR_LAYER
    assert unresolved == set(), f"{name} imports modules its zip does not carry"


def test_core_wheel_is_reproducible(tmp_path: Path, fixed_epoch: int) -> None:
    first = package.build_core_wheel(tmp_path / "a", fixed_epoch)
    second = package.build_core_wheel(tmp_path / "b", fixed_epoch)
    assert first.name == package.core_wheel_name() == "b3pipeline-0.1.0-py3-none-any.whl"
    assert _digest(first) == _digest(second)
    with zipfile.ZipFile(first) as archive:
        _assert_normalized(archive, fixed_epoch)
        names = set(archive.namelist())
    assert "b3pipeline/__init__.py" in names
    assert "b3pipeline-0.1.0.dist-info/RECORD" in names
    assert not any(name.startswith(("tests/", "functions/", "glue/")) for name in names)


def test_core_wheel_is_what_the_glue_executors_need(tmp_path: Path, fixed_epoch: int) -> None:
    # --additional-python-modules pip-installs this wheel on Glue 5.1 (Python 3.11), whose
    # own Spark must stay: the wheel may not pull pyspark in.
    wheel = package.build_core_wheel(tmp_path, fixed_epoch)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("b3pipeline-0.1.0.dist-info/METADATA").decode("utf-8")
    assert {"b3pipeline/ticker_split.py", "b3pipeline/transform.py"} <= names
    assert "Requires-Python: >=3.11" in metadata.splitlines()
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    base = [line for line in requirements if "extra ==" not in line]
    assert base and not any("pyspark" in line for line in base)
    assert any("pyspark==3.5.6" in line and 'extra == "spark"' in line for line in requirements)


def test_glue_script_imports_only_what_glue_provides() -> None:
    tree = ast.parse(package.GLUE_SCRIPT.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {
        "b3pipeline",  # the wheel
        "pyspark",  # Glue's Spark
        "awsglue",  # Glue's library, absent locally
    }


def _extra_requirements(extras: dict[str, list[str]], name: str) -> set[str]:
    """Every requirement an extra pulls in, following b3pipeline[...] self-references."""
    found: set[str] = set()
    for requirement in extras[name]:
        match = re.fullmatch(r"b3pipeline\[([a-z,]+)\]", requirement)
        if match:
            for inner in match.group(1).split(","):
                found |= _extra_requirements(extras, inner)
        else:
            found.add(requirement)
    return found


def test_make_run_installs_no_spark_and_make_test_does() -> None:
    with (_hcl.ROOT / "pyproject.toml").open("rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    light = _extra_requirements(extras, "dev")
    assert not any(requirement.startswith("pyspark") for requirement in light)
    assert "pyspark==3.5.6" in _extra_requirements(extras, "spark")

    makefile = (_hcl.ROOT / "Makefile").read_text(encoding="utf-8")
    prerequisites = dict(re.findall(r"^([a-z-]+): ([^#\n]*)", makefile, flags=re.MULTILINE))
    recipes = dict(re.findall(r"^(\$\(\w+\)): .*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE))
    assert "-e '.[dev]'" in recipes["$(VENV_STAMP)"]
    assert "spark" not in recipes["$(VENV_STAMP)"]
    assert "-e '.[dev,spark]'" in recipes["$(SPARK_STAMP)"]
    for light_target in ("run", "demo"):
        assert prerequisites[light_target].split() == ["$(VENV_STAMP)"], light_target
    for spark_target in ("test", "test-spark", "lint"):
        assert "$(SPARK_STAMP)" in prerequisites[spark_target].split(), spark_target
    assert "test-compat" not in makefile and "py39" not in makefile


def test_glue_script_is_copied(tmp_path: Path) -> None:
    if not package.GLUE_SCRIPT.is_file():
        pytest.skip("glue/transform_job.py is not written yet")
    (built,) = package.build(tmp_path, ["glue"])
    assert built == tmp_path / package.GLUE_SCRIPT_OUT
    assert built.read_bytes() == package.GLUE_SCRIPT.read_bytes()


def test_missing_handler_fails_with_a_clear_message(tmp_path: Path, wheelhouse: Path) -> None:
    spec = package.FunctionSpec("ghost", tmp_path / "nowhere", ())
    with pytest.raises(package.PackageError, match=r"handler\.py is missing"):
        package.build_function(spec, tmp_path, wheelhouse, package.ZIP_EPOCH)


def test_source_date_epoch_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert package.source_date_epoch() == package.ZIP_EPOCH
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert package.source_date_epoch() == 1700000000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert package.source_date_epoch() == package.ZIP_EPOCH  # zip cannot go before 1980
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    with pytest.raises(package.PackageError):
        package.source_date_epoch()
