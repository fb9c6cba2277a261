"""functions/trigger/handler.py against moto's S3 and Step Functions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from b3pipeline.errors import ManifestError, SettingsError, WorkflowStartError
from tests.support.modules import REPO_ROOT, FakeLambdaContext, load_module

EVENT = REPO_ROOT / "tests" / "fixtures" / "events" / "s3_manifest_created.json"
BUCKET = "b3-lake"
KEY = "raw/_manifests/backfill 2025-08-04/_manifest.json"  # the event carries it URL-encoded
MANIFEST = {
    "run_id": "backfill-2025-08-04",
    "producer": "backfill",
    "tickers": ["PETR4", "VALE3"],
    "dates": ["2025-08-05", "2025-08-04"],
    "files": [{"key": "raw/quotes/dt=2025-08-04/ticker=PETR4/quotes.parquet", "rows": 1}],
    "created_at": "2025-08-09T12:00:00Z",
}


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    return load_module("functions/trigger/handler.py", "b3_trigger_handler")


@dataclass
class Aws:
    s3: Any
    sfn: Any
    state_machine_arn: str
    bucket: str


@pytest.fixture
def aws(handler: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients = handler._client  # a test may swap it; clear the real cache either way
    # Unique names: when the workflow suite's session-wide mock_aws is active, this one nests
    # in it and shares its backend.
    suffix = uuid.uuid4().hex[:12]
    bucket = f"{BUCKET}-{suffix}"
    with mock_aws():
        clients.cache_clear()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name=f"B3Pipeline-{suffix}",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/b3-pipeline-sfn",
        )["stateMachineArn"]
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        yield Aws(s3, sfn, arn, bucket)
        clients.cache_clear()


def _event(aws: Aws, key: str = KEY, body: bytes | None = None) -> dict[str, Any]:
    """The fixture event for an object really put into moto's S3 (key URL-encoded as S3 does)."""
    if body is not None:
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=body)
    event: dict[str, Any] = json.loads(EVENT.read_text(encoding="utf-8"))
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = aws.bucket
    record["object"]["key"] = key.replace(" ", "+")
    if body is not None:
        etag = aws.s3.head_object(Bucket=aws.bucket, Key=key)["ETag"]
        record["object"]["eTag"] = etag.strip('"')
    return event


def _executions(aws: Aws) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)[
        "executions"
    ]
    return found


def test_backfill_manifest_starts_one_execution_with_designs_input(
    handler: ModuleType, aws: Aws
) -> None:
    event = _event(aws, body=json.dumps(MANIFEST).encode())
    result = handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))

    [outcome] = result["results"]
    assert outcome["outcome"] == "started"
    assert outcome["key"] == KEY
    [execution] = _executions(aws)
    assert execution["name"] == outcome["execution_name"]
    described = aws.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {
        "source": "s3",
        "bucket": aws.bucket,
        "manifest_key": KEY,
        "tickers": ["PETR4", "VALE3"],
        "dates": ["2025-08-04", "2025-08-05"],
    }


def test_duplicate_event_starts_nothing_new(handler: ModuleType, aws: Aws) -> None:
    event = _event(aws, body=json.dumps(MANIFEST).encode())
    first = handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))
    second = handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))
    assert first["results"][0]["execution_name"] == second["results"][0]["execution_name"]
    assert len(_executions(aws)) == 1


def test_execution_already_exists_is_success(
    handler: ModuleType, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ClosedExecutionSfn:
        def start_execution(self, **_: Any) -> dict[str, Any]:
            error = {"Error": {"Code": "ExecutionAlreadyExists", "Message": "closed"}}
            raise ClientError(error, "StartExecution")  # type: ignore[arg-type]

    monkeypatch.setattr(
        handler,
        "_client",
        lambda service, region: ClosedExecutionSfn() if service == "stepfunctions" else aws.s3,
    )
    event = _event(aws, body=json.dumps(MANIFEST).encode())
    result = handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))
    assert result["results"][0]["outcome"] == "already_started"


def test_other_start_errors_raise_a_project_error(
    handler: ModuleType, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn + "-gone")
    event = _event(aws, body=json.dumps(MANIFEST).encode())
    with pytest.raises(WorkflowStartError, match="STATE_MACHINE_ARN"):
        handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))


def test_scraper_manifest_is_skipped(handler: ModuleType, aws: Aws) -> None:
    body = json.dumps({**MANIFEST, "producer": "scraper", "execution_arn": "arn:x"}).encode()
    result = handler.lambda_handler(
        _event(aws, body=body), FakeLambdaContext(function_name="b3-trigger")
    )
    assert result["results"][0]["outcome"] == "skipped"
    assert _executions(aws) == []


def test_other_keys_are_ignored_without_reading_them(handler: ModuleType, aws: Aws) -> None:
    event = _event(aws, key="raw/quotes/dt=2025-08-04/ticker=PETR4/quotes.parquet")
    result = handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))
    assert result["results"][0]["outcome"] == "ignored"
    assert _executions(aws) == []


def test_malformed_manifest_raises(handler: ModuleType, aws: Aws) -> None:
    event = _event(aws, body=b'{"run_id": "x", "producer": "backfill"')
    with pytest.raises(ManifestError, match="not valid JSON"):
        handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))
    assert _executions(aws) == []


def test_unreadable_manifest_raises(handler: ModuleType, aws: Aws) -> None:
    event = _event(aws)  # never put: NoSuchKey
    with pytest.raises(ManifestError, match="s3:GetObject"):
        handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))


def test_missing_state_machine_arn_fails_first(
    handler: ModuleType, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STATE_MACHINE_ARN")
    with pytest.raises(SettingsError, match="STATE_MACHINE_ARN"):
        handler.lambda_handler(
            _event(aws, body=json.dumps(MANIFEST).encode()),
            FakeLambdaContext(function_name="b3-trigger"),
        )


def test_each_client_takes_its_resources_region_not_the_environments(
    handler: ModuleType, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 in the record's awsRegion, Step Functions in the state machine ARN's region."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    made: list[tuple[str, str]] = []
    real_client = handler._client

    def recording_client(service: str, region: str) -> Any:
        made.append((service, region))
        return real_client(service, region)

    monkeypatch.setattr(handler, "_client", recording_client)
    event = _event(aws, body=json.dumps(MANIFEST).encode())
    event["Records"][0]["awsRegion"] = "sa-east-1"  # moto's S3 buckets are global
    result = handler.lambda_handler(event, FakeLambdaContext(function_name="b3-trigger"))
    assert result["results"][0]["outcome"] == "started"
    assert made == [("stepfunctions", "us-east-1"), ("s3", "sa-east-1")]
    assert len(_executions(aws)) == 1


def test_a_state_machine_arn_without_a_region_is_a_settings_error(
    handler: ModuleType, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_MACHINE_ARN", "B3Pipeline")
    with pytest.raises(SettingsError, match="is not a regional ARN"):
        handler.lambda_handler(
            _event(aws, body=json.dumps(MANIFEST).encode()),
            FakeLambdaContext(function_name="b3-trigger"),
        )
