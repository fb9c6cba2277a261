"""`b3pipeline aws run` against moto's Step Functions server (its ASL engine turned on through
`/moto-api/config`), with Glue and S3 on the same server.

Three kinds of machine: small ones that pass, fail, time out or get aborted (real Pass, Wait,
Choice, Succeed and Fail states); and the project's own definition
(statemachine/pipeline.asl.json, rendered as Terraform renders it) with the MockConfigFile's
test cases handed to moto's engine for the Tasks moto cannot run here (Lambda needs Docker,
Athena's `.sync` is refused, moto's Glue `.sync` fails in its server). The Glue job run the
mocked task names is a real job run on moto's Glue, and its run summary a real object in
moto's S3, written by the project's own run_summary code: what `aws run` reads back is what
the job writes.

What moto's server does not do like AWS (GetExecutionHistory ignores `reverseOrder`,
`maxResults` and paging) is covered by tests/unit/test_aws_run.py with an AWS-like fake.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests

from b3pipeline import aws_run, cli
from b3pipeline.catalog_registration import (
    CatalogRegistration,
    TableRegistration,
    partitions_written,
)
from b3pipeline.run_summary import build_run_summary, write_run_summary
from b3pipeline.tables import TABLES
from tests.support.moto_server import moto_environment
from tests.support.transform_results import transform_result
from tests.workflow.cases import CASES, HAPPY_DAILY_RUN
from tests.workflow.sfn_harness import (
    ASL_PATH,
    PLACEHOLDERS,
    ROLE_ARN,
    ROOT,
    MotoEngine,
    load_mock_config,
    mock_test_case,
    mock_test_cases_by_execution,
)

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
#: The Glue job run id the MockConfigFile's Glue responses carry.
MOCK_JOB_RUN_ID = "jr_0d1f4a7c2b9e8f6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e"
POLL = "0.05"
_CLOCK = re.compile(r"^\+\d\d:\d\d  ")


@dataclass
class Moto:
    endpoint: str
    sfn: SFNClient
    glue: GlueClient
    s3: S3Client

    def machine(self, definition: dict[str, Any] | str) -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        return self.sfn.create_state_machine(
            name=f"m-{uuid.uuid4().hex[:12]}", definition=text, roleArn=ROLE_ARN
        )["stateMachineArn"]

    def executions(self, arn: str) -> list[dict[str, Any]]:
        return [dict(e) for e in self.sfn.list_executions(stateMachineArn=arn)["executions"]]


@pytest.fixture
def moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    """The session's moto server with state machine execution on (off again afterwards: the
    setting is process-wide and would reach every later in-process mock)."""
    for name, value in moto_environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    for name in ("B3_TICKERS", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    config_url = f"http://{moto_endpoint}/moto-api/config"
    requests.post(config_url, json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
    try:
        yield Moto(
            moto_endpoint,
            boto3.client("stepfunctions", region_name=REGION),
            boto3.client("glue", region_name=REGION),
            boto3.client("s3", region_name=REGION),
        )
    finally:
        requests.post(
            config_url, json={"stepfunctions": {"execute_state_machine": False}}, timeout=10
        )


def _waiting_machine(moto: Moto, seconds: int) -> str:
    return moto.machine(
        {"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": seconds, "End": True}}}
    )


@contextlib.contextmanager
def _once_running(moto: Moto, arn: str, act: Callable[[str], None], after: float) -> Iterator[None]:
    """Calls act(execution ARN) from another thread `after` seconds after the machine's
    execution shows RUNNING, while the body follows it."""

    def watch() -> None:
        for _ in range(200):
            running = [e for e in moto.executions(arn) if e["status"] == "RUNNING"]
            if running:
                time.sleep(after)
                act(running[0]["executionArn"])
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield
    finally:
        watcher.join()


def _aws_run(arn: str, *extra: str) -> int:
    return cli.main(["aws", "run", "--state-machine-arn", arn, "--poll-seconds", POLL, *extra])


def _progress(out: str) -> list[str]:
    """The follower's lines without their clock: '+00:01  Wait ...' -> 'Wait ...'."""
    return [_CLOCK.sub("", line) for line in out.splitlines() if _CLOCK.match(line)]


# -- small machines -------------------------------------------------------------------------------
PASSING = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"ok": True}, "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Broken",
        },
        "Done": {"Type": "Succeed"},
        "Broken": {"Type": "Fail", "Error": "Test.Broken"},
    },
}


