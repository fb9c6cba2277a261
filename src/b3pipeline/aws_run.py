"""`b3pipeline aws run`: start the deployed pipeline, follow it state by state, sum it up.

The CLI only parses options and prints; everything else is here and runs against any
Step Functions, Glue and S3 endpoint (moto's server in the tests):

1. `resolve_run_request`: the state machine and its region, from the options or from
   Terraform's outputs (`b3pipeline.deployment`); the execution input.
2. `start_execution`: StartExecution with a readable name; the console URL and the exact
   `aws stepfunctions stop-execution` command for that execution.
3. `ExecutionFollower.follow`: polls GetExecutionHistory newest-first (`reverseOrder`,
   paging with `nextToken`) down to the last event id already seen, so every event is
   handled once, in id order, however long the history grows. Each top-level state is
   printed as it is entered and again with its duration as it exits; while the Glue
   transform runs, GetJobRun says whether the job run is WAITING for capacity (a FLEX run
   waits for spare capacity, up to ~15-20 minutes: Glue's "job run statuses" page), STARTING
   or RUNNING, so a long Glue state never looks hung.
4. `ExecutionFollower.report`: the outcome (DescribeExecution), what the scrape wrote and set
   aside (the output of the scraper's merge of its batches), the transform's run summary
   (runs/transform/<job run id>.json in the lake the job was given), the quality gate's
   result (the getQueryResults task's output) and the Glue job run's billed time and list
   price (GetJobRun, priced by `b3pipeline.glue_pricing`).

Rules from AWS's pages: GetExecutionHistory returns at most 1000 events a page and pages
with `nextToken`, newest first with `reverseOrder` ("GetExecutionHistory", Step Functions
API reference); event ids grow by one per event. A Glue `.sync` task records TaskSubmitted
with StartJobRun's output (`JobRunId`) and TaskSucceeded with GetJobRun's `JobRun` (`Id`).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from b3pipeline.deployment import DeploymentOutputs
from b3pipeline.errors import (
    ExecutionFailedError,
    ExecutionWatchError,
    InvalidRequestError,
    LakeError,
    WorkflowStartError,
)
from b3pipeline.glue_pricing import PRICE_REGION, JobRunCost, job_run_cost

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

logger = logging.getLogger(__name__)

SUCCEEDED = "SUCCEEDED"
#: History events that end an execution, and the status each one means.
TERMINAL_EVENTS: Mapping[str, str] = {
    "ExecutionSucceeded": SUCCEEDED,
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
#: GetExecutionHistory's largest page.
HISTORY_PAGE_SIZE = 1000
#: State types whose work takes time: printed as entered, then with their duration.
_LONG_STATE_TYPES = ("Task", "Wait", "Map", "Parallel")
#: Events that open and close the inner states of a Map or Parallel state.
_NESTING_OPENS = ("MapStateStarted", "ParallelStateStarted")
_NESTING_CLOSES = (
    "MapStateSucceeded",
    "MapStateFailed",
    "MapStateAborted",
    "ParallelStateSucceeded",
    "ParallelStateFailed",
    "ParallelStateAborted",
)
#: Events that end one iteration of a Map state.
_ITERATION_ENDS = ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted")
#: A Map of more iterations than this tells its progress every tenth of them, not each one.
MAP_PROGRESS_EACH_UP_TO = 10
#: A waiting or running Glue job run is mentioned again after this long without change.
GLUE_HEARTBEAT_SECONDS = 60.0

_STATE_MACHINE_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):states:(?P<region>[a-z]{2}(-[a-z]+)+-\d):"
    r"(?P<account>\d{12}):stateMachine:(?P<name>[^:]{1,80})"
)


# -- what to start --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunTarget:
    state_machine_arn: str
    region: str


@dataclass(frozen=True)
class RunRequest:
    target: RunTarget
    tickers: list[str]
    run_date: date | None

    def execution_input(self) -> dict[str, Any]:
        """DESIGN's manual input: the tickers and one trade date, or null for the latest days."""
        return {
            "tickers": list(self.tickers),
            "run_date": None if self.run_date is None else self.run_date.isoformat(),
        }


def state_machine_region(arn: str) -> str:
    """The region a state machine ARN names."""
    match = _STATE_MACHINE_ARN.fullmatch(arn.strip())
    if not match:
        raise InvalidRequestError(
            f"{arn!r} is not a state machine ARN like "
            "arn:aws:states:sa-east-1:123456789012:stateMachine:b3-quotes-pipeline: "
            "pass the state_machine_arn output of terraform"
        )
    return match.group("region")


