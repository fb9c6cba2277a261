"""Registering the partitions a transform run wrote, so the catalog is current without a crawl.

A `PartitionCatalog` takes the partitions of a run (`partitions_written`) and reports, per
table, which it registered, which were already there and which failed, and whether the
table's columns match what the files hold. Two implementations:

* `GluePartitionCatalog`: the Glue Data Catalog. For each table, GetTable once (the
  storage descriptor to copy and the schema to check), then BatchCreatePartition in
  batches of at most `MAX_PARTITIONS_PER_CALL`, then BatchDeletePartition, in batches of
  at most `MAX_PARTITIONS_PER_DELETE`, for the partitions whose files the run deleted
  (`partitions_deleted`: their raw data is gone), so Athena does not keep reading them as
  empty partitions.
* `LocalPartitionCatalog`: the local DuckDB catalog, whose views discover partitions from
  the lake's folders; nothing to register, every partition is current.

How Glue errors are handled (codes from the BatchCreatePartition and GetTable API pages):

* `AlreadyExistsException` for a partition: already present (a rerun changes nothing);
  `EntityNotFoundException` for a partition to delete: already absent.
* Throttling, internal and timeout errors, per partition or for the whole call: retried
  with capped exponential backoff and full jitter, then recorded as failed.
* Any other per-partition error (InvalidInputException, ResourceNumberLimitExceeded...):
  recorded as failed; the state machine then runs the crawler to repair the catalog.
* The database or a table missing (EntityNotFoundException) or access denied: raise
  `CatalogRegistrationError`. The crawler cannot repair a missing table (Terraform
  defines them) and a permission error is a deployment fault that must not pass silently.

A stale partition that could not be deregistered (after the retries) is listed in the run
summary and logged; it does not make the catalog "not current", since a crawl cannot
remove it (the crawler's delete behaviour is LOG): delete it with BatchDeletePartition.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import pyarrow as pa

from b3pipeline.errors import CatalogRegistrationError
from b3pipeline.tables import TABLES, TableSpec
from b3pipeline.transform import TransformResult

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_glue.type_defs import (
        PartitionInputTypeDef,
        PartitionValueListTypeDef,
        TableTypeDef,
    )

    #: What one batch call takes per partition: a PartitionInput (create) or its Values (delete).
    _Entry = PartitionInputTypeDef | PartitionValueListTypeDef

logger = logging.getLogger(__name__)

#: BatchCreatePartition's PartitionInputList holds at most 100 items (Glue API reference).
MAX_PARTITIONS_PER_CALL = 100
#: BatchDeletePartition's PartitionsToDelete holds at most 25 (botocore's glue model).
MAX_PARTITIONS_PER_DELETE = 25

#: Error codes worth another attempt, for a whole call or for one partition.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "InternalServiceException",
        "OperationTimeoutException",
        "ConcurrentModificationException",
    }
)
ALREADY_EXISTS = "AlreadyExistsException"
ALREADY_ABSENT = "EntityNotFoundException"
#: Call-level codes that fail the run (see the module docstring).
FATAL_ERROR_CODES = frozenset({"EntityNotFoundException", "AccessDeniedException"})

_TABLES_BY_NAME: dict[str, TableSpec] = {table.name: table for table in TABLES}
_PARTITION_VALUE = re.compile(r"[^/=]+")


# -- partitions ---------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class TablePartition:
    """One partition of a catalog table: its (column, value) pairs in the lake's folder order."""

    table: str
    values: tuple[tuple[str, str], ...]

    def value_map(self) -> dict[str, str]:
        return dict(self.values)

    def relative_location(self) -> str:
        """The partition's folder under the table's location, e.g. 'dt=2025-08-04/ticker=PETR4/'."""
        return "".join(f"{name}={value}/" for name, value in self.values)


def table_spec(name: str) -> TableSpec:
    try:
        return _TABLES_BY_NAME[name]
    except KeyError as exc:
        known = ", ".join(sorted(_TABLES_BY_NAME))
        raise CatalogRegistrationError(f"unknown table {name!r}: expected one of {known}") from exc


def hive_partition(table: TableSpec, key: str) -> TablePartition:
    """The partition a lake key of `table` lies in.

    'refined/quotes_daily/dt=2025-08-04/ticker=PETR4/part-0.parquet' ->
    TablePartition('quotes_daily', (('dt', '2025-08-04'), ('ticker', 'PETR4'))).
    The folder names must be exactly the table's partition columns, in order.
    """
    prefix = table.location + "/"
    folders = key[len(prefix) :].split("/")[:-1] if key.startswith(prefix) else []
    pairs = [folder.split("=", 1) for folder in folders]
    names = [pair[0] for pair in pairs]
    if names != table.partitioning.names or not all(
        len(pair) == 2 and _PARTITION_VALUE.fullmatch(pair[1]) for pair in pairs
    ):
        layout = "/".join(f"{name}=..." for name in table.partitioning.names)
        raise CatalogRegistrationError(
            f"{key!r} is not a partition file of {table.name}: expected {prefix}{layout}/<file>"
        )
    return TablePartition(table.name, tuple((name, value) for name, value in pairs))


