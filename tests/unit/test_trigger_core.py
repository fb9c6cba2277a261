"""b3pipeline.trigger: which keys to act on, execution names, execution input."""

from __future__ import annotations

import re

import pytest

from b3pipeline.manifest import SCRAPER_PRODUCER, Manifest
from b3pipeline.trigger import (
    MAX_EXECUTION_NAME,
    execution_input,
    execution_name,
    is_manifest_key,
    plan_execution,
)

KEY = "raw/_manifests/backfill 2025-08-04/_manifest.json"


def _manifest(producer: str = "backfill", dates: list[str] | None = None) -> Manifest:
    return Manifest(
        run_id="backfill-2025-08-04",
        producer=producer,
        tickers=["PETR4", "VALE3"],
        dates=["2025-08-04", "2025-08-05"] if dates is None else dates,
        files=[],
        created_at="2025-08-09T12:00:00Z",
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("raw/_manifests/20250829T203000Z-1a2b3c4d/_manifest.json", True),
        ("raw/backfills/2025/_manifest.json", True),
        ("raw/quotes/dt=2025-08-29/ticker=PETR4/quotes.parquet", False),
        ("refined/_manifests/x/_manifest.json", False),
        ("raw/_manifests/x/not_manifest.json", False),
        ("raw/_manifests/x/old_manifest.json", False),
    ],
)
def test_acts_only_on_raw_manifests(key: str, expected: bool) -> None:
    assert is_manifest_key(key) is expected


def test_execution_name_is_deterministic_valid_and_follows_the_object_version() -> None:
    name = execution_name("b3-lake", KEY, "abc")
    assert name == execution_name("b3-lake", KEY, '"abc"')  # HeadObject quotes the ETag
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
    assert name.startswith("s3-backfill-2025-08-04-")
    assert execution_name("b3-lake", KEY, "abd") != name
    assert execution_name("other", KEY, "abc") != name
    long_key = "raw/" + "x" * 300 + "/_manifest.json"
    assert len(execution_name("b3-lake", long_key, "abc")) <= MAX_EXECUTION_NAME


def test_plan_starts_backfills_with_designs_input() -> None:
    plan = plan_execution("b3-lake", KEY, "abc", _manifest())
    assert plan.start
    assert plan.execution_name == execution_name("b3-lake", KEY, "abc")
    assert plan.execution_input == {
        "source": "s3",
        "bucket": "b3-lake",
        "manifest_key": KEY,
        "tickers": ["PETR4", "VALE3"],
        "dates": ["2025-08-04", "2025-08-05"],
    }
    assert execution_input("b3-lake", KEY, _manifest()) == plan.execution_input


def test_plan_skips_scraper_manifests_and_empty_ones() -> None:
    scraper = plan_execution("b3-lake", KEY, "abc", _manifest(producer=SCRAPER_PRODUCER))
    assert not scraper.start
    assert scraper.skip_reason is not None and "scraper" in scraper.skip_reason
    empty = plan_execution("b3-lake", KEY, "abc", _manifest(dates=[]))
    assert not empty.start
    assert empty.execution_input is None
