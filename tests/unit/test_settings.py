from __future__ import annotations

import pytest

from b3pipeline.errors import InvalidTickerError, SettingsError
from b3pipeline.settings import DEFAULT_BRAPI_BASE_URL, Settings, region_of_arn
from b3pipeline.ticker_pool import FetchPolicy


def test_defaults_when_optional_settings_are_absent() -> None:
    settings = Settings.from_env({})
    assert settings.brapi_base_url == DEFAULT_BRAPI_BASE_URL
    assert settings.tickers == ["PETR4"]
    assert settings.brapi_token is None
    assert settings.log_level == "INFO"
    assert settings.lake_io_concurrency == 32
    assert settings.fetch_policy() == FetchPolicy(
        concurrency=8, tickers_per_request=1, max_failed_share=0.1
    )


def test_reads_every_variable() -> None:
    settings = Settings.from_env(
        {
            "LAKE_URI": "s3://bucket/lake",
            "BRAPI_BASE_URL": "http://127.0.0.1:8765/",
            "BRAPI_TOKEN": "secret",
            "BRAPI_TOKEN_PARAMETER": "/b3/brapi-token",
            "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:b3",
            "B3_TICKERS": "petr4,VALE3",
            "LOG_LEVEL": "debug",
            "LAKE_IO_CONCURRENCY": " 64 ",
            "BRAPI_CONCURRENCY": "16",
            "BRAPI_TICKERS_PER_REQUEST": "10",
            "B3_MAX_FAILED_TICKER_SHARE": "0.25",
        }
    )
    assert settings.lake_uri == "s3://bucket/lake"
    assert settings.brapi_base_url == "http://127.0.0.1:8765"
    assert settings.brapi_token == "secret"
    assert settings.brapi_token_parameter == "/b3/brapi-token"
    assert settings.require_state_machine_arn().endswith(":stateMachine:b3")
    assert settings.tickers == ["PETR4", "VALE3"]
    assert settings.log_level == "DEBUG"
    assert settings.lake_io_concurrency == 64
    assert settings.fetch_policy() == FetchPolicy(
        concurrency=16, tickers_per_request=10, max_failed_share=0.25
    )


def test_missing_required_settings_fail_loudly() -> None:
    settings = Settings.from_env({"LAKE_URI": "  "})
    with pytest.raises(SettingsError, match="LAKE_URI is not set"):
        settings.require_lake_uri()
    with pytest.raises(SettingsError, match="STATE_MACHINE_ARN is not set"):
        settings.require_state_machine_arn()


@pytest.mark.parametrize(
    ("env", "error", "message"),
    [
        ({"BRAPI_BASE_URL": "brapi.dev"}, SettingsError, "not an http"),
        ({"LOG_LEVEL": "LOUD"}, SettingsError, "LOG_LEVEL"),
        ({"B3_TICKERS": "PETR4,NOPE"}, InvalidTickerError, "NOPE"),
        ({"LAKE_IO_CONCURRENCY": "0"}, SettingsError, "LAKE_IO_CONCURRENCY='0' is not"),
        ({"LAKE_IO_CONCURRENCY": "many"}, SettingsError, "from 1 to 256"),
        ({"LAKE_IO_CONCURRENCY": "257"}, SettingsError, "LAKE_IO_CONCURRENCY"),
        ({"BRAPI_CONCURRENCY": "0"}, SettingsError, "BRAPI_CONCURRENCY='0' is not .* 1 to 64"),
        ({"BRAPI_CONCURRENCY": "65"}, SettingsError, "BRAPI_CONCURRENCY='65'"),
        ({"BRAPI_CONCURRENCY": "2.5"}, SettingsError, "BRAPI_CONCURRENCY='2.5'"),
        ({"BRAPI_TICKERS_PER_REQUEST": "0"}, SettingsError, "BRAPI_TICKERS_PER_REQUEST='0'"),
        ({"BRAPI_TICKERS_PER_REQUEST": "101"}, SettingsError, "free plan takes 1"),
        ({"B3_MAX_FAILED_TICKER_SHARE": "10%"}, SettingsError, "from 0 to 1"),
        ({"B3_MAX_FAILED_TICKER_SHARE": "1.5"}, SettingsError, "B3_MAX_FAILED_TICKER_SHARE='1.5'"),
        ({"B3_MAX_FAILED_TICKER_SHARE": "-0.1"}, SettingsError, "B3_MAX_FAILED_TICKER_SHARE"),
        ({"B3_MAX_FAILED_TICKER_SHARE": "nan"}, SettingsError, "B3_MAX_FAILED_TICKER_SHARE"),
    ],
)
def test_malformed_settings_are_rejected(
    env: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Settings.from_env(env)


def test_the_region_is_aws_region_then_aws_default_region() -> None:
    both = {"AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    assert Settings.from_env(both).aws_region == "sa-east-1"
    assert Settings.from_env({"AWS_DEFAULT_REGION": "us-east-1"}).aws_region == "us-east-1"
    with pytest.raises(SettingsError, match="AWS_REGION is not set"):
        Settings.from_env({}).require_aws_region()


def test_the_region_of_a_state_machine_arn() -> None:
    arn = "arn:aws:states:sa-east-1:123456789012:stateMachine:b3-quotes-pipeline"
    assert region_of_arn(arn) == "sa-east-1"
    for bad in ("b3-quotes-pipeline", "arn:aws:states::123456789012:stateMachine:x"):
        with pytest.raises(SettingsError, match="not a regional ARN"):
            region_of_arn(bad)
