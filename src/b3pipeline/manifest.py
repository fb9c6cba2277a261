"""Run manifests: what one scrape or drop wrote to raw (raw/_manifests/<run_id>/_manifest.json).

Pure Python (no pandas/pyarrow import) so the trigger Lambda can use it without the layer.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from b3pipeline.errors import InvalidTickerError, ManifestError
from b3pipeline.tickers import validate_tickers

SCRAPER_PRODUCER = "scraper"
# The name every manifest has; the trigger Lambda acts only on objects with this name.
MANIFEST_FILE = "_manifest.json"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


@dataclass(frozen=True)
class ManifestFile:
    key: str
    rows: int


@dataclass(frozen=True)
class Manifest:
    run_id: str
    producer: str
    tickers: list[str]
    dates: list[str]  # ISO trade dates, sorted ascending
    files: list[ManifestFile]
    created_at: str  # ISO 8601 UTC
    execution_arn: str | None = None
    # Tickers the run set aside, [{"ticker", "reason"}]; written only when there are some.
    failed_tickers: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def to_json(self) -> str:
        body = asdict(self)
        body.pop("extra")
        if self.execution_arn is None:
            body.pop("execution_arn")
        if not self.failed_tickers:
            body.pop("failed_tickers")
        body.update(self.extra)
        return json.dumps(body, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "manifest") -> Manifest:
        """Parse and validate a manifest; ManifestError names what is wrong and where."""
        try:
            body = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{source} is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ManifestError(f"{source} must be a JSON object")
        missing = [k for k in ("run_id", "producer", "tickers", "dates", "files") if k not in body]
        if missing:
            raise ManifestError(f"{source} lacks {', '.join(missing)}")
        try:
            run_id = _text(body["run_id"], "run_id")
            if not _RUN_ID.match(run_id):
                raise ValueError(f"run_id {run_id!r} has characters other than A-Z a-z 0-9 _ . : -")
            dates = [date.fromisoformat(_text(d, "dates[]")).isoformat() for d in body["dates"]]
            files = [
                ManifestFile(key=_text(f["key"], "files[].key"), rows=_count(f["rows"]))
                for f in body["files"]
            ]
            tickers = validate_tickers(body["tickers"]) if body["tickers"] else []
            producer = _text(body["producer"], "producer")
            failed_tickers = [
                {"ticker": _text(f["ticker"], "failed_tickers[].ticker"),
                 "reason": _text(f["reason"], "failed_tickers[].reason")}
                for f in body.get("failed_tickers") or []
            ]  # fmt: skip
        except (TypeError, KeyError, ValueError, InvalidTickerError) as exc:
            raise ManifestError(f"{source} is malformed: {exc}") from exc
        known = {
            "run_id", "producer", "tickers", "dates", "files", "created_at", "execution_arn",
            "failed_tickers",
        }  # fmt: skip
        return cls(
            run_id=run_id,
            producer=producer,
            tickers=tickers,
            dates=sorted(set(dates)),
            files=files,
            created_at=str(body.get("created_at") or ""),
            execution_arn=body.get("execution_arn"),
            failed_tickers=failed_tickers,
            extra={k: v for k, v in body.items() if k not in known},
        )


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id such as 20250829T203000Z-1a2b3c4d."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"rows must be a non-negative integer, got {value!r}")
    return value
