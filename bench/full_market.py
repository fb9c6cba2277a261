"""A full-market daily run: how long do 400 tickers take on a BRAPI that answers in 300 ms?

    .venv/bin/python -m bench.full_market --tickers 400 --delay-ms 300

Serves a synthetic market on the loopback BRAPI stand-in, every answer delayed by
`--delay-ms` (a distant server), and times `b3pipeline run --date D` for all the tickers
(scrape, transform, quality gate, summary and chart), the way a user runs it, with
BRAPI_CONCURRENCY and BRAPI_TICKERS_PER_REQUEST as given. `--history-days N` first
backfills N trading days before D (without the delay), so the transform reads its full
lookback as on a lake in steady state. Prints one JSON line per run: wall time, BRAPI
requests, and the ratio to the sequential request time (tickers x delay). Goal: <= 0.5.
`--sequential` also times the same run with one request at a time, for a side-by-side ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

from bench.common import environment, timed_cli
from tests.support.fake_brapi import (
    FakeBrapi,
    market_tickers,
    serve,
    synthetic_market,
    weekdays_back,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=400)
    parser.add_argument("--delay-ms", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tickers-per-request", type=int, default=1)
    parser.add_argument("--history-days", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sequential", action="store_true")
    args = parser.parse_args()

    run_date = date.today() - timedelta(days=3)
    while run_date.weekday() >= 5:
        run_date -= timedelta(days=1)
    days = weekdays_back(run_date, args.history_days + 1)
    tickers = market_tickers(args.tickers)
    fake = FakeBrapi(bars=synthetic_market(tickers, days), today=date.today())
    listed = ",".join(tickers)
    settings = {
        "BRAPI_CONCURRENCY": str(args.concurrency),
        "BRAPI_TICKERS_PER_REQUEST": str(args.tickers_per_request),
    }
    cases = [("pool", settings)]
    if args.sequential:
        cases.append(("sequential", {**settings, "BRAPI_CONCURRENCY": "1"}))
    sequential_seconds = args.tickers * args.delay_ms / 1000
    with tempfile.TemporaryDirectory() as root, serve(fake) as url:
        built = Path(root) / "built"
        if args.history_days:
            with environment(BRAPI_BASE_URL=url, **settings):
                window = ("--start", str(days[0]), "--end", str(days[-2]))
                seconds = timed_cli("backfill", "--tickers", listed, *window, "--lake", str(built))
            print(json.dumps({"built_days": args.history_days, "seconds": round(seconds, 1)}))
        fake.delay_seconds = args.delay_ms / 1000
        for repeat in range(args.repeats):
            for name, env in cases:
                lake = Path(root) / f"{name}-{repeat}"
                if built.exists():
                    shutil.copytree(built, lake)
                before = len(fake.requests)
                fake.most_in_flight = 0
                with environment(BRAPI_BASE_URL=url, **env):
                    seconds = timed_cli(
                        "run", "--tickers", listed, "--date", str(run_date), "--lake", str(lake)
                    )
                result = {
                    "case": name,
                    "tickers": args.tickers,
                    "delay_ms": args.delay_ms,
                    "concurrency": int(env["BRAPI_CONCURRENCY"]),
                    "tickers_per_request": args.tickers_per_request,
                    "history_days": args.history_days,
                    "wall_seconds": round(seconds, 2),
                    "brapi_requests": len(fake.requests) - before,
                    "most_requests_in_flight": fake.most_in_flight,
                    "sequential_request_seconds": sequential_seconds,
                    "ratio": round(seconds / sequential_seconds, 3),
                }
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
