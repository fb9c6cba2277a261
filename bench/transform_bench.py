"""Measure the transform: a full backfill and a daily incremental run, time and peak memory.

    .venv/bin/python -m bench.transform_bench --tickers 5 --years 10

Prints one JSON line per scenario. Goals (DESIGN.md runtimes): a daily run must stay far
below the Glue Python shell's minimum billing (1 minute) and the 1/16 DPU's 1 GB memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import UTC, date, datetime

from b3pipeline.lake import Lake
from b3pipeline.transform import run_transform
from tests.support.raw_builders import raw_frame, weekdays, write_raw


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=5)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()

    tickers = [f"TS{i:02d}3" for i in range(args.tickers)]
    days = weekdays(date(2010, 1, 4), 252 * args.years)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as root:
        lake = Lake.open(root)
        started = time.perf_counter()
        for seed, ticker in enumerate(tickers):
            write_raw(lake, raw_frame(ticker, days, seed=seed))
        setup = time.perf_counter() - started

        for name, start in (("backfill", days[0]), ("daily", days[-1])):
            started = time.perf_counter()
            result = run_transform(lake, tickers, start, days[-1], now=now)
            print(
                json.dumps(
                    {
                        "scenario": name,
                        "tickers": len(tickers),
                        "trading_days": len(days),
                        "raw_files_read": result.raw_files_read,
                        "daily_rows": result.daily_rows,
                        "monthly_rows": result.monthly_rows,
                        "seconds": round(time.perf_counter() - started, 3),
                        "peak_rss_mb": round(_peak_rss_mb(), 1),
                        "setup_seconds": round(setup, 3),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
