from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from b3pipeline.errors import ManifestError
from b3pipeline.manifest import Manifest, ManifestFile, new_run_id


def _manifest(**overrides: object) -> Manifest:
    fields: dict[str, object] = {
        "run_id": "20250829T210000Z-abcd1234",
        "producer": "backfill",
        "tickers": ["PETR4"],
        "dates": ["2025-08-28", "2025-08-29"],
        "files": [
            ManifestFile("raw/quotes/dt=2025-08-28/ticker=PETR4/quotes.parquet", 1),
            ManifestFile("raw/quotes/dt=2025-08-29/ticker=PETR4/quotes.parquet", 1),
        ],
        "created_at": "2025-08-29T21:00:00Z",
    }
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    manifest = _manifest(execution_arn="arn:aws:states:us-east-1:1:execution:b3:run")
    parsed = Manifest.from_json(manifest.to_json())
    assert parsed == manifest
    assert parsed.rows == 2


def test_json_has_design_fields_only() -> None:
    body = json.loads(_manifest().to_json())
    assert set(body) == {"run_id", "producer", "tickers", "dates", "files", "created_at"}
    assert body["files"][0] == {
        "key": "raw/quotes/dt=2025-08-28/ticker=PETR4/quotes.parquet",
        "rows": 1,
    }


def test_dates_are_sorted_and_deduplicated() -> None:
    body = json.loads(_manifest().to_json())
    body["dates"] = ["2025-08-29", "2025-08-28", "2025-08-29"]
    assert Manifest.from_json(json.dumps(body)).dates == ["2025-08-28", "2025-08-29"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.pop("files"), "lacks files"),
        (lambda b: b.update(dates=["29/08/2025"]), "malformed"),
        (lambda b: b.update(files=[{"key": "k", "rows": -1}]), "non-negative"),
        (lambda b: b.update(files=[{"key": "k"}]), "malformed"),
        (lambda b: b.update(tickers=["NOT A TICKER"]), "not a B3 ticker"),
        (lambda b: b.update(run_id="../escape"), "run_id"),
        (lambda b: b.update(producer=""), "producer"),
    ],
)
def test_malformed_manifests_raise(mutate: object, message: str) -> None:
    body = json.loads(_manifest().to_json())
    mutate(body)  # type: ignore[operator]
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(json.dumps(body))


def test_not_json_raises_manifest_error() -> None:
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.from_json(b"{oops", source="s3://b/raw/_manifests/x/_manifest.json")


def test_run_ids_sort_by_time_and_are_unique() -> None:
    early = new_run_id(datetime(2025, 8, 29, 20, 0, tzinfo=UTC))
    late = new_run_id(datetime(2025, 8, 29, 21, 0, tzinfo=UTC))
    assert early.startswith("20250829T200000Z-")
    assert early < late
    assert new_run_id() != new_run_id()
