"""Expected path of every TestCase in statemachine/test/mock_config.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from b3pipeline.manifest import Manifest
from b3pipeline.trigger import execution_input

# Short Wait states: the suite must not sleep 30 s per poll.
FAST = {"crawler_poll_seconds": 0, "crawler_max_polls": 3}
SCHEDULED: dict[str, Any] = {"tickers": ["PETR4"], "run_date": None, "settings": FAST}
BACKFILL_KEY = "raw/_manifests/backfill-2025-08-04/_manifest.json"
BACKFILL_MANIFEST = Manifest(
    run_id="backfill-2025-08-04",
    producer="backfill",
    tickers=["PETR4", "VALE3"],
    dates=["2025-08-04", "2025-08-05", "2025-08-06", "2025-08-07", "2025-08-08"],
    files=[],
    created_at="2025-08-09T12:00:00Z",
)
# The S3 route's input is what the trigger Lambda's core really builds.
S3_TRIGGERED: dict[str, Any] = {
    **execution_input("b3-lake", BACKFILL_KEY, BACKFILL_MANIFEST),
    "settings": FAST,
}

INIT = ["Load Defaults", "Merge Input", "Merge Settings", "Route Input"]
SCRAPED = [*INIT, "Scrape Quotes", "Any New Data?"]
FROM_MANIFEST = [*INIT, "Use Manifest Batch", "Any New Data?"]
TRANSFORM = ["Compute Window", "Run Transform Job", "Start Crawler"]
POLL = ["Wait For Crawler", "Get Crawler", "Count Crawler Poll", "Crawler Finished?"]
QUALITY = ["Run Quality Query", "Get Quality Results", "Quality Passed?"]
FAILED = ["Notify Failure", "Pipeline Failed"]
HAPPY_DAILY_RUN = [*SCRAPED, *TRANSFORM, *POLL, *QUALITY, "Pipeline Succeeded"]


@dataclass(frozen=True)
class Expected:
    execution_input: dict[str, Any]
    status: str
    states: list[str]
    error: Optional[str] = None
    failed_state: Optional[str] = None  # the "state" in the SNS failure message
    cause_prefix: str = ""  # a Task's original error comes first in the cause
    retries: dict[str, int] = field(default_factory=dict)


CASES: dict[str, Expected] = {
    "HappyScheduledRun": Expected(SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN),
    "S3TriggeredRun": Expected(
        S3_TRIGGERED,
        "SUCCEEDED",
        [*FROM_MANIFEST, *TRANSFORM, *POLL, *QUALITY, "Pipeline Succeeded"],
    ),
    "NoTradingDay": Expected(SCHEDULED, "SUCCEEDED", [*SCRAPED, "No Trading Day"]),
    "ScraperThrottledThenSucceeds": Expected(
        SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN, retries={"Scrape Quotes": 2}
    ),
    "GlueConcurrentRunRetry": Expected(
        SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN, retries={"Run Transform Job": 1}
    ),
    "CrawlerAlreadyRunningRetry": Expected(
        SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN, retries={"Start Crawler": 1}
    ),
    "ScraperFailure": Expected(
        SCHEDULED,
        "FAILED",
        [*INIT, "Scrape Quotes", "Scrape Quotes Error", *FAILED],
        error="B3Pipeline.ScrapeFailed",
        failed_state="Scrape Quotes",
        cause_prefix="BrapiUnauthorizedError: ",
    ),
    "GlueJobFailure": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, "Compute Window", "Run Transform Job", "Run Transform Job Error", *FAILED],
        error="B3Pipeline.TransformJobFailed",
        failed_state="Run Transform Job",
        cause_prefix="States.TaskFailed: ",
    ),
    "CrawlerFailure": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, *POLL, "Crawler Failed", *FAILED],
        error="B3Pipeline.CrawlerFailed",
        failed_state="Crawler Finished?",
        cause_prefix="The crawler stopped without a successful crawl",
    ),
    "CrawlerNeverFinishes": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, *POLL * FAST["crawler_max_polls"], "Crawler Timed Out", *FAILED],
        error="B3Pipeline.CrawlerTimeout",
        failed_state="Crawler Finished?",
        cause_prefix="The crawler was still RUNNING after 3 polls",
    ),
    "QualityQueryFailure": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, *POLL, "Run Quality Query", "Run Quality Query Error", *FAILED],
        error="B3Pipeline.QualityQueryFailed",
        failed_state="Run Quality Query",
        cause_prefix="States.TaskFailed: ",
    ),
    "QualityViolations": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, *POLL, *QUALITY, "Quality Violations", *FAILED],
        error="B3Pipeline.QualityCheckFailed",
        failed_state="Quality Passed?",
        cause_prefix=(
            'Quality check on ["PETR4"] from 2025-08-25 to 2025-08-29 found total_violations ["3"]'
        ),
    ),
}
