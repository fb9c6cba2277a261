"""`b3pipeline aws run` and `transform --catalog-database` failing before any AWS call: one
`error:` line that names what to pass or change, exit 1 (bad arguments: exit 2), nothing
written. Their runs against AWS APIs are in tests/e2e (moto's server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from b3pipeline import cli


@pytest.fixture(autouse=True)
def _no_terraform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with nothing on it: no terraform, no aws."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for name in ("LAKE_URI", "B3_TICKERS", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_without_terraform_aws_run_says_which_option_to_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["aws", "run"]) == 1
    assert _one_line_error(capsys) == (
        "error: cannot read the deployment's outputs: 'terraform' is not installed or not on "
        "PATH; pass --state-machine-arn (its region comes with it)"
    )


def test_a_region_that_contradicts_the_arn_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:states:sa-east-1:123456789012:stateMachine:b3-quotes-pipeline"
    assert cli.main(["aws", "run", "--state-machine-arn", arn, "--region", "us-east-1"]) == 1
    assert "pass --region sa-east-1" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "arguments",
    [
        ["aws"],
        ["aws", "run", "--poll-seconds", "0"],
        ["aws", "run", "--date", "29/08/2025"],
        ["aws", "run", "--tickers", "PETR 4"],
    ],
)
def test_bad_aws_arguments_are_usage_errors(arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(arguments)
    assert exit_info.value.code == 2


def test_catalog_database_needs_an_s3_lake_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()  # transform only reads: the lake must exist
    window = ["--start", "2025-08-25", "--end", "2025-08-29"]
    arguments = ["transform", *window, "--lake", str(lake), "--catalog-database", "b3_lake"]
    assert cli.main(arguments) == 1
    assert "--catalog-database registers partitions in the Glue Data Catalog" in (
        _one_line_error(capsys)
    )
    assert not (lake / "refined").exists()
