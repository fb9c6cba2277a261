"""`make destroy` (scripts/teardown.py): the ORDER of what it does, with a fake `terraform`
on PATH and the lake bucket on moto's S3 server (versioned, with noncurrent versions and
delete markers, as a lake that reran days holds).

The fake terraform keeps a state file and records every call with the number of object
versions the bucket held at that moment. Its `destroy` behaves as Terraform's does for this
stack: a targeted destroy removes the targets; a full destroy removes the bucket's
protections first and then fails on BucketNotEmpty if the bucket still holds anything (the
failure issue 15 reported). So a teardown that destroyed the bucket with data in it, or
before emptying it, fails these tests.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from scripts import teardown

from tests.infra import _hcl
from tests.support.moto_server import moto_environment

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

PROTECTIONS = [
    "aws_s3_bucket.lake",
    "aws_s3_bucket_lifecycle_configuration.lake",
    "aws_s3_bucket_ownership_controls.lake",
    "aws_s3_bucket_policy.lake",
    "aws_s3_bucket_public_access_block.lake",
    "aws_s3_bucket_server_side_encryption_configuration.lake",
    "aws_s3_bucket_versioning.lake",
]
WRITERS = [
    "aws_glue_job.transform",
    "aws_lambda_function.scraper",
    "aws_s3_bucket_notification.lake",
    "aws_s3_object.glue_script",
    "aws_scheduler_schedule.daily",
    'aws_glue_catalog_table.lake["quotes_daily"]',
    "aws_sfn_state_machine.pipeline",
]
DATA = ["data.aws_caller_identity.current", "data.aws_iam_policy_document.glue_job"]

FAKE_TERRAFORM = """\
#!{python}
import json, os, sys
import boto3

here = {here!r}
state_file, log_file = os.path.join(here, "state.json"), os.path.join(here, "calls.jsonl")
state = json.load(open(state_file))
s3 = boto3.client("s3", region_name="us-east-1")
bucket = state["bucket"]

def versions():
    try:
        page = s3.list_object_versions(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        return -1
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))

args = sys.argv[2:]  # after -chdir=...
with open(log_file, "a") as log:
    log.write(json.dumps({{"args": args, "versions": versions()}}) + "\\n")
if args[:2] == ["state", "list"]:
    print("\\n".join(state["addresses"]))
elif args[:1] == ["output"]:
    print(json.dumps({{k: {{"value": v}} for k, v in state["outputs"].items()}}))
elif args[:1] == ["destroy"]:
    if state.get("fail_destroy"):
        sys.exit(1)
    targets = [a[len("-target="):] for a in args if a.startswith("-target=")]
    if targets:
        state["addresses"] = [a for a in state["addresses"] if a not in targets]
        for key in state.get("land_during_destroy", []):
            s3.put_object(Bucket=bucket, Key=key, Body=b"late")
    else:
        # Terraform's order: the bucket's dependents, then the bucket.
        state["addresses"] = [a for a in state["addresses"] if a.startswith("aws_s3_bucket.")]
        json.dump(state, open(state_file, "w"))
        if versions() > 0:
            print("Error: deleting S3 Bucket: BucketNotEmpty", file=sys.stderr)
            sys.exit(1)
        s3.delete_bucket(Bucket=bucket)
        state["addresses"] = []
    json.dump(state, open(state_file, "w"))
