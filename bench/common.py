"""Shared pieces of the benchmarks: synthetic BRAPI history, the CLI run quietly, a timer."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

from b3pipeline.cli import main as cli_main
from tests.support.fake_brapi import bar_timestamp


def weekdays_back(last: date, count: int) -> list[date]:
    """`count` Monday-to-Friday dates ending on `last` (a weekday), oldest first."""
    days: list[date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def brapi_bars(days: Sequence[date], seed: int) -> list[dict[str, Any]]:
    """BRAPI historicalDataPrice entries: a seeded random walk, valid OHLC, one per day."""
    rng = np.random.default_rng(seed)
    closes = 30 * np.exp(np.cumsum(rng.normal(0.0, 0.02, len(days))))
    volumes = rng.integers(1_000_000, 50_000_000, len(days))
    return [
        {
            "date": bar_timestamp(day),
            "open": round(float(close) - 0.1, 4),
            "high": round(float(close) + 0.5, 4),
            "low": round(float(close) - 0.6, 4),
            "close": round(float(close), 4),
            "volume": int(volume),
            "adjustedClose": round(float(close), 4),
        }
        for day, close, volume in zip(days, closes, volumes)
    ]


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
