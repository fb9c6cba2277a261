"""`make destroy`: take the stack down without ever leaving the lake's data unprotected.

A plain `terraform destroy` deletes the lake bucket's dependents first (its public access
block, TLS-only policy, ownership controls, versioning, lifecycle) and the bucket last; with
data in the bucket that last step fails on BucketNotEmpty and the data stays behind with no
protection. Terraform 1.11 has no `-exclude`, `lifecycle.prevent_destroy` cannot depend on
a variable, and `terraform state rm` or a `removed` block would leave the bucket unmanaged.
So teardown is two targeted destroys around a check, in this order:

1. Read what is deployed (`terraform state list`, `terraform output -json`). Nothing in the
   state: nothing to do. If the lake bucket holds data (any object version or delete marker
   outside artifacts/, which Terraform uploads itself) and --delete-data was not given,
   refuse here: nothing has been touched.
2. `terraform destroy -target=...` every resource except the bucket and its protections:
   the schedule, the Lambdas, the Glue job, the state machine (everything that writes to the
   bucket) go first.
3. Look at the bucket again (a run may have written until step 2 removed it). Data and no
   --delete-data: stop; the bucket and every protection are still there. Otherwise delete
   every object version and delete marker (the bucket is versioned: deleting current objects
   would only add delete markers) in batches of at most 1000 keys, DeleteObjects' limit, and
   the leftover versions under artifacts/ in any case.
4. `terraform destroy`: what is left, the now empty bucket and its protections.

Options after `--` go to both `terraform destroy` calls (-auto-approve, -var-file=...).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from b3pipeline.deployment import DEFAULT_TERRAFORM_DIR, read_terraform_outputs
from b3pipeline.errors import B3PipelineError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

#: What terraform/glue.tf uploads (local.artifacts_prefix): build outputs, not data.
ARTIFACTS_PREFIX = "artifacts/"
#: The lake bucket and the resources that protect it: destroyed last, once it is empty.
KEPT_UNTIL_EMPTY = frozenset(
    {
        "aws_s3_bucket",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_policy",
    }
)
#: DeleteObjects takes at most 1000 keys a request (Amazon S3 API reference, DeleteObjects).
DELETE_BATCH = 1000


class TeardownError(B3PipelineError):
    """The teardown stopped; the message says what was and was not done."""


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Terraform:
    executable: str
    directory: Path
    destroy_arguments: Sequence[str] = ()
    run: Runner = subprocess.run

    def _command(self, *arguments: str) -> list[str]:
        return [self.executable, f"-chdir={self.directory}", *arguments]

    def state_list(self) -> list[str]:
        command = self._command("state", "list")
        try:
            done = self.run(command, capture_output=True, text=True, check=False)
        except FileNotFoundError as exc:
            raise TeardownError(
                f"{self.executable!r} is not installed or not on PATH: nothing was destroyed"
            ) from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise TeardownError(
                f"`{' '.join(command)}` failed ({detail[-1] if detail else done.returncode}): "
                "nothing was destroyed"
            )
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    def destroy(self, targets: Sequence[str] = ()) -> bool:
        """`terraform destroy`, talking to the user (its plan and its question); True if it
        succeeded."""
        arguments = ["destroy", *(f"-target={t}" for t in targets)]
        command = self._command(*arguments, *self.destroy_arguments)
        return self.run(command, check=False).returncode == 0


def resource_type(address: str) -> str:
    """'aws_s3_bucket.lake' -> 'aws_s3_bucket'; module.x.aws_y.z -> 'aws_y'."""
    parts = [part for part in address.split(".") if not part.startswith("module")]
    return parts[-2] if len(parts) >= 2 else address


def writers_first(addresses: Sequence[str]) -> list[str]:
    """Every managed resource but the lake bucket and its protections (data sources aside)."""
    return [
        address
        for address in addresses
        if not address.startswith("data.") and ".data." not in address
        if resource_type(address) not in KEPT_UNTIL_EMPTY
    ]


# -- the bucket ---------------------------------------------------------------------------------
def _versions(s3: S3Client, bucket: str) -> Iterator[tuple[str, str]]:
    """(key, version id) of every object version and delete marker."""
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
    for page in pages:
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            yield entry["Key"], entry["VersionId"]


def first_data_key(s3: S3Client, bucket: str) -> str | None:
    """A key of the lake's data (anything outside artifacts/), or None when it holds none.

    A bucket that does not exist holds nothing.
    """
    from botocore.exceptions import ClientError

    try:
        for key, _ in _versions(s3, bucket):
            if not key.startswith(ARTIFACTS_PREFIX):
                return key
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return None
        raise TeardownError(f"cannot list s3://{bucket}: {exc}; nothing more was done") from exc
    return None


def empty_bucket(s3: S3Client, bucket: str, *, delete_data: bool) -> int:
    """Delete every version and delete marker (only those under artifacts/ unless
    `delete_data`); returns how many were deleted."""
    from botocore.exceptions import ClientError

    deleted = 0
    batch: list[ObjectIdentifierTypeDef] = []

    def flush() -> None:
        nonlocal deleted
        if not batch:
            return
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise TeardownError(
                f"DeleteObjects on s3://{bucket} refused {len(errors)} version(s), e.g. "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}; the bucket "
                "and its protections are still there"
            )
        deleted += len(batch)
        batch.clear()

    try:
        for key, version_id in list(_versions(s3, bucket)):
            if delete_data or key.startswith(ARTIFACTS_PREFIX):
                batch.append({"Key": key, "VersionId": version_id})
                if len(batch) == DELETE_BATCH:
                    flush()
        flush()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return deleted
        raise TeardownError(
            f"cannot empty s3://{bucket}: {exc}; the bucket and its protections are still there"
        ) from exc
    return deleted


def _refusal(bucket: str, key: str, region: str) -> str:
    return (
        f"s3://{bucket} holds data (e.g. {key}). To delete it with everything else: "
        "make destroy DELETE_DATA=1. To keep a copy first: aws s3 sync "
        f"s3://{bucket} ./lake-backup --region {region}"
    )


# -- the order --------------------------------------------------------------------------------
def teardown(
    terraform: Terraform,
    s3_for: Callable[[str, str | None], S3Client],
    *,
    delete_data: bool,
    say: Callable[[str], None] = print,
) -> None:
    """Steps 1-4 of the module docstring; raises TeardownError when it stops."""
    addresses = terraform.state_list()
    if not addresses:
        say(f"Terraform's state in {terraform.directory} is empty: nothing to destroy.")
        return
    kept = [a for a in addresses if resource_type(a) in KEPT_UNTIL_EMPTY]
    if "aws_s3_bucket.lake" not in addresses:
        say("No lake bucket in the state: destroying everything.")
        if not terraform.destroy():
            raise TeardownError("terraform destroy did not finish: run make destroy again")
        return
    outputs = read_terraform_outputs(
        terraform.directory,
        instead="run make deploy once so the outputs exist, then make destroy",
        terraform=terraform.executable,
        run=terraform.run,
    )
    bucket = outputs.get("lake_bucket")
    if not bucket:
        raise TeardownError(
            "the state holds aws_s3_bucket.lake but the outputs name no lake_bucket: run make "
            "deploy once (it writes the outputs), then make destroy; nothing was destroyed"
        )
    bucket = str(bucket)
    region = outputs.get("aws_region")
    s3 = s3_for(bucket, str(region) if region else None)
    shown_region = str(region or "<region>")

    # 1. Refuse before touching anything.
    key = first_data_key(s3, bucket)
    if key is not None and not delete_data:
        raise TeardownError(f"nothing was destroyed: {_refusal(bucket, key, shown_region)}")

    # 2. Everything that writes to the bucket, first.
    first = writers_first(addresses)
    say(f"1/3 destroying everything but s3://{bucket} and its protections ({len(first)} items)")
    if first and not terraform.destroy(first):
        raise TeardownError(
            "terraform destroy (everything but the bucket) did not finish: the bucket, its "
            "data and its protections are untouched; run make destroy again"
        )

    # 3. The bucket, looked at again now that nothing writes to it.
    key = first_data_key(s3, bucket)
    if key is not None and not delete_data:
        raise TeardownError(
            "the stack is gone but the bucket and its protections are kept, because data "
            f"landed while it was destroyed: {_refusal(bucket, key, shown_region)}"
        )
    count = empty_bucket(s3, bucket, delete_data=delete_data)
    say(f"2/3 deleted {count} object version(s) and delete marker(s) from s3://{bucket}")

    # 4. The empty bucket and its protections.
    say(f"3/3 destroying s3://{bucket} and its protections ({len(kept)} items)")
    if not terraform.destroy():
        raise TeardownError(
            f"terraform destroy of the emptied bucket did not finish: run make destroy "
            f"DELETE_DATA={int(delete_data)} again"
        )
    say("Teardown complete.")


def s3_client(bucket: str, region: str | None) -> S3Client:
    """S3 in the deployment's region (Terraform's aws_region output); for a stack applied
    before that output existed, the bucket's own region (b3pipeline.lake)."""
    import boto3

    from b3pipeline.lake import s3_client as lake_s3_client

    if region is None:
        return lake_s3_client(bucket)
    client: S3Client = boto3.session.Session().client("s3", region_name=region)
    return client


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="teardown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--terraform", default="terraform", help="the terraform executable")
    parser.add_argument("--terraform-dir", type=Path, default=DEFAULT_TERRAFORM_DIR)
    parser.add_argument(
        "--delete-data",
        action="store_true",
        help="empty the lake bucket (every version) and destroy it too",
    )
    parser.add_argument("destroy_arguments", nargs="*", help="after --: for terraform destroy")
    args = parser.parse_args(argv)
    terraform = Terraform(args.terraform, args.terraform_dir, tuple(args.destroy_arguments))
    try:
        teardown(terraform, s3_client, delete_data=args.delete_data)
    except B3PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
