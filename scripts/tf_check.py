"""Terraform checked by Terraform itself, offline when a provider mirror is at hand.

    python scripts/tf_check.py check    fmt -check, init, validate, test (`make tf-check`)
    python scripts/tf_check.py render   rewrite terraform/tests/rendered/iam/*.json

The AWS provider comes from a filesystem plugin mirror when there is one (TF_PLUGIN_MIRROR, or
the first of MIRROR_CANDIDATES holding registry.terraform.io/hashicorp/aws), through a CLI
config written to build/tf-check/; otherwise from the registry. Nothing here touches an AWS
account: credentials are fake, the test files skip every account lookup and override the
caller identity, and validate and test run with HTTPS sent to a closed local port.

The working directory's provider install goes to build/tf-check/data (TF_DATA_DIR), and the
lock file the check's init writes is removed afterwards (a user's own
terraform/.terraform.lock.hcl is put back untouched): the check must not pin a deployment to
the mirror's provider version (docs/adr/0006-terraform-checked-offline.md).

`render` applies terraform/tests/iam_policies.tftest.hcl (every resource overridden, the real
provider rendering the policy documents) with -json -verbose and writes each
aws_iam_role_policy's rendered policy from the printed state. That run compares the same
policies with those files, so after `render` it passes, and tests/infra judges the new files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "terraform"
WORK_DIR = ROOT / "build" / "tf-check"
LOCK_FILE = TERRAFORM_DIR / ".terraform.lock.hcl"
RENDERED_POLICIES = TERRAFORM_DIR / "tests" / "rendered" / "iam"
IAM_TEST_FILE = "tests/iam_policies.tftest.hcl"
PROVIDER = "registry.terraform.io/hashicorp/aws"

# Where a mirror is looked for when TF_PLUGIN_MIRROR is unset: this project's machine image
# (/opt/tf-plugins), then Terraform's own implied local mirror directories on Unix
# ("Provider Installation", CLI configuration docs).
MIRROR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path.home() / ".local" / "share" / "terraform" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)

# Everything the provider could send over HTTPS goes to a closed port on this machine.
NO_EGRESS_PROXY = "http://127.0.0.1:9"

# The terraform files the build reads (terraform/main.tf, `make package`).
ARTIFACTS = (
    "build/scraper.zip",
    "build/trigger.zip",
    "build/glue/transform_job.py",
    "build/b3pipeline-0.1.0-py3-none-any.whl",
)


class TfCheckError(Exception):
    """A step of the check failed; the message says what to do."""


def terraform_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return f"{platform.system().lower()}_{arch}"


def holds_aws_provider(mirror: Path, target: str) -> bool:
    """Whether a mirror directory (either layout) has hashicorp/aws for the target platform."""
    provider_dir = mirror / PROVIDER
    unpacked = provider_dir.glob(f"*/{target}/terraform-provider-aws_*")
    packed = provider_dir.glob(f"terraform-provider-aws_*_{target}.zip")
    return any(unpacked) or any(packed)


def find_mirror(environ: Mapping[str, str], target: str) -> Path | None:
    """TF_PLUGIN_MIRROR when set (it must hold the provider), else the first candidate that does."""
    given = environ.get("TF_PLUGIN_MIRROR", "")
    if given:
        mirror = Path(given).expanduser()
        if not holds_aws_provider(mirror, target):
            raise TfCheckError(
                f"TF_PLUGIN_MIRROR={given} holds no {PROVIDER} for {target} (expected "
                f"{given}/{PROVIDER}/<version>/{target}/terraform-provider-aws_*): fix the "
                "path, or unset it to install from the registry"
            )
        return mirror
    return next((c for c in MIRROR_CANDIDATES if holds_aws_provider(c, target)), None)


def cli_config(mirror: Path | None) -> str:
    """A Terraform CLI config: hashicorp/aws from the mirror only, or everything direct."""
    if mirror is None:
        return "provider_installation {\n  direct {}\n}\n"
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        f"    include = [{json.dumps(PROVIDER)}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{json.dumps(PROVIDER)}]\n"
        "  }\n"
        "}\n"
    )


def offline_environment(environ: Mapping[str, str], config_file: Path) -> dict[str, str]:
    """The environment for every terraform command: our CLI config, our data dir, fake AWS."""
    env = {
        key: value
        for key, value in environ.items()
        if not key.startswith("AWS_") and key not in {"TF_WORKSPACE"}
    }
    env.update(
        TF_CLI_CONFIG_FILE=str(config_file),
        TF_DATA_DIR=str(WORK_DIR / "data"),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        AWS_ACCESS_KEY_ID="tf-check-offline",
        AWS_SECRET_ACCESS_KEY="tf-check-offline",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def no_egress(env: Mapping[str, str]) -> dict[str, str]:
    closed = dict(env)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        closed[name] = NO_EGRESS_PROXY
    for name in ("NO_PROXY", "no_proxy"):
        closed.pop(name, None)
    return closed


@contextmanager
def lock_file_kept_aside() -> Iterator[None]:
    """Run with no terraform/.terraform.lock.hcl; afterwards the user's own is back, ours gone."""
    saved = WORK_DIR / "user.terraform.lock.hcl"
    had_lock = LOCK_FILE.exists()
    if had_lock:
        shutil.move(LOCK_FILE, saved)
    try:
        yield
    finally:
        LOCK_FILE.unlink(missing_ok=True)
        if had_lock:
            shutil.move(saved, LOCK_FILE)


