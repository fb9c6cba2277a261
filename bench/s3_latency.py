"""How many S3 round trips does a backfill make one after another?

    .venv/bin/python -m bench.s3_latency --days 500 --delay-ms 20

Runs `b3pipeline backfill` of PETR4 over `--days` trading days (real PETR4 history from the
loopback BRAPI stand-in): once to a local folder, then to S3 lakes on moto's server behind
a delaying proxy on 127.0.0.1 adding 0 ms and `--delay-ms` to every request, alternating
`--repeats` times, each into a fresh bucket. The fastest run of each kind is kept: on a
shared machine other work only ever adds time, so the minimum is the least disturbed
measurement. Prints, from that one run:
  * the seconds of each backfill;
  * sequential round trips per ticker-day = (seconds at delay - seconds at 0 ms)
    / delay / ticker-days (goal: <= 0.5);
  * S3 requests by kind (LIST, GET, PUT, DELETE, HEAD) for the backfill and for the daily
    `b3pipeline run --date` that follows it;
  * whether the refined tables on S3 equal the local backfill's (processed_at aside).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import boto3

from b3pipeline.lake import Lake
from bench.common import cli, environment, timed_cli
from bench.delay_proxy import delaying_proxy
from tests.support.fake_brapi import petr4_fake, serve, wait_for_port
from tests.support.lake_tables import refined_rows

BUCKET = "b3-bench-lake"


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in its own process (not sharing this one's GIL); yields host:port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _without_processed_at(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "processed_at"} for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    fake = petr4_fake()
    history = [date.fromtimestamp(bar["date"]) for bar in fake.bars["PETR4"]]
    days = history[-(args.days + 1) : -1]
    run_date = history[-1]
    window = ("--tickers", "PETR4", "--start", str(days[0]), "--end", str(days[-1]))
    delayed = f"s3 +{args.delay_ms:g} ms"

    with (
        moto_server() as moto,
        tempfile.TemporaryDirectory() as root,
        serve(fake) as brapi,
        delaying_proxy(moto) as (endpoint, proxy),
        environment(
            BRAPI_BASE_URL=brapi,
            LAKE_IO_CONCURRENCY=str(args.concurrency),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL_S3=endpoint,
            AWS_EC2_METADATA_DISABLED="true",
        ),
    ):
        s3 = boto3.client("s3", endpoint_url=f"http://{moto}")
        s3.create_bucket(Bucket=BUCKET)
        local = str(Path(root) / "lake")
        seconds = {"local": timed_cli("backfill", *window, "--lake", local)}
        cli("backfill", *window, "--lake", f"s3://{BUCKET}/warm-up")  # imports, moto caches
        samples: dict[str, list[float]] = {"s3 +0 ms": [], delayed: []}
        requests: dict[str, dict[str, int]] = {}
        lake_uri = ""
        for repeat in range(args.repeats):
            for name, delay_ms in (("s3 +0 ms", 0.0), (delayed, args.delay_ms)):
                bucket = f"{BUCKET}-{int(delay_ms)}-{repeat}"
                s3.create_bucket(Bucket=bucket)
                lake_uri = f"s3://{bucket}/lake"
                proxy.delay_seconds = delay_ms / 1000
                proxy.reset()
                samples[name].append(timed_cli("backfill", *window, "--lake", lake_uri))
                requests[f"backfill, {len(days)} ticker-days"] = dict(proxy.counts)
        seconds.update({name: min(v) for name, v in samples.items()})

        proxy.delay_seconds = 0.0
        proxy.reset()
        cli("run", "--tickers", "PETR4", "--date", str(run_date), "--lake", lake_uri)
        requests[f"daily run --date {run_date} after it"] = dict(proxy.counts)
        cli("run", "--tickers", "PETR4", "--date", str(run_date), "--lake", local)
        s3_lake, local_lake = Lake.open(lake_uri), Lake.open(local)
        equal = all(
            _without_processed_at(refined_rows(s3_lake, monthly))
            == _without_processed_at(refined_rows(local_lake, monthly))
            for monthly in (False, True)
        )

    extra = seconds[delayed] - seconds["s3 +0 ms"]
    round_trips = extra / (args.delay_ms / 1000)
    summary = {
        "backfill_seconds": {k: round(v, 2) for k, v in seconds.items()},
        "s3_samples": {k: [round(x, 2) for x in v] for k, v in samples.items()},
        "ticker_days": len(days),
        "concurrency": args.concurrency,
    }
    print(json.dumps(summary))
    print(
        json.dumps(
            {
                "sequential_round_trips": round(round_trips),
                "sequential_round_trips_per_ticker_day": round(round_trips / len(days), 3),
            }
        )
    )
    for label, counts in requests.items():
        print(json.dumps({"requests": label, **dict(sorted(counts.items()))}))
    print(json.dumps({"refined_on_s3_equals_local": equal}))


if __name__ == "__main__":
    main()
