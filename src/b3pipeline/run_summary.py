"""What one transform run did, as a small JSON document at runs/transform/<job_run_id>.json.

The state machine reads it right after the transform (s3:GetObject, States.StringToJson)
and branches on `catalog_current`; the console's execution view shows it whole. Step
Functions caps a state's payload at 256 KB, so every list is capped (`LIST_LIMIT`,
`FAILED_LIMIT`) and each capped list has its full count beside it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from b3pipeline.catalog_registration import (
    CatalogRegistration,
    FailedPartition,
    PartitionCatalog,
    TablePartition,
    partitions_deleted,
    partitions_written,
)
from b3pipeline.errors import InvalidRequestError
from b3pipeline.tables import TABLES
from b3pipeline.transform import TransformResult

logger = logging.getLogger(__name__)

#: Lake prefix of the summaries: outside every table location, so no SQL reads them.
RUN_SUMMARIES = "runs/transform"
SUMMARY_VERSION = 1
#: Most entries kept of tickers, dates, months and tickers_without_data.
LIST_LIMIT = 1000
#: Most failed partitions (and schema differences) listed per table.
FAILED_LIMIT = 20

#: The id a summary carries when the run has none (a local run without --JOB_RUN_ID).
LOCAL_RUN_ID = "local"

# Glue's run ids are 'jr_' and 64 hex digits; local runs may use any id of this shape. No
# '/', '.' or spaces: the id becomes one S3 key segment.
_JOB_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")


def validate_job_run_id(job_run_id: str) -> str:
    if not isinstance(job_run_id, str) or not _JOB_RUN_ID.fullmatch(job_run_id):
        raise InvalidRequestError(
            f"job run id {job_run_id!r} cannot name a run summary: use 1-255 letters, digits, "
            "'_' or '-' starting with a letter or digit (Glue's --JOB_RUN_ID is jr_<hex>)"
        )
    return job_run_id


def run_summary_key(job_run_id: str) -> str:
    """'runs/transform/<job_run_id>.json' (the id validated first)."""
    return f"{RUN_SUMMARIES}/{validate_job_run_id(job_run_id)}.json"


@dataclass(frozen=True)
class TableSummary:
    """One catalog table: partitions the run owns and what registering them did, and the
    stale partitions (files the run deleted) and what deregistering them did.

    Without a catalog nothing is registered: every count but `partitions` and `stale` is 0.
    """

    table: str
    partitions: int
    registered: int
    already_present: int
    failed: int
    failed_partitions: tuple[FailedPartition, ...]
    schema_differences: tuple[str, ...] | None  # None: not checked; (): matches
    stale: int = 0
    deregistered: int = 0
    already_absent: int = 0
    deregister_failed: int = 0
    deregister_failed_partitions: tuple[FailedPartition, ...] = ()

    @property
    def schema_matches(self) -> bool | None:
        return None if self.schema_differences is None else not self.schema_differences

    def to_dict(self) -> dict[str, Any]:
        differences = self.schema_differences
        return {
            "partitions": self.partitions,
            "registered": self.registered,
            "already_present": self.already_present,
            "failed": self.failed,
            "failed_partitions": _failures(self.failed_partitions),
            "stale": self.stale,
            "deregistered": self.deregistered,
            "already_absent": self.already_absent,
            "deregister_failed": self.deregister_failed,
            "deregister_failed_partitions": _failures(self.deregister_failed_partitions),
            "schema_matches": self.schema_matches,
            "schema_differences": None if differences is None else list(differences[:FAILED_LIMIT]),
        }


def _failures(failures: tuple[FailedPartition, ...]) -> list[dict[str, Any]]:
    return [
        {"values": failure.partition.value_map(), "error_code": failure.error_code}
        for failure in failures[:FAILED_LIMIT]
    ]


#: The counts of the summary's top-level "partitions", each summed over the tables.
PARTITION_COUNTS = (
    "partitions",
    "registered",
    "already_present",
    "failed",
    "stale",
    "deregistered",
    "already_absent",
    "deregister_failed",
)


@dataclass(frozen=True)
class TransformRunSummary:
    job_run_id: str
    tickers: tuple[str, ...]
    tickers_without_data: tuple[str, ...]
    start: date
    end: date
    processed_at: datetime
    daily_rows: int
    monthly_rows: int
    dates: tuple[date, ...]
    months: tuple[str, ...]
    catalog: str | None  # "glue", "local", or None when nothing was registered
    catalog_database: str | None
    tables: tuple[TableSummary, ...]

    @property
    def schema_matches(self) -> bool | None:
        """Every table's schema matches the files (None: not checked)."""
        checks = [table.schema_matches for table in self.tables]
        if any(check is None for check in checks):
            return None
        return all(checks)

    @property
    def catalog_current(self) -> bool:
        """Every partition is in the catalog and every schema matches: no crawl needed."""
        return (
            self.catalog is not None and self.schema_matches is True and self._total("failed") == 0
        )

    def _total(self, count: str) -> int:
        return sum(int(getattr(table, count)) for table in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary_version": SUMMARY_VERSION,
            "job_run_id": self.job_run_id,
            "tickers": list(self.tickers[:LIST_LIMIT]),
            "ticker_count": len(self.tickers),
            "tickers_without_data": list(self.tickers_without_data[:LIST_LIMIT]),
            "start_date": self.start.isoformat(),
            "end_date": self.end.isoformat(),
            "processed_at": self.processed_at.isoformat(),
            "rows": {"daily": self.daily_rows, "monthly": self.monthly_rows},
            "dates": [day.isoformat() for day in self.dates[:LIST_LIMIT]],
            "date_count": len(self.dates),
            "months": list(self.months[:LIST_LIMIT]),
            "month_count": len(self.months),
            "catalog": self.catalog,
            "catalog_database": self.catalog_database,
            "partitions": {count: self._total(count) for count in PARTITION_COUNTS},
            "tables": {table.table: table.to_dict() for table in self.tables},
            "schema_matches": self.schema_matches,
            "catalog_current": self.catalog_current,
        }

    def to_json(self) -> bytes:
        """Compact, key-sorted UTF-8 JSON: the same run always gives the same bytes."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return text.encode("utf-8")


def build_run_summary(
    job_run_id: str,
    result: TransformResult,
    registration: CatalogRegistration | None,
) -> TransformRunSummary:
    """The summary of a run; `registration` None means no catalog was given (nothing registered)."""
    owned: dict[str, list[TablePartition]] = {table.name: [] for table in TABLES}
    for partition in partitions_written(result):
        owned[partition.table].append(partition)
    stale: dict[str, list[TablePartition]] = {table.name: [] for table in TABLES}
    for partition in partitions_deleted(result):
        stale[partition.table].append(partition)
    tables = []
    for name, partitions in owned.items():
        outcome = registration.tables.get(name) if registration else None
        tables.append(
            TableSummary(
                table=name,
                partitions=len(partitions),
                registered=len(outcome.registered) if outcome else 0,
                already_present=len(outcome.already_present) if outcome else 0,
                failed=len(outcome.failed) if outcome else 0,
                failed_partitions=tuple(sorted(outcome.failed)) if outcome else (),
                schema_differences=tuple(outcome.schema_differences) if outcome else None,
                stale=len(stale[name]),
                deregistered=len(outcome.deregistered) if outcome else 0,
                already_absent=len(outcome.already_absent) if outcome else 0,
                deregister_failed=len(outcome.deregister_failed) if outcome else 0,
                deregister_failed_partitions=(
                    tuple(sorted(outcome.deregister_failed)) if outcome else ()
                ),
            )
        )
    return TransformRunSummary(
        job_run_id=validate_job_run_id(job_run_id),
        tickers=tuple(result.tickers),
        tickers_without_data=tuple(result.tickers_without_data),
        start=result.start,
        end=result.end,
        processed_at=result.processed_at,
        daily_rows=result.daily_rows,
        monthly_rows=result.monthly_rows,
        dates=tuple(sorted(result.dates)),
        months=tuple(sorted(result.months)),
        catalog=registration.catalog if registration else None,
        catalog_database=registration.database if registration else None,
        tables=tuple(tables),
    )


class BytesWriter(Protocol):
    """What writing a summary needs of the lake (b3pipeline.lake.Lake has it)."""

    def write_bytes(self, key: str, data: bytes) -> None: ...


def write_run_summary(lake: BytesWriter, summary: TransformRunSummary) -> str:
    """Write the summary whole to runs/transform/<job_run_id>.json; returns the key."""
    key = run_summary_key(summary.job_run_id)
    lake.write_bytes(key, summary.to_json())
    return key


def record_transform_run(
    lake: BytesWriter,
    result: TransformResult,
    catalog: PartitionCatalog | None,
    job_run_id: str | None,
) -> TransformRunSummary:
    """What the Glue job's driver does after the merge: register the run's partitions in
    `catalog` and deregister those whose files it deleted (None: nothing registered, so the
    catalog is not current) and, under
    `job_run_id`, write the run summary (None: the summary is only returned and logged).

    A CatalogRegistrationError (database or table missing, access denied) propagates and
    fails the run: the crawler cannot repair that.
    """
    registration = (
        catalog.register_partitions(partitions_written(result), partitions_deleted(result))
        if catalog
        else None
    )
    summary = build_run_summary(job_run_id or LOCAL_RUN_ID, result, registration)
    if job_run_id is None:
        logger.info(
            "no job run id: run summary not written (catalog_current=%s)", summary.catalog_current
        )
    else:
        key = write_run_summary(lake, summary)
        logger.info("run summary written to %s (catalog_current=%s)", key, summary.catalog_current)
    return summary