def partitions_written(result: TransformResult) -> list[TablePartition]:
    """Every partition a transform run owns in the catalog, sorted by table and values.

    quotes_daily (dt, ticker) and quotes_monthly (month, ticker) from the files it wrote,
    and raw_quotes for the (dt, ticker) pairs of the raw rows inside [start, end]: those
    are exactly the daily partitions written (one daily row per raw row of the window).
    """
    daily, monthly = table_spec("quotes_daily"), table_spec("quotes_monthly")
    raw = table_spec("raw_quotes")
    found = {hive_partition(daily, key) for key in result.daily_keys}
    found |= {TablePartition(raw.name, partition.values) for partition in list(found)}
    found |= {hive_partition(monthly, key) for key in result.monthly_keys}
    return sorted(found)


def partitions_deleted(result: TransformResult) -> list[TablePartition]:
    """Every partition whose file the run deleted, sorted: a stale quotes_daily or
    quotes_monthly file (its raw data is gone), and for a daily one the raw_quotes partition
    of the same (dt, ticker), whose file is the one that went missing."""
    daily, monthly = table_spec("quotes_daily"), table_spec("quotes_monthly")
    raw = table_spec("raw_quotes")
    found: set[TablePartition] = set()
    for key in result.deleted_keys:
        if key.startswith(monthly.location + "/"):
            found.add(hive_partition(monthly, key))
        else:
            partition = hive_partition(daily, key)
            found |= {partition, TablePartition(raw.name, partition.values)}
    return sorted(found)


# -- schema ---------------------------------------------------------------------------------------
def glue_type(arrow_type: pa.DataType) -> str:
    """The Glue (Hive) type name Athena reads an Arrow column as, e.g. float64 -> 'double'."""
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date32(arrow_type):
        return "date"
    names = {
        pa.float64(): "double",
        pa.float32(): "float",
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.int16(): "smallint",
        pa.int8(): "tinyint",
        pa.bool_(): "boolean",
        pa.string(): "string",
        pa.large_string(): "string",
    }
    try:
        return names[arrow_type]
    except KeyError as exc:
        raise CatalogRegistrationError(
            f"no Glue type for the Arrow type {arrow_type}: map it in glue_type()"
        ) from exc


def expected_columns(table: TableSpec) -> list[tuple[str, str]]:
    """(name, Glue type) of the columns the table's files hold, in file order."""
    return [(column.name, glue_type(column.type)) for column in table.columns]


def expected_partition_keys(table: TableSpec) -> list[tuple[str, str]]:
    """(name, Glue type) of the partition columns: strings, as in the folder names."""
    return [(column.name, "string") for column in table.partitioning]


def schema_differences(table: TableSpec, definition: TableTypeDef) -> list[str]:
    """How a Glue table definition differs from what the lake's files hold ([] = it matches).

    Data columns are compared by name and type (Athena resolves Parquet columns by name, so
    their order does not matter); partition keys by name, type and order (the order of a
    partition's Values and of its folders).
    """
    descriptor = definition.get("StorageDescriptor", {})
    actual = {
        column["Name"].lower(): column.get("Type", "").strip().lower()
        for column in descriptor.get("Columns", [])
    }
    wanted = dict(expected_columns(table))
    differences = [
        f"column {name} ({kind}) is missing" for name, kind in wanted.items() if name not in actual
    ]
    differences += [
        f"column {name} is {actual[name]}, the files hold {kind}"
        for name, kind in wanted.items()
        if name in actual and actual[name] != kind
    ]
    differences += [
        f"column {name} ({kind}) is not in the files"
        for name, kind in actual.items()
        if name not in wanted
    ]
    keys = [
        (key["Name"].lower(), key.get("Type", "").strip().lower())
        for key in definition.get("PartitionKeys", [])
    ]
    lake_keys = expected_partition_keys(table)
    if keys != lake_keys:
        differences.append(
            f"partition keys are {_describe(keys)}, the lake has {_describe(lake_keys)}"
        )
    return differences


def _describe(columns: Sequence[tuple[str, str]]) -> str:
    return "(" + ", ".join(f"{name} {kind}" for name, kind in columns) + ")"


