"""Partition registration on moto's Glue Data Catalog, with tables made from the Terraform.

AWS rules encoded here, from the Glue Web API reference:
* BatchCreatePartition: "PartitionInputList ... Array Members: Minimum number of 0 items.
  Maximum number of 100 items" (moto does not enforce it, so the call sizes are asserted).
  Per-partition failures come back in the response's `Errors` (PartitionValues +
  ErrorDetail.ErrorCode); the call's own errors include AlreadyExistsException,
  EntityNotFoundException, InternalServiceException, InvalidInputException,
  OperationTimeoutException, ResourceNumberLimitExceededException, GlueEncryptionException.
  https://docs.aws.amazon.com/glue/latest/webapi/API_BatchCreatePartition.html
* GetTable: EntityNotFoundException when the database or the table does not exist.
  https://docs.aws.amazon.com/glue/latest/webapi/API_GetTable.html
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from b3pipeline import lake as lake_layout
from b3pipeline.catalog_registration import (
    MAX_PARTITIONS_PER_CALL,
    MAX_PARTITIONS_PER_DELETE,
    Backoff,
    GluePartitionCatalog,
    LocalPartitionCatalog,
    TablePartition,
    glue_partition_catalog,
    glue_type,
    hive_partition,
    partitions_deleted,
    partitions_written,
    schema_differences,
    table_spec,
)
from b3pipeline.errors import CatalogRegistrationError
from b3pipeline.lake import Lake, quotes_daily_key, quotes_monthly_key, raw_quotes_key
from b3pipeline.run_summary import record_transform_run
from b3pipeline.scrape import scrape
from b3pipeline.tables import TABLES
from b3pipeline.transform import TransformResult, run_transform
from tests.support.botocore_models import member_shape
from tests.support.glue_tables import create_terraform_catalog, terraform_table_inputs
from tests.support.quotes import StaticQuoteSource, make_bars
from tests.support.transform_results import transform_result as build_transform_result

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

BUCKET = "b3-lake-test"
NOW = datetime(2025, 8, 29, 22, 0, tzinfo=UTC)


# -- fixtures --------------------------------------------------------------------------------------
@dataclass
class Glue:
    client: GlueClient
    database: str
    batch_sizes: dict[str, list[int]] = field(default_factory=dict)
    delete_sizes: dict[str, list[int]] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)

    def catalog(self, client: Any = None, **options: Any) -> GluePartitionCatalog:
        return GluePartitionCatalog(
            client or self.client,
            self.database,
            sleep=self.sleeps.append,
            draw=lambda: 1.0,
            **options,
        )

    def partitions(self, table: str) -> list[Any]:
        paginator = self.client.get_paginator("get_partitions")
        pages = paginator.paginate(DatabaseName=self.database, TableName=table)
        found = [partition for page in pages for partition in page["Partitions"]]
        return sorted(found, key=lambda p: p["Values"])


@pytest.fixture
def glue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Glue]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # A unique database: under the workflow suite's session-wide mock_aws this one nests in
    # it and shares its backend.
    database = f"b3_lake_{uuid.uuid4().hex[:12]}"
    with mock_aws():
        client: GlueClient = boto3.client("glue")
        create_terraform_catalog(client, database, BUCKET)
        state = Glue(client, database)

        def record(params: dict[str, Any], **_: Any) -> None:
            sizes = state.batch_sizes.setdefault(params["TableName"], [])
            sizes.append(len(params["PartitionInputList"]))

        def record_delete(params: dict[str, Any], **_: Any) -> None:
            sizes = state.delete_sizes.setdefault(params["TableName"], [])
            sizes.append(len(params["PartitionsToDelete"]))

        client.meta.events.register("provide-client-params.glue.BatchCreatePartition", record)
        client.meta.events.register(
            "provide-client-params.glue.BatchDeletePartition", record_delete
        )
        yield state


def transform_result(tickers: list[str], days: list[date]) -> TransformResult:
    return build_transform_result(tickers, days, NOW)


def tickers(count: int) -> list[str]:
    return [f"TK{index:02d}3" if index < 100 else f"T{index:03d}3" for index in range(count)]


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} (test)"}}, operation)


# -- partitions of a run -------------------------------------------------------------------------
def test_hive_partition_reads_the_values_from_a_key() -> None:
    daily = table_spec("quotes_daily")
    partition = hive_partition(daily, quotes_daily_key(date(2025, 8, 4), "PETR4"))
    assert partition == TablePartition("quotes_daily", (("dt", "2025-08-04"), ("ticker", "PETR4")))
    assert partition.relative_location() == "dt=2025-08-04/ticker=PETR4/"
    monthly = hive_partition(table_spec("quotes_monthly"), quotes_monthly_key("2025-08", "VALE3"))
    assert monthly.value_map() == {"month": "2025-08", "ticker": "VALE3"}


@pytest.mark.parametrize(
    "key",
    [
        "raw/quotes/dt=2025-08-04/ticker=PETR4/quotes.parquet",  # another table
        "refined/quotes_daily/ticker=PETR4/dt=2025-08-04/part-0.parquet",  # wrong order
        "refined/quotes_daily/dt=2025-08-04/part-0.parquet",  # a folder missing
        "refined/quotes_daily/dt=/ticker=PETR4/part-0.parquet",  # empty value
        "refined/quotes_daily/dt=2025-08-04/PETR4/part-0.parquet",  # not name=value
    ],
)
def test_hive_partition_rejects_keys_outside_the_layout(key: str) -> None:
    with pytest.raises(CatalogRegistrationError, match="is not a partition file of quotes_daily"):
        hive_partition(table_spec("quotes_daily"), key)


def test_partitions_written_pairs_raw_with_daily_and_adds_monthly() -> None:
    result = transform_result(["VALE3", "PETR4"], [date(2025, 7, 31), date(2025, 8, 1)])
    partitions = partitions_written(result)
    assert [(p.table, p.values) for p in partitions] == [
        ("quotes_daily", (("dt", "2025-07-31"), ("ticker", "PETR4"))),
        ("quotes_daily", (("dt", "2025-07-31"), ("ticker", "VALE3"))),
        ("quotes_daily", (("dt", "2025-08-01"), ("ticker", "PETR4"))),
        ("quotes_daily", (("dt", "2025-08-01"), ("ticker", "VALE3"))),
        ("quotes_monthly", (("month", "2025-07"), ("ticker", "PETR4"))),
        ("quotes_monthly", (("month", "2025-07"), ("ticker", "VALE3"))),
        ("quotes_monthly", (("month", "2025-08"), ("ticker", "PETR4"))),
        ("quotes_monthly", (("month", "2025-08"), ("ticker", "VALE3"))),
        ("raw_quotes", (("dt", "2025-07-31"), ("ticker", "PETR4"))),
        ("raw_quotes", (("dt", "2025-07-31"), ("ticker", "VALE3"))),
        ("raw_quotes", (("dt", "2025-08-01"), ("ticker", "PETR4"))),
        ("raw_quotes", (("dt", "2025-08-01"), ("ticker", "VALE3"))),
    ]


def test_partitions_written_by_a_real_run_are_the_files_of_its_window(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    bars = make_bars("PETR4", date(2025, 7, 1), 30) + make_bars("VALE3", date(2025, 7, 1), 30)
    scrape(StaticQuoteSource(bars), lake, ["PETR4", "VALE3"], now=NOW)
    start, end = date(2025, 7, 30), date(2025, 8, 4)
    result = run_transform(lake, ["PETR4", "VALE3"], start, end, now=NOW)

    by_table: dict[str, set[tuple[tuple[str, str], ...]]] = {t.name: set() for t in TABLES}
    for partition in partitions_written(result):
        by_table[partition.table].add(partition.values)
    raw_in_window = {
        (("dt", p.values["dt"]), ("ticker", p.values["ticker"]))
        for p in lake.list_partitions(
            lake_layout.RAW_QUOTES, lake_layout.RAW_QUOTES_FILE, start.isoformat(), end.isoformat()
        )
    }
    assert len(raw_in_window) == 8  # Jul 30, 31, Aug 1, 4 for two tickers
    assert by_table["raw_quotes"] == raw_in_window
    assert by_table["quotes_daily"] == raw_in_window
    assert by_table["quotes_monthly"] == {
        (("month", m), ("ticker", t)) for m in ("2025-07", "2025-08") for t in ("PETR4", "VALE3")
    }
    for partition in partitions_written(result):
        table = table_spec(partition.table)
        keys = lake.list_keys(f"{table.location}/{partition.relative_location()}")
        assert len(keys) == 1, f"{partition} has no file in the lake"


# -- schema ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.date32(), "date"),
        (pa.float64(), "double"),
        (pa.float32(), "float"),
        (pa.int64(), "bigint"),
        (pa.int32(), "int"),
        (pa.int16(), "smallint"),
        (pa.int8(), "tinyint"),
        (pa.bool_(), "boolean"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.timestamp("ns"), "timestamp"),
    ],
)
def test_glue_type_names(arrow_type: pa.DataType, expected: str) -> None:
    assert glue_type(arrow_type) == expected


def test_glue_type_refuses_a_type_it_does_not_know() -> None:
    with pytest.raises(CatalogRegistrationError, match="no Glue type for the Arrow type"):
        glue_type(pa.list_(pa.int64()))


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_the_terraform_tables_match_the_files(table: Any) -> None:
    definition = terraform_table_inputs(BUCKET)[table.name]
    assert schema_differences(table, definition) == []


def test_schema_differences_name_each_difference() -> None:
    definition = terraform_table_inputs(BUCKET)["quotes_daily"]
    columns = definition["StorageDescriptor"]["Columns"]
    columns[:] = [c for c in columns if c["Name"] != "sma_50"]  # missing
    next(c for c in columns if c["Name"] == "volume")["Type"] = "int"  # narrower
    columns.append({"Name": "note", "Type": "string"})  # not in the files
    columns.reverse()  # order of data columns does not matter
    definition["PartitionKeys"].reverse()
    assert schema_differences(table_spec("quotes_daily"), definition) == [
        "column sma_50 (double) is missing",
        "column volume is int, the files hold bigint",
        "column note (string) is not in the files",
        "partition keys are (ticker string, dt string), the lake has (dt string, ticker string)",
    ]


# -- registration on moto's Glue -----------------------------------------------------------------
def test_more_than_100_partitions_go_in_calls_of_at_most_100(glue: Glue) -> None:
    result = transform_result(tickers(60), [date(2025, 8, 4), date(2025, 8, 5)])
    registration = glue.catalog().register_partitions(partitions_written(result))

    assert glue.batch_sizes == {
        "raw_quotes": [100, 20],
        "quotes_daily": [100, 20],
        "quotes_monthly": [60],
    }
    assert MAX_PARTITIONS_PER_CALL == 100
    assert {name: len(t.registered) for name, t in registration.tables.items()} == {
        "raw_quotes": 120,
        "quotes_daily": 120,
        "quotes_monthly": 60,
    }
    assert registration.current and registration.catalog == "glue"
    assert registration.database == glue.database
    assert glue.sleeps == []

    daily = glue.partitions("quotes_daily")
    assert len(daily) == 120
    first = daily[0]
    assert first["Values"] == ["2025-08-04", "TK003"]
    table = glue.client.get_table(DatabaseName=glue.database, Name="quotes_daily")["Table"]
    descriptor = first["StorageDescriptor"]
    assert (
        descriptor["Location"] == f"s3://{BUCKET}/refined/quotes_daily/dt=2025-08-04/ticker=TK003/"
    )
    for copied in ("Columns", "InputFormat", "OutputFormat", "SerdeInfo"):
        assert descriptor[copied] == table["StorageDescriptor"][copied]
    monthly = glue.partitions("quotes_monthly")
    assert monthly[-1]["Values"] == ["2025-08", "TK593"]
    assert monthly[-1]["StorageDescriptor"]["Location"] == (
        f"s3://{BUCKET}/refined/quotes_monthly/month=2025-08/ticker=TK593/"
    )
    raw = glue.partitions("raw_quotes")
    assert [p["Values"] for p in raw] == [p["Values"] for p in daily]
    assert raw[0]["StorageDescriptor"]["Location"] == (
        f"s3://{BUCKET}/raw/quotes/dt=2025-08-04/ticker=TK003/"
    )


def test_a_rerun_registers_nothing_and_finds_every_partition_present(glue: Glue) -> None:
    partitions = partitions_written(
        transform_result(tickers(60), [date(2025, 8, 4), date(2025, 8, 5)])
    )
    glue.catalog().register_partitions(partitions)
    before = {t.name: glue.partitions(t.name) for t in TABLES}

    again = glue.catalog().register_partitions(partitions)

    assert {
        n: (len(t.registered), len(t.already_present), len(t.failed))
        for n, t in again.tables.items()
    } == {
        "raw_quotes": (0, 120, 0),
        "quotes_daily": (0, 120, 0),
        "quotes_monthly": (0, 60, 0),
    }
    assert again.current
    assert {t.name: glue.partitions(t.name) for t in TABLES} == before
    assert glue.sleeps == []


def test_partition_values_follow_the_tables_partition_key_order(glue: Glue) -> None:
    table = glue.client.get_table(DatabaseName=glue.database, Name="raw_quotes")["Table"]
    glue.client.update_table(
        DatabaseName=glue.database,
        TableInput={
            "Name": "raw_quotes",
            "StorageDescriptor": table["StorageDescriptor"],
            "PartitionKeys": [
                {"Name": "ticker", "Type": "string"},
                {"Name": "dt", "Type": "string"},
            ],
        },
    )
    registration = glue.catalog().register_partitions(
        partitions_written(transform_result(["PETR4"], [date(2025, 8, 4)]))
    )
    (partition,) = glue.partitions("raw_quotes")
    assert partition["Values"] == ["PETR4", "2025-08-04"]
    assert partition["StorageDescriptor"]["Location"].endswith(
        "/raw/quotes/dt=2025-08-04/ticker=PETR4/"
    )
    assert registration.tables["raw_quotes"].schema_differences == [
        "partition keys are (ticker string, dt string), the lake has (dt string, ticker string)"
    ]
    assert not registration.current


def test_a_schema_difference_makes_the_catalog_not_current(glue: Glue) -> None:
    table = glue.client.get_table(DatabaseName=glue.database, Name="quotes_monthly")["Table"]
    descriptor: Any = table["StorageDescriptor"]
    descriptor["Columns"] = [c for c in descriptor["Columns"] if c["Name"] != "monthly_return_pct"]
    glue.client.update_table(
        DatabaseName=glue.database,
        TableInput={
            "Name": "quotes_monthly",
            "StorageDescriptor": descriptor,
            "PartitionKeys": table["PartitionKeys"],
        },
    )
    registration = glue.catalog().register_partitions(
        partitions_written(transform_result(["PETR4"], [date(2025, 8, 4)]))
    )
    assert registration.tables["quotes_monthly"].schema_differences == [
        "column monthly_return_pct (double) is missing"
    ]
    assert registration.tables["quotes_daily"].schema_matches
    assert not registration.schema_matches and not registration.current
    assert len(registration.tables["quotes_monthly"].registered) == 1  # registered all the same


@dataclass
class ScriptedGlue:
    """The moto client, with BatchCreatePartition answering from a script first."""

    real: GlueClient
    script: list[Any]  # per call: an exception to raise, or {values tuple: error code}
    calls: list[list[list[str]]] = field(default_factory=list)

    def get_table(self, **kwargs: Any) -> Any:
        return self.real.get_table(**kwargs)

    def batch_create_partition(self, **kwargs: Any) -> Any:
        self.calls.append([list(entry["Values"]) for entry in kwargs["PartitionInputList"]])
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        response = self.real.batch_create_partition(**kwargs)
        if step:
            response["Errors"] = [
                {
                    "PartitionValues": list(values),
                    "ErrorDetail": {"ErrorCode": code, "ErrorMessage": code},
                }
                for values, code in step.items()
            ]
            # moto created them; the scripted ones must not exist, as in Glue
            for values in step:
                self.real.delete_partition(
                    DatabaseName=kwargs["DatabaseName"],
                    TableName=kwargs["TableName"],
                    PartitionValues=list(values),
                )
        return response


def test_call_level_throttling_is_retried_with_backoff(glue: Glue) -> None:
    throttled = _client_error("ThrottlingException", "BatchCreatePartition")
    scripted = ScriptedGlue(glue.client, [throttled, throttled])
    registration = glue.catalog(scripted).register_partitions(
        partitions_written(transform_result(["PETR4", "VALE3"], [date(2025, 8, 4)]))
    )
    assert registration.current
    assert [len(call) for call in scripted.calls] == [2, 2, 2, 2, 2]  # raw x3, daily, monthly
    assert glue.sleeps == [0.2, 0.4]  # draw() = 1.0: the full exponential delay
    assert len(glue.partitions("quotes_daily")) == 2


def test_per_partition_throttling_retries_only_those_partitions(glue: Glue) -> None:
    scripted = ScriptedGlue(
        glue.client,
        [
            {("2025-08-04", "VALE3"): "ThrottlingException"},
            {("2025-08-04", "VALE3"): "InternalServiceException"},
        ],
    )
    registration = glue.catalog(scripted).register_partitions(
        partitions_written(transform_result(["PETR4", "VALE3"], [date(2025, 8, 4)]))
    )
    daily_calls = scripted.calls[:3]
    assert daily_calls == [
        [["2025-08-04", "PETR4"], ["2025-08-04", "VALE3"]],
        [["2025-08-04", "VALE3"]],
        [["2025-08-04", "VALE3"]],
    ]
    assert glue.sleeps == [0.2, 0.4]
    first = registration.tables["raw_quotes"]  # tables are registered in TABLES order
    assert [p.value_map()["ticker"] for p in first.registered] == ["PETR4", "VALE3"]
    assert registration.current


def test_throttling_that_does_not_stop_fails_the_partitions_after_bounded_attempts(
    glue: Glue,
) -> None:
    throttled = _client_error("ThrottlingException", "BatchCreatePartition")
    scripted = ScriptedGlue(glue.client, [throttled] * 4)
    catalog = glue.catalog(
        scripted, backoff=Backoff(max_attempts=4, base_seconds=1.0, cap_seconds=3.0)
    )
    registration = catalog.register_partitions(
        partitions_written(transform_result(["PETR4"], [date(2025, 8, 4)]))
    )
    first = registration.tables[TABLES[0].name]
    assert [(f.partition.value_map(), f.error_code) for f in first.failed] == [
        ({"dt": "2025-08-04", "ticker": "PETR4"}, "ThrottlingException")
    ]
    assert glue.sleeps == [1.0, 2.0, 3.0]  # capped at 3
    assert len(scripted.calls) == 4 + 2  # the other two tables succeed at once
    assert not registration.current


def test_a_per_partition_error_is_recorded_as_failed(glue: Glue) -> None:
    scripted = ScriptedGlue(
        glue.client, [{("2025-08-04", "VALE3"): "ResourceNumberLimitExceededException"}]
    )
    registration = glue.catalog(scripted).register_partitions(
        partitions_written(transform_result(["PETR4", "VALE3"], [date(2025, 8, 4)]))
    )
    first = registration.tables[TABLES[0].name]
    assert [p.value_map()["ticker"] for p in first.registered] == ["PETR4"]
    assert [(f.partition.value_map()["ticker"], f.error_code) for f in first.failed] == [
        ("VALE3", "ResourceNumberLimitExceededException")
    ]
    assert glue.sleeps == []
    assert not registration.current and registration.schema_matches


def test_a_call_rejected_for_its_input_fails_the_batch_without_retrying(glue: Glue) -> None:
    scripted = ScriptedGlue(
        glue.client, [_client_error("InvalidInputException", "BatchCreatePartition")]
    )
    registration = glue.catalog(scripted).register_partitions(
        partitions_written(transform_result(["PETR4", "VALE3"], [date(2025, 8, 4)]))
    )
    first = registration.tables[TABLES[0].name]
    assert [f.error_code for f in first.failed] == ["InvalidInputException"] * 2
    assert first.registered == [] and glue.sleeps == []


def test_a_missing_database_fails_the_run(glue: Glue) -> None:
    catalog = GluePartitionCatalog(glue.client, "no_such_database", sleep=glue.sleeps.append)
    with pytest.raises(CatalogRegistrationError) as raised:
        catalog.register_partitions(
            partitions_written(transform_result(["PETR4"], [date(2025, 8, 4)]))
        )
    message = str(raised.value)
    assert (
        "GetTable on Glue table no_such_database.raw_quotes failed with EntityNotFoundException"
        in message
    )
    assert "apply the Terraform" in message
    assert glue.sleeps == []


def test_a_missing_table_fails_the_run(glue: Glue) -> None:
    glue.client.delete_table(DatabaseName=glue.database, Name="quotes_monthly")
    with pytest.raises(
        CatalogRegistrationError, match=r"\.quotes_monthly failed with EntityNotFound"
    ):
        glue.catalog().register_partitions([])


def test_access_denied_fails_the_run_with_what_to_grant(glue: Glue) -> None:
    denied = _client_error("AccessDeniedException", "BatchCreatePartition")
    scripted = ScriptedGlue(glue.client, [denied])
    with pytest.raises(
        CatalogRegistrationError,
        match=(
            "grant the job role glue:GetTable, glue:BatchCreatePartition and "
            "glue:BatchDeletePartition"
        ),
    ):
        glue.catalog(scripted).register_partitions(
            partitions_written(transform_result(["PETR4"], [date(2025, 8, 4)]))
        )


def test_a_table_that_cannot_be_read_fails_its_partitions_only(glue: Glue) -> None:
    class ThrottledGetTable(ScriptedGlue):
        def get_table(self, **kwargs: Any) -> Any:
            if kwargs["Name"] == "quotes_monthly":
                raise _client_error("ThrottlingException", "GetTable")
            return self.real.get_table(**kwargs)

    catalog = glue.catalog(ThrottledGetTable(glue.client, []), backoff=Backoff(max_attempts=2))
    registration = catalog.register_partitions(
        partitions_written(transform_result(["PETR4"], [date(2025, 8, 4)]))
    )
    monthly = registration.tables["quotes_monthly"]
    assert [f.error_code for f in monthly.failed] == ["ThrottlingException"]
    assert monthly.schema_differences == ["cannot read the table definition: ThrottlingException"]
    assert len(registration.tables["quotes_daily"].registered) == 1
    assert glue.sleeps == [0.2]
    assert glue.partitions("quotes_monthly") == []


def test_an_empty_database_name_is_refused(glue: Glue) -> None:
    with pytest.raises(CatalogRegistrationError, match="give --catalog_database"):
        GluePartitionCatalog(glue.client, " ")


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    backoff = Backoff(max_attempts=6, base_seconds=0.5, cap_seconds=3.0)
    assert [backoff.delay(n, lambda: 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert [backoff.delay(n, lambda: 0.25) for n in range(3)] == [0.125, 0.25, 0.5]


# -- the local catalog --------------------------------------------------------------------------
def test_the_local_catalog_reports_every_partition_present() -> None:
    partitions = partitions_written(transform_result(["PETR4", "VALE3"], [date(2025, 8, 4)]))
    registration = LocalPartitionCatalog().register_partitions(partitions)
    assert registration.catalog == "local" and registration.database is None
    assert {n: len(t.already_present) for n, t in registration.tables.items()} == {
        "raw_quotes": 2,
        "quotes_daily": 2,
        "quotes_monthly": 2,
    }
    assert all(not t.registered and not t.failed for t in registration.tables.values())
    assert registration.current


def test_partitions_of_an_unknown_table_are_refused() -> None:
    stray = TablePartition("quotes_weekly", (("week", "2025-32"),))
    with pytest.raises(CatalogRegistrationError, match="unknown table 'quotes_weekly'"):
        LocalPartitionCatalog().register_partitions([stray])


def test_raw_keys_parse_like_the_daily_ones() -> None:
    raw = hive_partition(table_spec("raw_quotes"), raw_quotes_key(date(2025, 8, 4), "PETR4"))
    assert raw.values == (("dt", "2025-08-04"), ("ticker", "PETR4"))


def test_a_connection_error_that_outlived_botocore_is_retried(glue: Glue) -> None:
    lost = EndpointConnectionError(endpoint_url="https://glue.us-east-1.amazonaws.com/")
    scripted = ScriptedGlue(glue.client, [lost])
    registration = glue.catalog(scripted).register_partitions(
        partitions_written(transform_result(["PETR4"], [date(2025, 8, 4)]))
    )
    assert registration.current
    assert [len(call) for call in scripted.calls] == [1, 1, 1, 1]
    assert glue.sleeps == [0.2]


# -- stale partitions ------------------------------------------------------------------------------
# Glue, BatchDeletePartition: PartitionsToDelete holds at most 25 partition value lists
# (botocore's glue model); moto deletes any number in one call, so the calls are counted.


def test_the_delete_batch_size_is_glues() -> None:
    limit = member_shape("glue", "BatchDeletePartitionRequest", "PartitionsToDelete")["max"]
    assert MAX_PARTITIONS_PER_DELETE == limit == 25


def test_partitions_deleted_pairs_raw_with_daily_and_keeps_monthly() -> None:
    result = transform_result(["PETR4"], [date(2025, 8, 4)])
    result.deleted_keys = [
        quotes_daily_key(date(2025, 8, 1), "PETR4"),
        quotes_monthly_key("2025-07", "VALE3"),
    ]
    assert partitions_deleted(result) == [
        TablePartition("quotes_daily", (("dt", "2025-08-01"), ("ticker", "PETR4"))),
        TablePartition("quotes_monthly", (("month", "2025-07"), ("ticker", "VALE3"))),
        TablePartition("raw_quotes", (("dt", "2025-08-01"), ("ticker", "PETR4"))),
    ]


def test_stale_partitions_are_deregistered_in_calls_of_at_most_25(glue: Glue) -> None:
    days = [date(2025, 8, 4), date(2025, 8, 5)]
    first = transform_result(tickers(60), days)
    glue.catalog().register_partitions(partitions_written(first))
    # The rerun finds the raw data of 2025-08-05 gone for every ticker: it deletes those
    # daily files, and 30 tickers' monthly files.
    rerun = transform_result(tickers(60), days[:1])
    rerun.deleted_keys = [quotes_daily_key(days[1], t) for t in tickers(60)]
    rerun.deleted_keys += [quotes_monthly_key("2025-07", t) for t in tickers(30)]
    glue.catalog().register_partitions(
        partitions_written(transform_result(tickers(30), [date(2025, 7, 31)]))
    )

    registration = glue.catalog().register_partitions(
        partitions_written(rerun), partitions_deleted(rerun)
    )

    assert glue.delete_sizes == {
        "raw_quotes": [25, 25, 10],
        "quotes_daily": [25, 25, 10],
        "quotes_monthly": [25, 5],
    }
    counts = {
        name: (len(t.deregistered), len(t.already_absent), len(t.deregister_failed))
        for name, t in registration.tables.items()
    }
    assert counts == {
        "raw_quotes": (60, 0, 0),
        "quotes_daily": (60, 0, 0),
        "quotes_monthly": (30, 0, 0),
    }
    assert registration.current
    for table in ("raw_quotes", "quotes_daily"):
        left = {p["Values"][0] for p in glue.partitions(table)}
        assert left == {"2025-07-31", "2025-08-04"}, table
    assert {p["Values"][0] for p in glue.partitions("quotes_monthly")} == {"2025-08"}

    again = glue.catalog().register_partitions(partitions_written(rerun), partitions_deleted(rerun))
    assert {n: len(t.already_absent) for n, t in again.tables.items()} == {
        "raw_quotes": 60,
        "quotes_daily": 60,
        "quotes_monthly": 30,
    }
    assert not any(t.deregistered for t in again.tables.values())


@dataclass
class ThrottledDeletes:
    """The real client, whose BatchDeletePartition always answers ThrottlingException."""

    real: GlueClient
    calls: int = 0

    def get_table(self, **kwargs: Any) -> Any:
        return self.real.get_table(**kwargs)

    def batch_create_partition(self, **kwargs: Any) -> Any:
        return self.real.batch_create_partition(**kwargs)

    def batch_delete_partition(self, **kwargs: Any) -> Any:
        self.calls += 1
        raise _client_error("ThrottlingException", "BatchDeletePartition")


def test_a_stale_partition_that_stays_registered_is_reported_not_fatal(glue: Glue) -> None:
    """A crawl cannot remove it (its delete behaviour is LOG): the catalog stays current and
    the partition is listed for a person to delete."""
    result = transform_result(["PETR4"], [date(2025, 8, 4)])
    result.deleted_keys = [quotes_monthly_key("2025-07", "PETR4")]
    glue.catalog().register_partitions(
        partitions_written(transform_result(["PETR4"], [date(2025, 7, 31)]))
    )
    throttled = ThrottledDeletes(glue.client)
    registration = glue.catalog(throttled).register_partitions(
        partitions_written(result), partitions_deleted(result)
    )
    monthly = registration.tables["quotes_monthly"]
    assert [f.error_code for f in monthly.deregister_failed] == ["ThrottlingException"]
    assert throttled.calls == 6  # Backoff().max_attempts
    assert registration.current
    assert [p["Values"] for p in glue.partitions("quotes_monthly")] == [
        ["2025-07", "PETR4"],
        ["2025-08", "PETR4"],
    ]


def test_a_real_rerun_deregisters_what_it_deleted(tmp_path: Path, glue: Glue) -> None:
    """run_transform deletes the refined files whose raw file is gone; the run summary's
    recording deregisters their partitions, and counts them."""
    lake = Lake.open(str(tmp_path / "lake"))
    bars = make_bars("PETR4", date(2025, 8, 1), 10) + make_bars("VALE3", date(2025, 8, 1), 10)
    scrape(StaticQuoteSource(bars), lake, ["PETR4", "VALE3"], now=NOW)
    start, end = date(2025, 8, 4), date(2025, 8, 8)
    first = run_transform(lake, ["PETR4", "VALE3"], start, end, now=NOW)
    record_transform_run(lake, first, glue.catalog(), "jr_first")
    lake.delete(raw_quotes_key(date(2025, 8, 6), "VALE3"))

    rerun = run_transform(lake, ["PETR4", "VALE3"], start, end, now=NOW)
    summary = record_transform_run(lake, rerun, glue.catalog(), "jr_rerun")

    assert rerun.deleted_keys == [quotes_daily_key(date(2025, 8, 6), "VALE3")]
    stale = {"dt": "2025-08-06", "ticker": "VALE3"}
    for table in ("raw_quotes", "quotes_daily"):
        assert stale not in [
            dict(zip(["dt", "ticker"], p["Values"])) for p in glue.partitions(table)
        ]
    document = summary.to_dict()
    assert (document["partitions"]["stale"], document["partitions"]["deregistered"]) == (2, 2)
    assert document["tables"]["quotes_daily"]["deregistered"] == 1
    assert document["catalog_current"] is True


def test_the_glue_catalog_needs_a_region() -> None:
    """Never the environment's (the Glue job's is not documented to carry one)."""
    for region in (None, " "):
        with pytest.raises(CatalogRegistrationError, match="no AWS region for the Glue"):
            glue_partition_catalog("b3_lake", region)
