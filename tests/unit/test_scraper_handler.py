"""The scraper Lambda adapter: event in, DESIGN's output out, settings and token from AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from b3pipeline.errors import InvalidRequestError, SettingsError
from tests.support.modules import FakeLambdaContext, load_module
from tests.support.quotes import StaticQuoteSource, make_bars


def _load_handler() -> ModuleType:
    return load_module("functions/scraper/handler.py", "scraper_handler_under_test")


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ModuleType]:
    monkeypatch.setenv("LAKE_URI", str(tmp_path / "lake"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("BRAPI_TOKEN", "BRAPI_TOKEN_PARAMETER", "B3_TICKERS", "BRAPI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield _load_handler()


def _fake_client(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Replace BrapiClient with an in-memory source; returns the tokens it was built with."""
    tokens: list[str | None] = []
    source = StaticQuoteSource(make_bars("PETR4", date(2025, 8, 25), 5))

    def build(base_url: str, token: str | None = None) -> StaticQuoteSource:
        tokens.append(token)
        return source

    monkeypatch.setattr(module, "BrapiClient", build)
    return tokens


def test_returns_design_output_and_writes_the_lake(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_client(handler, monkeypatch)
    event = {"tickers": ["PETR4"], "run_date": "2025-08-28", "execution_arn": "arn:exec"}
    output: dict[str, Any] = handler.lambda_handler(
        event, FakeLambdaContext(function_name="b3-scraper")
    )
    assert set(output) == {"tickers", "dates", "rows", "manifest_key"}
    assert (
        output["tickers"] == ["PETR4"] and output["dates"] == ["2025-08-28"] and output["rows"] == 1
    )
    manifest = json.loads((tmp_path / "lake" / output["manifest_key"]).read_text())
    assert manifest["execution_arn"] == "arn:exec" and manifest["producer"] == "scraper"
    assert len(json.dumps(output)) < 256 * 1024


def test_default_tickers_come_from_settings(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("B3_TICKERS", "VALE3,ITUB4")
    module = _load_handler()
    assert module.parse_event({"run_date": None}).tickers == ["VALE3", "ITUB4"]


@pytest.mark.parametrize(
    ("environment", "parameter_region"),
    [
        ({"AWS_DEFAULT_REGION": "us-east-1"}, "us-east-1"),
        # Lambda sets AWS_REGION: the parameter is read there, whatever else is set.
        ({"AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "us-east-1"}, "sa-east-1"),
    ],
)
def test_token_is_read_from_ssm_securestring_in_the_functions_region(
    handler: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    parameter_region: str,
) -> None:
    monkeypatch.setenv("BRAPI_TOKEN_PARAMETER", "/b3/brapi-token")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    module = _load_handler()
    tokens = _fake_client(module, monkeypatch)
    with mock_aws():
        boto3.client("ssm", region_name=parameter_region).put_parameter(
            Name="/b3/brapi-token", Value=f"from-{parameter_region}", Type="SecureString"
        )
        module.lambda_handler(
            {"tickers": ["PETR4"], "run_date": None}, FakeLambdaContext(function_name="b3-scraper")
        )
    assert tokens == [f"from-{parameter_region}"]


def test_missing_lake_uri_fails_loudly(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAKE_URI")
    module = _load_handler()
    with pytest.raises(SettingsError, match="LAKE_URI"):
        module.lambda_handler({"tickers": ["PETR4"]}, FakeLambdaContext(function_name="b3-scraper"))


def test_bad_event_is_rejected_before_any_work(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_client(handler, monkeypatch)
    with pytest.raises(InvalidRequestError, match="run_date"):
        handler.lambda_handler(
            {"tickers": ["PETR4"], "run_date": "yesterday"},
            FakeLambdaContext(function_name="b3-scraper"),
        )
    assert not (tmp_path / "lake" / "raw").exists()


def test_an_s3_lake_without_a_region_fails_loudly(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_URI", "s3://b3-lake")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    module = _load_handler()
    _fake_client(module, monkeypatch)
    with pytest.raises(SettingsError, match="AWS_REGION is not set"):
        module.lambda_handler(
            {"tickers": ["PETR4"], "run_date": None}, FakeLambdaContext(function_name="b3-scraper")
        )
