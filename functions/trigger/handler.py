"""Trigger Lambda: S3 ObjectCreated on raw/**/_manifest.json -> StartExecution (source "s3").

Thin adapter over b3pipeline.trigger: parse the event, read the manifest, start the execution.
A duplicate S3 event maps to the same execution name, so it starts nothing new. Each client's
region is where its resource is: the S3 record's awsRegion for the manifest's bucket, the
region in STATE_MACHINE_ARN for Step Functions (not whatever the environment says).
A malformed or unreadable manifest raises: the async invocation retries, then the on-failure
destination keeps the event.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from b3pipeline.errors import ManifestError, WorkflowStartError
from b3pipeline.manifest import Manifest
from b3pipeline.settings import Settings, region_of_arn
from b3pipeline.trigger import TriggerPlan, is_manifest_key, plan_execution

logger = Logger()


@lru_cache(maxsize=8)
def _client(service: str, region: str) -> Any:
    """One boto3 client per service and region, built once per container."""
    session: Any = boto3.session.Session()
    return session.client(service, region_name=region)


def _read_manifest(s3: Any, bucket: str, key: str) -> Manifest:
    source = f"s3://{bucket}/{key}"
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise ManifestError(
            f"cannot read {source}: {exc}; check that it exists and that the trigger's role "
            "may s3:GetObject it"
        ) from exc
    return Manifest.from_json(body, source=source)


def _start(sfn: Any, state_machine_arn: str, plan: TriggerPlan) -> str:
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=plan.execution_name,
            input=json.dumps(plan.execution_input, sort_keys=True),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            logger.info(
                "execution already started for this manifest version",
                extra={"execution_name": plan.execution_name},
            )
            return "already_started"
        raise WorkflowStartError(
            f"StartExecution {plan.execution_name} on {state_machine_arn} failed: {exc}; check "
            "STATE_MACHINE_ARN and the trigger's states:StartExecution permission"
        ) from exc
    logger.info("execution started", extra={"execution_arn": response["executionArn"]})
    return "started"


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    state_machine_arn = settings.require_state_machine_arn()
    sfn = _client("stepfunctions", region_of_arn(state_machine_arn))
    results: list[dict[str, Any]] = []
    for record in event.records:
        bucket = record.s3.bucket.name
        key = unquote_plus(record.s3.get_object.key)
        if not is_manifest_key(key):
            logger.info("not a raw manifest: ignored", extra={"bucket": bucket, "key": key})
            results.append({"bucket": bucket, "key": key, "outcome": "ignored"})
            continue
        manifest = _read_manifest(_client("s3", record.aws_region), bucket, key)
        plan = plan_execution(bucket, key, record.s3.get_object.etag, manifest)
        if not plan.start:
            logger.info("manifest skipped", extra={"key": key, "reason": plan.skip_reason})
            results.append(
                {"bucket": bucket, "key": key, "outcome": "skipped", "reason": plan.skip_reason}
            )
            continue
        outcome = _start(sfn, state_machine_arn, plan)
        results.append(
            {
                "bucket": bucket,
                "key": key,
                "outcome": outcome,
                "execution_name": plan.execution_name,
            }
        )
    return {"results": results}
