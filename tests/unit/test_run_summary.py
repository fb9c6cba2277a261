"""The transform's run summary: its JSON value by value, its key, its size and its writing.

Step Functions caps a state's input and output at 256 KB ("Maximum input or output size
for a task, state, or execution: 256 KiB of data as a UTF-8 encoded string"):
https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
The state machine puts the summary in its state (States.StringToJson), so it must stay
well under that for any run.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from b3pipeline.catalog_registration import (
    CatalogRegistration,
    FailedPartition,
    LocalPartitionCatalog,
    TableRegistration,
    partitions_deleted,
    partitions_written,
)
from b3pipeline.errors import InvalidRequestError
from b3pipeline.lake import Lake
from b3pipeline.run_summary import (
    FAILED_LIMIT,
    LIST_LIMIT,
    LOCAL_RUN_ID,
    build_run_summary,
    record_transform_run,
    run_summary_key,
    validate_job_run_id,
    write_run_summary,
)
from b3pipeline.transform import TransformResult
from tests.support.transform_results import transform_result as build_transform_result

NOW = datetime(2025, 8, 5, 22, 0, tzinfo=UTC)
JOB_RUN_ID = "jr_" + "0123456789abcdef" * 4
STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024


def transform_result(tickers: list[str], days: list[date]) -> TransformResult:
    return build_transform_result(tickers, days, NOW, tickers_without_data=["MGLU3"])


def glue_registration(result: TransformResult) -> CatalogRegistration:
    """A Glue outcome: raw all new, daily one failed, monthly present, monthly schema differs;
    of the stale partitions, raw's deregistered and daily's still registered."""
    partitions = partitions_written(result)
    raw = [p for p in partitions if p.table == "raw_quotes"]
    daily = [p for p in partitions if p.table == "quotes_daily"]
    monthly = [p for p in partitions if p.table == "quotes_monthly"]
    stale = partitions_deleted(result)
    return CatalogRegistration(
        catalog="glue",
        database="b3_lake",
        tables={
            "raw_quotes": TableRegistration(
                "raw_quotes",
                registered=raw,
                deregistered=[p for p in stale if p.table == "raw_quotes"],
            ),
            "quotes_daily": TableRegistration(
                "quotes_daily",
                registered=daily[:-1],
                failed=[FailedPartition(daily[-1], "InvalidInputException", "bad location")],
                deregister_failed=[
                    FailedPartition(p, "ThrottlingException", "Rate exceeded")
                    for p in stale
                    if p.table == "quotes_daily"
                ],
            ),
            "quotes_monthly": TableRegistration(
                "quotes_monthly",
                already_present=monthly,
                schema_differences=["column monthly_return_pct (double) is missing"],
            ),
        },
    )


def test_summary_json_value_by_value() -> None:
    result = transform_result(["PETR4", "VALE3"], [date(2025, 8, 4), date(2025, 8, 5)])
    # VALE3's 2025-08-01 raw file is gone: the run deleted its refined day.
    result.deleted_keys = ["refined/quotes_daily/dt=2025-08-01/ticker=VALE3/part-0.parquet"]
    summary = build_run_summary(JOB_RUN_ID, result, glue_registration(result))
    document = json.loads(summary.to_json())
    assert document == {
        "summary_version": 1,
        "job_run_id": JOB_RUN_ID,
        "tickers": ["PETR4", "VALE3"],
        "ticker_count": 2,
        "tickers_without_data": ["MGLU3"],
        "start_date": "2025-08-04",
        "end_date": "2025-08-05",
        "processed_at": "2025-08-05T22:00:00+00:00",
        "rows": {"daily": 4, "monthly": 2},
        "dates": ["2025-08-04", "2025-08-05"],
        "date_count": 2,
        "months": ["2025-08"],
        "month_count": 1,
        "catalog": "glue",
        "catalog_database": "b3_lake",
        "partitions": {
            "partitions": 10,
            "registered": 7,
            "already_present": 2,
            "failed": 1,
            "stale": 2,
            "deregistered": 1,
            "already_absent": 0,
            "deregister_failed": 1,
        },
        "tables": {
            "raw_quotes": {
                "partitions": 4,
                "registered": 4,
                "already_present": 0,
                "failed": 0,
                "failed_partitions": [],
                "stale": 1,
                "deregistered": 1,
                "already_absent": 0,
                "deregister_failed": 0,
                "deregister_failed_partitions": [],
                "schema_matches": True,
                "schema_differences": [],
            },
            "quotes_daily": {
                "partitions": 4,
                "registered": 3,
                "already_present": 0,
                "failed": 1,
                "failed_partitions": [
                    {
                        "values": {"dt": "2025-08-05", "ticker": "VALE3"},
                        "error_code": "InvalidInputException",
                    }
                ],
                "stale": 1,
                "deregistered": 0,
                "already_absent": 0,
                "deregister_failed": 1,
                "deregister_failed_partitions": [
                    {
                        "values": {"dt": "2025-08-01", "ticker": "VALE3"},
                        "error_code": "ThrottlingException",
                    }
                ],
                "schema_matches": True,
                "schema_differences": [],
            },
            "quotes_monthly": {
                "partitions": 2,
                "registered": 0,
                "already_present": 2,
                "failed": 0,
                "failed_partitions": [],
                "stale": 0,
                "deregistered": 0,
                "already_absent": 0,
                "deregister_failed": 0,
                "deregister_failed_partitions": [],
                "schema_matches": False,
                "schema_differences": ["column monthly_return_pct (double) is missing"],
            },
        },
        "schema_matches": False,
        "catalog_current": False,
    }


def test_summary_bytes_are_compact_sorted_and_repeatable() -> None:
    result = transform_result(["VALE3", "PETR4"], [date(2025, 8, 5), date(2025, 8, 4)])
    first = build_run_summary(
        JOB_RUN_ID, result, LocalPartitionCatalog().register_partitions(partitions_written(result))
    ).to_json()
    again = build_run_summary(
        JOB_RUN_ID, result, LocalPartitionCatalog().register_partitions(partitions_written(result))
    ).to_json()
    assert first == again
    text = first.decode("utf-8")
    assert text.startswith('{"catalog":"local","catalog_current":true,"catalog_database":null,')
    assert ": " not in text and ", " not in text
    assert json.loads(text)["dates"] == ["2025-08-04", "2025-08-05"]


def test_a_clean_glue_run_is_current() -> None:
    result = transform_result(["PETR4"], [date(2025, 8, 4)])
    partitions = partitions_written(result)
    registration = CatalogRegistration(
        "glue",
        "b3_lake",
        {
            name: TableRegistration(name, registered=[p for p in partitions if p.table == name])
            for name in ("raw_quotes", "quotes_daily", "quotes_monthly")
        },
    )
    document = json.loads(build_run_summary(JOB_RUN_ID, result, registration).to_json())
    assert document["catalog_current"] is True
    assert document["schema_matches"] is True
    assert document["partitions"] == {
        "partitions": 3,
        "registered": 3,
        "already_present": 0,
        "failed": 0,
        "stale": 0,
        "deregistered": 0,
        "already_absent": 0,
        "deregister_failed": 0,
    }


def test_without_a_catalog_nothing_is_registered_and_the_catalog_is_not_current() -> None:
    result = transform_result(["PETR4"], [date(2025, 8, 4)])
    document = json.loads(build_run_summary(JOB_RUN_ID, result, None).to_json())
    assert document["catalog"] is None and document["catalog_database"] is None
    assert document["catalog_current"] is False
    assert document["schema_matches"] is None
    assert document["partitions"] == {
        "partitions": 3,
        "registered": 0,
        "already_present": 0,
        "failed": 0,
        "stale": 0,
        "deregistered": 0,
        "already_absent": 0,
        "deregister_failed": 0,
    }
    assert document["tables"]["raw_quotes"]["schema_matches"] is None
    assert document["tables"]["raw_quotes"]["schema_differences"] is None


def test_a_run_without_data_still_summarises() -> None:
    result = TransformResult(
        tickers=["PETR4"], start=date(2025, 8, 9), end=date(2025, 8, 10), processed_at=NOW
    )
    registration = LocalPartitionCatalog().register_partitions(partitions_written(result))
    document = json.loads(build_run_summary(JOB_RUN_ID, result, registration).to_json())
    assert document["rows"] == {"daily": 0, "monthly": 0}
    assert document["dates"] == [] and document["date_count"] == 0
    assert document["partitions"]["partitions"] == 0
    assert document["catalog_current"] is True


def test_a_large_run_stays_far_below_the_step_functions_payload_limit() -> None:
    tickers = [f"T{index:04d}3" for index in range(500)]
    result = transform_result(tickers, [date(2025, 8, 4)])
    partitions = partitions_written(result)
    assert len(partitions) == 1500
    # Worst case: every partition failed with a long message.
    registration = CatalogRegistration(
        "glue",
        "b3_lake",
        {
            name: TableRegistration(
                name,
                failed=[
                    FailedPartition(p, "InternalServiceException", "x" * 500)
                    for p in partitions
                    if p.table == name
                ],
                schema_differences=[f"column c{i} (double) is missing" for i in range(100)],
            )
            for name in ("raw_quotes", "quotes_daily", "quotes_monthly")
        },
    )
    data = build_run_summary(JOB_RUN_ID, result, registration).to_json()
    document = json.loads(data)
    assert len(data) < 32 * 1024 < STEP_FUNCTIONS_PAYLOAD_LIMIT
    assert document["partitions"]["failed"] == 1500
    for table in document["tables"].values():
        assert table["failed"] == 500
        assert len(table["failed_partitions"]) == FAILED_LIMIT
        assert len(table["schema_differences"]) == FAILED_LIMIT
    assert document["tables"]["raw_quotes"]["failed_partitions"][0] == {
        "values": {"dt": "2025-08-04", "ticker": "T00003"},
        "error_code": "InternalServiceException",
    }
    assert len(document["tickers"]) == 500 and document["ticker_count"] == 500


def test_long_lists_are_capped_with_their_full_count_beside_them() -> None:
    days = [date(2010, 1, 1) + timedelta(days=n) for n in range(LIST_LIMIT + 500)]
    tickers = [f"T{index:04d}3" for index in range(LIST_LIMIT + 1)]
    result = TransformResult(
        tickers=tickers,
        start=days[0],
        end=days[-1],
        processed_at=NOW,
        dates=days,
        months=["2010-01"],
    )
    data = build_run_summary(JOB_RUN_ID, result, None).to_json()
    document = json.loads(data)
    assert document["dates"][0] == "2010-01-01" and len(document["dates"]) == LIST_LIMIT
    assert document["date_count"] == LIST_LIMIT + 500
    assert len(document["tickers"]) == LIST_LIMIT and document["ticker_count"] == LIST_LIMIT + 1
    assert len(data) < STEP_FUNCTIONS_PAYLOAD_LIMIT // 4


def test_the_key_is_under_runs_transform() -> None:
    assert run_summary_key(JOB_RUN_ID) == f"runs/transform/{JOB_RUN_ID}.json"
    assert (
        run_summary_key("local-2025-08-05T220000Z")
        == "runs/transform/local-2025-08-05T220000Z.json"
    )


@pytest.mark.parametrize(
    "job_run_id",
    ["", "../raw/quotes/x", "jr_1/2", "jr 1", ".hidden", "-leading", "jr_1.json", "x" * 256],
)
def test_job_run_ids_that_cannot_be_one_key_segment_are_refused(job_run_id: str) -> None:
    with pytest.raises(InvalidRequestError, match="cannot name a run summary"):
        validate_job_run_id(job_run_id)


def test_build_refuses_a_bad_job_run_id() -> None:
    result = transform_result(["PETR4"], [date(2025, 8, 4)])
    with pytest.raises(InvalidRequestError):
        build_run_summary("runs/../x", result, None)


def test_write_puts_the_json_at_its_key_in_the_lake(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    result = transform_result(["PETR4"], [date(2025, 8, 4)])
    summary = build_run_summary(JOB_RUN_ID, result, None)
    key = write_run_summary(lake, summary)
    assert key == f"runs/transform/{JOB_RUN_ID}.json"
    assert lake.read_bytes(key) == summary.to_json()
    assert lake.list_keys("runs") == [key]


def test_record_registers_then_writes_the_summary_under_the_run_id(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    result = transform_result(["PETR4"], [date(2025, 8, 4), date(2025, 8, 5)])
    summary = record_transform_run(lake, result, LocalPartitionCatalog(), JOB_RUN_ID)
    assert summary == build_run_summary(
        JOB_RUN_ID, result, LocalPartitionCatalog().register_partitions(partitions_written(result))
    )
    assert summary.catalog_current is True
    assert lake.read_bytes(run_summary_key(JOB_RUN_ID)) == summary.to_json()


def test_record_without_a_run_id_writes_nothing_and_without_a_catalog_is_not_current(
    tmp_path: Path,
) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    result = transform_result(["PETR4"], [date(2025, 8, 4)])
    summary = record_transform_run(lake, result, None, None)
    assert (summary.job_run_id, summary.catalog, summary.catalog_current) == (
        LOCAL_RUN_ID,
        None,
        False,
    )
    assert lake.list_keys("runs") == []