def resolve_run_request(
    *,
    state_machine_arn: str | None,
    region: str | None,
    tickers: Sequence[str] | None,
    run_date: date | None,
    default_tickers: Sequence[str],
    read_outputs: Callable[[], DeploymentOutputs],
) -> RunRequest:
    """What to start and where.

    The state machine ARN comes from the option or Terraform's `state_machine_arn` output;
    the region from the option, else the `aws_region` output when Terraform was read, else
    the ARN. The tickers from the option, else the deployed schedule's (`tickers` output)
    when Terraform was read, else `default_tickers` ($B3_TICKERS or PETR4). Terraform is
    read only when the ARN is not given. A region that differs from the ARN's is refused:
    Step Functions would answer that the state machine does not exist.
    """
    outputs: DeploymentOutputs | None = None
    if not state_machine_arn:
        outputs = read_outputs()
        state_machine_arn = str(
            outputs.require("state_machine_arn", "pass --state-machine-arn")
        ).strip()
    arn_region = state_machine_region(state_machine_arn)
    if not region and outputs is not None:
        output_region = outputs.get("aws_region")
        region = str(output_region) if output_region else None
    region = (region or arn_region).strip()
    if region != arn_region:
        raise InvalidRequestError(
            f"--region {region} does not match the state machine's region {arn_region} "
            f"({state_machine_arn}): drop --region or pass --region {arn_region}"
        )
    chosen = list(tickers) if tickers else None
    if chosen is None and outputs is not None:
        deployed = outputs.get("tickers")
        if isinstance(deployed, list) and deployed:
            chosen = [str(ticker) for ticker in deployed]
    return RunRequest(
        RunTarget(state_machine_arn, region), chosen or list(default_tickers), run_date
    )


def aws_clients(region: str) -> tuple[SFNClient, GlueClient, S3Client]:
    """Step Functions, Glue and S3 clients for `region` (the state machine's).

    Standard retry mode backs off on throttling (GetExecutionHistory is polled).
    """
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60
    )
    session = boto3.session.Session()
    return (
        session.client("stepfunctions", region_name=region, config=config),
        session.client("glue", region_name=region, config=config),
        session.client("s3", region_name=region, config=config),
    )


# -- starting -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartedExecution:
    arn: str
    name: str
    region: str
    started_at: datetime

    @property
    def console_url(self) -> str:
        return (
            f"https://{self.region}.console.aws.amazon.com/states/home?region={self.region}"
            f"#/v2/executions/details/{self.arn}"
        )

    @property
    def stop_command(self) -> str:
        return f"aws stepfunctions stop-execution --region {self.region} --execution-arn {self.arn}"


def execution_name(now: datetime, suffix: str | None = None) -> str:
    """'aws-run-20250829T223000Z-1a2b': sortable, readable, unique per start, and only of the
    characters CloudWatch logging accepts in an execution name (A-Z a-z 0-9 - _)."""
    return f"aws-run-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{suffix or secrets.token_hex(2)}"


def start_execution(
    sfn: SFNClient, request: RunRequest, *, now: Callable[[], datetime] | None = None
) -> StartedExecution:
    from botocore.exceptions import BotoCoreError, ClientError

    moment = (now or _utcnow)()
    name = execution_name(moment)
    arn = request.target.state_machine_arn
    try:
        response = sfn.start_execution(
            stateMachineArn=arn,
            name=name,
            input=json.dumps(request.execution_input(), sort_keys=True),
        )
    except ClientError as exc:
        raise WorkflowStartError(
            f"StartExecution on {arn} failed: {_client_error(exc)}; {_start_hint(exc)}"
        ) from exc
    except BotoCoreError as exc:
        raise WorkflowStartError(
            f"StartExecution on {arn} failed: {exc}; {_credentials_hint(exc)}"
        ) from exc
    started_at = response.get("startDate") or moment
    return StartedExecution(response["executionArn"], name, request.target.region, started_at)


def _start_hint(exc: Any) -> str:
    code = _error_code(exc)
    if code == "StateMachineDoesNotExist":
        return "check --state-machine-arn and --region (terraform output state_machine_arn)"
    if code in ("AccessDeniedException", "AccessDenied"):
        return "your AWS identity needs states:StartExecution on it (docs/deploy.md, permissions)"
    if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredToken"):
        return "your AWS credentials are not valid here: renew them (aws sso login, aws configure)"
    return "see docs/deploy.md, first-run troubleshooting"