# -- registration results ------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class FailedPartition:
    partition: TablePartition
    error_code: str
    error_message: str = field(default="", compare=False)


@dataclass
class TableRegistration:
    """What registering one table's partitions did. `schema_differences` [] = the schema matches."""

    table: str
    registered: list[TablePartition] = field(default_factory=list)
    already_present: list[TablePartition] = field(default_factory=list)
    failed: list[FailedPartition] = field(default_factory=list)
    schema_differences: list[str] = field(default_factory=list)
    # Stale partitions (files the run deleted): removed from the catalog, not there, or not
    # removed (after the retries).
    deregistered: list[TablePartition] = field(default_factory=list)
    already_absent: list[TablePartition] = field(default_factory=list)
    deregister_failed: list[FailedPartition] = field(default_factory=list)

    @property
    def schema_matches(self) -> bool:
        return not self.schema_differences


@dataclass
class CatalogRegistration:
    """The outcome over every catalog table (each of TABLES has an entry)."""

    catalog: str  # "glue" or "local"
    database: str | None
    tables: dict[str, TableRegistration]

    @property
    def schema_matches(self) -> bool:
        return all(table.schema_matches for table in self.tables.values())

    @property
    def current(self) -> bool:
        """Every partition registered or present, and every table's schema matches the files.

        A stale partition left registered does not count: a crawl could not remove it."""
        return self.schema_matches and not any(t.failed for t in self.tables.values())


class PartitionCatalog(Protocol):
    """Where the run's partitions are made visible to SQL."""

    def register_partitions(
        self, partitions: Sequence[TablePartition], stale: Sequence[TablePartition] = ()
    ) -> CatalogRegistration:
        """Register `partitions` (the files the run wrote) and deregister `stale` (the
        files it deleted)."""
        ...


def _by_table(partitions: Sequence[TablePartition]) -> dict[str, list[TablePartition]]:
    grouped: dict[str, list[TablePartition]] = {table.name: [] for table in TABLES}
    for partition in sorted(set(partitions)):
        table_spec(partition.table)
        grouped[partition.table].append(partition)
    return grouped


# -- the local catalog ---------------------------------------------------------------------------
class LocalPartitionCatalog:
    """The local DuckDB catalog: its views read the lake's folders, so nothing is registered.

    Its tables are built from the same TableSpec columns as the files, so they always match.
    """

    def register_partitions(
        self, partitions: Sequence[TablePartition], stale: Sequence[TablePartition] = ()
    ) -> CatalogRegistration:
        removed = _by_table(stale)
        tables = {
            name: TableRegistration(
                name, already_present=list(members), already_absent=removed[name]
            )
            for name, members in _by_table(partitions).items()
        }
        return CatalogRegistration(catalog="local", database=None, tables=tables)