def test_a_passing_machine_is_followed_state_by_state_and_exits_zero(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = moto.machine(PASSING)

    assert _aws_run(arn, "--tickers", "PETR4,VALE3", "--date", "2025-08-29") == 0

    out, err = capsys.readouterr()
    [execution] = moto.executions(arn)
    assert json.loads(
        moto.sfn.describe_execution(executionArn=execution["executionArn"])["input"]
    ) == {
        "tickers": ["PETR4", "VALE3"],
        "run_date": "2025-08-29",
    }
    assert f"Started {execution['name']} for PETR4, VALE3 (2025-08-29)" in out
    assert (
        f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}"
        f"#/v2/executions/details/{execution['executionArn']}"
    ) in out
    progress = _progress(out)
    # Each state once, in order; the Wait as entered and then with its duration.
    assert [line.split(" (")[0] for line in progress] == [
        "Prepare",
        "Pause ...",
        "Pause done in 1.0s",
        "Check",
        "Done",
    ]
    assert re.fullmatch(r"Prepare \(\d\.\ds\)", progress[0])
    assert re.fullmatch(r"Pause done in 1\.\ds", progress[2])
    assert f"Execution {execution['name']} SUCCEEDED in " in out
    assert "  Scrape: not run" in out
    assert "  Transform: not run" in out
    assert "  Quality gate: not run" in out
    assert "  Glue job: not run" in out
    assert err == ""


FAILING = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Give Up"},
        "Give Up": {
            "Type": "Fail",
            "Error": "B3Pipeline.TestFailed",
            "Cause": "the cause, in full",
        },
    },
}


