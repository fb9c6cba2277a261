"""The run summaries the mocked `Read Transform Summary` returns, built by the real core.

The mock config holds them as text (GetObject's Body); test_pipeline_contracts checks each
is byte for byte what b3pipeline.run_summary builds for its scenario, so the Choice states
read the fields the job really writes. After a change to the summary, refresh them with
    .venv/bin/python -m tests.workflow.summaries
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from b3pipeline.catalog_registration import (
    CatalogRegistration,
    FailedPartition,
    TableRegistration,
    partitions_written,
)
from b3pipeline.run_summary import build_run_summary
from b3pipeline.tables import TABLES
from b3pipeline.transform import TransformResult
from tests.support.transform_results import transform_result

from .sfn_harness import MOCK_CONFIG_PATH

# The Id of the mocked Glue job run (GlueSucceeded): the summary's key and job_run_id.
JOB_RUN_ID = "jr_0d1f4a7c2b9e8f6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e"
PROCESSED_AT = datetime(2025, 8, 29, 20, 42, 51, tzinfo=UTC)
DATABASE = "b3_lake"


def _result(tickers: list[str], days: list[date]) -> TransformResult:
    return transform_result(tickers, days, PROCESSED_AT)


def _registration(result: TransformResult, failing_table: str = "") -> CatalogRegistration:
    """Every partition registered; those of `failing_table` refused by Glue."""
    tables = {table.name: TableRegistration(table.name) for table in TABLES}
    for partition in partitions_written(result):
        outcome = tables[partition.table]
        if partition.table == failing_table:
            outcome.failed.append(
                FailedPartition(partition, "ResourceNumberLimitExceededException", "limit")
            )
        else:
            outcome.registered.append(partition)
    return CatalogRegistration(catalog="glue", database=DATABASE, tables=tables)


SCHEDULED_DAYS = [date(2025, 8, day) for day in range(25, 30)]
BACKFILL_DAYS = [date(2025, 8, day) for day in range(4, 9)]


def mocked_summaries() -> dict[str, str]:
    """{MockedResponses name: the summary JSON text its GetObject Body carries}."""
    scheduled = _result(["PETR4"], SCHEDULED_DAYS)
    backfill = _result(["PETR4", "VALE3"], BACKFILL_DAYS)
    built = {
        "SummaryCatalogCurrent": build_run_summary(JOB_RUN_ID, scheduled, _registration(scheduled)),
        "SummaryBackfillCatalogCurrent": build_run_summary(
            JOB_RUN_ID, backfill, _registration(backfill)
        ),
        "SummaryRegistrationFailed": build_run_summary(
            JOB_RUN_ID, scheduled, _registration(scheduled, failing_table="quotes_daily")
        ),
    }
    bodies = {name: summary.to_json().decode("utf-8") for name, summary in built.items()}
    bodies["SummaryThrottledThenCatalogCurrent"] = bodies["SummaryCatalogCurrent"]
    return bodies


def write_mock_config() -> None:
    """Put the current summaries into the mock config (every attempt of each response)."""
    config = json.loads(MOCK_CONFIG_PATH.read_text(encoding="utf-8"))
    for name, body in mocked_summaries().items():
        for attempt in config["MockedResponses"][name].values():
            if "Return" in attempt:
                attempt["Return"]["Body"] = body
                attempt["Return"]["ContentLength"] = len(body.encode("utf-8"))
    MOCK_CONFIG_PATH.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_mock_config()