def _credentials_hint(exc: Exception) -> str:
    if type(exc).__name__ == "NoCredentialsError":
        return "no AWS credentials found: run aws configure, or set AWS_PROFILE"
    return "check your network and AWS credentials"


# -- the history, incrementally -------------------------------------------------------------------
class ExecutionHistory:
    """The events of one execution, fetched a few at a time.

    `fetch_new` pages newest-first down to the last event id it has returned, so a long
    execution costs a page a poll, not its whole history, and no event comes back twice.
    """

    def __init__(self, sfn: SFNClient, execution_arn: str) -> None:
        self._sfn = sfn
        self.execution_arn = execution_arn
        self.last_id = 0

    def fetch_new(self) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        newest_first: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {
                "executionArn": self.execution_arn,
                "reverseOrder": True,
                "maxResults": HISTORY_PAGE_SIZE,
            }
            if token:
                arguments["nextToken"] = token
            try:
                page = self._sfn.get_execution_history(**arguments)
            except (BotoCoreError, ClientError) as exc:
                raise ExecutionWatchError(
                    f"GetExecutionHistory on {self.execution_arn} failed: {_describe(exc)}; "
                    "your AWS identity needs states:GetExecutionHistory on the pipeline's "
                    "executions (docs/deploy.md, permissions)"
                ) from exc
            # Newest first, so a page that reaches a seen id ends the look; the order is not
            # relied on otherwise (moto's server, for one, ignores reverseOrder and paging).
            reached_seen = False
            for event in page["events"]:
                if int(event["id"]) > self.last_id:
                    newest_first.append(dict(event))
                else:
                    reached_seen = True
            token = page.get("nextToken")
            if reached_seen or not token:
                break
        events = sorted(newest_first, key=lambda event: int(event["id"]))
        if events:
            self.last_id = int(events[-1]["id"])
        return events


# -- the events, as a story -----------------------------------------------------------------------
@dataclass
class TaskCall:
    """One attempt of a Task state's service call, as the history tells it."""

    state: str
    resource_type: str
    resource: str
    parameters: dict[str, Any]
    submitted: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def is_glue_job_run(self) -> bool:
        return self.resource_type == "glue" and self.resource.startswith("startJobRun")

    @property
    def is_quality_results(self) -> bool:
        return self.resource_type in ("athena", "aws-sdk:athena") and self.resource == (
            "getQueryResults"
        )

    @property
    def finished(self) -> bool:
        return self.output is not None or self.error is not None

    @property
    def job_run_id(self) -> str | None:
        for payload in (self.output, self.submitted, _json_object(self.cause)):
            if payload:
                found = payload.get("Id") or payload.get("JobRunId")
                if isinstance(found, str) and found:
                    return found
        return None


