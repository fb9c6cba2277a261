"""The data lake: an S3 bucket (s3://bucket[/prefix]) or a local folder, through pyarrow.fs.

Layout (DESIGN.md):
    raw/quotes/dt=YYYY-MM-DD/ticker=PETR4/quotes.parquet
    raw/_manifests/<run_id>/_manifest.json
    refined/quotes_daily/dt=YYYY-MM-DD/ticker=PETR4/part-0.parquet
    refined/quotes_monthly/month=YYYY-MM/ticker=PETR4/part-0.parquet

Every write replaces a whole file and is all-or-nothing: the bytes are built in memory
first, then written to a temporary name and renamed locally, or PUT in one request on S3
(an S3 object becomes visible only when its upload completes).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from b3pipeline.errors import LakeError
from b3pipeline.manifest import MANIFEST_FILE

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


def raw_quotes_key(trade_date: date, ticker: str) -> str:
    return f"{RAW_QUOTES}/dt={trade_date.isoformat()}/ticker={ticker}/{RAW_QUOTES_FILE}"


def quotes_daily_key(trade_date: date, ticker: str) -> str:
    return f"{QUOTES_DAILY}/dt={trade_date.isoformat()}/ticker={ticker}/{REFINED_FILE}"


def quotes_monthly_key(month: str, ticker: str) -> str:
    return f"{QUOTES_MONTHLY}/month={month}/ticker={ticker}/{REFINED_FILE}"


def manifest_key(run_id: str) -> str:
    return f"{MANIFESTS}/{run_id}/{MANIFEST_FILE}"


@dataclass(frozen=True)
class Partition:
    """One partition file of a table: its hive values (e.g. dt, ticker) and its lake key."""

    values: dict[str, str]
    key: str


def _s3_filesystem(bucket: str) -> pafs.S3FileSystem:
    """pyarrow's S3 client configured from the standard AWS variables.

    The region comes from AWS_REGION / AWS_DEFAULT_REGION (Lambda and Glue set them), else
    from the bucket itself; a wrong region would make every request fail. The endpoint
    variables let the same code reach moto, LocalStack or another S3-compatible store.
    """
    options: dict[str, str] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["scheme"] = "http" if endpoint.startswith("http://") else "https"
        options["endpoint_override"] = endpoint.split("://", 1)[-1]
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region and not endpoint:
        try:
            region = pafs.resolve_s3_region(bucket)
        except OSError as exc:
            raise LakeError(
                f"cannot find the region of bucket {bucket!r}: {exc}; set AWS_REGION"
            ) from exc
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)


class Lake:
    """Keys are '/'-separated paths relative to the lake root (e.g. 'raw/quotes/...')."""

    def __init__(self, uri: str, filesystem: pafs.FileSystem, root: str) -> None:
        self.uri = uri
        self.filesystem = filesystem
        self.root = root.rstrip("/")

    @classmethod
    def open(cls, uri: str, filesystem: Optional[pafs.FileSystem] = None) -> Lake:
        """Open `s3://bucket[/prefix]` or a local folder (created if missing)."""
        if not uri:
            raise LakeError("the lake URI is empty: give s3://bucket[/prefix] or a folder path")
        if uri.startswith("s3://"):
            root = uri[len("s3://") :].strip("/")
            if not root:
                raise LakeError(f"{uri!r} names no bucket: use s3://bucket[/prefix]")
            bucket = root.split("/", 1)[0]
            return cls(uri.rstrip("/"), filesystem or _s3_filesystem(bucket), root)
        if "://" in uri:
            raise LakeError(f"{uri!r}: only s3:// URIs and local folders are supported")
        root = str(Path(uri).resolve())
        local = filesystem or pafs.LocalFileSystem()
        try:
            local.create_dir(root, recursive=True)
        except OSError as exc:
            raise LakeError(f"cannot create the lake folder {root}: {exc}") from exc
        return cls(root, local, root)

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def path(self, key: str) -> str:
        """The filesystem path of a key (what pyarrow.fs calls take)."""
        return posixpath.join(self.root, key) if key else self.root

    def url(self, key: str = "") -> str:
        """The key as a user would type it: s3://bucket/prefix/key or an absolute local path."""
        if self.is_local:
            return str(Path(self.root, *key.split("/"))) if key else self.root
        return f"s3://{self.path(key)}"

    # -- writing -------------------------------------------------------------------------
    def write_bytes(self, key: str, data: bytes) -> None:
        path = self.path(key)
        try:
            if self.is_local:
                directory, name = posixpath.split(path)
                self.filesystem.create_dir(directory, recursive=True)
                # A dot-prefixed temp name is ignored by pyarrow datasets and DuckDB globs
                # until the rename makes the whole file appear at once.
                temp = posixpath.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
                try:
                    with self.filesystem.open_output_stream(temp) as out:
                        out.write(data)
                    self.filesystem.move(temp, path)
                except BaseException:
                    self._delete_quietly(temp)
                    raise
            else:
                with self.filesystem.open_output_stream(path) as out:
                    out.write(data)
        except OSError as exc:
            raise LakeError(f"cannot write {self.url(key)}: {exc}") from exc

    def write_parquet(self, key: str, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="snappy")
        self.write_bytes(key, sink.getvalue().to_pybytes())

    def _delete_quietly(self, path: str) -> None:
        with contextlib.suppress(OSError):
            self.filesystem.delete_file(path)

    def delete(self, key: str) -> None:
        try:
            self.filesystem.delete_file(self.path(key))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise LakeError(f"cannot delete {self.url(key)}: {exc}") from exc

    # -- reading -------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        try:
            with self.filesystem.open_input_stream(self.path(key)) as stream:
                return bytes(stream.read())
        except FileNotFoundError as exc:
            raise LakeError(f"{self.url(key)} does not exist") from exc
        except OSError as exc:
            raise LakeError(f"cannot read {self.url(key)}: {exc}") from exc

    def exists(self, key: str) -> bool:
        info = self.filesystem.get_file_info(self.path(key))
        return bool(info.type == pafs.FileType.File)

    def list_keys(self, prefix: str) -> list[str]:
        """Every file key under a prefix, sorted; temporary and hidden files are left out."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except OSError as exc:
            raise LakeError(f"cannot list {self.url(prefix)}: {exc}") from exc
        base = self.root + "/" if self.root else ""
        keys = []
        for info in infos:
            if info.type != pafs.FileType.File or info.base_name.startswith((".", "_")):
                continue
            keys.append(info.path[len(base) :] if info.path.startswith(base) else info.path)
        return sorted(keys)

    def list_partitions(self, table: str, file_name: str) -> list[Partition]:
        """The hive partitions of a table that hold a file named `file_name`."""
        partitions = []
        for key in self.list_keys(table):
            relative = key[len(table) + 1 :].split("/")
            if relative[-1] != file_name:
                continue
            values = dict(part.split("=", 1) for part in relative[:-1] if "=" in part)
            if len(values) == len(relative) - 1:
                partitions.append(Partition(values=values, key=key))
        return partitions

    def dataset(
        self,
        table: str,
        keys: Sequence[str],
        partitioning: pa.Schema,
        schema: Optional[pa.Schema] = None,
    ) -> ds.Dataset:
        """A pyarrow dataset over the given files of a table, partition columns from folders.

        `schema` fixes the columns (files plus partitions) instead of inferring them.
        """
        try:
            return ds.dataset(
                [self.path(key) for key in keys],
                schema=schema,
                filesystem=self.filesystem,
                format="parquet",
                partitioning=ds.partitioning(partitioning, flavor="hive"),
                partition_base_dir=self.path(table),
            )
        except (OSError, pa.ArrowInvalid) as exc:
            raise LakeError(f"cannot read {self.url(table)}: {exc}") from exc

    def read_partitions(
        self, table: str, partitions: Sequence[Partition], partitioning: pa.Schema
    ) -> Optional[pa.Table]:
        """Read the given partition files as one table with the partition columns added.

        Returns None when there is nothing to read.
        """
        if not partitions:
            return None
        dataset = self.dataset(table, [p.key for p in partitions], partitioning)
        try:
            return dataset.to_table()
        except (OSError, pa.ArrowInvalid) as exc:
            raise LakeError(f"cannot read {self.url(table)}: {exc}") from exc
