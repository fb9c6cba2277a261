"""Build the deployable artifacts into build/ (what `make package` runs; Terraform reads them).

    build/scraper.zip                          Lambda: functions/scraper + b3pipeline + small deps
    build/trigger.zip                          Lambda: functions/trigger + b3pipeline + small deps
    build/b3pipeline-<version>-py3-none-any.whl  the core, pip-installed on the Glue job's workers
    build/glue/transform_job.py                the Glue 5.1 Spark entry

Same inputs give the same bytes: entries are sorted, every timestamp is SOURCE_DATE_EPOCH (or
1980-01-01 when unset), permissions are fixed, no bytecode is written. The function zips carry
only pure-Python dependencies, installed with `pip install --target` from the exact pins
below; pandas, pyarrow and numpy come from the AWS SDK for pandas layer and boto3 from the
Lambda runtime, so the build fails if one of them slips in.

Usage: python scripts/package.py [--out build] [--only scraper trigger wheel glue]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build"
DEFAULT_WHEELHOUSE_NAME = ".wheelhouse"

# 1980-01-01T00:00:00Z, the earliest time a zip entry can hold.
ZIP_EPOCH = 315532800

LAMBDA_PYTHON = "3.12"

# Exact pins of what goes into the zips (pure-Python wheels only). requests and
# aws-lambda-powertools must match pyproject.toml (tests/infra checks it); the rest are
# their dependencies at the versions the dev environment is tested with.
POWERTOOLS_PINS = (
    "aws-lambda-powertools==3.37.0",
    "jmespath==1.1.0",
    "typing-extensions==4.16.0",
)
REQUESTS_PINS = (
    "requests==2.34.2",
    "urllib3==2.8.0",
    "idna==3.20",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
)
# zoneinfo's America/Sao_Paulo for BRAPI trade dates: Lambda's base image may have no
# system time-zone database, and the core must not depend on the layer carrying one.
TZDATA_PINS = ("tzdata==2026.6",)

# Provided by the runtime or the layer: never inside a function zip.
FORBIDDEN_TOP_LEVEL = frozenset({"pandas", "pyarrow", "numpy", "boto3", "botocore", "s3transfer"})


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    source: Path
    pins: tuple[str, ...]

    @property
    def zip_name(self) -> str:
        return f"{self.name}.zip"


FUNCTIONS: Mapping[str, FunctionSpec] = {
    "scraper": FunctionSpec(
        "scraper", ROOT / "functions" / "scraper", POWERTOOLS_PINS + REQUESTS_PINS + TZDATA_PINS
    ),
    "trigger": FunctionSpec("trigger", ROOT / "functions" / "trigger", POWERTOOLS_PINS),
}
CORE_SOURCE = ROOT / "src" / "b3pipeline"
GLUE_SCRIPT = ROOT / "glue" / "transform_job.py"
GLUE_SCRIPT_OUT = Path("glue") / "transform_job.py"
TARGETS = ("scraper", "trigger", "wheel", "glue")


class PackageError(Exception):
    """A build input is missing or a build step failed; the message says which."""


# ------------------------------------------------------------------------ helpers


def source_date_epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return ZIP_EPOCH
    try:
        value = int(raw)
    except ValueError as exc:
        raise PackageError(f"SOURCE_DATE_EPOCH={raw!r} is not an integer") from exc
    return max(value, ZIP_EPOCH)


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        version = tomllib.load(handle)["project"]["version"]
    return str(version)


def core_wheel_name() -> str:
    return f"b3pipeline-{project_version()}-py3-none-any.whl"


def expected_artifacts() -> list[Path]:
    """Paths, relative to the output folder, that a full build writes."""
    return [
        Path(FUNCTIONS["scraper"].zip_name),
        Path(FUNCTIONS["trigger"].zip_name),
        Path(core_wheel_name()),
        GLUE_SCRIPT_OUT,
    ]


def _display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _is_junk(path: Path) -> bool:
    return (
        "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"} or path.name == ".DS_Store"
    )


def tree_files(base: Path, prefix: str = "") -> dict[str, Path]:
    """Map archive names (prefix + '/'-separated relative path) to the files under `base`."""
    files: dict[str, Path] = {}
    # os.walk(followlinks=True): src/b3pipeline/sql is a symlink to the repository's sql/.
    for folder, _dirs, names in os.walk(base, followlinks=True):
        for file_name in names:
            path = Path(folder) / file_name
            relative = path.relative_to(base)
            if not _is_junk(relative):
                files[prefix + relative.as_posix()] = path
    return files


def write_zip(entries: Mapping[str, Path], destination: Path, epoch: int) -> None:
    """A zip of `entries` whose bytes depend only on the names and file contents."""
    stamp = time.gmtime(epoch)[:6]
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries, key=_zip_order):
            source = entries[name]
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr carries the mode below
            info.external_attr = (stat.S_IFREG | 0o644) << 16  # nothing in a zip runs directly
            archive.writestr(info, source.read_bytes(), compresslevel=9)
    partial.replace(destination)


def _zip_order(name: str) -> tuple[int, str]:
    # Wheel metadata goes last (the wheel spec's recommendation); everything else by name.
    return (1 if ".dist-info/" in name else 0, name)


def _run(command: Sequence[str], what: str, env: Mapping[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise PackageError(
            f"{what} failed (exit {result.returncode}): {' '.join(command)}\n"
            f"{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )


def _pip_target_args() -> list[str]:
    # Only wheels that run anywhere (py3-none-any) for the Lambda Python: a dependency with
    # compiled code has no such wheel, so pip fails instead of packing a wrong binary.
    return [
        "--only-binary=:all:",
        "--platform",
        "any",
        "--implementation",
        "py",
        "--python-version",
        LAMBDA_PYTHON,
    ]


def _wheel_present(pin: str, wheelhouse: Path) -> bool:
    name, _, version = pin.partition("==")
    stem = re.sub(r"[-_.]+", "_", name).lower()
    return any(
        path.name.lower().startswith(f"{stem}-{version}-") for path in wheelhouse.glob("*.whl")
    )


def fetch_wheels(pins: Iterable[str], wheelhouse: Path) -> None:
    """Download the pinned wheels into `wheelhouse` once; later builds install offline."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    missing = sorted({pin for pin in pins if not _wheel_present(pin, wheelhouse)})
    if not missing:
        return
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--dest",
        str(wheelhouse),
        *_pip_target_args(),
        *missing,
    ]
    _run(command, f"downloading {', '.join(missing)}")


