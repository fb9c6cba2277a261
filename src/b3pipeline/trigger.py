"""What the trigger Lambda decides for one S3 object: act or skip, execution name and input.

Pure Python (no pandas/pyarrow, no boto3) so the trigger Lambda needs no layer, and so the
decisions are testable without AWS. The handler does the I/O: it reads the manifest and
calls StartExecution with what `plan_execution` returns.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from b3pipeline.manifest import MANIFEST_FILE, SCRAPER_PRODUCER, Manifest

RAW_PREFIX = "raw/"
S3_SOURCE = "s3"
# Step Functions execution names: 1-80 characters of A-Z a-z 0-9 - _ (no spaces, no
# punctuation that would break CloudWatch log streams or X-Ray).
MAX_EXECUTION_NAME = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class TriggerPlan:
    """Start an execution (name, input) or skip the object (reason)."""

    bucket: str
    key: str
    skip_reason: str | None = None
    execution_name: str | None = None
    execution_input: dict[str, Any] | None = None

    @property
    def start(self) -> bool:
        return self.skip_reason is None


def is_manifest_key(key: str) -> bool:
    """True for raw/**/_manifest.json: the only objects the trigger acts on."""
    return key.startswith(RAW_PREFIX) and key.rsplit("/", 1)[-1] == MANIFEST_FILE


def execution_name(bucket: str, key: str, etag: str) -> str:
    """A name fixed by the object version, so a duplicate S3 event starts nothing new.

    Readable part: the manifest's folder (the run id); unique part: a digest of bucket, key
    and ETag (a rewritten manifest has another ETag, hence another execution).
    """
    digest = hashlib.sha256(f"{bucket}\n{key}\n{etag.strip().strip(chr(34))}".encode()).hexdigest()
    parts = key.split("/")
    folder = parts[-2] if len(parts) >= 2 else "manifest"
    readable = _UNSAFE.sub("-", folder).strip("-")[:40] or "manifest"
    name = f"s3-{readable}-{digest[:32]}"
    return name[:MAX_EXECUTION_NAME]


def execution_input(bucket: str, key: str, manifest: Manifest) -> dict[str, Any]:
    """DESIGN's S3-triggered input: {"source": "s3", bucket, manifest_key, tickers, dates}."""
    return {
        "source": S3_SOURCE,
        "bucket": bucket,
        "manifest_key": key,
        "tickers": list(manifest.tickers),
        "dates": list(manifest.dates),
    }


def plan_execution(bucket: str, key: str, etag: str, manifest: Manifest) -> TriggerPlan:
    """Decide what to do with a manifest that was read and validated."""
    if manifest.producer == SCRAPER_PRODUCER:
        return TriggerPlan(
            bucket,
            key,
            skip_reason="written by the scraper inside an execution, which carries on by itself",
        )
    if not manifest.dates or not manifest.tickers:
        return TriggerPlan(bucket, key, skip_reason="the manifest lists no trade date or no ticker")
    return TriggerPlan(
        bucket,
        key,
        execution_name=execution_name(bucket, key, etag),
        execution_input=execution_input(bucket, key, manifest),
    )
