"""The lake on a local folder and on S3 (boto3 against moto's in-process S3, no sockets).

S3 rules these tests rely on, from AWS's ListObjectsV2 reference
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html): general purpose
buckets return keys in ascending UTF-8 binary order, at most 1,000 per page; StartAfter is
"where you want Amazon S3 to start listing from ... after this specified key", and may be
any string, present in the bucket or not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from b3pipeline import lake as lake_module
from b3pipeline.errors import LakeError, LakeNotFoundError
from b3pipeline.lake import Lake, partition_values, quotes_daily_key, raw_quotes_key
from tests.support.s3_requests import (
    BUCKET,
    fail_on,
    in_flight_together,
    moto_s3,
    object_keys,
    watch,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def s3() -> Iterator[S3Client]:
    with moto_s3() as client:
        yield client


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lake]:
    """The same tests on both backends."""
    if request.param == "local":
        yield Lake.open(str(tmp_path / "lake"), concurrency=4)
    else:
        with moto_s3() as client:
            yield Lake.open(f"s3://{BUCKET}/lake", concurrency=4, s3=client)


def _one_row(value: int) -> pa.Table:
    return pa.table({"value": [value]})


def test_open_rejects_what_is_not_a_lake(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="empty"):
        Lake.open("")
    with pytest.raises(LakeError, match="names no bucket"):
        Lake.open("s3://")
    with pytest.raises(LakeError, match="only s3:// URIs"):
        Lake.open("gs://bucket/lake")
    with pytest.raises(LakeError, match="at least 1"):
        Lake.open(str(tmp_path), concurrency=0)


def test_opening_to_read_never_creates_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "lake"
    with pytest.raises(LakeNotFoundError, match=f"the lake folder {missing} does not exist"):
        Lake.open(str(missing), create=False)
    assert not (tmp_path / "typo").exists()

    (tmp_path / "empty").mkdir()
    assert Lake.open(str(tmp_path / "empty"), create=False).list_keys("raw") == []
    assert Lake.open(str(missing)).url() == str(missing)  # writers create it
    assert missing.is_dir()


def test_urls_name_the_object_as_a_user_types_it(s3: S3Client, tmp_path: Path) -> None:
    on_s3 = Lake.open(f"s3://{BUCKET}/some/prefix/", s3=s3)
    assert on_s3.uri == f"s3://{BUCKET}/some/prefix"
    assert on_s3.url("raw/x.parquet") == f"s3://{BUCKET}/some/prefix/raw/x.parquet"
    assert Lake.open(f"s3://{BUCKET}", s3=s3).url("raw/x") == f"s3://{BUCKET}/raw/x"
    local = Lake.open(str(tmp_path / "l"))
    assert local.url("raw/x.parquet") == str(tmp_path / "l" / "raw" / "x.parquet")


def test_write_read_delete_round_trip(lake: Lake) -> None:
    lake.write_bytes("a/b/c.json", b"{}")
    lake.write_parquet("a/b/d.parquet", _one_row(7))
    assert lake.read_bytes("a/b/c.json") == b"{}"
    assert lake.exists("a/b/c.json") and not lake.exists("a/b/zz.json")
    assert lake.list_keys("a") == ["a/b/c.json", "a/b/d.parquet"]
    assert lake.list_keys("") == ["a/b/c.json", "a/b/d.parquet"]
    lake.delete("a/b/c.json")
    lake.delete("a/b/c.json")  # deleting what is gone is not an error
    assert lake.list_keys("a") == ["a/b/d.parquet"]
    with pytest.raises(LakeError, match=r"c\.json does not exist"):
        lake.read_bytes("a/b/c.json")


def test_many_files_keep_their_order_and_bytes(lake: Lake) -> None:
    keys = [f"t/k={i:03d}/f.parquet" for i in range(40)]
    lake.write_many(
        [(k, partial(lake_module.parquet_bytes, _one_row(i))) for i, k in enumerate(keys)]
    )
    blobs = lake.read_many(keys)
    assert [pq.read_table(pa.BufferReader(b)).column("value")[0].as_py() for b in blobs] == list(
        range(40)
    )
    lake.delete_many(keys[:10])
    assert lake.list_keys("t") == keys[10:]


def test_a_lake_under_a_prefix_sees_only_its_own_objects(s3: S3Client) -> None:
    lake, neighbour = (Lake.open(f"s3://{BUCKET}/{p}", s3=s3) for p in ("lake", "lake2"))
    lake.write_bytes("raw/a", b"1")
    neighbour.write_bytes("raw/b", b"2")
    assert lake.list_keys("") == ["raw/a"]
    assert neighbour.list_keys("raw") == ["raw/b"]


def test_manifests_and_temp_files_are_not_table_files(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path))
    lake.write_bytes("raw/_manifests/r1/_manifest.json", b"{}")
    (tmp_path / "raw" / "quotes").mkdir(parents=True)
    (tmp_path / "raw" / "quotes" / ".quotes.parquet.1234.tmp").write_bytes(b"half")
    assert lake.list_keys("raw") == []


def test_progress_is_reported_per_file_in_the_callers_thread(lake: Lake) -> None:
    seen: list[tuple[str, int, int, str]] = []

    def progress(phase: str, done: int, total: int) -> None:
        seen.append((phase, done, total, threading.current_thread().name))

    lake.write_many([(f"p/{i}", lambda: b"x") for i in range(5)], "writing", progress)
    assert [(p, d, t) for p, d, t, _ in seen] == [("writing", n, 5) for n in range(1, 6)]
    assert {name for *_, name in seen} == {threading.current_thread().name}


def test_reads_overlap_up_to_the_concurrency(s3: S3Client) -> None:
    """Four GETs must be in flight together: a barrier of four breaks if they queue."""
    lake = Lake.open(f"s3://{BUCKET}", concurrency=4, s3=s3)
    keys = [f"k/{i}" for i in range(8)]
    lake.write_many([(k, lambda: b"x") for k in keys])
    in_flight_together(s3, "GetObject", 4)
    assert lake.read_many(keys) == [b"x"] * 8


# -- partition listing -----------------------------------------------------------------------
def _long_lake(lake: Lake, days: int, tickers: tuple[str, ...] = ("PETR4", "VALE3")) -> list[date]:
    first = date(2010, 1, 4)
    dates = [first + timedelta(days=i) for i in range(days)]
    lake.write_many(
        [(raw_quotes_key(d, t), lambda: b"x") for d in dates for t in tickers]
        + [(quotes_daily_key(d, "PETR4"), lambda: b"x") for d in dates]
    )
    return dates


def test_partition_values_are_every_day_or_month_of_the_range() -> None:
    assert partition_values("dt", "2024-02-27", "2024-03-01") == [
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    assert partition_values("month", "2023-11", "2024-02") == [
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
    ]
    with pytest.raises(LakeError, match="not made of dates"):
        partition_values("dt", "2024-02-30", "2024-03-01")


def test_list_partitions_returns_the_window_only(lake: Lake) -> None:
    dates = _long_lake(lake, 60)
    first, last = dates[20], dates[24]
    partitions = lake.list_partitions(
        lake_module.RAW_QUOTES, lake_module.RAW_QUOTES_FILE, str(first), str(last), ["VALE3"]
    )
    assert [p.key for p in partitions] == [raw_quotes_key(d, "VALE3") for d in dates[20:25]]
    assert partitions[0].values == {"dt": str(first), "ticker": "VALE3"}
    every = lake.list_partitions(lake_module.RAW_QUOTES, None, str(first), str(first))
    assert [p.values["ticker"] for p in every] == ["PETR4", "VALE3"]
    assert lake.first_partition_value(lake_module.RAW_QUOTES) == str(dates[0])
    assert lake.first_partition_value(lake_module.QUOTES_MONTHLY) is None


def test_s3_listing_starts_after_the_window_start_and_stops_past_its_end(s3: S3Client) -> None:
    """A 3-year lake (2,190 raw objects, 3 pages in all); a 5-day window is one request."""
    lake = Lake.open(f"s3://{BUCKET}/lake", s3=s3)
    dates = _long_lake(lake, 3 * 365)
    log = watch(s3)
    first, last = dates[500], dates[504]
    partitions = lake.list_partitions(
        lake_module.RAW_QUOTES, lake_module.RAW_QUOTES_FILE, str(first), str(last)
    )
    assert len(partitions) == 10
    assert log.of("ListObjectsV2") == [
        {
            "Bucket": BUCKET,
            "Prefix": "lake/raw/quotes/dt=",
            "MaxKeys": 1000,
            "StartAfter": f"lake/raw/quotes/dt={first}",
        }
    ]
    assert set(log.counts()) == {"ListObjectsV2"}


def test_s3_listing_follows_continuation_tokens_within_the_window(s3: S3Client) -> None:
    lake = Lake.open(f"s3://{BUCKET}", s3=s3)
    dates = _long_lake(lake, 800, tickers=("PETR4",))
    log = watch(s3)
    partitions = lake.list_partitions(
        lake_module.RAW_QUOTES, lake_module.RAW_QUOTES_FILE, str(dates[0]), str(dates[-1])
    )
    assert [p.key for p in partitions] == [raw_quotes_key(d, "PETR4") for d in dates]
    calls = log.of("ListObjectsV2")
    # 800 raw keys then the refined ones sort after them: the second page ends the listing.
    assert len(calls) == 1 or "ContinuationToken" in calls[1]
    assert len(calls) <= 2


def test_local_listing_looks_only_at_the_window_folders(tmp_path: Path) -> None:
    lake = Lake.open(str(tmp_path / "lake"))
    dates = _long_lake(lake, 30)
    corrupt_folder = tmp_path / "lake" / "raw" / "quotes" / f"dt={dates[2]}"
    corrupt_folder.chmod(0o000)  # unreadable: listing it would fail
    try:
        partitions = lake.list_partitions(
            lake_module.RAW_QUOTES, lake_module.RAW_QUOTES_FILE, str(dates[10]), str(dates[12])
        )
    finally:
        corrupt_folder.chmod(0o755)
    assert len(partitions) == 6


# -- failures ----------------------------------------------------------------------------------
def test_a_failed_write_names_its_key_and_stops_the_batch(s3: S3Client) -> None:
    lake = Lake.open(f"s3://{BUCKET}", concurrency=1, s3=s3)
    keys = [f"t/{i:02d}" for i in range(20)]
    fail_on(s3, "PutObject", lambda params: params["Key"] == "t/03")
    with pytest.raises(LakeError, match=rf"cannot write s3://{BUCKET}/t/03: .*injected"):
        lake.write_many([(k, lambda: b"x") for k in keys])
    # With one worker the batch stops at the failure: nothing after it was attempted.
    assert object_keys(s3) == keys[:3]


def test_the_earliest_failed_key_is_reported_under_concurrency(s3: S3Client) -> None:
    lake = Lake.open(f"s3://{BUCKET}", concurrency=8, s3=s3)
    keys = [f"t/{i:02d}" for i in range(8)]
    in_flight_together(s3, "PutObject", 8)
    fail_on(s3, "PutObject", lambda params: params["Key"] in ("t/05", "t/02"))
    with pytest.raises(LakeError, match="t/02"):
        lake.write_many([(k, lambda: b"x") for k in keys])
    assert object_keys(s3) == [k for k in keys if k not in ("t/02", "t/05")]


def test_s3_errors_name_the_object(s3: S3Client) -> None:
    lake = Lake.open(f"s3://{BUCKET}/p", s3=s3)
    with pytest.raises(LakeError, match=rf"s3://{BUCKET}/p/nope does not exist"):
        lake.read_bytes("nope")
    missing = Lake.open("s3://no-such-bucket/p", s3=s3)
    with pytest.raises(LakeError, match="cannot write s3://no-such-bucket/p/k"):
        missing.write_bytes("k", b"x")


def test_a_local_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: Any) -> None:
    lake = Lake.open(str(tmp_path))
    lake.write_bytes("t/f.bin", b"old")

    def broken_replace(self: Path, target: Any) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", broken_replace)
    with pytest.raises(LakeError, match=r"cannot write .*f\.bin: No space left"):
        lake.write_bytes("t/f.bin", b"new")
    assert (tmp_path / "t" / "f.bin").read_bytes() == b"old"
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["f.bin"]


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 resolves credentials when it builds a client; without these it asks the network.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.usefixtures("aws_credentials")
def test_region_comes_from_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    client = lake_module.s3_client("bucket")
    assert client.meta.region_name == "sa-east-1"
    assert client.meta.config.max_pool_connections == 32  # type: ignore[attr-defined]


@pytest.mark.usefixtures("aws_credentials")
def test_endpoint_variables_reach_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    client = lake_module.s3_client("bucket", concurrency=64)
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == "us-east-1"
    assert client.meta.config.max_pool_connections == 64  # type: ignore[attr-defined]


def test_region_is_asked_of_the_bucket_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with moto_s3(bucket=None) as client:
        client.create_bucket(
            Bucket="in-sao-paulo", CreateBucketConfiguration={"LocationConstraint": "sa-east-1"}
        )
        assert lake_module.s3_client("in-sao-paulo").meta.region_name == "sa-east-1"
        with pytest.raises(LakeError, match="set AWS_REGION"):
            lake_module.s3_client("no-such-bucket-anywhere")