"""


@dataclass
class Deployed:
    s3: S3Client
    bucket: str
    here: Path

    @property
    def calls(self) -> list[dict[str, Any]]:
        lines = (self.here / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    @property
    def state(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.here / "state.json").read_text())
        return loaded

    def set(self, **values: Any) -> None:
        (self.here / "state.json").write_text(json.dumps(self.state | values))

    def stored_keys(self) -> list[str]:
        page = self.s3.list_object_versions(Bucket=self.bucket)
        entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        return sorted(entry["Key"] for entry in entries)


@pytest.fixture
def deployed(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Deployed]:
    """A versioned lake bucket on moto holding artifacts, and a fake terraform whose state
    holds the stack."""
    for name, value in moto_environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    s3: S3Client = boto3.client("s3", region_name="us-east-1")
    bucket = f"b3-quotes-lake-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for generation in (b"v1", b"v2"):  # a redeploy: one noncurrent version
        s3.put_object(Bucket=bucket, Key="artifacts/glue/transform_job.py", Body=generation)
    state = {
        "bucket": bucket,
        "addresses": PROTECTIONS + WRITERS + DATA,
        "outputs": {"lake_bucket": bucket, "aws_region": "us-east-1"},
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "calls.jsonl").write_text("")
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    fake.write_text(FAKE_TERRAFORM.format(python=sys.executable, here=str(tmp_path)))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}")
    yield Deployed(s3, bucket, tmp_path)


def _write_data(deployed: Deployed) -> None:
    """Two generations of a raw file, and a deleted one (its delete marker)."""
    s3, bucket = deployed.s3, deployed.bucket
    for generation in (b"a", b"b"):
        s3.put_object(
            Bucket=bucket, Key="raw/quotes/dt=2025-08-29/ticker=PETR4/q.parquet", Body=generation
        )
    s3.put_object(Bucket=bucket, Key="refined/quotes_daily/old.parquet", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="refined/quotes_daily/old.parquet")


def _main(*arguments: str) -> int:
    return teardown.main(["--terraform-dir", "terraform", *arguments, "--", "-auto-approve"])


def _commands(deployed: Deployed) -> list[list[str]]:
    return [call["args"] for call in deployed.calls]


def test_with_data_and_no_delete_data_nothing_is_touched(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_data(deployed)
    before = deployed.stored_keys()

    assert _main() == 1

    assert _commands(deployed) == [
        ["state", "list"],
        ["output", "-json", "-no-color"],
    ]
    assert deployed.state["addresses"] == PROTECTIONS + WRITERS + DATA
    assert deployed.stored_keys() == before
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: nothing was destroyed: s3://{deployed.bucket} holds data (e.g. raw/quotes/"
    )
    assert "make destroy DELETE_DATA=1" in err
    assert f"aws s3 sync s3://{deployed.bucket} ./lake-backup --region us-east-1" in err


def test_delete_data_destroys_writers_then_empties_every_version_then_the_bucket(
    deployed: Deployed,
) -> None:
    _write_data(deployed)
    assert len(deployed.stored_keys()) == 6  # 2 artifact versions, 2 raw, 1 refined + its marker

    assert _main("--delete-data") == 0

    calls = deployed.calls
    assert [call["args"][0] for call in calls] == ["state", "output", "destroy", "destroy"]
    writers = calls[2]["args"]
    assert sorted(a.removeprefix("-target=") for a in writers if a.startswith("-target=")) == (
        sorted(WRITERS)
    )
    assert writers[-1] == "-auto-approve"
    assert calls[2]["versions"] == 6, "the writers go while the bucket is still whole"
    assert calls[3]["args"] == ["destroy", "-auto-approve"]
    assert calls[3]["versions"] == 0, "the bucket is destroyed only once it is empty"
    assert deployed.state["addresses"] == []


def test_a_never_run_stack_holds_only_artifacts_and_goes_without_delete_data(
    deployed: Deployed,
) -> None:
    assert _main() == 0

    calls = deployed.calls
    assert [call["args"][0] for call in calls] == ["state", "output", "destroy", "destroy"]
    assert calls[3]["versions"] == 0
    assert deployed.state["addresses"] == []


def test_data_landing_while_the_writers_go_keeps_the_bucket_and_its_protections(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.set(land_during_destroy=["raw/_manifests/late/_manifest.json"])

    assert _main() == 1

    assert [call["args"][0] for call in deployed.calls] == ["state", "output", "destroy"]
    assert deployed.state["addresses"] == PROTECTIONS + DATA
    assert "raw/_manifests/late/_manifest.json" in deployed.stored_keys()
    assert "the stack is gone but the bucket and its protections are kept" in (
        capsys.readouterr().err
    )


def test_a_cancelled_first_destroy_stops_before_any_data_is_deleted(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_data(deployed)
    deployed.set(fail_destroy=True)
    before = deployed.stored_keys()

    assert _main("--delete-data") == 1

    assert [call["args"][0] for call in deployed.calls] == ["state", "output", "destroy"]
    assert deployed.stored_keys() == before
    assert "the bucket, its data and its protections are untouched" in capsys.readouterr().err


def test_an_empty_state_destroys_nothing(deployed: Deployed) -> None:
    deployed.set(addresses=[])
    assert _main("--delete-data") == 0
    assert _commands(deployed) == [["state", "list"]]


def test_the_kept_types_are_the_lake_bucket_and_every_resource_that_protects_it() -> None:
    """Every aws_s3_bucket* resource of storage.tf but the notification (which invokes the
    trigger Lambda, a writer), each on the lake bucket; and the artifacts prefix is glue.tf's."""
    storage = _hcl.load(_hcl.TERRAFORM / "storage.tf")
    declared = {_hcl.unquote(kind) for block in storage["resource"] for kind in block}
    bucket_types = {kind for kind in declared if kind.startswith("aws_s3_bucket")}
    assert bucket_types - {"aws_s3_bucket_notification"} == set(teardown.KEPT_UNTIL_EMPTY)
    for kind in teardown.KEPT_UNTIL_EMPTY - {"aws_s3_bucket"}:
        assert _hcl.resources(kind)["lake"]["bucket"] == "${aws_s3_bucket.lake.id}", kind
    artifacts = _hcl.resolve_locals("${local.artifacts_prefix}", _hcl.locals_())
    assert artifacts == teardown.ARTIFACTS_PREFIX
