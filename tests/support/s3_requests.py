"""See and steer the S3 requests a boto3 client makes (botocore event hooks, no network)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "b3-lake-test"


@dataclass
class RequestLog:
    """Every S3 operation a client calls, with its parameters, in call order."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            self.calls.append((str(model.name), dict(params)))

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(name for name, _ in self.calls)

    def of(self, operation: str) -> list[dict[str, Any]]:
        with self.lock:
            return [params for name, params in self.calls if name == operation]

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()


def watch(client: S3Client) -> RequestLog:
    log = RequestLog()
    client.meta.events.register("provide-client-params.s3", log.record)
    return log


def fail_on(
    client: S3Client, operation: str, when: Callable[[dict[str, Any]], bool]
) -> Callable[[], None]:
    """Make `operation` fail with S3's InternalError for the requests `when` picks.

    Returns a function that removes the failure (the "rerun" of a test)."""

    def maybe_fail(params: dict[str, Any], **_: Any) -> None:
        if when(params):
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "injected failure"}}, operation
            )

    event = f"provide-client-params.s3.{operation}"
    client.meta.events.register(event, maybe_fail)
    return lambda: client.meta.events.unregister(event, maybe_fail)


@contextmanager
def moto_s3(bucket: str | None = BUCKET) -> Iterator[S3Client]:
    """moto's in-process S3 (no sockets) with one bucket; yields a client for it."""
    with mock_aws():
        client: S3Client = boto3.client("s3", region_name="us-east-1")
        if bucket:
            client.create_bucket(Bucket=bucket)
        yield client


def object_keys(client: S3Client, prefix: str = "", bucket: str = BUCKET) -> list[str]:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(keys)


def in_flight_together(client: S3Client, operation: str, parties: int) -> None:
    """Make every `operation` wait until `parties` of them are in flight at once.

    Requests made one after another never get there: the barrier times out and breaks,
    and the call fails; so a test passing proves the requests overlapped."""
    barrier = threading.Barrier(parties, timeout=10)

    def wait(**_: Any) -> None:
        barrier.wait()

    # Registered before any fail_on of the same operation, it runs first.
    client.meta.events.register(f"provide-client-params.s3.{operation}", wait)