# -- the Glue Data Catalog -----------------------------------------------------------------------
@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter: attempt n waits U(0, min(cap, base * 2**n))."""

    max_attempts: int = 6
    base_seconds: float = 0.2
    cap_seconds: float = 5.0

    def delay(self, attempt: int, draw: Callable[[], float]) -> float:
        return draw() * min(self.cap_seconds, self.base_seconds * 2.0**attempt)


class GluePartitionCatalog:
    """The Glue Data Catalog database `database` (tables defined by Terraform)."""

    def __init__(
        self,
        client: GlueClient,
        database: str,
        *,
        backoff: Backoff = Backoff(),  # frozen, so one shared default is safe
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        if not database.strip():
            raise CatalogRegistrationError(
                "the catalog database name is empty: give --catalog_database"
            )
        self.client = client
        self.database = database.strip()
        self.backoff = backoff
        self._sleep = sleep
        self._draw = draw

    def register_partitions(
        self, partitions: Sequence[TablePartition], stale: Sequence[TablePartition] = ()
    ) -> CatalogRegistration:
        removed = _by_table(stale)
        tables = {
            name: self._register_table(table_spec(name), members, removed[name])
            for name, members in _by_table(partitions).items()
        }
        return CatalogRegistration(catalog="glue", database=self.database, tables=tables)

    def check_tables(self) -> None:
        """GetTable on every table: a missing database or table, or access denied, raises
        CatalogRegistrationError now, before a run writes anything (transient errors do not:
        registration retries them)."""
        for spec in TABLES:
            with contextlib.suppress(_GaveUpError):
                self._get_table(spec.name)

    def _register_table(
        self, spec: TableSpec, partitions: list[TablePartition], stale: list[TablePartition]
    ) -> TableRegistration:
        outcome = TableRegistration(spec.name)
        try:
            definition = self._get_table(spec.name)
        except _GaveUpError as exc:
            outcome.schema_differences.append(f"cannot read the table definition: {exc.code}")
            outcome.failed = [FailedPartition(p, exc.code, exc.message) for p in partitions]
            outcome.deregister_failed = [FailedPartition(p, exc.code, exc.message) for p in stale]
            return outcome
        outcome.schema_differences = schema_differences(spec, definition)
        if not partitions and not stale:
            return outcome
        key_names = [key["Name"].lower() for key in definition.get("PartitionKeys", [])]
        if sorted(key_names) != sorted(spec.partitioning.names):
            message = f"the table's partition keys are {key_names}"
            outcome.failed = [
                FailedPartition(p, "PartitionKeysMismatch", message) for p in partitions
            ]
            outcome.deregister_failed = [
                FailedPartition(p, "PartitionKeysMismatch", message) for p in stale
            ]
            return outcome
        created = self._in_batches(
            "BatchCreatePartition",
            spec.name,
            [(p, _partition_input(definition, key_names, p)) for p in partitions],
            MAX_PARTITIONS_PER_CALL,
            ALREADY_EXISTS,
        )
        outcome.registered, outcome.already_present, outcome.failed = created
        deleted = self._in_batches(
            "BatchDeletePartition",
            spec.name,
            [(p, _partition_values(key_names, p)) for p in stale],
            MAX_PARTITIONS_PER_DELETE,
            ALREADY_ABSENT,
        )
        outcome.deregistered, outcome.already_absent, outcome.deregister_failed = deleted
        logger.info(
            "catalog %s.%s: %d partition(s) registered, %d already present, %d failed; "
            "%d stale partition(s) deregistered, %d already absent, %d failed",
            self.database,
            spec.name,
            len(outcome.registered),
            len(outcome.already_present),
            len(outcome.failed),
            len(outcome.deregistered),
            len(outcome.already_absent),
            len(outcome.deregister_failed),
        )
        for failure in outcome.deregister_failed:
            logger.warning(
                "stale partition %s of %s.%s is still registered (%s: %s): delete it with "
                "BatchDeletePartition",
                failure.partition.value_map(),
                self.database,
                spec.name,
                failure.error_code,
                failure.error_message,
            )
        return outcome

    def _in_batches(
        self,
        operation: str,
        table: str,
        entries: Sequence[tuple[TablePartition, _Entry]],
        batch_size: int,
        benign_code: str,
    ) -> tuple[list[TablePartition], list[TablePartition], list[FailedPartition]]:
        """`operation` over `entries` in batches of `batch_size`: (done, answered with
        `benign_code` (already so), failed)."""
        done: list[TablePartition] = []
        benign: list[TablePartition] = []
        failed: list[FailedPartition] = []
        for start in range(0, len(entries), batch_size):
            batch = {
                tuple(entry["Values"]): (partition, entry)
                for partition, entry in entries[start : start + batch_size]
            }
            outcome = self._batch(operation, table, batch, benign_code)
            done += outcome[0]
            benign += outcome[1]
            failed += outcome[2]
        return done, benign, failed

    def _batch(
        self,
        operation: str,
        table: str,
        batch: dict[tuple[str, ...], tuple[TablePartition, _Entry]],
        benign_code: str,
    ) -> tuple[list[TablePartition], list[TablePartition], list[FailedPartition]]:
        """One Batch{Create,Delete}Partition call's worth, retrying what may succeed later."""
        from botocore.exceptions import BotoCoreError, ClientError  # only the Glue side needs it

        done: list[TablePartition] = []
        benign: list[TablePartition] = []
        failed: list[FailedPartition] = []
        pending = dict(batch)
        last: dict[tuple[str, ...], tuple[str, str]] = {}
        for attempt in range(self.backoff.max_attempts):
            if attempt:
                self._sleep(self.backoff.delay(attempt - 1, self._draw))
            try:
                response = self._send(operation, table, [entry for _, entry in pending.values()])
            except ClientError as exc:
                code, message = _error_code(exc), str(exc)
                if code in FATAL_ERROR_CODES:
                    raise self._fatal(operation, table, code, message) from exc
                last = {values: (code, message) for values in pending}
                if code in RETRYABLE_ERROR_CODES:
                    continue
                break
            except BotoCoreError as exc:  # connection errors that outlived botocore's retries
                last = {values: (type(exc).__name__, str(exc)) for values in pending}
                continue
            errors = {
                tuple(error.get("PartitionValues", [])): error.get("ErrorDetail", {})
                for error in response.get("Errors", [])
            }
            retry: dict[tuple[str, ...], tuple[TablePartition, _Entry]] = {}
            for values, (partition, entry) in pending.items():
                detail = errors.get(values)
                if detail is None:
                    done.append(partition)
                    continue
                code = detail.get("ErrorCode", "UnknownError")
                message = detail.get("ErrorMessage", "")
                if code == benign_code:
                    benign.append(partition)
                elif code in RETRYABLE_ERROR_CODES:
                    retry[values] = (partition, entry)
                    last[values] = (code, message)
                else:
                    failed.append(FailedPartition(partition, code, message))
            pending = retry
            if not pending:
                return done, benign, failed
        for values, (partition, _) in pending.items():
            code, message = last.get(values, ("UnknownError", ""))
            failed.append(FailedPartition(partition, code, message))
        return done, benign, failed

    def _send(self, operation: str, table: str, entries: list[_Entry]) -> Mapping[str, Any]:
        if operation == "BatchCreatePartition":
            inputs = cast("list[PartitionInputTypeDef]", entries)
            return self.client.batch_create_partition(
                DatabaseName=self.database, TableName=table, PartitionInputList=inputs
            )
        values = cast("list[PartitionValueListTypeDef]", entries)
        return self.client.batch_delete_partition(
            DatabaseName=self.database, TableName=table, PartitionsToDelete=values
        )

    def _get_table(self, table: str) -> TableTypeDef:
        """GetTable, retried while the error is transient; fatal errors raise."""
        from botocore.exceptions import BotoCoreError, ClientError  # only the Glue side needs it

        code, message = "UnknownError", ""
        for attempt in range(self.backoff.max_attempts):
            if attempt:
                self._sleep(self.backoff.delay(attempt - 1, self._draw))
            try:
                return self.client.get_table(DatabaseName=self.database, Name=table)["Table"]
            except ClientError as exc:
                code, message = _error_code(exc), str(exc)
                # InvalidInputException here means a malformed database name.
                if code in FATAL_ERROR_CODES or code == "InvalidInputException":
                    raise self._fatal("GetTable", table, code, message) from exc
                if code not in RETRYABLE_ERROR_CODES:
                    break
            except BotoCoreError as exc:
                code, message = type(exc).__name__, str(exc)
        raise _GaveUpError(code, message)

    def _fatal(
        self, operation: str, table: str, code: str, message: str
    ) -> CatalogRegistrationError:
        if code == "AccessDeniedException":
            hint = (
                "grant the job role glue:GetTable, glue:BatchCreatePartition and "
                "glue:BatchDeletePartition on it"
            )
        else:
            hint = "apply the Terraform that defines the tables, or fix --catalog_database"
        where = f"Glue table {self.database}.{table}"
        return CatalogRegistrationError(
            f"{operation} on {where} failed with {code} ({message}): {hint}"
        )


