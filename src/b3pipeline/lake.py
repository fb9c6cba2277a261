"""The data lake: an S3 bucket (s3://bucket[/prefix]) or a local folder.

Layout (DESIGN.md):
    raw/quotes/dt=YYYY-MM-DD/ticker=PETR4/quotes.parquet
    raw/_manifests/<run_id>/_manifest.json
    refined/quotes_daily/dt=YYYY-MM-DD/ticker=PETR4/part-0.parquet
    refined/quotes_monthly/month=YYYY-MM/ticker=PETR4/part-0.parquet

The S3 side goes through boto3 (present in Lambda, Glue and locally): the AWS SDK for pandas
Lambda layer ships a pyarrow built without S3 support, so pyarrow here only encodes and
decodes Parquet in memory and reads local folders.

Every write replaces a whole file and is all-or-nothing: the bytes are built in memory
first, then written to a temporary name and renamed locally, or PUT in one request on S3
(an S3 object becomes visible only when its upload completes).

Work over many files (`read_many`, `write_many`, `delete_many`) runs on a bounded thread
pool of `concurrency` workers (LAKE_IO_CONCURRENCY), so S3 round trips overlap instead of
queueing; boto3 clients are thread-safe. The first failure stops the batch: nothing new
starts, what is in flight finishes, and the error names its key.

Listing is bounded by partition: `list_partitions` takes the first and last partition
values a step needs. Keys sort by date (`dt=YYYY-MM-DD`, `month=YYYY-MM`), so on S3 one
ListObjectsV2 range (Prefix + StartAfter, stopping past the last value) lists exactly the
window; locally the candidate folders are derived from the window's dates.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from b3pipeline.errors import LakeError, LakeNotFoundError
from b3pipeline.manifest import MANIFEST_FILE
from b3pipeline.settings import DEFAULT_IO_CONCURRENCY

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RAW_QUOTES = "raw/quotes"
MANIFESTS = "raw/_manifests"
QUOTES_DAILY = "refined/quotes_daily"
QUOTES_MONTHLY = "refined/quotes_monthly"
REPORTS = "reports"

RAW_QUOTES_FILE = "quotes.parquet"
REFINED_FILE = "part-0.parquet"

# Partition columns live in the folder names only, never inside the files, so the Glue
# crawler and DuckDB's hive reader see each column once.
DATE_PARTITIONING = pa.schema([("dt", pa.string()), ("ticker", pa.string())])
MONTH_PARTITIONING = pa.schema([("month", pa.string()), ("ticker", pa.string())])

#: Called in the caller's thread as a batch advances: (phase, files done, files in total).
ProgressCallback = Callable[[str, int, int], None]

_T = TypeVar("_T")
_R = TypeVar("_R")


def raw_quotes_key(trade_date: date, ticker: str) -> str:
    return f"{RAW_QUOTES}/dt={trade_date.isoformat()}/ticker={ticker}/{RAW_QUOTES_FILE}"


def quotes_daily_key(trade_date: date, ticker: str) -> str:
    return f"{QUOTES_DAILY}/dt={trade_date.isoformat()}/ticker={ticker}/{REFINED_FILE}"


def quotes_monthly_key(month: str, ticker: str) -> str:
    return f"{QUOTES_MONTHLY}/month={month}/ticker={ticker}/{REFINED_FILE}"


def manifest_key(run_id: str) -> str:
    return f"{MANIFESTS}/{run_id}/{MANIFEST_FILE}"


def month_of(day: date) -> str:
    """The `month=` partition value of a date: "YYYY-MM"."""
    return f"{day.year:04d}-{day.month:02d}"


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet file every lake write stores for `table` (snappy, one row group)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return bytes(sink.getvalue().to_pybytes())


@dataclass(frozen=True)
class Partition:
    """One partition file of a table: its hive values (e.g. dt, ticker) and its lake key."""

    values: dict[str, str]
    key: str


def _partition_column(table: str) -> str:
    return "month" if table == QUOTES_MONTHLY else "dt"


def partition_values(column: str, first: str, last: str) -> list[str]:
    """Every value of a date-sorted partition column from `first` to `last`, in order.

    dt values are days ("YYYY-MM-DD"), month values are months ("YYYY-MM").
    """
    try:
        if column == "month":
            year, month = int(first[:4]), int(first[5:7])
            final = (int(last[:4]), int(last[5:7]))
            months = []
            while (year, month) <= final:
                months.append(f"{year:04d}-{month:02d}")
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return months
        day, final_day = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError as exc:
        raise LakeError(f"{column} range {first!r}..{last!r} is not made of dates") from exc
    days = []
    while day <= final_day:
        days.append(day.isoformat())
        day += timedelta(days=1)
    return days


def _hive_values(folders: Sequence[str]) -> dict[str, str]:
    """{column: value} of the `column=value` folders of a key (other folders are skipped)."""
    return dict(folder.split("=", 1) for folder in folders if "=" in folder)


def partition_of(table: str, key: str) -> Partition:
    """The Partition of a file key under `table` (e.g. a raw key about to be written)."""
    return Partition(values=_hive_values(key[len(table) + 1 :].split("/")[:-1]), key=key)


def _hidden(name: str) -> bool:
    # Temporary files (".name.tmp") and manifests ("_manifest.json") are not table data.
    return name.startswith((".", "_"))


def _bucket_region(bucket: str) -> str:
    """The bucket's region, from S3's x-amz-bucket-region header (HeadBucket, any region)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    probe = boto3.session.Session().client("s3", region_name="us-east-1")
    try:
        headers = probe.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    except ClientError as exc:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    except BotoCoreError as exc:
        raise LakeError(
            f"cannot find the region of bucket {bucket!r}: {exc}; set AWS_REGION"
        ) from exc
    region = headers.get("x-amz-bucket-region")
    if not region:
        raise LakeError(f"cannot find the region of bucket {bucket!r}; set AWS_REGION")
    return str(region)


