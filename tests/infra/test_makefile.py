"""The Makefile as the front door: `make help` reads as printed, `make clean` deletes only
what the project made, and the documented defaults agree with the files behind them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra import _hcl

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def make(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    assert MAKE is not None
    done = subprocess.run(
        [MAKE, "--no-print-directory", *args],
        cwd=cwd,
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_make
def test_make_help_prints_no_unexpanded_variable() -> None:
    text = make("help", cwd=ROOT)
    assert "make demo" in text and "make clean" in text
    assert re.findall(r"\$[({]\w+[)}]", text) == []


@needs_make
def test_make_clean_deletes_what_the_project_made_and_never_a_lake(tmp_path: Path) -> None:
    """On a copy of the Makefile: a user's lake given as LAKE= (environment, command line,
    or the default ./lake) survives; build outputs, caches and the demo's lake go."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "Makefile", repo / "Makefile")
    made = ["build", "dist", "demo-lake", ".pytest_cache", ".mypy_cache", ".ruff_cache"]
    for folder in made:
        (repo / folder / "sub").mkdir(parents=True)
        (repo / folder / "sub" / "file").write_text("made by the project")
    kept = {
        "default": repo / "lake",
        "environment": tmp_path / "data" / "b3",
        "command line": tmp_path / "other" / "b3",
        "source": repo / "src",
    }
    for path in kept.values():
        (path / "raw").mkdir(parents=True)
        (path / "raw" / "quotes.parquet").write_text("a user's data")

    for args, env in (
        ((), {**os.environ, "LAKE": str(kept["environment"])}),
        ((f"LAKE={kept['command line']}",), None),
        (("LAKE=.",), None),
    ):
        make("clean", *args, cwd=repo, env=env)
        for why, path in kept.items():
            assert (path / "raw" / "quotes.parquet").read_text() == "a user's data", (why, args)
        assert [folder for folder in made if (repo / folder).exists()] == []
    assert (repo / "Makefile").is_file()


def test_the_example_tfvars_and_the_docs_give_the_default_tickers() -> None:
    default = _hcl.clean(_hcl.variables()["tickers"]["default"])
    example = _hcl.clean(_hcl.load(_hcl.TERRAFORM / "terraform.tfvars.example"))["tickers"]
    assert example == default == ["PETR4"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert '`tickers` (default `["PETR4"]`)' in readme
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert '| `tickers` | `["PETR4"]` |' in deploy