def glue_partition_catalog(database: str, region: str | None = None) -> GluePartitionCatalog:
    """The Glue Data Catalog `database` in `region` through a boto3 client (endpoint from the
    standard AWS settings). The region must be given, never left to the environment: the Glue
    job's is not documented to name one. botocore retries each call only a little: the
    registration's own backoff (`Backoff`) is the retry policy, and the two would multiply.
    """
    import boto3  # only the Glue side needs it
    from botocore.config import Config

    if region is None or not region.strip():
        raise CatalogRegistrationError(
            "no AWS region for the Glue Data Catalog: give the Glue job --aws_region (or the "
            "lake's region)"
        )
    config = Config(
        retries={"mode": "standard", "max_attempts": 2}, connect_timeout=10, read_timeout=60
    )
    client = boto3.session.Session().client("glue", region_name=region.strip(), config=config)
    return GluePartitionCatalog(client, database)


class _GaveUpError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "UnknownError"))


def _partition_values(
    key_names: Sequence[str], partition: TablePartition
) -> PartitionValueListTypeDef:
    """A partition as BatchDeletePartition names it: its Values in the table's key order."""
    values: Mapping[str, str] = partition.value_map()
    return {"Values": [values[name] for name in key_names]}


def _partition_input(
    definition: TableTypeDef, key_names: Sequence[str], partition: TablePartition
) -> PartitionInputTypeDef:
    """The table's storage descriptor with the partition's own location; Values in key order."""
    descriptor: Any = copy.deepcopy(definition.get("StorageDescriptor", {}))
    table_location = str(descriptor.get("Location", "")).rstrip("/")
    descriptor["Location"] = f"{table_location}/{partition.relative_location()}"
    values: Mapping[str, str] = partition.value_map()
    return {"Values": [values[name] for name in key_names], "StorageDescriptor": descriptor}