def s3_client(
    bucket: str, concurrency: int = DEFAULT_IO_CONCURRENCY, region: str | None = None
) -> S3Client:
    """A boto3 S3 client configured from the standard AWS variables.

    The region is `region` when the caller knows it (the Glue job's --aws_region, a Lambda's
    AWS_REGION), else AWS_REGION / AWS_DEFAULT_REGION, else the bucket's own; a wrong region
    would make every request fail. The endpoint variables (AWS_ENDPOINT_URL_S3,
    AWS_ENDPOINT_URL) let the same code reach moto, LocalStack or another S3-compatible
    store. The connection pool matches the I/O pool.
    """
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        # An S3-compatible endpoint has no AWS region; SigV4 still needs a name to sign with.
        region = "us-east-1" if endpoint else _bucket_region(bucket)
    config = Config(
        max_pool_connections=max(10, concurrency),
        retries={"mode": "standard", "max_attempts": 5},
    )
    client: S3Client = boto3.session.Session().client(
        "s3", region_name=region, endpoint_url=endpoint or None, config=config
    )
    return client


class _LocalStore:
    """Files under a folder; writes go to a hidden temp name, then an atomic rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def url(self, key: str) -> str:
        return str(self.root.joinpath(*key.split("/"))) if key else str(self.root)

    def _file(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def read(self, key: str) -> bytes:
        try:
            return self._file(key).read_bytes()
        except FileNotFoundError as exc:
            raise LakeError(f"{self.url(key)} does not exist") from exc
        except OSError as exc:
            raise LakeError(f"cannot read {self.url(key)}: {exc.strerror or exc}") from exc

    def write(self, key: str, data: bytes) -> None:
        path = self._file(key)
        # A dot-prefixed temp name is ignored by pyarrow datasets and DuckDB globs until the
        # rename makes the whole file appear at once.
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                temp.write_bytes(data)
                temp.replace(path)
            finally:
                temp.unlink(missing_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot write {self.url(key)}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._file(key).unlink(missing_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot delete {self.url(key)}: {exc.strerror or exc}") from exc

    def exists(self, key: str) -> bool:
        return self._file(key).is_file()

    def _walk(self, folder: Path) -> Iterator[str]:
        for directory, subdirectories, files in os.walk(folder):
            subdirectories[:] = [d for d in subdirectories if not _hidden(d)]
            relative = Path(directory).relative_to(self.root).as_posix()
            for name in files:
                if not _hidden(name):
                    yield f"{relative}/{name}" if relative != "." else name

    def list_keys(self, prefix: str) -> list[str]:
        try:
            return sorted(self._walk(self._file(prefix)))
        except OSError as exc:
            raise LakeError(f"cannot list {self.url(prefix)}: {exc.strerror or exc}") from exc

    def list_values(self, table: str, column: str, values: Sequence[str]) -> list[str]:
        """Keys under table/column=V/ for each candidate V: one folder check per value."""
        keys: list[str] = []
        try:
            for value in values:
                folder = self._file(f"{table}/{column}={value}")
                if folder.is_dir():
                    keys.extend(sorted(self._walk(folder)))
        except OSError as exc:
            raise LakeError(f"cannot list {self.url(table)}: {exc.strerror or exc}") from exc
        return keys

    def first_value(self, table: str, column: str) -> str | None:
        folder = self._file(table)
        marker = f"{column}="
        try:
            names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        except OSError as exc:
            raise LakeError(f"cannot list {self.url(table)}: {exc.strerror or exc}") from exc
        found = sorted(n[len(marker) :] for n in names if n.startswith(marker))
        return found[0] if found else None


class _S3Store:
    """Objects under s3://bucket/prefix through one boto3 client."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def object_key(self, key: str) -> str:
        if not self.prefix:
            return key
        return f"{self.prefix}/{key}" if key else self.prefix

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}".rstrip("/")

    def _error(self, action: str, key: str, exc: Exception) -> LakeError:
        return LakeError(f"cannot {action} {self.url(key)}: {exc}")

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
            return response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise LakeError(f"{self.url(key)} does not exist") from exc
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from exc

    def write(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("write", key, exc) from exc

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error("delete", key, exc) from exc

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._error("check", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("check", key, exc) from exc
        return True

    def _list(
        self, prefix: str, start_after: str = "", stop_at: str = "", max_keys: int = 1000
    ) -> Iterator[str]:
        """Object keys (relative to the lake) under `prefix`, ascending, from after
        `start_after` up to (not including) `stop_at`. ListObjectsV2 returns keys in UTF-8
        binary order, so the listing ends at the first key past `stop_at`."""
        from botocore.exceptions import BotoCoreError, ClientError

        strip = len(self.prefix) + 1 if self.prefix else 0
        # The lake's own prefix ends with "/": s3://b/lake must not list s3://b/lake2.
        root = f"{self.prefix}/" if self.prefix else ""
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": root + prefix,
            "MaxKeys": max_keys,
        }
        if start_after:
            request["StartAfter"] = self.object_key(start_after)
        stop = self.object_key(stop_at) if stop_at else ""
        while True:
            try:
                page = self.client.list_objects_v2(**request)
            except (BotoCoreError, ClientError) as exc:
                raise self._error("list", prefix, exc) from exc
            for item in page.get("Contents", []):
                if stop and item["Key"] >= stop:
                    return
                yield item["Key"][strip:]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            request["ContinuationToken"] = token

    def list_keys(self, prefix: str) -> list[str]:
        return [
            key
            for key in self._list(f"{prefix}/" if prefix else "")
            if not _hidden(key.rsplit("/", 1)[-1])
        ]

    def list_values(self, table: str, column: str, values: Sequence[str]) -> list[str]:
        """One ListObjectsV2 range from the first candidate value to the last."""
        if not values:
            return []
        base = f"{table}/{column}="
        wanted = set(values)
        # Keys of the wanted partitions continue with "/" after the value; "0" sorts right
        # after "/", so every key of the last partition is below `stop_at`.
        keys = self._list(base, start_after=base + values[0], stop_at=base + values[-1] + "0")
        return [
            key
            for key in keys
            if key[len(base) :].split("/", 1)[0] in wanted and not _hidden(key.rsplit("/", 1)[-1])
        ]

    def first_value(self, table: str, column: str) -> str | None:
        base = f"{table}/{column}="
        for key in self._list(base, max_keys=1):
            return key[len(base) :].split("/", 1)[0]
        return None


class _Skipped(Exception):
    """An item of a batch that was not started because another item had failed."""


class Lake:
    """Keys are '/'-separated paths relative to the lake root (e.g. 'raw/quotes/...')."""

    def __init__(self, uri: str, store: _LocalStore | _S3Store, concurrency: int) -> None:
        if concurrency < 1:
            raise LakeError(f"lake I/O concurrency must be at least 1, got {concurrency}")
        self.uri = uri
        self._store = store
        self.concurrency = concurrency

    @classmethod
    def open(
        cls,
        uri: str,
        concurrency: int = DEFAULT_IO_CONCURRENCY,
        s3: S3Client | None = None,
        *,
        region: str | None = None,
        create: bool = True,
    ) -> Lake:
        """Open `s3://bucket[/prefix]` or a local folder (created if missing).

        `create=False` is for commands that only read: a local folder that does not exist
        raises LakeNotFoundError and nothing is created (an S3 prefix has no existence of
        its own; a missing bucket fails on the first request).
        `s3` replaces the client built from the AWS variables (tests, benchmarks); `region`
        is the S3 client's region when the caller knows it (see s3_client).
        """
        if not uri:
            raise LakeError("the lake URI is empty: give s3://bucket[/prefix] or a folder path")
        if uri.startswith("s3://"):
            root = uri[len("s3://") :].strip("/")
            if not root:
                raise LakeError(f"{uri!r} names no bucket: use s3://bucket[/prefix]")
            bucket, _, prefix = root.partition("/")
            client = s3 if s3 is not None else s3_client(bucket, concurrency, region)
            return cls(f"s3://{root}", _S3Store(client, bucket, prefix), concurrency)
        if "://" in uri:
            raise LakeError(f"{uri!r}: only s3:// URIs and local folders are supported")
        root_path = Path(uri).resolve()
        if not create:
            if not root_path.is_dir():
                raise LakeNotFoundError(f"the lake folder {root_path} does not exist")
            return cls(str(root_path), _LocalStore(root_path), concurrency)
        try:
            root_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot create the lake folder {root_path}: {exc.strerror}") from exc
        return cls(str(root_path), _LocalStore(root_path), concurrency)

    @property
    def is_local(self) -> bool:
        return isinstance(self._store, _LocalStore)

    @property
    def s3_region(self) -> str | None:
        """The region the S3 lake's client signs for (None for a local lake): other clients
        of the same deployment (Glue) take it, so every client's region comes from here."""
        if isinstance(self._store, _LocalStore):
            return None
        region = self._store.client.meta.region_name
        return str(region) if region else None

    def path(self, key: str) -> str:
        """The local file path of a key (local lakes), or bucket/key (S3)."""
        if isinstance(self._store, _LocalStore):
            return self._store.url(key)
        return f"{self._store.bucket}/{self._store.object_key(key)}".rstrip("/")

    def url(self, key: str = "") -> str:
        """The key as a user would type it: s3://bucket/prefix/key or an absolute local path."""
        return self._store.url(key)

    # -- single objects ------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        return self._store.read(key)

    def write_bytes(self, key: str, data: bytes) -> None:
        self._store.write(key, data)

    def write_parquet(self, key: str, table: pa.Table) -> None:
        self._store.write(key, parquet_bytes(table))

    def delete(self, key: str) -> None:
        """Delete a file; a missing file is not an error (deletes are idempotent)."""
        self._store.delete(key)

    def exists(self, key: str) -> bool:
        return self._store.exists(key)

    # -- many objects, concurrently -------------------------------------------------------
    def _run_all(
        self,
        work: Callable[[_T], _R],
        items: Sequence[_T],
        phase: str,
        progress: ProgressCallback | None,
    ) -> list[_R]:
        """work(item) for every item on the I/O pool; results in the items' order.

        The first failure stops the batch: items not yet started are skipped, running ones
        finish, and the failure of the earliest item among those that failed is raised.
        """
        if not items:
            return []
        stop = threading.Event()

        def guarded(item: _T) -> _R:
            if stop.is_set():
                raise _Skipped
            try:
                return work(item)
            except BaseException:
                stop.set()
                raise

        results: list[Any] = [None] * len(items)
        failures: dict[int, BaseException] = {}
        done = 0
        workers = min(self.concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lake-io") as pool:
            futures: dict[Future[_R], int] = {
                pool.submit(guarded, item): index for index, item in enumerate(items)
            }
            try:
                for future in as_completed(futures):
                    error = None if future.cancelled() else future.exception()
                    if future.cancelled() or isinstance(error, _Skipped):
                        continue
                    index = futures[future]
                    if error is not None:
                        failures[index] = error
                        continue
                    results[index] = future.result()
                    done += 1
                    if progress is not None and not stop.is_set():
                        progress(phase, done, len(items))
            except BaseException:
                stop.set()
                for pending in futures:
                    pending.cancel()
                raise
        if failures:
            raise failures[min(failures)]
        return results

    def read_many(
        self,
        keys: Sequence[str],
        phase: str = "files read",
        progress: ProgressCallback | None = None,
    ) -> list[bytes]:
        """The bytes of every key, in the keys' order (one GET each on S3)."""
        return self._run_all(self._store.read, keys, phase, progress)

    def write_many(
        self,
        files: Sequence[tuple[str, Callable[[], bytes]]],
        phase: str = "files written",
        progress: ProgressCallback | None = None,
    ) -> None:
        """Write every (key, encode) pair: encode() builds the file's bytes in memory, then
        one write stores it whole. Validate the data before calling: a failure stops the
        batch, and the files already written stay (each whole) for a rerun to replace."""

        def write(item: tuple[str, Callable[[], bytes]]) -> None:
            key, encode = item
            self._store.write(key, encode())

        self._run_all(write, files, phase, progress)

    def delete_many(
        self,
        keys: Sequence[str],
        phase: str = "files deleted",
        progress: ProgressCallback | None = None,
    ) -> None:
        self._run_all(self._store.delete, keys, phase, progress)

    # -- listing -------------------------------------------------------------------------
    def list_keys(self, prefix: str) -> list[str]:
        """Every file key under a prefix, sorted; temporary and hidden files are left out.

        This walks everything under the prefix: runs use `list_partitions` instead.
        """
        return self._store.list_keys(prefix)

    def list_partitions(
        self,
        table: str,
        file_name: str | None,
        first: str,
        last: str,
        tickers: Sequence[str] | None = None,
    ) -> list[Partition]:
        """The files named `file_name` (None: every file) of a table's partitions from
        `first` to `last`.

        `first`/`last` are values of the table's date-sorted partition column (dt
        "YYYY-MM-DD", or month "YYYY-MM" for quotes_monthly); `tickers` keeps only those
        tickers. Only that range is listed. Sorted by key.
        """
        column = _partition_column(table)
        if first > last:
            return []
        wanted = set(tickers) if tickers is not None else None
        partitions = []
        for key in self._store.list_values(table, column, partition_values(column, first, last)):
            relative = key[len(table) + 1 :].split("/")
            if file_name is not None and relative[-1] != file_name:
                continue
            values = _hive_values(relative[:-1])
            if len(values) != len(relative) - 1:
                continue
            if wanted is None or values.get("ticker") in wanted:
                partitions.append(Partition(values=values, key=key))
        return partitions

    def first_partition_value(self, table: str) -> str | None:
        """The smallest value of the table's date-sorted partition column (one LIST of one
        key on S3), or None for an empty table."""
        return self._store.first_value(table, _partition_column(table))

    # -- reading tables ------------------------------------------------------------------
    def dataset(
        self,
        table: str,
        keys: Sequence[str],
        partitioning: pa.Schema,
        schema: pa.Schema,
    ) -> ds.Dataset:
        """The given files of a table as a dataset with `schema` (file columns + partitions).

        Local folders are scanned lazily by pyarrow; S3 objects are fetched on the I/O pool
        and decoded in memory (the layer's pyarrow cannot reach S3 itself).
        """
        if isinstance(self._store, _LocalStore):
            try:
                return ds.dataset(
                    [self._store.url(key) for key in keys],
                    schema=schema,
                    format="parquet",
                    partitioning=ds.partitioning(partitioning, flavor="hive"),
                    partition_base_dir=self._store.url(table),
                )
            except (OSError, pa.ArrowInvalid) as exc:
                raise LakeError(f"cannot read {self.url(table)}: {exc}") from exc
        blobs = self.read_many(keys)
        tables = [
            self._decode(table, key, blob, partitioning, schema) for key, blob in zip(keys, blobs)
        ]
        return ds.InMemoryDataset(pa.concat_tables(tables) if tables else schema.empty_table())

    def _decode(
        self, table: str, key: str, blob: bytes, partitioning: pa.Schema, schema: pa.Schema
    ) -> pa.Table:
        try:
            data = pq.read_table(io.BytesIO(blob))
            values = _hive_values(key[len(table) + 1 :].split("/")[:-1])
            for field in partitioning:
                data = data.append_column(
                    field, pa.array([values.get(field.name)] * data.num_rows, field.type)
                )
            return data.select(schema.names).cast(schema)
        except (OSError, pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
            raise LakeError(f"cannot read {self.url(key)}: {exc}") from exc
