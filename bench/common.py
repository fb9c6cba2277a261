"""Shared pieces of the benchmarks: the CLI run quietly, a timer, environment variables.

Synthetic BRAPI history comes from tests.support.fake_brapi (weekdays_back, synthetic_bars).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator

from b3pipeline.cli import main as cli_main


def cli(*argv: str) -> None:
    """`b3pipeline ...` in this process, its output swallowed; a failure stops the bench."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(list(argv))
    if code != 0:
        raise SystemExit(f"b3pipeline {' '.join(argv)} exited {code}: {err.getvalue().strip()}")


def timed_cli(*argv: str) -> float:
    """Seconds `b3pipeline ...` took (see `cli`)."""
    started = time.perf_counter()
    cli(*argv)
    return time.perf_counter() - started


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block (as a user would export them)."""
    import os

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
