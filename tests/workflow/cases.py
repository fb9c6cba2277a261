"""Expected path of every TestCase in statemachine/test/mock_config.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from b3pipeline.batch_output import MAX_BATCHES, MAX_RUN_TICKERS
from b3pipeline.manifest import Manifest
from b3pipeline.trigger import execution_input

from .batch_mocks import FULL_MARKET_TICKERS, FULL_MARKET_WITH_TWO_BAD, SCENARIOS
from .summaries import JOB_RUN_ID

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
FULL_MARKET: dict[str, Any] = {**S3_TRIGGERED, "tickers": FULL_MARKET_TICKERS}
# The scheduled input of a full market: 400 tickers, 8 batches of 50, 2 at a time.
FULL_MARKET_SCHEDULED: dict[str, Any] = {**SCHEDULED, "tickers": FULL_MARKET_TICKERS}

CHECK_INPUT = ["Load Defaults", "Input Is Object?"]
CHECK_SETTINGS = [*CHECK_INPUT, "Merge Input", "Merge Settings", "Read Settings", "Settings Valid?"]
INIT = [*CHECK_SETTINGS, "Route Input"]
CHECK_TICKERS = [*INIT, "Tickers Valid?"]
PLAN = [*CHECK_TICKERS, "Plan Batches", "Batches Within Limit?", "Scrape Batches"]
MERGED = ["Merge Batches", "Use Scrape Result", "Batch Valid?", "Any New Data?"]
SCRAPED = [*PLAN, "Scrape Quotes", *MERGED]
# A batch whose Scrape Quotes still fails after its retries: the Map stops, the run alerts.
SCRAPE_BATCH_FAILED = ["Scrape Batch Error", "Scrape Batch Failed", "Scrape Quotes Error"]
FROM_MANIFEST = [*INIT, "Use Manifest Batch", "Batch Valid?", "Any New Data?"]
RUN_JOB = ["Compute Window", "Run Transform Job"]
READ_SUMMARY = [*RUN_JOB, "Transform Succeeded?", "Read Transform Summary", "Summary Is JSON?"]
TRANSFORM = [*READ_SUMMARY, "Parse Transform Summary", "Catalog Current?"]
CRAWL = ["Start Crawler"]
POLL = ["Wait For Crawler", "Get Crawler", "Count Crawler Poll", "Crawler Finished?"]
# One quality query per batch of tickers, inside the Run Quality Checks Map.
QUALITY_BATCH = ["Run Quality Query", "Get Quality Results", "Quality Passed?"]
QUALITY = ["Run Quality Checks", *QUALITY_BATCH, "Quality Batch Passed"]
QUALITY_VIOLATED = [
    "Run Quality Checks", *QUALITY_BATCH, "Quality Violations", "Quality Batch Failed",
    "Quality Check Failed",
]  # fmt: skip
FAILED = ["Notify Failure", "Pipeline Failed"]
# Notify Failure could not publish: the execution ends in this error instead, which the
# EventBridge rule of terraform/monitoring.tf sends (it skips every other B3Pipeline.* error).
NOTIFY_FAILED = "B3Pipeline.NotifyFailed"
ALERT_NOT_SENT = ["Notify Failure", "Alert Not Sent", "Pipeline Failed"]
SUCCEEDED = ["Any Tickers Failed?", "Pipeline Succeeded"]
TICKERS_FAILED = ["Tickers Failed", *FAILED]
# The job registered every partition: straight from the transform to the quality query.
HAPPY_DAILY_RUN = [*SCRAPED, *TRANSFORM, *QUALITY, *SUCCEEDED]
# The catalog needs repair (or settings.crawl = "always"): the crawler runs first.
CRAWLED_DAILY_RUN = [*SCRAPED, *TRANSFORM, *CRAWL, *POLL, *QUALITY, *SUCCEEDED]
SUMMARY_CHECK_CAUSE = (
    f"The summary of Glue job run {JOB_RUN_ID} (s3://b3-lake/runs/transform/{JOB_RUN_ID}.json)"
    " is not a JSON object with a boolean catalog_current"
)


@dataclass(frozen=True)
class Expected:
    execution_input: Any  # a JSON object, but for the cases that prove a non-object is refused
    status: str
    states: list[str]
    error: str | None = None
    failed_state: str | None = None  # the "state" in the SNS failure message
    cause_prefix: str = ""  # how the cause of a failure found by a Choice starts
    # A Task's failure: the cause is the whole caught error output as JSON, whose Cause
    # AWS documents as optional (caught_cause False: the failure carried none).
    caught_error: str | None = None
    caught_cause: bool = True
    caught_cause_prefix: str = ""  # how the caught error's Cause starts, when it has one
    retries: dict[str, int] = field(default_factory=dict)
    # Map iterations run at the same time: their states interleave, so only the states
    # before the Map, the multiset of all states and the last one are compared.
    concurrent_from: str | None = None
    # False: every publish of the alert failed (with publish_error), and the execution ends in
    # NOTIFY_FAILED rather than in `error`, which the unsent message still names.
    alert_sent: bool = True
    publish_error: str = ""


# Still running, or only ever showing an earlier crawl, at the last poll.
CRAWLER_TIMED_OUT = Expected(
    SCHEDULED,
    "FAILED",
    [*SCRAPED, *TRANSFORM, *CRAWL, *POLL * FAST["crawler_max_polls"], "Crawler Timed Out", *FAILED],
    error="B3Pipeline.CrawlerTimeout",
    failed_state="Crawler Finished?",
    cause_prefix="No crawl started by this run (at ",
)

SCRAPER_RESULT_INVALID = Expected(
    SCHEDULED,
    "FAILED",
    [*SCRAPED[:-1], "Batch Invalid", *FAILED],
    error="B3Pipeline.BatchCheckFailed",
    failed_state="Batch Valid?",
    cause_prefix="A batch must have tickers",
)

CASES: dict[str, Expected] = {
    "HappyScheduledRun": Expected(SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN),
    "S3TriggeredRun": Expected(
        S3_TRIGGERED, "SUCCEEDED", [*FROM_MANIFEST, *TRANSFORM, *QUALITY, *SUCCEEDED]
    ),
    "CatalogNotCurrentCrawls": Expected(SCHEDULED, "SUCCEEDED", CRAWLED_DAILY_RUN),
    "CrawlForcedBySettings": Expected(
        {**SCHEDULED, "settings": {**FAST, "crawl": "always"}}, "SUCCEEDED", CRAWLED_DAILY_RUN
    ),
    # The user's choice: the catalog is trusted as it is, no repair.
    "CrawlNeverWithCatalogNotCurrent": Expected(
        {**SCHEDULED, "settings": {**FAST, "crawl": "never"}}, "SUCCEEDED", HAPPY_DAILY_RUN
    ),
    "SummaryThrottledThenRead": Expected(
        SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN, retries={"Read Transform Summary": 1}
    ),
    "TransformSummaryMissing": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *READ_SUMMARY[:-1], "Read Transform Summary Error", *FAILED],
        error="B3Pipeline.TransformSummaryReadFailed",
        failed_state="Read Transform Summary",
        caught_error="S3.NoSuchKeyException",
    ),
    "TransformSummaryNotJson": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *READ_SUMMARY, "Transform Summary Invalid", *FAILED],
        error="B3Pipeline.TransformSummaryCheckFailed",
        failed_state="Read Transform Summary",
        cause_prefix=SUMMARY_CHECK_CAUSE,
    ),
    "TransformSummaryWithoutCatalogCurrent": Expected(
        {**SCHEDULED, "settings": {**FAST, "crawl": "never"}},
        "FAILED",
        [*SCRAPED, *TRANSFORM, "Transform Summary Invalid", *FAILED],
        error="B3Pipeline.TransformSummaryCheckFailed",
        failed_state="Read Transform Summary",
        cause_prefix=SUMMARY_CHECK_CAUSE,
    ),
    "TransformSummaryCatalogCurrentNotBoolean": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, "Transform Summary Invalid", *FAILED],
        error="B3Pipeline.TransformSummaryCheckFailed",
        failed_state="Read Transform Summary",
        cause_prefix=SUMMARY_CHECK_CAUSE,
    ),
    "NoTradingDay": Expected(SCHEDULED, "SUCCEEDED", [*SCRAPED, "No Trading Day"]),
    "ScraperThrottledThenSucceeds": Expected(
        SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN, retries={"Scrape Quotes": 2}
    ),
    "GlueConcurrentRunRetry": Expected(
        SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN, retries={"Run Transform Job": 1}
    ),
    "CrawlerAlreadyRunningRetry": Expected(
        SCHEDULED, "SUCCEEDED", CRAWLED_DAILY_RUN, retries={"Start Crawler": 1}
    ),
    # The Map's Catch takes the batch's failure, which names the batch and its error.
    "ScraperFailure": Expected(
        SCHEDULED,
        "FAILED",
        [*PLAN, "Scrape Quotes", *SCRAPE_BATCH_FAILED, *FAILED],
        error="B3Pipeline.ScrapeFailed",
        failed_state="Scrape Quotes",
        caught_error="B3Pipeline.ScrapeFailed",
        caught_cause_prefix="Batch 1 of 1 failed after its retries, so the run stopped before the "
        "transform",
    ),
    "GlueJobFailure": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *RUN_JOB, "Run Transform Job Error", *FAILED],
        error="B3Pipeline.TransformJobFailed",
        failed_state="Run Transform Job",
        caught_error="States.TaskFailed",
    ),
    # A .sync Glue task returns normally for a STOPPED run: only SUCCEEDED goes on.
    "GlueRunStopped": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *RUN_JOB, "Transform Succeeded?", "Transform Job Not Succeeded", *FAILED],
        error="B3Pipeline.TransformJobFailed",
        failed_state="Run Transform Job",
        cause_prefix=f"Glue job run {JOB_RUN_ID} ended STOPPED, not SUCCEEDED",
    ),
    "TransformTimesOutWithoutCause": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *RUN_JOB, "Run Transform Job Error", *FAILED],
        error="B3Pipeline.TransformJobFailed",
        failed_state="Run Transform Job",
        caught_error="States.Timeout",
        caught_cause=False,
    ),
    "CrawlerFailure": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, *CRAWL, *POLL, "Crawler Failed", *FAILED],
        error="B3Pipeline.CrawlerFailed",
        failed_state="Crawler Finished?",
        cause_prefix="The crawler stopped without a successful crawl",
    ),
    "CrawlerNeverFinishes": CRAWLER_TIMED_OUT,
    # Right after StartCrawler the crawler can still show READY with an earlier crawl as
    # LastCrawl: that crawl is not judged; the loop waits for the one this run started.
    "CrawlerShowsEarlierCrawlFirst": Expected(
        SCHEDULED,
        "SUCCEEDED",
        [*SCRAPED, *TRANSFORM, *CRAWL, *POLL * 3, *QUALITY, *SUCCEEDED],
    ),
    # The crawler only ever shows the earlier crawl: the loop never judges it, and times out.
    "CrawlerNeverStartsThisRunsCrawl": CRAWLER_TIMED_OUT,
    "QualityQueryFailure": Expected(
        SCHEDULED,
        "FAILED",
        [
            *SCRAPED,
            *TRANSFORM,
            "Run Quality Checks",
            "Run Quality Query",
            "Run Quality Checks Error",
            *FAILED,
        ],
        error="B3Pipeline.QualityQueryFailed",
        failed_state="Run Quality Checks",
        caught_error="States.TaskFailed",
    ),
    "QualityViolations": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, *QUALITY_VIOLATED, *FAILED],
        error="B3Pipeline.QualityCheckFailed",
        failed_state="Run Quality Checks",
        caught_error="B3Pipeline.QualityCheckFailed",
        caught_cause_prefix=(
            'Quality check on ["PETR4"] from 2025-08-25 to 2025-08-29 found total_violations ["3"]'
        ),
    ),
    # Whether EXECUTE of a prepared statement returns a header row is not documented.
    "QualityCleanWithoutHeader": Expected(SCHEDULED, "SUCCEEDED", HAPPY_DAILY_RUN),
    "QualityViolationsWithoutHeader": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, *QUALITY_VIOLATED, *FAILED],
        error="B3Pipeline.QualityCheckFailed",
        failed_state="Run Quality Checks",
        caught_error="B3Pipeline.QualityCheckFailed",
        caught_cause_prefix=(
            'Quality check on ["PETR4"] from 2025-08-25 to 2025-08-29 found total_violations ["3"]'
            ' (last column ["total_violations"])'
        ),
    ),
    "QualityHeaderOnly": Expected(
        SCHEDULED,
        "FAILED",
        [*SCRAPED, *TRANSFORM, *QUALITY_VIOLATED, *FAILED],
        error="B3Pipeline.QualityCheckFailed",
        failed_state="Run Quality Checks",
        caught_error="B3Pipeline.QualityCheckFailed",
        caught_cause_prefix=(
            'Quality check on ["PETR4"] from 2025-08-25 to 2025-08-29 found total_violations'
            ' ["total_violations"]'
        ),
    ),
    # A Lambda that breaks its output contract (an errorMessage object, null): never a
    # ResultSelector's States.Runtime.
    "ScraperBrokeItsContract": SCRAPER_RESULT_INVALID,
    "ScraperReturnedNull": SCRAPER_RESULT_INVALID,
    # A full market: 400 tickers, four quality queries (test_pipeline_contracts checks each
    # ExecutionParameter against Athena's limit).
    "FullMarketQualityBatches": Expected(
        FULL_MARKET,
        "SUCCEEDED",
        [
            *FROM_MANIFEST,
            *TRANSFORM,
            "Run Quality Checks",
            *(QUALITY[1:] * 4),
            *SUCCEEDED,
        ],
        concurrent_from="Run Quality Checks",
    ),
    # SNS refuses the alert, four times (Notify Failure's three retries).
    "AlertNotSent": Expected(
        SCHEDULED,
        "FAILED",
        [*PLAN, "Scrape Quotes", *SCRAPE_BATCH_FAILED, *ALERT_NOT_SENT],
        error="B3Pipeline.ScrapeFailed",
        failed_state="Scrape Quotes",
        caught_error="B3Pipeline.ScrapeFailed",
        retries={"Notify Failure": 3},
        alert_sent=False,
        publish_error="SNS.AuthorizationErrorException",
    ),
    # A full market, scheduled: 8 batches of 50 (the default size), 2 at a time, merged
    # into one window; four quality queries.
    "FullMarketInBatches": Expected(
        FULL_MARKET_SCHEDULED,
        "SUCCEEDED",
        [
            *PLAN,
            *["Scrape Quotes"] * len(SCENARIOS["FullMarket"].batches()),
            *MERGED,
            *TRANSFORM,
            "Run Quality Checks",
            *(QUALITY[1:] * 4),
            *SUCCEEDED,
        ],
        concurrent_from="Run Quality Checks",
    ),
    # 400 good tickers and two BRAPI refuses (one unknown, one with a null close), each in
    # its own batch: the 400 are transformed and checked, then the run fails naming both.
    "FullMarketTwoTickersSetAside": Expected(
        {**SCHEDULED, "tickers": FULL_MARKET_WITH_TWO_BAD},
        "FAILED",
        [
            *PLAN,
            *["Scrape Quotes"] * len(SCENARIOS["FullMarketTwoSetAside"].batches()),
            *MERGED,
            *TRANSFORM,
            "Run Quality Checks",
            *(QUALITY[1:] * 4),
            "Any Tickers Failed?",
            *TICKERS_FAILED,
        ],
        error="B3Pipeline.TickersFailed",
        failed_state="Scrape Quotes",
        cause_prefix="2 tickers were set aside by the scrape and nothing of them was written",
        concurrent_from="Run Quality Checks",
    ),
    # Every ticker set aside: nothing was written, and that is a failure, not a quiet day.
    "EveryTickerSetAside": Expected(
        {**SCHEDULED, "tickers": ["ZZZZ3", "YYYY3"], "settings": {**FAST, "scrape_batch_size": 1}},
        "FAILED",
        [*PLAN, "Scrape Quotes", "Scrape Quotes", *MERGED, *TICKERS_FAILED],
        error="B3Pipeline.TickersFailed",
        failed_state="Scrape Quotes",
        cause_prefix="2 tickers were set aside by the scrape and nothing of them was written",
    ),
    # One ticker per batch, one batch at a time: the second batch's BRAPI stays unavailable
    # through both retries; the third batch never starts and nothing is transformed.
    "ScrapeBatchFailsAfterRetries": Expected(
        {
            **SCHEDULED,
            "tickers": ["PETR4", "VALE3", "ITUB4"],
            "settings": {**FAST, "scrape_batch_size": 1, "scrape_max_concurrency": 1},
        },
        "FAILED",
        [*PLAN, "Scrape Quotes", "Scrape Quotes", *SCRAPE_BATCH_FAILED, *FAILED],
        error="B3Pipeline.ScrapeFailed",
        failed_state="Scrape Quotes",
        caught_error="B3Pipeline.ScrapeFailed",
        caught_cause_prefix="Batch 2 of 3 failed after its retries, so the run stopped before the "
        "transform (the batches that finished wrote their raw files; a rerun rewrites them). "
        'Its tickers: ["VALE3"]. Its error: {"Error":"BrapiUnavailableError"',
        retries={"Scrape Quotes": 2},
    ),
    "MalformedTickers": Expected(
        {**SCHEDULED, "tickers": "PETR4"},
        "FAILED",
        [*CHECK_TICKERS, "Invalid Tickers", *FAILED],
        error="B3Pipeline.InputCheckFailed",
        failed_state="Tickers Valid?",
        cause_prefix="tickers must be a list of B3 symbols",
    ),
    # One ticker per batch over more tickers than a run has batches.
    "TooManyBatches": Expected(
        {
            **SCHEDULED,
            "tickers": FULL_MARKET_TICKERS[: MAX_BATCHES + 1],
            "settings": {**FAST, "scrape_batch_size": 1},
        },
        "FAILED",
        [*CHECK_TICKERS, "Plan Batches", "Batches Within Limit?", "Too Many Batches", *FAILED],
        error="B3Pipeline.InputCheckFailed",
        failed_state="Batches Within Limit?",
        cause_prefix=f"The {MAX_BATCHES + 1} tickers in batches of settings.scrape_batch_size 1 "
        f"make {MAX_BATCHES + 1} batches; a run takes at most {MAX_BATCHES}",
    ),
    "MalformedInput": Expected(
        [],
        "FAILED",
        [*CHECK_INPUT, "Invalid Input", *FAILED],
        error="B3Pipeline.InputCheckFailed",
        failed_state="Input Is Object?",
        cause_prefix="The execution input must be a JSON object",
    ),
    "MalformedSettings": Expected(
        {**SCHEDULED, "settings": None},
        "FAILED",
        [*CHECK_INPUT, "Invalid Settings", *FAILED],
        error="B3Pipeline.InputCheckFailed",
        failed_state="Settings Valid?",
        cause_prefix="settings must be an object",
    ),
}

# Malformed settings that must end in the alerted B3Pipeline.InputCheckFailed, each with
# the states entered before Invalid Settings (never States.Runtime, which no Catch sees).
MALFORMED_SETTINGS: list[tuple[Any, list[str]]] = [
    (None, CHECK_INPUT),
    ("fast", CHECK_INPUT),
    (30, CHECK_INPUT),
    (True, CHECK_INPUT),
    ([30, 40], CHECK_INPUT),
    ([], CHECK_INPUT),
    ({"crawler_poll_seconds": 1.5}, CHECK_SETTINGS),
    ({"crawler_poll_seconds": 30.0}, CHECK_SETTINGS),
    ({"crawler_max_polls": 2.5}, CHECK_SETTINGS),
    ({"crawler_poll_seconds": 1e3}, CHECK_SETTINGS),
    ({"crawler_poll_seconds": "30"}, CHECK_SETTINGS),
    ({"crawler_poll_seconds": None}, CHECK_SETTINGS),
    ({"crawler_max_polls": "many"}, CHECK_SETTINGS),
    ({"crawler_max_polls": {"n": 3}}, CHECK_SETTINGS),
    ({"crawler_poll_seconds": -1}, CHECK_SETTINGS),
    ({"crawler_poll_seconds": 86_400}, CHECK_SETTINGS),
    ({"crawler_max_polls": 0}, CHECK_SETTINGS),
    ({"crawl": "sometimes"}, CHECK_SETTINGS),
    ({"crawl": "ALWAYS"}, CHECK_SETTINGS),
    ({"crawl": True}, CHECK_SETTINGS),
    ({"crawl": None}, CHECK_SETTINGS),
    ({"scrape_batch_size": 0}, CHECK_SETTINGS),
    ({"scrape_batch_size": 1.5}, CHECK_SETTINGS),
    ({"scrape_batch_size": 50.0}, CHECK_SETTINGS),
    ({"scrape_batch_size": 101}, CHECK_SETTINGS),
    ({"scrape_batch_size": "50"}, CHECK_SETTINGS),
    ({"scrape_batch_size": None}, CHECK_SETTINGS),
    ({"scrape_max_concurrency": 0}, CHECK_SETTINGS),
    ({"scrape_max_concurrency": 2.5}, CHECK_SETTINGS),
    ({"scrape_max_concurrency": 41}, CHECK_SETTINGS),
    ({"scrape_max_concurrency": True}, CHECK_SETTINGS),
]

# Tickers the scheduled route refuses before splitting them (States.ArrayPartition would
# end the run in States.Runtime on anything but a list), with the failure state.
MALFORMED_TICKERS: list[tuple[Any, str]] = [
    ([], "Invalid Tickers"),
    ("PETR4", "Invalid Tickers"),
    ("PETR4,VALE3", "Invalid Tickers"),
    ({"0": "PETR4"}, "Invalid Tickers"),
    (None, "Invalid Tickers"),
    (4, "Invalid Tickers"),
    ([4, "PETR4"], "Invalid Tickers"),
    ([["PETR4"]], "Invalid Tickers"),
    (FULL_MARKET_TICKERS * 5 + ["PETR4"], "Too Many Tickers"),
]
assert len(MALFORMED_TICKERS[-1][0]) == MAX_RUN_TICKERS + 1
