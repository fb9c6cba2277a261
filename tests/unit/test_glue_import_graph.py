"""The Glue job installs only the core wheel and its runtime requirements: the local runner's
extras (DuckDB, sqlglot, matplotlib, tqdm) are not on Glue, so glue/transform_job.py must
never import them, not even through a module it imports or a function it runs.

A fresh interpreter refuses those imports (a meta path finder), loads the script, runs its
main() end to end on a local lake with the in-process Spark stand-in and builds the Glue
catalog client; any import of a refused module fails the run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.modules import REPO_ROOT

LOCAL_ONLY = ("duckdb", "sqlglot", "matplotlib", "tqdm")

PROBE = textwrap.dedent(
    """
    import importlib.abc
    import sys
    from datetime import date

    REFUSED = {refused!r}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in REFUSED:
                raise ImportError(f"the Glue job imported {{name}}")
            return None

    for name in list(sys.modules):
        if name.split(".")[0] in REFUSED:
            raise SystemExit(f"{{name}} was imported before the probe started")
    sys.meta_path.insert(0, Refuse())

    from b3pipeline.lake import Lake
    from tests.support.fake_spark import FakeSpark
    from tests.support.modules import load_module
    from tests.support.raw_builders import raw_frame, weekdays, write_raw

    job = load_module("glue/transform_job.py", "glue_transform_job_probe")
    job.spark_session = FakeSpark
    lake_dir = sys.argv[1]
    write_raw(Lake.open(lake_dir), raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    argv = ["transform_job.py", "--lake_uri", lake_dir, "--tickers", "PETR4",
            "--start_date", "2024-06-04", "--end_date", "2024-06-05", "--JOB_RUN_ID", "jr_probe"]
    job.main(argv)
    arguments = job.parse_arguments([*argv, "--catalog_database", "b3_lake"])
    assert job.partition_catalog(arguments, "sa-east-1").database == "b3_lake"
    leaked = sorted(n for n in sys.modules if n.split(".")[0] in REFUSED)
    assert not leaked, leaked
    print("clean")
    """
)


def _probe(tmp_path: Path, refused: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": "."}
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(refused=refused), str(tmp_path / "lake")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_glue_job_never_imports_the_local_runners_extras(tmp_path: Path) -> None:
    done = _probe(tmp_path, LOCAL_ONLY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("clean")
    assert (tmp_path / "lake" / "runs" / "transform" / "jr_probe.json").is_file()


def test_the_probe_sees_a_refused_import(tmp_path: Path) -> None:
    # pyarrow is imported by the core on every path: refusing it must fail the probe.
    done = _probe(tmp_path, ("pyarrow",))
    assert done.returncode != 0
    assert "the Glue job imported pyarrow" in done.stderr
