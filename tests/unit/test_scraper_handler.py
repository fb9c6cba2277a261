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

from b3pipeline.batch_output import MAP_OUTPUT_MAX_BYTES, MAX_BATCHES, OUTPUT_MAX_BYTES
from b3pipeline.errors import InvalidRequestError, SettingsError, TooManyTickersFailedError
from b3pipeline.ticker_pool import FetchPolicy
from tests.support.fake_http import fake_session, json_response
from tests.support.modules import FakeLambdaContext, load_module
from tests.support.quotes import StaticQuoteSource, make_bars


def _load_handler() -> ModuleType:
    return load_module("functions/scraper/handler.py", "scraper_handler_under_test")


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ModuleType]:
    monkeypatch.setenv("LAKE_URI", str(tmp_path / "lake"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in (
        "BRAPI_TOKEN",
        "BRAPI_TOKEN_PARAMETER",
        "B3_TICKERS",
        "BRAPI_BASE_URL",
        "BRAPI_CONCURRENCY",
        "BRAPI_TICKERS_PER_REQUEST",
        "B3_MAX_FAILED_TICKER_SHARE",
    ):
        monkeypatch.delenv(name, raising=False)
    yield _load_handler()


def _fake_client(
    module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    source: StaticQuoteSource | None = None,
    policies: list[FetchPolicy | None] | None = None,
) -> list[str | None]:
    """Replace BrapiClient with an in-memory source; returns the tokens it was built with
    (and records the policies in `policies`)."""
    tokens: list[str | None] = []
    answer = source or StaticQuoteSource(make_bars("PETR4", date(2025, 8, 25), 5))

    def build(
        base_url: str, token: str | None = None, *, policy: FetchPolicy | None = None
    ) -> StaticQuoteSource:
        tokens.append(token)
        if policies is not None:
            policies.append(policy)
        return answer

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
    assert set(output) == {"tickers", "dates", "rows", "manifest_key", "failed_tickers"}
    assert (
        output["tickers"] == ["PETR4"] and output["dates"] == ["2025-08-28"] and output["rows"] == 1
    )
    assert output["failed_tickers"] == []
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


def test_brapi_settings_reach_the_client(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAPI_CONCURRENCY", "4")
    monkeypatch.setenv("BRAPI_TICKERS_PER_REQUEST", "10")
    monkeypatch.setenv("B3_MAX_FAILED_TICKER_SHARE", "0.2")
    module = _load_handler()
    policies: list[FetchPolicy | None] = []
    _fake_client(module, monkeypatch, policies=policies)

    module.lambda_handler({"tickers": ["PETR4"]}, FakeLambdaContext(function_name="b3-scraper"))

    assert policies == [FetchPolicy(concurrency=4, tickers_per_request=10, max_failed_share=0.2)]


def test_a_batch_with_tickers_set_aside_returns_them_with_their_reasons(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = StaticQuoteSource(
        make_bars("PETR4", date(2025, 8, 25), 5), failed={"ZZZZ3": "BRAPI does not know it"}
    )
    _fake_client(handler, monkeypatch, source)

    output = handler.lambda_handler(
        {"tickers": ["PETR4", "ZZZZ3"], "run_date": "2025-08-29"},
        FakeLambdaContext(function_name="b3-scraper"),
    )

    assert output["tickers"] == ["PETR4"] and output["rows"] == 1
    assert output["failed_tickers"] == [{"ticker": "ZZZZ3", "reason": "BRAPI does not know it"}]
    assert not (tmp_path / "lake" / "raw" / "quotes" / "dt=2025-08-29" / "ticker=ZZZZ3").exists()


def test_400_tickers_failing_with_long_reasons_stay_a_small_output(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Step Functions takes at most 256 KiB of state output; the scraper keeps to 64 KiB."""
    monkeypatch.setenv("B3_MAX_FAILED_TICKER_SHARE", "1")
    module = _load_handler()
    tickers = [f"{a}{b}{c}X3" for a in "ABCD" for b in "ABCDEFGHIJ" for c in "ABCDEFGHIJ"]
    assert len(tickers) == 400
    reason = "BRAPI says: " + "Não encontramos a ação, verifique o ticker. " * 120  # ~5,300 chars
    _fake_client(module, monkeypatch, StaticQuoteSource([], failed=dict.fromkeys(tickers, reason)))

    output = module.lambda_handler(
        {"tickers": tickers, "run_date": "2025-08-29"},
        FakeLambdaContext(function_name="b3-scraper"),
    )

    size = len(json.dumps(output))  # ASCII escapes: at least the UTF-8 size
    assert size <= OUTPUT_MAX_BYTES < 256 * 1024
    assert size > OUTPUT_MAX_BYTES - 400 * 8  # reasons cut only as much as needed
    assert [f["ticker"] for f in output["failed_tickers"]] == sorted(tickers)
    for failure in output["failed_tickers"]:
        assert failure["reason"].endswith("...")
        assert reason.startswith(failure["reason"][:-3])
        assert len(failure["reason"]) >= 40
    assert output["manifest_key"] is None and output["tickers"] == []
    assert [p for p in (tmp_path / "lake").rglob("*") if p.is_file()] == []


def test_too_many_failures_in_a_batch_raise_and_write_nothing(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real client over a BRAPI that knows none of 20 tickers: 2 may fail (0.1 of 20)."""
    from b3pipeline.brapi import BrapiClient

    session, adapter = fake_session(
        [json_response(404, {"error": True, "message": "Não encontramos a ação"})]
    )

    def build(base_url: str, token: str | None = None, *, policy: FetchPolicy) -> BrapiClient:
        return BrapiClient(base_url, token, session=session, policy=policy)

    monkeypatch.setenv("BRAPI_CONCURRENCY", "1")
    module = _load_handler()
    monkeypatch.setattr(module, "BrapiClient", build)
    tickers = [f"ZZZ{chr(65 + i)}3" for i in range(20)]

    with pytest.raises(TooManyTickersFailedError, match="stopped early: 3 of 20 tickers failed"):
        module.lambda_handler({"tickers": tickers}, FakeLambdaContext(function_name="b3-scraper"))
    assert len(adapter.requests) == 3
    assert [p for p in (tmp_path / "lake").rglob("*") if p.is_file()] == []


def test_a_batch_of_a_hundred_keeps_its_share_of_the_output_budget(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A run split into 100 batches: every batch output together must stay under
    MAP_OUTPUT_MAX_BYTES, so one batch's output takes a hundredth of it."""
    monkeypatch.setenv("B3_MAX_FAILED_TICKER_SHARE", "1")
    module = _load_handler()
    tickers = [f"{a}{b}{c}X3" for a in "AB" for b in "ABCDE" for c in "AB"]  # 20
    reason = "BRAPI says: " + "Não encontramos a ação, verifique o ticker. " * 10
    _fake_client(module, monkeypatch, StaticQuoteSource([], failed=dict.fromkeys(tickers, reason)))

    output = module.lambda_handler(
        {"tickers": tickers, "run_date": "2025-08-29", "batch_count": MAX_BATCHES},
        FakeLambdaContext(function_name="b3-scraper"),
    )

    budget = MAP_OUTPUT_MAX_BYTES // MAX_BATCHES
    assert budget - 20 * 8 < len(json.dumps(output)) <= budget
    assert [f["ticker"] for f in output["failed_tickers"]] == sorted(tickers)


@pytest.mark.parametrize("batch_count", [0, -1, MAX_BATCHES + 1, 2.0, "8", True])
def test_a_batch_count_that_is_not_one_is_refused(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, batch_count: object
) -> None:
    _fake_client(handler, monkeypatch)
    with pytest.raises(InvalidRequestError, match=r"batch_count .* is not a whole number from 1"):
        handler.lambda_handler(
            {"tickers": ["PETR4"], "batch_count": batch_count},
            FakeLambdaContext(function_name="b3-scraper"),
        )
    assert not (tmp_path / "lake").exists()


def test_merge_event_returns_the_run_window(handler: ModuleType) -> None:
    first = {
        "tickers": ["PETR4"],
        "dates": ["2025-08-28", "2025-08-29"],
        "rows": 2,
        "manifest_key": "raw/_manifests/a/_manifest.json",
        "failed_tickers": [],
    }
    second = {
        "tickers": ["VALE3"],
        "dates": ["2025-08-27", "2025-08-28"],
        "rows": 2,
        "manifest_key": "raw/_manifests/b/_manifest.json",
        "failed_tickers": [{"ticker": "ZZZZ3", "reason": "BRAPI does not know it"}],
    }

    merged = handler.lambda_handler(
        {"batches": [first, second]}, FakeLambdaContext(function_name="b3-scraper")
    )

    assert merged == {
        "tickers": ["PETR4", "VALE3"],
        "dates": ["2025-08-27", "2025-08-28", "2025-08-29"],
        "rows": 4,
        "manifest_keys": ["raw/_manifests/a/_manifest.json", "raw/_manifests/b/_manifest.json"],
        "failed_count": 1,
        "failed_tickers": [{"ticker": "ZZZZ3", "reason": "BRAPI does not know it"}],
    }
    with pytest.raises(InvalidRequestError, match="batch output #1 has no 'failed_tickers'"):
        handler.lambda_handler(
            {"batches": [first, {k: v for k, v in second.items() if k != "failed_tickers"}]},
            FakeLambdaContext(function_name="b3-scraper"),
        )


@pytest.mark.parametrize(
    ("tickers", "message"),
    [
        ([], "empty list"),
        ("PETR4", "must be a list"),
        (["PETR4", 7], r"tickers\[1\] is 7"),
    ],
)
def test_bad_batches_get_a_clear_error_and_write_nothing(
    handler: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tickers: object,
    message: str,
) -> None:
    _fake_client(handler, monkeypatch)
    with pytest.raises(InvalidRequestError, match=message):
        handler.lambda_handler({"tickers": tickers}, FakeLambdaContext(function_name="b3-scraper"))
    assert not (tmp_path / "lake").exists()


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
