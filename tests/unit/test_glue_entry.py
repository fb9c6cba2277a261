"""The Glue entry: argument parsing (with and without awsglue) and the main() contract.

Spark itself is replaced by an in-process fake here (unit tests have no sockets, and a JVM
per test would be slow); tests/spark runs the same script on a real local SparkSession.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from b3pipeline.errors import (
    CatalogRegistrationError,
    InvalidDateRangeError,
    InvalidRequestError,
    InvalidTickerError,
    TransformError,
    TransformJobError,
)
from b3pipeline.lake import Lake, quotes_daily_key, quotes_monthly_key, raw_quotes_key
from tests.support.fake_spark import FakeRDD, FakeSpark
from tests.support.raw_builders import raw_frame, weekdays, write_raw

SCRIPT = Path(__file__).resolve().parents[2] / "glue" / "transform_job.py"


def _load_job() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("glue_transform_job", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module


job = _load_job()

GLUE_ARGV = [
    "/tmp/glue-python-scripts-x/transform_job.py",
    "--job-bookmark-option",
    "job-bookmark-disable",
    "--lake_uri",
    "s3://bucket/lake",
    "--JOB_ID",
    "j_0123",
    "--tickers",
    "PETR4,vale3",
    "--start_date",
    "2024-06-03",
    "--JOB_RUN_ID",
    "jr_0123",
    "--end_date",
    "2024-06-05",
    "--JOB_NAME",
    "b3-transform",
]


@pytest.fixture(autouse=True)
def _no_awsglue(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the fake below may provide awsglue; a real one must not leak into these tests.
    monkeypatch.setitem(sys.modules, "awsglue", None)
    monkeypatch.setitem(sys.modules, "awsglue.utils", None)


def test_fallback_parser_reads_glue_style_arguments_and_ignores_the_others() -> None:
    arguments = job.parse_arguments(GLUE_ARGV)
    assert arguments == job.TransformJobArguments(
        lake_uri="s3://bucket/lake",
        tickers=["PETR4", "VALE3"],
        start_date=date(2024, 6, 3),
        end_date=date(2024, 6, 5),
        catalog_database=None,
        job_run_id="jr_0123",
    )


def test_catalog_database_is_optional_and_read_when_given() -> None:
    arguments = job.parse_arguments([*GLUE_ARGV, "--catalog_database", " b3_lake "])
    assert arguments.catalog_database == "b3_lake"
    with pytest.raises(InvalidRequestError, match="--catalog_database is empty"):
        job.parse_arguments([*GLUE_ARGV, "--catalog_database", " "])


def test_a_job_run_id_that_cannot_name_a_summary_is_refused() -> None:
    argv = [item if item != "jr_0123" else "jr/../x" for item in GLUE_ARGV]
    with pytest.raises(InvalidRequestError, match="cannot name a run summary"):
        job.parse_arguments(argv)


def test_tickers_may_be_a_json_array() -> None:
    argv = [*GLUE_ARGV]
    argv[argv.index("PETR4,vale3")] = '["ITUB4","PETR4"]'
    assert job.parse_arguments(argv).tickers == ["ITUB4", "PETR4"]


def test_awsglue_get_resolved_options_is_used_when_importable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[list[str], list[str]]] = []

    def get_resolved_options(argv: list[str], names: list[str]) -> dict[str, Any]:
        # awslabs/aws-glue-libs awsglue/utils.py: asking for a reserved argument (JOB_ID,
        # JOB_RUN_ID, ...) raises, and every name asked for is required; the reserved
        # ones always come back, None when absent.
        calls.append((argv, names))
        if "JOB_RUN_ID" in names:
            raise RuntimeError("Using reserved arguments --JOB_RUN_ID")
        resolved = {
            "lake_uri": "s3://from-glue",
            "tickers": "BOVA11",
            "start_date": "2024-01-02",
            "end_date": "2024-01-31",
            "JOB_RUN_ID": "jr_from_glue",
            "JOB_ID": None,
        }
        if "catalog_database" in names:
            resolved["catalog_database"] = "b3_lake"
        if "aws_region" in names:
            resolved["aws_region"] = "sa-east-1"
        return resolved

    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options  # type: ignore[attr-defined]
    package = types.ModuleType("awsglue")
    package.utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", package)
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)

    arguments = job.parse_arguments(GLUE_ARGV)
    assert calls == [(GLUE_ARGV, ["lake_uri", "tickers", "start_date", "end_date"])]
    assert arguments.lake_uri == "s3://from-glue"
    assert arguments.tickers == ["BOVA11"]
    assert (arguments.start_date, arguments.end_date) == (date(2024, 1, 2), date(2024, 1, 31))
    assert (arguments.catalog_database, arguments.job_run_id) == (None, "jr_from_glue")

    calls.clear()
    with_database = job.parse_arguments([*GLUE_ARGV, "--catalog_database", "b3_lake"])
    assert calls[0][1] == ["lake_uri", "tickers", "start_date", "end_date", "catalog_database"]
    assert with_database.catalog_database == "b3_lake"

    calls.clear()
    with_region = job.parse_arguments([*GLUE_ARGV, "--aws_region", "sa-east-1"])
    assert calls[0][1] == ["lake_uri", "tickers", "start_date", "end_date", "aws_region"]
    assert with_region.aws_region == "sa-east-1"


@pytest.mark.parametrize(
    ("replace", "value", "error", "match"),
    [
        ("2024-06-03", "03/06/2024", InvalidDateRangeError, "--start_date '03/06/2024'"),
        ("2024-06-05", "2024-06-01", InvalidDateRangeError, "is after --end_date"),
        ("PETR4,vale3", "PETR", InvalidTickerError, "not a B3 ticker"),
    ],
)
def test_bad_arguments_are_clear_errors(
    replace: str, value: str, error: type[Exception], match: str
) -> None:
    argv = [value if item == replace else item for item in GLUE_ARGV]
    with pytest.raises(error, match=match):
        job.parse_arguments(argv)


def test_a_missing_argument_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        job.parse_arguments(["transform_job.py", "--lake_uri", "/tmp/x"])
    assert exited.value.code != 0
    assert "--tickers" in capsys.readouterr().err


@pytest.fixture
def fake_spark(monkeypatch: pytest.MonkeyPatch) -> FakeSpark:
    spark = FakeSpark()
    monkeypatch.setattr(job, "spark_session", lambda: spark)
    return spark


def _argv(lake_dir: Path, tickers: str) -> list[str]:
    return [
        "transform_job.py",
        "--lake_uri",
        str(lake_dir),
        "--tickers",
        tickers,
        "--start_date",
        "2024-06-04",
        "--end_date",
        "2024-06-05",
        "--JOB_ID",
        "j_1",
    ]


def test_main_runs_one_task_per_ticker_and_logs_the_merged_summary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fake_spark: FakeSpark
) -> None:
    lake_dir = tmp_path / "lake"
    write_raw(Lake.open(str(lake_dir)), raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    write_raw(Lake.open(str(lake_dir)), raw_frame("VALE3", weekdays(date(2024, 6, 4), 4)))
    caplog.set_level("INFO")

    job.main(_argv(lake_dir, "vale3,PETR4,ITUB4"))

    assert fake_spark.sparkContext.parallelized == [(["VALE3", "PETR4", "ITUB4"], 3)]
    lake = Lake.open(str(lake_dir))
    for ticker in ("PETR4", "VALE3"):
        assert lake.exists(quotes_daily_key(date(2024, 6, 4), ticker))
        assert lake.exists(quotes_daily_key(date(2024, 6, 5), ticker))
        assert not lake.exists(quotes_daily_key(date(2024, 6, 3), ticker))
        assert lake.exists(quotes_monthly_key("2024-06", ticker))
    summaries: list[dict[str, Any]] = [
        json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")
    ]
    assert len(summaries) == 1
    assert summaries[0]["event"] == "transform_succeeded"
    assert summaries[0]["tickers"] == ["VALE3", "PETR4", "ITUB4"]
    assert summaries[0]["daily_rows"] == 4
    assert summaries[0]["monthly_rows"] == 2
    assert summaries[0]["dates"] == ["2024-06-04", "2024-06-05"]
    assert summaries[0]["tickers_without_data"] == ["ITUB4"]


def test_every_task_stamps_the_same_processed_at(tmp_path: Path, fake_spark: FakeSpark) -> None:
    lake_dir = tmp_path / "lake"
    write_raw(Lake.open(str(lake_dir)), raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    write_raw(Lake.open(str(lake_dir)), raw_frame("VALE3", weekdays(date(2024, 6, 3), 5)))
    job.main(_argv(lake_dir, "PETR4,VALE3"))
    stamps = {
        value
        for path in (lake_dir / "refined").rglob("*.parquet")
        for value in pq.read_table(path).column("processed_at").to_pylist()
    }
    assert len(stamps) == 1


def test_a_failing_ticker_fails_the_job_naming_it(tmp_path: Path, fake_spark: FakeSpark) -> None:
    lake_dir = tmp_path / "lake"
    lake = Lake.open(str(lake_dir))
    write_raw(lake, raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    write_raw(lake, raw_frame("VALE3", weekdays(date(2024, 6, 3), 5)))
    bad = raw_quotes_key(date(2024, 6, 4), "VALE3")
    lake.write_parquet(bad, pq.read_table(lake.path(bad)).drop_columns(["volume"]))

    with pytest.raises(TransformJobError) as raised:
        job.main(_argv(lake_dir, "PETR4,VALE3"))

    # What Glue records as the run's ErrorMessage, and the alert carries.
    message = str(raised.value)
    assert message.startswith("transform failed: transform failed for 1 of 2 ticker(s) (VALE3)")
    assert "lacks the column(s) volume" in message
    assert isinstance(raised.value.__cause__, TransformError)
    assert not lake.exists(quotes_daily_key(date(2024, 6, 4), "VALE3"))


def test_a_bad_lake_uri_fails_before_spark_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_spark() -> None:
        raise AssertionError("Spark must not start for a lake URI that cannot work")

    monkeypatch.setattr(job, "spark_session", no_spark)
    argv = [
        "transform_job.py",
        "--lake_uri",
        "ftp://nowhere",
        "--tickers",
        "PETR4",
        "--start_date",
        "2024-06-04",
        "--end_date",
        "2024-06-05",
    ]
    with pytest.raises(TransformJobError, match="only s3:// URIs and local folders"):
        job.main(argv)


def test_without_a_job_run_id_no_summary_is_written_and_nothing_is_registered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fake_spark: FakeSpark
) -> None:
    lake_dir = tmp_path / "lake"
    write_raw(Lake.open(str(lake_dir)), raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    caplog.set_level("INFO")
    job.main(_argv(lake_dir, "PETR4"))
    assert not (lake_dir / "runs").exists()
    event = next(json.loads(r.getMessage()) for r in caplog.records if r.getMessage()[:1] == "{")
    assert event["catalog_current"] is False


def test_the_summary_is_written_under_the_job_run_id(tmp_path: Path, fake_spark: FakeSpark) -> None:
    lake_dir = tmp_path / "lake"
    write_raw(Lake.open(str(lake_dir)), raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    job.main([*_argv(lake_dir, "PETR4"), "--JOB_RUN_ID", "jr_0abc"])
    summary = json.loads((lake_dir / "runs" / "transform" / "jr_0abc.json").read_text())
    assert summary["job_run_id"] == "jr_0abc"
    assert summary["dates"] == ["2024-06-04", "2024-06-05"]
    assert summary["rows"] == {"daily": 2, "monthly": 1}
    # No --catalog_database: nothing registered, so the state machine must crawl.
    assert (summary["catalog"], summary["catalog_current"]) == (None, False)
    assert summary["partitions"] == {
        "partitions": 5,
        "registered": 0,
        "already_present": 0,
        "failed": 0,
        "stale": 0,
        "deregistered": 0,
        "already_absent": 0,
        "deregister_failed": 0,
    }


def test_a_catalog_that_refuses_the_run_fails_the_job(
    tmp_path: Path, fake_spark: FakeSpark, monkeypatch: pytest.MonkeyPatch
) -> None:
    class MissingDatabase:
        def register_partitions(self, partitions: Any, stale: Any = ()) -> Any:
            raise CatalogRegistrationError("GetTable on Glue table nowhere.raw_quotes failed")

    monkeypatch.setattr(job, "partition_catalog", lambda arguments, region: MissingDatabase())
    lake_dir = tmp_path / "lake"
    write_raw(Lake.open(str(lake_dir)), raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    argv = [*_argv(lake_dir, "PETR4"), "--JOB_RUN_ID", "jr_1", "--catalog_database", "nowhere"]
    with pytest.raises(TransformJobError, match=r"nowhere\.raw_quotes failed"):
        job.main(argv)
    assert not (lake_dir / "runs").exists()


# ------------------------------------------------------------------ what main raises
# A Glue run that ends in an uncaught exception is FAILED with it as the run's ErrorMessage,
# which reaches the state machine's alert; sys.exit(1) would leave only an exit code.


def test_bad_arguments_raise_a_transform_job_error_from_their_cause() -> None:
    argv = [value if value != "2024-06-03" else "03/06/2024" for value in GLUE_ARGV]
    with pytest.raises(TransformJobError) as raised:
        job.main(argv)
    assert str(raised.value) == (
        "transform failed: --start_date '03/06/2024' is not a date: use YYYY-MM-DD"
    )
    assert isinstance(raised.value.__cause__, InvalidDateRangeError)


# ------------------------------------------------------------------ the job's region


def test_the_region_is_an_argument_and_an_empty_one_is_refused() -> None:
    assert job.parse_arguments(GLUE_ARGV).aws_region is None
    assert job.parse_arguments([*GLUE_ARGV, "--aws_region", " sa-east-1 "]).aws_region == (
        "sa-east-1"
    )
    with pytest.raises(InvalidRequestError, match="--aws_region is empty"):
        job.parse_arguments([*GLUE_ARGV, "--aws_region", " "])


def test_the_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    given = job.parse_arguments([*GLUE_ARGV, "--aws_region", "sa-east-1"])
    assert job.job_region(given) == "sa-east-1"
    assert job.job_region(job.parse_arguments(GLUE_ARGV)) == "us-east-1"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert job.job_region(job.parse_arguments(GLUE_ARGV)) is None


def test_the_catalog_client_gets_the_jobs_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # no credential look-up on the network
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    arguments = job.parse_arguments([*GLUE_ARGV, "--catalog_database", "b3_lake"])
    catalog = job.partition_catalog(arguments, "sa-east-1")
    assert catalog is not None
    assert catalog.client.meta.region_name == "sa-east-1"


def test_registering_partitions_without_any_region_fails_before_spark_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)

    def no_spark() -> None:
        raise AssertionError("Spark must not start without a region for the catalog")

    monkeypatch.setattr(job, "spark_session", no_spark)
    argv = [*_argv(tmp_path / "lake", "PETR4"), "--catalog_database", "b3_lake"]
    with pytest.raises(TransformJobError, match="needs a region for the Glue Data Catalog"):
        job.main(argv)


def test_every_ticker_task_gets_the_jobs_region(
    tmp_path: Path, fake_spark: FakeSpark, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executors' lake clients take the region with the task, not from their environment."""
    shipped: list[Any] = []
    ship = FakeRDD.map

    def recording_map(rdd: FakeRDD, function: Any) -> FakeRDD:
        shipped.append(function)
        return ship(rdd, function)

    monkeypatch.setattr(FakeRDD, "map", recording_map)
    lake_dir = tmp_path / "lake"
    write_raw(Lake.open(str(lake_dir)), raw_frame("PETR4", weekdays(date(2024, 6, 3), 5)))
    job.main([*_argv(lake_dir, "PETR4"), "--aws_region", "sa-east-1"])
    assert [task.keywords["region"] for task in shipped] == ["sa-east-1"]
    assert Lake.open(str(lake_dir)).exists(quotes_daily_key(date(2024, 6, 4), "PETR4"))