class Timeline:
    """Turns history events, in id order, into progress lines and the Task calls made.

    Only the top-level states are told (a Map's or Parallel's inner states would repeat per
    item), and a top-level Map's progress as its iterations end ("Scrape Batches: 3 of 8
    done"; every tenth of them for a larger Map). The Task calls inside are recorded, under
    the top-level state's name: a Map's iterations interleave, so each call is followed along
    its events' previousEventId chain.
    """

    def __init__(self, started_at: datetime) -> None:
        self.started_at = started_at
        self.calls: list[TaskCall] = []
        self.status: str | None = None  # set by the terminal event, with its error and cause
        self.error: str | None = None
        self.cause: str | None = None
        self.states_entered: list[str] = []
        self._depth = 0
        self._nested_calls: dict[int, TaskCall] = {}  # by the id of the call's latest event
        self._state: str | None = None
        self._state_type = ""
        self._entered_at: datetime | None = None
        self._attempt_failure: str | None = None
        self._map_items = 0  # the running top-level Map's item count, and how many ended
        self._map_ended = 0
        self._map_failed = 0

    def clock(self, at: datetime) -> str:
        seconds = max(0, int((at - self.started_at).total_seconds()))
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"+{hours}:{minutes:02d}:{seconds:02d}" if hours else f"+{minutes:02d}:{seconds:02d}"

    def line(self, at: datetime, text: str) -> str:
        return f"{self.clock(at)}  {text}"

    def add(self, event: Mapping[str, Any]) -> list[str]:
        kind = str(event["type"])
        at: datetime = event["timestamp"]
        if kind in TERMINAL_EVENTS:
            self.status = TERMINAL_EVENTS[kind]
            details_key = kind[0].lower() + kind[1:] + "EventDetails"
            details = _mapping(event.get(details_key))
            self.error, self.cause = details.get("error"), details.get("cause")
            return []
        if kind in _NESTING_OPENS:
            if self._depth == 0:
                started = _mapping(event.get("mapStateStartedEventDetails"))
                self._map_items, self._map_ended, self._map_failed = (
                    _int(started.get("length")),
                    0,
                    0,
                )
            self._depth += 1
            return []
        if kind in _NESTING_CLOSES:
            self._depth = max(0, self._depth - 1)
            return []
        if kind in _ITERATION_ENDS and self._depth == 1:
            return self._iteration_ended(kind, at)
        if self._depth:
            if kind.startswith("Task"):
                self._nested_task_event(kind, event)
            return []
        if kind.endswith("StateEntered"):
            return self._entered(kind[: -len("StateEntered")], event, at)
        if kind.endswith("StateExited"):
            return self._exited(at)
        if kind.startswith("Task"):
            return self._task_event(kind, event, at)
        return []

    def _entered(self, state_type: str, event: Mapping[str, Any], at: datetime) -> list[str]:
        name = str(event.get("stateEnteredEventDetails", {}).get("name", "?"))
        self.states_entered.append(name)
        self._state, self._state_type, self._entered_at = name, state_type, at
        self._attempt_failure = None
        if state_type in _LONG_STATE_TYPES:
            return [self.line(at, f"{name} ...")]
        if state_type in ("Succeed", "Fail"):
            return [self.line(at, name)]
        return []

    def _exited(self, at: datetime) -> list[str]:
        name, state_type = self._state or "?", self._state_type
        took = _duration((at - self._entered_at).total_seconds()) if self._entered_at else "?"
        failure, self._attempt_failure = self._attempt_failure, None
        self._state, self._entered_at = None, None
        if state_type in ("Succeed", "Fail"):
            return []
        if failure:
            return [self.line(at, f"{name} failed after {took}: {failure} (caught)")]
        if state_type in _LONG_STATE_TYPES:
            return [self.line(at, f"{name} done in {took}")]
        return [self.line(at, f"{name} ({took})")]

    def _iteration_ended(self, kind: str, at: datetime) -> list[str]:
        self._map_ended += 1
        if kind != "MapIterationSucceeded":
            self._map_failed += 1
        total, ended = self._map_items, self._map_ended
        step = max(1, -(-total // MAP_PROGRESS_EACH_UP_TO))  # a tenth, rounded up
        if total <= 1 or (ended % step and ended != total):
            return []
        failed = f", {self._map_failed} failed" if self._map_failed else ""
        return [self.line(at, f"{self._state or '?'}: {ended} of {total} done{failed}")]

    def _task_event(self, kind: str, event: Mapping[str, Any], at: datetime) -> list[str]:
        state = self._state or "?"
        if kind == "TaskScheduled":
            details = event.get("taskScheduledEventDetails", {})
            lines = []
            if self._attempt_failure:
                lines.append(self.line(at, f"{state}: {self._attempt_failure}, retrying"))
                self._attempt_failure = None
            self.calls.append(
                TaskCall(
                    state=state,
                    resource_type=str(details.get("resourceType", "")),
                    resource=str(details.get("resource", "")),
                    parameters=_json_object(details.get("parameters")) or {},
                )
            )
            return lines
        call = self.calls[-1] if self.calls and self.calls[-1].state == state else None
        if call is None:
            return []
        _record_outcome(call, kind, event)
        if call.error is not None and kind in _TASK_FAILURES:
            self._attempt_failure = call.error
        return []

    def _nested_task_event(self, kind: str, event: Mapping[str, Any]) -> None:
        """A Task event inside a Map or Parallel: recorded, never printed."""
        if kind == "TaskScheduled":
            details = event.get("taskScheduledEventDetails", {})
            call = TaskCall(
                state=self._state or "?",
                resource_type=str(details.get("resourceType", "")),
                resource=str(details.get("resource", "")),
                parameters=_json_object(details.get("parameters")) or {},
            )
            self.calls.append(call)
        else:
            found = self._nested_calls.pop(_int(event.get("previousEventId")), None)
            if found is None:
                return
            call = found
            _record_outcome(call, kind, event)
        self._nested_calls[_int(event.get("id"))] = call

    def last_call(self, predicate: Callable[[TaskCall], bool]) -> TaskCall | None:
        return next((call for call in reversed(self.calls) if predicate(call)), None)

    def active_glue_run(self) -> tuple[TaskCall, str, str] | None:
        """(call, job name, run id) of the Glue job run the current state waits for."""
        call = self.last_call(lambda c: c.is_glue_job_run)
        if call is None or call.finished or call.state != self._state:
            return None
        job_name = call.parameters.get("JobName")
        run_id = call.job_run_id
        if not isinstance(job_name, str) or not run_id:
            return None
        return call, job_name, run_id


_TASK_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
}


def _record_outcome(call: TaskCall, kind: str, event: Mapping[str, Any]) -> None:
    """What a Task event after TaskScheduled says of its call."""
    if kind == "TaskSubmitted":
        call.submitted = _json_object(event.get("taskSubmittedEventDetails", {}).get("output"))
    elif kind == "TaskSucceeded":
        output = event.get("taskSucceededEventDetails", {}).get("output")
        call.output = _json_object(output) or {}
    elif kind in _TASK_FAILURES:
        details = event.get(_TASK_FAILURES[kind], {})
        call.error = str(details.get("error") or kind)
        call.cause = details.get("cause")


# -- the outcome ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransformDigest:
    """What the job's run summary says (runs/transform/<job run id>.json)."""

    job_run_id: str
    tickers: list[str]
    start_date: str
    end_date: str
    daily_rows: int
    monthly_rows: int
    partitions: dict[str, int]
    catalog_current: bool | None

    @classmethod
    def from_summary(cls, job_run_id: str, summary: Mapping[str, Any]) -> TransformDigest:
        rows = _mapping(summary.get("rows"))
        counts = _mapping(summary.get("partitions"))
        current = summary.get("catalog_current")
        return cls(
            job_run_id=job_run_id,
            tickers=[str(t) for t in summary.get("tickers", []) if isinstance(t, str)],
            start_date=str(summary.get("start_date", "?")),
            end_date=str(summary.get("end_date", "?")),
            daily_rows=_int(rows.get("daily")),
            monthly_rows=_int(rows.get("monthly")),
            partitions={str(k): _int(v) for k, v in counts.items()},
            catalog_current=current if isinstance(current, bool) else None,
        )

    def describe(self) -> str:
        tickers = ", ".join(self.tickers) or "no tickers"
        current = {True: "yes", False: "no (the crawler repairs it)", None: "unknown"}[
            self.catalog_current
        ]
        registered = self.partitions.get("registered", 0)
        present = self.partitions.get("already_present", 0)
        failed = self.partitions.get("failed", 0)
        return (
            f"{tickers} {self.start_date}..{self.end_date}: {self.daily_rows} daily and "
            f"{self.monthly_rows} monthly rows; partitions {registered} registered, {present} "
            f"already present, {failed} failed; catalog current: {current}"
        )


@dataclass(frozen=True)
class QualityDigest:
    total_violations: str | None
    last_column: str | None
    query_execution_id: str | None = None

    @property
    def passed(self) -> bool:
        return self.last_column == "total_violations" and self.total_violations == "0"

    @classmethod
    def from_results(
        cls, output: Mapping[str, Any], query_execution_id: str | None = None
    ) -> QualityDigest:
        """Athena GetQueryResults: the last row's last cell and the last column's name (what
        the state machine's Quality Passed? reads: a header row is not promised for EXECUTE)."""
        result_set = _mapping(output.get("ResultSet"))
        rows = result_set.get("Rows") or []
        cells = rows[-1].get("Data", []) if rows and isinstance(rows[-1], dict) else []
        value = cells[-1].get("VarCharValue") if cells and isinstance(cells[-1], dict) else None
        metadata = _mapping(result_set.get("ResultSetMetadata"))
        columns = metadata.get("ColumnInfo") or []
        name = columns[-1].get("Name") if columns and isinstance(columns[-1], dict) else None
        return cls(
            None if value is None else str(value),
            None if name is None else str(name),
            query_execution_id,
        )

    def describe(self) -> str:
        query = f", Athena query {self.query_execution_id}" if self.query_execution_id else ""
        if self.passed:
            return f"passed (total_violations 0{query})"
        return (
            f"FAILED (total_violations {self.total_violations}, last column "
            f"{self.last_column}{query})"
        )


@dataclass(frozen=True)
class QualityGate:
    """Every quality query of a run: the state machine runs one per batch of tickers (Run
    Quality Checks, a Map), and the gate passes only when every batch passed."""

    batches: tuple[QualityDigest, ...]

    @property
    def passed(self) -> bool:
        return bool(self.batches) and all(batch.passed for batch in self.batches)

    def describe(self) -> str:
        if len(self.batches) == 1:
            return self.batches[0].describe()
        failed = [batch for batch in self.batches if not batch.passed]
        if not failed:
            return f"passed (total_violations 0 in each of {len(self.batches)} queries)"
        shown = "; ".join(batch.describe().removeprefix("FAILED ") for batch in failed[:3])
        more = f"; {len(failed) - 3} more" if len(failed) > 3 else ""
        return f"FAILED in {len(failed)} of {len(self.batches)} queries: {shown}{more}"


@dataclass(frozen=True)
class ScrapeDigest:
    """What the scrape did: the merged batch outputs Merge Batches returned (its Lambda's
    Payload, b3pipeline.batch_output) and how many batches the run was split into."""

    batches: int
    tickers: int
    rows: int
    dates: list[str]
    failed: list[tuple[str, str]]
    failed_count: int

    SHOWN: ClassVar[int] = 5

    @classmethod
    def from_calls(cls, calls: Sequence[TaskCall]) -> ScrapeDigest | None:
        merged: Mapping[str, Any] | None = None
        batch_count = 0
        for call in calls:
            payload = _mapping(call.parameters.get("Payload"))
            if call.resource_type != "lambda":
                continue
            if "batches" in payload and call.output is not None:
                merged = _mapping(call.output.get("Payload"))
            elif "batch_count" in payload:
                batch_count = _int(payload["batch_count"])
        if merged is None:
            return None
        failed = [
            (str(f.get("ticker")), str(f.get("reason")))
            for f in merged.get("failed_tickers") or []
            if isinstance(f, Mapping)
        ]
        dates = merged.get("dates")
        tickers = merged.get("tickers")
        return cls(
            batches=batch_count,
            tickers=len(tickers) if isinstance(tickers, list) else 0,
            rows=_int(merged.get("rows")),
            dates=[str(day) for day in dates] if isinstance(dates, list) else [],
            failed=failed,
            failed_count=_int(merged.get("failed_count")) or len(failed),
        )

    def describe(self) -> str:
        window = f"{self.dates[0]}..{self.dates[-1]}" if self.dates else "no trade date"
        text = (
            f"{_count(self.tickers, 'ticker')} written in {_count(self.batches, 'batch')}, "
            f"{_count(self.rows, 'row')} ({window})"
        )
        if self.failed_count:
            shown = "; ".join(f"{t} ({r})" for t, r in self.failed[: self.SHOWN])
            more = self.failed_count - min(len(self.failed), self.SHOWN)
            text += f"; {self.failed_count} set aside: {shown}" + (f"; {more} more" if more else "")
        return text


@dataclass(frozen=True)
class GlueBilling:
    job_run_id: str
    job_run_state: str
    cost: JobRunCost

    def describe(self) -> str:
        cost = self.cost
        seconds = cost.execution_seconds
        head = f"job run {self.job_run_id} {self.job_run_state}"
        if seconds is not None:
            head += f" in {_duration(seconds)} (ExecutionTime)"
        if cost.cost_usd is None or cost.billed_dpu_seconds is None:
            return f"{head}; cost not computed: {cost.reason}"
        used = f"{cost.dpu_seconds:g} DPU-seconds ({cost.source}"
        used += f", {cost.dpus:g} DPU)" if cost.dpus else ")"
        billed = ""
        if cost.dpu_seconds is not None and cost.billed_dpu_seconds > cost.dpu_seconds:
            billed = f", billed as {cost.billed_dpu_seconds:g} (the 1-minute minimum)"
        return (
            f"{head}; {used}{billed}, {cost.execution_class}: ${cost.cost_usd:.4f} at the "
            f"{PRICE_REGION} list price of ${cost.rate_usd_per_dpu_hour:.2f} per DPU-hour"
        )


@dataclass(frozen=True)
class RunReport:
    execution_arn: str
    name: str
    status: str
    error: str | None
    cause: str | None
    duration_seconds: float | None
    states_entered: list[str]
    scrape: ScrapeDigest | None = None
    transform: TransformDigest | None = None
    transform_note: str = ""
    quality: QualityGate | None = None
    glue: GlueBilling | None = None
    glue_note: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def lines(self) -> list[str]:
        took = "" if self.duration_seconds is None else f" in {_duration(self.duration_seconds)}"
        lines = [f"Execution {self.name} {self.status}{took}"]
        lines.append(f"  Scrape: {self.scrape.describe() if self.scrape else 'not run'}")
        if self.transform is not None:
            lines.append(f"  Transform: {self.transform.describe()}")
        else:
            lines.append(f"  Transform: {self.transform_note or 'not run'}")
        quality = self.quality.describe() if self.quality else "not run"
        lines.append(f"  Quality gate: {quality}")
        if self.glue is not None:
            lines.append(f"  Glue {self.glue.describe()}")
        else:
            lines.append(f"  Glue job: {self.glue_note or 'not run'}")
        return lines

    def raise_for_status(self) -> None:
        """ExecutionFailedError naming the error and cause unless the execution SUCCEEDED."""
        if self.succeeded:
            return
        error = self.error or "no error name"
        cause = f": {readable_cause(self.cause)}" if self.cause else ""
        raise ExecutionFailedError(
            f"execution {self.name} {self.status} with {error}{cause} "
            "(docs/deploy.md, first-run troubleshooting, says what each error means)"
        )


def readable_cause(cause: str) -> str:
    """A failure's cause as a person reads it. The state machine's causes are the caught
    error output as JSON (`{"Error", "Cause"?}`, DESIGN.md), whose Cause may itself be JSON
    (a Lambda's `{"errorType", "errorMessage", "stackTrace"}`): unwrapped to
    `Error: errorType: message`. Anything else is given as it came."""
    parts: list[str] = []
    text: str | None = cause
    for _ in range(4):  # a caught error inside a caught error, at most
        payload = _json_object(text)
        if payload is None:
            break
        if isinstance(payload.get("Error"), str):
            parts.append(payload["Error"])
            text = payload.get("Cause") if isinstance(payload.get("Cause"), str) else None
        elif isinstance(payload.get("errorMessage"), str):
            kind = payload.get("errorType")
            named = kind and (not parts or parts[-1] != kind)  # Lambda's name is the Error's
            parts.append(f"{kind}: {payload['errorMessage']}" if named else payload["errorMessage"])
            text = None
        else:
            break
        if text is None:
            return ": ".join(parts)
    return ": ".join([*parts, text]) if text else ": ".join(parts) or cause


# -- following ------------------------------------------------------------------------------------
class ExecutionFollower:
    """Follows one started execution until it ends, then reports on it."""

    def __init__(
        self,
        sfn: SFNClient,
        glue: GlueClient,
        s3: S3Client,
        started: StartedExecution,
        *,
        poll_seconds: float = 2.0,
        glue_poll_seconds: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._sfn, self._glue, self._s3 = sfn, glue, s3
        self.started = started
        self.poll_seconds = poll_seconds
        self.glue_poll_seconds = glue_poll_seconds
        self._sleep = sleep
        self._clock = clock or _utcnow
        self.history = ExecutionHistory(sfn, started.arn)
        self.timeline = Timeline(started.started_at)
        self._glue_seen: tuple[str, str] | None = None  # (run id, state) last printed
        self._glue_printed_at: datetime | None = None
        self._glue_polled_at: datetime | None = None

    def follow(self) -> Iterator[str]:
        """Progress lines as the execution goes, until its terminal event."""
        while True:
            for event in self.history.fetch_new():
                yield from self.timeline.add(event)
            if self.timeline.status is not None:
                return
            yield from self._watch_glue()
            self._sleep(self.poll_seconds)

    def _watch_glue(self) -> Iterator[str]:
        active = self.timeline.active_glue_run()
        if active is None:
            return
        call, job_name, run_id = active
        now = self._clock()
        if self._glue_polled_at and (
            (now - self._glue_polled_at).total_seconds() < self.glue_poll_seconds
        ):
            return
        self._glue_polled_at = now
        job_run = self._get_job_run(job_name, run_id)
        if job_run is None:
            return
        state = str(job_run.get("JobRunState", "?"))
        started_on = job_run.get("StartedOn")
        waited = _duration((now - started_on).total_seconds()) if started_on else "?"
        changed = self._glue_seen != (run_id, state)
        heartbeat = self._glue_printed_at is None or (
            (now - self._glue_printed_at).total_seconds() >= GLUE_HEARTBEAT_SECONDS
        )
        if not (changed or heartbeat):
            return
        self._glue_seen, self._glue_printed_at = (run_id, state), now
        run = f"Glue job run {run_id}" if changed else "Glue job run"
        if state == "WAITING":
            text = f"{run} WAITING for capacity for {waited}"
            if changed:
                text += (
                    " (a FLEX run starts when Glue has spare capacity; after 15 minutes Glue "
                    "forces the start, and the run fails if capacity is still short)"
                )
        elif state == "RUNNING":
            text = f"{run} RUNNING, {waited} since it was started"
        else:
            text = f"{run} {state}"
        yield self.timeline.line(now, f"{call.state}: {text}")

    def _get_job_run(self, job_name: str, run_id: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return dict(self._glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"])
        except (BotoCoreError, ClientError) as exc:
            logger.warning("GetJobRun %s %s failed: %s", job_name, run_id, _describe(exc))
            return None

    # -- the report ----------------------------------------------------------------------------
    def report(self) -> RunReport:
        """The outcome; call after `follow` has returned."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            description = self._sfn.describe_execution(executionArn=self.started.arn)
        except (BotoCoreError, ClientError) as exc:
            raise ExecutionWatchError(
                f"DescribeExecution on {self.started.arn} failed: {_describe(exc)}; your AWS "
                "identity needs states:DescribeExecution (docs/deploy.md, permissions)"
            ) from exc
        stop = description.get("stopDate")
        start = description.get("startDate") or self.started.started_at
        transform, transform_note, glue, glue_note = self._glue_outcome()
        batches = []
        for call in self.timeline.calls:
            if call.is_quality_results and call.output is not None:
                query_id = call.parameters.get("QueryExecutionId")
                batches.append(
                    QualityDigest.from_results(
                        call.output, query_id if isinstance(query_id, str) else None
                    )
                )
        quality = QualityGate(tuple(batches)) if batches else None
        return RunReport(
            execution_arn=self.started.arn,
            name=self.started.name,
            status=str(description["status"]),
            # DescribeExecution's, else the terminal event's (a StopExecution's error and
            # cause are in ExecutionAborted's details).
            error=description.get("error") or self.timeline.error,
            cause=description.get("cause") or self.timeline.cause,
            duration_seconds=(stop - start).total_seconds() if stop else None,
            states_entered=list(self.timeline.states_entered),
            scrape=ScrapeDigest.from_calls(self.timeline.calls),
            transform=transform,
            transform_note=transform_note,
            quality=quality,
            glue=glue,
            glue_note=glue_note,
        )

    def _glue_outcome(
        self,
    ) -> tuple[TransformDigest | None, str, GlueBilling | None, str]:
        call = self.timeline.last_call(lambda c: c.is_glue_job_run)
        if call is None:
            return None, "not run", None, "not run"
        run_id = call.job_run_id
        job_name = call.parameters.get("JobName")
        if not run_id or not isinstance(job_name, str):
            note = f"no job run started ({call.error or 'no job run id in the history'})"
            return None, note, None, note
        glue, glue_note = None, ""
        job_run = self._get_job_run(job_name, run_id)
        if job_run is None:
            glue_note = (
                f"job run {run_id}: GetJobRun failed (glue:GetJobRun on job {job_name} is "
                "needed for the billed time)"
            )
        else:
            glue = GlueBilling(run_id, str(job_run.get("JobRunState", "?")), job_run_cost(job_run))
        if call.output is None:
            transform_note = f"the job run did not succeed ({call.error}): no run summary"
            return None, transform_note, glue, glue_note
        transform, transform_note = self._read_summary(call, run_id)
        return transform, transform_note, glue, glue_note

    def _read_summary(self, call: TaskCall, run_id: str) -> tuple[TransformDigest | None, str]:
        from b3pipeline.lake import Lake
        from b3pipeline.run_summary import run_summary_key

        arguments = call.parameters.get("Arguments")
        lake_uri = arguments.get("--lake_uri") if isinstance(arguments, dict) else None
        if not isinstance(lake_uri, str) or not lake_uri.startswith("s3://"):
            return None, "the job was given no s3:// --lake_uri: no run summary to read"
        try:
            lake = Lake.open(lake_uri, s3=self._s3)
            key = run_summary_key(run_id)
            body = lake.read_bytes(key)
        except (LakeError, InvalidRequestError) as exc:
            return None, (
                f"run summary not read: {exc} (reading it needs s3:GetObject on "
                "runs/transform/* of the lake bucket)"
            )
        summary = _json_object(body.decode("utf-8", errors="replace"))
        if summary is None:
            return None, f"run summary {lake.url(key)} is not a JSON object"
        return TransformDigest.from_summary(run_id, summary), ""


# -- small helpers --------------------------------------------------------------------------------
def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 'es' if noun.endswith('ch') else 's'}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _duration(seconds: float) -> str:
    """0.4s, 12s, 1m05s, 1h02m."""
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _json_object(text: Any) -> dict[str, Any] | None:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _error_code(exc: Any) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _client_error(exc: Any) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', exc)}"


def _describe(exc: Exception) -> str:
    return _client_error(exc) if hasattr(exc, "response") else f"{type(exc).__name__}: {exc}"
