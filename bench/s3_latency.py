"""How many S3 round trips does a backfill make one after another?

    .venv/bin/python -m bench.s3_latency --days 500 --delay-ms 20

Runs `b3pipeline backfill` of PETR4 over `--days` trading days (real PETR4 history from the
loopback BRAPI stand-in): once to a local folder, then to S3 lakes on moto's server behind
a delaying proxy on 127.0.0.1 adding 0 ms and `--delay-ms` to every request, alternating
`--repeats` times (median kept). Prints, from that one run:
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
import statistics
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from b3pipeline.lake import Lake
from bench.common import cli, environment, timed_cli
from bench.delay_proxy import delaying_proxy
from tests.support.fake_brapi import petr4_fake, serve
from tests.support.lake_tables import refined_rows

BUCKET = "b3-bench-lake"


def _without_processed_at(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "processed_at"} for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    fake = petr4_fake()
    history = [date.fromtimestamp(bar["date"]) for bar in fake.bars["PETR4"]]
    days = history[-(args.days + 1) : -1]
    run_date = history[-1]
    window = ("--tickers", "PETR4", "--start", str(days[0]), "--end", str(days[-1]))
    delayed = f"s3 +{args.delay_ms:g} ms"

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        with (
            tempfile.TemporaryDirectory() as root,
            serve(fake) as brapi,
            delaying_proxy(f"{host}:{port}") as (endpoint, proxy),
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
            boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket=BUCKET)
            local = str(Path(root) / "lake")
            seconds = {"local": timed_cli("backfill", *window, "--lake", local)}
            cli("backfill", *window, "--lake", f"s3://{BUCKET}/warm-up")  # imports, moto caches
            samples: dict[str, list[float]] = {"s3 +0 ms": [], delayed: []}
            requests: dict[str, dict[str, int]] = {}
            lake_uri = ""
            for repeat in range(args.repeats):
                for name, delay_ms in (("s3 +0 ms", 0.0), (delayed, args.delay_ms)):
                    lake_uri = f"s3://{BUCKET}/lake-{int(delay_ms)}-{repeat}"
                    proxy.delay_seconds = delay_ms / 1000
                    proxy.reset()
                    samples[name].append(timed_cli("backfill", *window, "--lake", lake_uri))
                    requests[f"backfill, {len(days)} ticker-days"] = dict(proxy.counts)
            seconds.update({name: statistics.median(v) for name, v in samples.items()})

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
    finally:
        moto.stop()

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
