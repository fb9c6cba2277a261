"""AWS Glue Python shell entry: parse the job arguments, run b3pipeline.transform, log a summary.

Job arguments (DESIGN.md): --lake_uri, --tickers (comma list or JSON array), --start_date,
--end_date (YYYY-MM-DD). Glue adds its own (--JOB_ID, --job-bookmark-option, ...), which are
ignored. The script is uploaded alone; b3pipeline comes from the wheel installed on the job.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import date
from typing import Optional

from b3pipeline.errors import B3PipelineError, InvalidDateRangeError
from b3pipeline.lake import Lake
from b3pipeline.tickers import parse_tickers
from b3pipeline.transform import run_transform

ARGUMENTS = ("lake_uri", "tickers", "start_date", "end_date")

logger = logging.getLogger("b3pipeline.glue.transform_job")


@dataclass(frozen=True)
class TransformJobArguments:
    lake_uri: str
    tickers: list[str]
    start_date: date
    end_date: date


def _resolve_options(argv: list[str]) -> dict[str, str]:
    """{name: value} for ARGUMENTS, as awsglue's getResolvedOptions gives them.

    argv is sys.argv-shaped: argv[0] is the script and is skipped.
    """
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog="transform_job", allow_abbrev=False)
        for name in ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        known, _glue_extras = parser.parse_known_args(argv[1:])
        return {name: getattr(known, name) for name in ARGUMENTS}
    resolved: dict[str, str] = getResolvedOptions(argv, list(ARGUMENTS))
    return resolved


def _parse_date(name: str, text: str) -> date:
    try:
        if len(text.strip()) != 10:
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidDateRangeError(f"--{name} {text!r} is not a date: use YYYY-MM-DD") from exc


def parse_arguments(argv: list[str]) -> TransformJobArguments:
    options = _resolve_options(argv)
    start = _parse_date("start_date", options["start_date"])
    end = _parse_date("end_date", options["end_date"])
    if start > end:
        raise InvalidDateRangeError(
            f"--start_date {start.isoformat()} is after --end_date {end.isoformat()}"
        )
    return TransformJobArguments(
        lake_uri=options["lake_uri"].strip(),
        tickers=parse_tickers(options["tickers"]),
        start_date=start,
        end_date=end,
    )


def main(argv: Optional[list[str]] = None) -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        arguments = parse_arguments(sys.argv if argv is None else argv)
        lake = Lake.open(arguments.lake_uri)
        result = run_transform(lake, arguments.tickers, arguments.start_date, arguments.end_date)
    except B3PipelineError as exc:
        logger.error("transform failed: %s", exc)
        print(f"transform failed: {exc}", file=sys.stderr)
        return 1
    logger.info(json.dumps({"event": "transform_succeeded", **result.summary()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
