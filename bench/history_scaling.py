"""Does a daily run cost the same on a lake holding 15 years as on one holding 1 year?

    .venv/bin/python -m bench.history_scaling --tickers 3 --long-years 15 --short-years 1

Builds two local lakes the way a user would (`b3pipeline backfill` from a loopback BRAPI
stand-in serving synthetic history), both ending the day before the measured date D. Then,
alternating between the lakes (`--repeats` times, median kept), it times
  * `b3pipeline run --date D`                  (scrape, transform, quality, summary, chart)
  * `b3pipeline transform --start D --end D`   (what the Glue job does for one day)
and prints one JSON line per command with the long/short ratio. Goal: <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from datetime import date, timedelta
from pathlib import Path

from bench.common import environment, timed_cli
from tests.support.fake_brapi import FakeBrapi, serve, synthetic_bars, weekdays_back

TRADING_DAYS_PER_YEAR = 252


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=3)
    parser.add_argument("--long-years", type=int, default=15)
    parser.add_argument("--short-years", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    tickers = [f"TS{i:02d}3" for i in range(args.tickers)]
    run_date = date.today() - timedelta(days=7)
    while run_date.weekday() >= 5:
        run_date -= timedelta(days=1)
    history = weekdays_back(run_date, TRADING_DAYS_PER_YEAR * args.long_years + 1)
    fake = FakeBrapi(
        bars={t: synthetic_bars(history, seed) for seed, t in enumerate(tickers)},
        today=date.today(),
    )
    listed = ",".join(tickers)
    with (
        tempfile.TemporaryDirectory() as root,
        serve(fake) as url,
        environment(BRAPI_BASE_URL=url, LAKE_IO_CONCURRENCY="32"),
    ):
        lakes: dict[str, str] = {}
        for name, years in (("long", args.long_years), ("short", args.short_years)):
            lakes[name] = str(Path(root) / name)
            first = history[-(TRADING_DAYS_PER_YEAR * years + 1)]
            window = ("--start", str(first), "--end", str(history[-2]))
            built = timed_cli("backfill", "--tickers", listed, *window, "--lake", lakes[name])
            report = {"built": name, "years": years, "first_date": str(first)}
            print(json.dumps({**report, "seconds": round(built, 1)}), flush=True)

        day = str(run_date)
        commands = {
            "run --date D": ("run", "--tickers", listed, "--date", day),
            "transform --start D --end D": (
                "transform", "--tickers", listed, "--start", day, "--end", day,
            ),
        }  # fmt: skip
        for label, command in commands.items():
            timings: dict[str, list[float]] = {"long": [], "short": []}
            for _ in range(args.repeats):
                for name, lake in lakes.items():
                    timings[name].append(timed_cli(*command, "--lake", lake))
            long_s, short_s = (statistics.median(timings[n]) for n in ("long", "short"))
            result = {
                "command": f"b3pipeline {label}",
                "tickers": len(tickers),
                f"{args.long_years}y_seconds": round(long_s, 3),
                f"{args.short_years}y_seconds": round(short_s, 3),
                "ratio": round(long_s / short_s, 2),
            }
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
