"""Settings read from environment variables (the same names locally and in AWS).

Only adapters (Lambda handlers, the Glue entry, the CLI) call `Settings.from_env`; the core
receives plain values. A required setting that is missing fails at start with SettingsError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from b3pipeline.errors import SettingsError
from b3pipeline.ticker_pool import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_FAILED_SHARE,
    DEFAULT_TICKERS_PER_REQUEST,
    MAX_CONCURRENCY,
    MAX_TICKERS_PER_REQUEST,
    FetchPolicy,
)
from b3pipeline.tickers import DEFAULT_TICKERS, parse_tickers

DEFAULT_BRAPI_BASE_URL = "https://brapi.dev"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Parallel lake reads/writes/deletes when LAKE_IO_CONCURRENCY is not set: enough to hide
#: S3's tens of milliseconds per request, far below S3's request rates per prefix.
DEFAULT_IO_CONCURRENCY = 32
# More parallel requests than this gain nothing in one process and risk S3 throttling.
MAX_IO_CONCURRENCY = 256


@dataclass(frozen=True)
class Settings:
    lake_uri: str | None = None
    brapi_base_url: str = DEFAULT_BRAPI_BASE_URL
    brapi_token: str | None = None
    brapi_token_parameter: str | None = None
    state_machine_arn: str | None = None
    tickers: list[str] = field(default_factory=lambda: list(DEFAULT_TICKERS))
    log_level: str = "INFO"
    lake_io_concurrency: int = DEFAULT_IO_CONCURRENCY
    brapi_concurrency: int = DEFAULT_CONCURRENCY
    brapi_tickers_per_request: int = DEFAULT_TICKERS_PER_REQUEST
    max_failed_ticker_share: float = DEFAULT_MAX_FAILED_SHARE
    #: AWS_REGION (or AWS_DEFAULT_REGION): Lambda always sets AWS_REGION to the function's
    #: region ("Defined runtime environment variables", AWS Lambda Developer Guide).
    aws_region: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            raw = env.get(name, "").strip()
            return raw or None

        base_url = value("BRAPI_BASE_URL") or DEFAULT_BRAPI_BASE_URL
        if not base_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"BRAPI_BASE_URL={base_url!r} is not an http(s) URL: set it like https://brapi.dev"
            )
        log_level = (value("LOG_LEVEL") or "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL={log_level!r} is not one of {', '.join(_LOG_LEVELS)}")
        tickers_text = value("B3_TICKERS")

        def whole_number(name: str, default: int, most: int, what: str) -> int:
            text = value(name)
            if text is None:
                return default
            try:
                number = int(text)
            except ValueError:
                number = 0
            if not 1 <= number <= most:
                raise SettingsError(
                    f"{name}={text!r} is not a whole number from 1 to {most}: set {what} "
                    f"(default {default})"
                )
            return number

        share_text = value("B3_MAX_FAILED_TICKER_SHARE")
        share = DEFAULT_MAX_FAILED_SHARE
        if share_text is not None:
            try:
                share = float(share_text)
            except ValueError:
                share = -1.0
            if not 0 <= share <= 1:  # NaN fails this too
                raise SettingsError(
                    f"B3_MAX_FAILED_TICKER_SHARE={share_text!r} is not a number from 0 to 1: "
                    "set the share of tickers that may fail before a run stops early "
                    f"(default {DEFAULT_MAX_FAILED_SHARE:g}; 0 stops at the first failure)"
                )
        return cls(
            lake_uri=value("LAKE_URI"),
            brapi_base_url=base_url.rstrip("/"),
            brapi_token=value("BRAPI_TOKEN"),
            brapi_token_parameter=value("BRAPI_TOKEN_PARAMETER"),
            state_machine_arn=value("STATE_MACHINE_ARN"),
            tickers=parse_tickers(tickers_text) if tickers_text else list(DEFAULT_TICKERS),
            log_level=log_level,
            lake_io_concurrency=whole_number(
                "LAKE_IO_CONCURRENCY",
                DEFAULT_IO_CONCURRENCY,
                MAX_IO_CONCURRENCY,
                "the number of parallel lake reads/writes",
            ),
            brapi_concurrency=whole_number(
                "BRAPI_CONCURRENCY",
                DEFAULT_CONCURRENCY,
                MAX_CONCURRENCY,
                "how many BRAPI requests run at once",
            ),
            brapi_tickers_per_request=whole_number(
                "BRAPI_TICKERS_PER_REQUEST",
                DEFAULT_TICKERS_PER_REQUEST,
                MAX_TICKERS_PER_REQUEST,
                "how many tickers one BRAPI request asks for (the free plan takes 1)",
            ),
            max_failed_ticker_share=share,
            aws_region=value("AWS_REGION") or value("AWS_DEFAULT_REGION"),
        )

    def fetch_policy(self) -> FetchPolicy:
        """How scrapes talk to BRAPI (BRAPI_CONCURRENCY, BRAPI_TICKERS_PER_REQUEST,
        B3_MAX_FAILED_TICKER_SHARE)."""
        return FetchPolicy(
            concurrency=self.brapi_concurrency,
            tickers_per_request=self.brapi_tickers_per_request,
            max_failed_share=self.max_failed_ticker_share,
        )

    def require_lake_uri(self) -> str:
        if not self.lake_uri:
            raise SettingsError(
                "LAKE_URI is not set: set it to s3://bucket[/prefix] or a local folder"
            )
        return self.lake_uri

    def require_aws_region(self) -> str:
        if not self.aws_region:
            raise SettingsError(
                "AWS_REGION is not set: Lambda sets it to the function's region; elsewhere set "
                "AWS_REGION to the region of the lake bucket"
            )
        return self.aws_region

    def require_state_machine_arn(self) -> str:
        if not self.state_machine_arn:
            raise SettingsError(
                "STATE_MACHINE_ARN is not set: set it to the pipeline state machine's ARN"
            )
        return self.state_machine_arn


def region_of_arn(arn: str) -> str:
    """The region field of an ARN (arn:partition:service:region:account:resource)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[3]:
        raise SettingsError(
            f"{arn!r} is not a regional ARN (arn:aws:states:<region>:<account>:stateMachine:"
            "<name>): set STATE_MACHINE_ARN to the pipeline state machine's ARN"
        )
    return parts[3]