def install_dependencies(pins: Sequence[str], wheelhouse: Path, target: Path) -> None:
    fetch_wheels(pins, wheelhouse)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-compile",
        "--find-links",
        str(wheelhouse),
        "--target",
        str(target),
        *_pip_target_args(),
        *pins,
    ]
    _run(command, "installing the function dependencies")
    # Console scripts carry this machine's interpreter path in their shebang: not needed
    # in Lambda, and they would make the zip depend on where it was built.
    shutil.rmtree(target / "bin", ignore_errors=True)
    leaked = sorted(
        path.name
        for path in target.iterdir()
        if path.name.split("-")[0].lower().replace("_", "") in FORBIDDEN_TOP_LEVEL
    )
    if leaked:
        raise PackageError(
            f"{', '.join(leaked)} must come from the Lambda runtime or the pandas layer, "
            "not from the zip: remove them from the pins"
        )


# ------------------------------------------------------------------------ builders


def build_function(spec: FunctionSpec, out: Path, wheelhouse: Path, epoch: int) -> Path:
    handler = spec.source / "handler.py"
    if not handler.is_file():
        raise PackageError(f"{_display(handler)} is missing: nothing to package")
    if not (CORE_SOURCE / "__init__.py").is_file():
        raise PackageError(f"{_display(CORE_SOURCE)} is not a package")
    with tempfile.TemporaryDirectory(prefix=f"package-{spec.name}-") as temp:
        deps = Path(temp) / "deps"
        install_dependencies(spec.pins, wheelhouse, deps)
        entries = tree_files(deps)
        entries.update(tree_files(CORE_SOURCE, "b3pipeline/"))
        entries.update(tree_files(spec.source))  # the handler at the zip root
        destination = out / spec.zip_name
        write_zip(entries, destination, epoch)
    return destination


def build_core_wheel(out: Path, epoch: int) -> Path:
    """`pip wheel --no-deps` on a clean copy of the project, then re-zipped reproducibly.

    Building from a copy keeps setuptools' own build/ and *.egg-info out of the repository.
    """
    name = core_wheel_name()
    with tempfile.TemporaryDirectory(prefix="package-wheel-") as temp:
        project = Path(temp) / "project"
        project.mkdir()
        for file_name in ("pyproject.toml", "README.md", "LICENSE"):
            if (ROOT / file_name).is_file():
                shutil.copy2(ROOT / file_name, project / file_name)
        shutil.copytree(
            CORE_SOURCE,
            project / "src" / "b3pipeline",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        dist = Path(temp) / "dist"
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch), PYTHONDONTWRITEBYTECODE="1")
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(dist),
            str(project),
        ]
        _run(command, "building the b3pipeline wheel", env=env)
        built = dist / name
        if not built.is_file():
            found = ", ".join(path.name for path in dist.glob("*.whl")) or "nothing"
            raise PackageError(f"pip wheel built {found}, expected {name}")
        unpacked = Path(temp) / "unpacked"
        with zipfile.ZipFile(built) as archive:
            archive.extractall(unpacked)
        destination = out / name
        write_zip(tree_files(unpacked), destination, epoch)
    return destination


def copy_glue_script(out: Path) -> Path:
    if not GLUE_SCRIPT.is_file():
        raise PackageError(f"{_display(GLUE_SCRIPT)} is missing: nothing to package")
    destination = out / GLUE_SCRIPT_OUT
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(GLUE_SCRIPT.read_bytes())
    return destination


def build(out: Path, targets: Sequence[str], wheelhouse: Path | None = None) -> list[Path]:
    epoch = source_date_epoch()
    out.mkdir(parents=True, exist_ok=True)
    cache = wheelhouse or out / DEFAULT_WHEELHOUSE_NAME
    built: list[Path] = []
    for target in targets:
        if target in FUNCTIONS:
            built.append(build_function(FUNCTIONS[target], out, cache, epoch))
        elif target == "wheel":
            built.append(build_core_wheel(out, epoch))
        elif target == "glue":
            built.append(copy_glue_script(out))
        else:
            raise PackageError(f"unknown target {target!r}: choose from {', '.join(TARGETS)}")
    return built


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (build/)")
    parser.add_argument(
        "--only", nargs="+", choices=TARGETS, default=list(TARGETS), help="what to build"
    )
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=None,
        help="where downloaded dependency wheels are kept (default: <out>/.wheelhouse)",
    )
    args = parser.parse_args(argv)
    try:
        built = build(args.out, args.only, args.wheelhouse)
    except PackageError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    for path in built:
        print(f"{path.stat().st_size / 1024:10.1f} KiB  {_display(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
