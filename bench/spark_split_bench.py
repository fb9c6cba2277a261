"""The Glue script's split by ticker against one direct run of the core, side by side.

    .venv/bin/python -m bench.spark_split_bench --tickers 5 --years 10

Builds one raw lake, copies it, then times `run_transform` over every ticker on one copy
and the Glue script's `run_job` (one Spark task per ticker on a local SparkSession, warmed
up first) on the other. Prints one JSON line; compare the ratio, not the seconds, on a
shared machine. On Glue the split runs on (workers - 1) x 4 task slots of G.1X executors.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from b3pipeline.lake import Lake
from b3pipeline.transform import run_transform
from tests.support.modules import load_module
from tests.support.raw_builders import raw_frame, weekdays, write_raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=5)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()

    job = load_module("glue/transform_job.py", "glue_transform_job_bench")
    tickers = [f"TS{i:02d}3" for i in range(args.tickers)]
    days = weekdays(date(2010, 1, 4), 252 * args.years)
    with tempfile.TemporaryDirectory() as root:
        direct_lake, split_lake = Path(root) / "direct", Path(root) / "split"
        lake = Lake.open(str(direct_lake))
        for seed, ticker in enumerate(tickers):
            write_raw(lake, raw_frame(ticker, days, seed=seed))
        shutil.copytree(direct_lake, split_lake)

        spark = job.spark_session()
        spark.sparkContext.parallelize([0], 1).count()  # JVM and Python workers up

        started = time.perf_counter()
        run_transform(lake, tickers, days[0], days[-1], now=datetime.now(UTC))
        direct = time.perf_counter() - started

        arguments = job.TransformJobArguments(str(split_lake), tickers, days[0], days[-1])
        started = time.perf_counter()
        result = job.run_job(spark, arguments)
        split = time.perf_counter() - started
        spark.stop()

    print(
        json.dumps(
            {
                "tickers": len(tickers),
                "trading_days": len(days),
                "daily_rows": result.daily_rows,
                "direct_seconds": round(direct, 2),
                "spark_split_seconds": round(split, 2),
                "split_over_direct": round(split / direct, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
