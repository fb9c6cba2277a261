"""Scraper Lambda: BRAPI -> raw Parquet + manifest (thin adapter over b3pipeline.scrape).

Scrape one batch of tickers:
  Event:  {"tickers": ["PETR4", ...], "run_date": "YYYY-MM-DD" | null, "execution_arn": "...",
           "batch_count": N (optional, default 1: the run's number of batches)}
  Output: {"tickers": [...written], "dates": [...], "rows": N,
           "manifest_key": "raw/_manifests/..." | null,
           "failed_tickers": [{"ticker": "ZZZZ3", "reason": "..."}]}
Merge every batch's output into the run's window (b3pipeline.batch_output):
  Event:  {"batches": [<output>, ...]}
  Output: {"tickers", "dates", "rows", "manifest_keys": [...], "failed_tickers",
           "failed_count"}

A batch with tickers set aside still returns normally (the state machine refines the
others, then fails naming them); more failures than B3_MAX_FAILED_TICKER_SHARE of the
batch raise TooManyTickersFailedError, and a failure of the whole batch (bad token, quota,
BRAPI down) raises as before.

Every AWS client (the lake's S3, SSM for the token) is made for AWS_REGION, which Lambda
always sets to the function's region, the region Terraform puts the lake bucket and the
parameter in; without it (outside Lambda) an s3:// lake or a token parameter fails at start.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from b3pipeline.batch_output import batch_output_budget, merge_batch_outputs
from b3pipeline.brapi import BrapiClient
from b3pipeline.lake import Lake
from b3pipeline.scrape import ScrapeRequest, scrape
from b3pipeline.settings import Settings

logger = Logger()

TOKEN_CACHE_SECONDS = 300


@lru_cache(maxsize=1)
def _settings() -> Settings:
    # Read once per container; malformed settings fail the first invocation loudly.
    return Settings.from_env()


@lru_cache(maxsize=1)
def _ssm(region: str) -> parameters.SSMProvider:
    client = boto3.session.Session().client("ssm", region_name=region)
    return parameters.SSMProvider(boto3_client=client)


def _token(settings: Settings) -> str | None:
    if settings.brapi_token:
        return settings.brapi_token
    if settings.brapi_token_parameter:
        value = _ssm(settings.require_aws_region()).get(
            settings.brapi_token_parameter, decrypt=True, max_age=TOKEN_CACHE_SECONDS
        )
        return str(value) if value else None
    return None


@lru_cache(maxsize=1)
def _lake(uri: str, concurrency: int, region: str | None) -> Lake:
    # One boto3 client per container: warm invocations reuse its connections.
    return Lake.open(uri, concurrency, region=region)


def parse_event(event: dict[str, Any]) -> ScrapeRequest:
    return ScrapeRequest.from_event(event, default_tickers=_settings().tickers)


@logger.inject_lambda_context(log_event=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "batches" in event:
        merged = merge_batch_outputs(event["batches"])
        logger.info("batches merged", extra={"rows": merged["rows"], "dates": merged["dates"]})
        return merged
    settings = _settings()
    lake_uri = settings.require_lake_uri()
    request = parse_event(event)
    region = settings.require_aws_region() if lake_uri.startswith("s3://") else None
    lake = _lake(lake_uri, settings.lake_io_concurrency, region)
    client = BrapiClient(settings.brapi_base_url, _token(settings), policy=settings.fetch_policy())
    result = scrape(
        client,
        lake,
        request.tickers,
        request.start,
        request.end,
        execution_arn=request.execution_arn,
    )
    output = result.to_output(batch_output_budget(request.batch_count))
    logger.info(
        "scrape finished",
        extra={
            "rows": result.rows,
            "run_id": result.run_id,
            "failed_tickers": [f.ticker for f in result.failed],
        },
    )
    return output