def test_a_failing_machine_exits_one_with_the_error_and_cause_and_no_traceback(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = moto.machine(FAILING)

    assert _aws_run(arn) == 1

    out, err = capsys.readouterr()
    [execution] = moto.executions(arn)
    assert _progress(out) == [_progress(out)[0], "Give Up"]
    assert f"Execution {execution['name']} FAILED in " in out
    assert err.strip() == (
        f"error: execution {execution['name']} FAILED with B3Pipeline.TestFailed: the cause, "
        "in full (docs/deploy.md, first-run troubleshooting, says what each error means)"
    )
    assert "Traceback" not in out + err


def test_a_timed_out_execution_exits_one_with_its_status(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = moto.machine(
        {
            "StartAt": "Long",
            "TimeoutSeconds": 1,
            "States": {"Long": {"Type": "Wait", "Seconds": 30, "End": True}},
        }
    )

    assert _aws_run(arn) == 1

    out, err = capsys.readouterr()
    assert "TIMED_OUT" in out.splitlines()[-5]
    assert err.startswith("error: execution aws-run-") and " TIMED_OUT with " in err


def test_an_aborted_execution_exits_one(moto: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    arn = _waiting_machine(moto, 30)

    def stop(execution_arn: str) -> None:
        moto.sfn.stop_execution(executionArn=execution_arn, error="Test.Stopped", cause="by hand")

    with _once_running(moto, arn, stop, after=0.2):
        assert _aws_run(arn) == 1

    out, err = capsys.readouterr()
    assert " ABORTED in " in out.splitlines()[-5]
    # moto's StopExecution drops the error and cause it is given (AWS keeps them; the unit
    # tests check they are printed).
    assert err.startswith("error: execution aws-run-") and " ABORTED with " in err


def test_ctrl_c_leaves_the_execution_running_and_says_how_to_stop_it(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = _waiting_machine(moto, 60)

    def press_ctrl_c(execution_arn: str) -> None:
        """A real SIGINT, once the follower is watching the Wait state."""
        os.kill(os.getpid(), signal.SIGINT)

    with _once_running(moto, arn, press_ctrl_c, after=0.5):
        assert _aws_run(arn) == 130

    out, err = capsys.readouterr()
    [execution] = moto.executions(arn)
    assert execution["status"] == "RUNNING"
    assert "Long ..." in _progress(out)
    assert err.strip().splitlines() == [
        "Stopped following; the execution keeps running. To stop it:",
        f"  aws stepfunctions stop-execution --region {REGION} "
        f"--execution-arn {execution['executionArn']}",
    ]
    moto.sfn.stop_execution(executionArn=execution["executionArn"])


def test_no_wait_prints_where_to_look_and_returns(
    moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = _waiting_machine(moto, 60)

    assert _aws_run(arn, "--no-wait") == 0

    out = capsys.readouterr().out
    [execution] = moto.executions(arn)
    assert execution["status"] == "RUNNING"
    assert _progress(out) == []
    assert out.splitlines()[-1] == (
        f"To stop it: aws stepfunctions stop-execution --region {REGION} "
        f"--execution-arn {execution['executionArn']}"
    )
    moto.sfn.stop_execution(executionArn=execution["executionArn"])


# -- the project's own definition -----------------------------------------------------------------
@dataclass
class Pipeline:
    arn: str
    job_run_id: str


@pytest.fixture
def pipeline(moto: Moto) -> Pipeline:
    """statemachine/pipeline.asl.json on moto, a real Glue job run on moto's Glue (2 x G.1X),
    and that run's summary in the lake bucket, written by b3pipeline.run_summary."""
    moto.glue.create_job(
        Name=PLACEHOLDERS["glue_job_name"],
        Role=ROLE_ARN,
        Command={"Name": "glueetl", "ScriptLocation": "s3://b3-lake/artifacts/job.py"},
        GlueVersion="5.1",
    )
    job_run_id = moto.glue.start_job_run(
        JobName=PLACEHOLDERS["glue_job_name"], WorkerType="G.1X", NumberOfWorkers=2
    )["JobRunId"]
    bucket = PLACEHOLDERS["lake_bucket"]
    with contextlib.suppress(moto.s3.exceptions.BucketAlreadyOwnedByYou):
        moto.s3.create_bucket(Bucket=bucket)
    days = [date(2025, 8, 25 + offset) for offset in range(5)]
    result = transform_result(["PETR4"], days, datetime(2025, 8, 29, 20, 43, tzinfo=UTC))
    partitions = partitions_written(result)
    registration = CatalogRegistration(
        catalog="glue",
        database=PLACEHOLDERS["glue_database"],
        tables={
            table.name: TableRegistration(
                table.name, registered=[p for p in partitions if p.table == table.name]
            )
            for table in TABLES
        },
    )
    summary = build_run_summary(job_run_id, result, registration)

    class Bucket:
        def write_bytes(self, key: str, data: bytes) -> None:
            moto.s3.put_object(Bucket=bucket, Key=key, Body=data)

    write_run_summary(Bucket(), summary)
    return Pipeline(moto.machine(MotoEngine.definition()), job_run_id)


def _mocked(test_case: str, job_run_id: str) -> Any:
    """The MockConfigFile's test case, its Glue responses naming the real job run."""
    text = json.dumps(load_mock_config()).replace(MOCK_JOB_RUN_ID, job_run_id)
    return mock_test_case(json.loads(text), test_case)


def test_the_pipeline_definition_succeeds_with_summary_quality_and_glue_cost(
    moto: Moto, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    case = _mocked("HappyScheduledRun", pipeline.job_run_id)
    with mock_test_cases_by_execution(lambda name: case):
        assert _aws_run(pipeline.arn, "--tickers", "PETR4") == 0

    out, err = capsys.readouterr()
    progress = _progress(out)
    entered = [line.split(" (")[0].removesuffix(" ...") for line in progress]
    entered = [name for name in entered if " done in " not in name]
    # Only the top-level states are told: a Map's inner states would repeat per item.
    top_level = json.loads(ASL_PATH.read_text(encoding="utf-8"))["States"]
    assert entered == [state for state in HAPPY_DAILY_RUN if state in top_level]
    assert "Run Quality Checks ..." in progress
    assert "Scrape Batches ..." in progress
    assert "Run Transform Job ..." in progress
    assert any(re.fullmatch(r"Run Transform Job done in \d\.\ds", line) for line in progress)
    report = out.splitlines()[-5:]
    assert report[0].startswith("Execution aws-run-") and " SUCCEEDED in " in report[0]
    assert report[1] == "  Scrape: 1 ticker written in 1 batch, 5 rows (2025-08-25..2025-08-29)"
    report = report[1:]
    assert report[1] == (
        "  Transform: PETR4 2025-08-25..2025-08-29: 5 daily and 1 monthly rows; partitions "
        "11 registered, 0 already present, 0 failed; catalog current: yes"
    )
    assert report[2] == (
        "  Quality gate: passed (total_violations 0, Athena query "
        "0f5b3c2a-8d7e-4f61-9b0a-1c2d3e4f5a6b)"
    )
    # moto's job run: ExecutionTime 123 s, 2 x G.1X, no ExecutionClass (STANDARD):
    # 246 DPU-seconds x $0.44 / 3600 = $0.0301.
    assert report[3] == (
        f"  Glue job run {pipeline.job_run_id} SUCCEEDED in 2m03s (ExecutionTime); 246 "
        "DPU-seconds (ExecutionTime x DPUs, 2 DPU), STANDARD: $0.0301 at the us-east-1 list "
        "price of $0.44 per DPU-hour"
    )
    assert err == ""


def test_the_pipeline_definition_failing_its_quality_gate_exits_one(
    moto: Moto, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    case = _mocked("QualityViolations", pipeline.job_run_id)
    with mock_test_cases_by_execution(lambda name: case):
        assert _aws_run(pipeline.arn) == 1

    out, err = capsys.readouterr()
    assert "Run Quality Checks failed after " in out or "Quality Check Failed (" in out
    assert "  Quality gate: FAILED (total_violations 3, last column total_violations" in out
    assert err.startswith("error: execution aws-run-")
    assert (
        " FAILED with B3Pipeline.QualityCheckFailed: B3Pipeline.QualityCheckFailed: Quality "
        'check on ["PETR4"] from 2025-08-25 to 2025-08-29 found total_violations ["3"]'
    ) in err
    assert len(err.strip().splitlines()) == 1


def test_a_full_market_with_two_bad_tickers_shows_the_batches_and_names_both(
    moto: Moto, pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """The scheduled fan-out of 402 tickers (9 batches) as `aws run` tells it: the Map's
    progress, then what the scrape wrote and set aside, and the failure naming both."""
    case = _mocked("FullMarketTwoTickersSetAside", pipeline.job_run_id)
    tickers = ",".join(CASES["FullMarketTwoTickersSetAside"].execution_input["tickers"])
    with mock_test_cases_by_execution(lambda name: case):
        assert _aws_run(pipeline.arn, "--tickers", tickers) == 1

    out, err = capsys.readouterr()
    progress = _progress(out)
    scrape = [line for line in progress if line.startswith("Scrape Batches")]
    assert scrape[0] == "Scrape Batches ..."
    assert scrape[1:-1] == [f"Scrape Batches: {n} of 9 done" for n in range(1, 10)]
    assert re.fullmatch(r"Scrape Batches done in \d+\.\ds", scrape[-1])
    told = [line.split(" (")[0] for line in progress]
    assert told.index("Any Tickers Failed?") < told.index("Tickers Failed")
    assert told[-1] == "Pipeline Failed"
    assert (
        "  Scrape: 400 tickers written in 9 batches, 400 rows (2025-08-29..2025-08-29); 2 set "
        "aside: NULL3 (bad BRAPI data: 2025-08-29: close is missing or null); ZZZZ3 (unknown to "
        "BRAPI, HTTP 404: 'Não encontramos a ação ZZZZ3')"
    ) in out.splitlines()
    assert err.startswith("error: execution aws-run-")
    assert " FAILED with B3Pipeline.TickersFailed: 2 tickers were set aside by the scrape" in err
    assert '"ticker":"NULL3"' in err and '"ticker":"ZZZZ3"' in err


def test_aws_run_needs_no_more_than_the_operator_policy(
    moto: Moto, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every AWS call `aws run` makes, as an IAM action, is allowed by
    docs/iam/operator-policy.json (what docs/deploy.md tells an operator to attach)."""
    calls: set[str] = set()
    make_clients = aws_run.aws_clients

    def recording_clients(region: str) -> Any:
        clients = make_clients(region)
        for client in clients:
            prefix = client.meta.service_model.signing_name

            def record(model: Any, prefix: str = prefix, **_: Any) -> None:
                calls.add(f"{prefix}:{model.name}")

            client.meta.events.register("before-call", record)
        return clients

    monkeypatch.setattr(aws_run, "aws_clients", recording_clients)
    case = _mocked("HappyScheduledRun", pipeline.job_run_id)
    with mock_test_cases_by_execution(lambda name: case):
        assert _aws_run(pipeline.arn) == 0

    assert calls == {
        "states:StartExecution",
        "states:GetExecutionHistory",
        "states:DescribeExecution",
        "glue:GetJobRun",
        "s3:GetObject",
    }
    policy = json.loads((ROOT / "docs" / "iam" / "operator-policy.json").read_text())
    allowed = [action for statement in policy["Statement"] for action in statement["Action"]]
    assert sorted(call for call in calls if call not in allowed) == []