def run(step: str, args: Sequence[str], env: Mapping[str, str]) -> None:
    print(f"tf-check: terraform {' '.join(args)}", flush=True)
    result = subprocess.run(["terraform", f"-chdir={TERRAFORM_DIR}", *args], env=env, check=False)
    if result.returncode != 0:
        raise TfCheckError(f"terraform {step} failed (its messages are above)")


def init(env: Mapping[str, str], mirror: Path | None) -> None:
    source = f"the plugin mirror {mirror}" if mirror else "the Terraform registry"
    print(f"tf-check: terraform init -backend=false (hashicorp/aws from {source})", flush=True)
    log = WORK_DIR / "init.log"
    with log.open("w", encoding="utf-8") as handle:
        result = subprocess.run(
            ["terraform", f"-chdir={TERRAFORM_DIR}", "init", "-backend=false", "-no-color"],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode == 0:
        return
    if mirror is None:
        raise TfCheckError(
            "terraform init could not install hashicorp/aws: no plugin mirror was found "
            f"(TF_PLUGIN_MIRROR unset, none in {', '.join(map(str, MIRROR_CANDIDATES))}) and the "
            f"registry did not serve it; set TF_PLUGIN_MIRROR or get online (details: {log})"
        )
    raise TfCheckError(
        f"terraform init could not install hashicorp/aws from {mirror}: its version must be "
        f"within terraform/versions.tf's range (details: {log})"
    )


def prepare(environ: Mapping[str, str]) -> tuple[dict[str, str], Path | None]:
    if shutil.which("terraform") is None:
        raise TfCheckError(
            "terraform is not on PATH: install Terraform >= 1.9 "
            "(https://developer.hashicorp.com/terraform/install)"
        )
    missing = [name for name in ARTIFACTS if not (ROOT / name).is_file()]
    if missing:
        raise TfCheckError(f"{', '.join(missing)} missing: run `make package` first")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    mirror = find_mirror(environ, terraform_platform())
    config_file = WORK_DIR / "terraformrc"
    config_file.write_text(cli_config(mirror), encoding="utf-8")
    return offline_environment(environ, config_file), mirror


def check(environ: Mapping[str, str]) -> None:
    env, mirror = prepare(environ)
    run("fmt", ["fmt", "-check", "-recursive", "-diff"], env)
    with lock_file_kept_aside():
        init(env, mirror)
        run("validate", ["validate", "-no-color"], no_egress(env))
        run("test", ["test", "-no-color"], no_egress(env))


def rendered_policies(lines: Sequence[str]) -> dict[str, str]:
    """{policy resource name: rendered policy JSON} from `terraform test -json -verbose` output."""
    policies: dict[str, str] = {}
    for line in lines:
        message = json.loads(line)
        if message.get("type") != "test_state":
            continue
        for resource in message["test_state"]["root_module"].get("resources", []):
            if resource["type"] == "aws_iam_role_policy" and resource["mode"] == "managed":
                policies[resource["name"]] = resource["values"]["policy"]
    if not policies:
        raise TfCheckError(
            f"terraform test -verbose printed no state for {IAM_TEST_FILE}: "
            "run `make tf-check` and fix what it reports first"
        )
    return policies


def render(environ: Mapping[str, str]) -> None:
    env, mirror = prepare(environ)
    with lock_file_kept_aside():
        init(env, mirror)
        print(f"tf-check: terraform test -json -verbose -filter={IAM_TEST_FILE}", flush=True)
        result = subprocess.run(
            [
                "terraform",
                f"-chdir={TERRAFORM_DIR}",
                *("test", "-json", "-verbose", f"-filter={IAM_TEST_FILE}"),
            ],
            env=no_egress(env),
            capture_output=True,
            text=True,
            check=False,
        )
    policies = rendered_policies(result.stdout.splitlines())
    RENDERED_POLICIES.mkdir(parents=True, exist_ok=True)
    for stale in RENDERED_POLICIES.glob("*.json"):
        if stale.stem not in policies:
            stale.unlink()
            print(f"removed {stale.relative_to(ROOT)}")
    for name, policy in sorted(policies.items()):
        path = RENDERED_POLICIES / f"{name}.json"
        text = json.dumps(json.loads(policy), indent=2) + "\n"
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        path.write_text(text, encoding="utf-8")
        print(f"{'wrote' if changed else 'unchanged'} {path.relative_to(ROOT)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("check", "render"))
    args = parser.parse_args(argv)
    try:
        (check if args.command == "check" else render)(os.environ)
    except TfCheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
