"""b3pipeline.aws_run without AWS: the history read as AWS pages it, the story the events tell,
the Glue job run watched while it waits for capacity, the outcome, and where the target and
its region come from.

GetExecutionHistory's paging is AWS's (Step Functions API reference, GetExecutionHistory):
`reverseOrder` lists the newest events first, `maxResults` is an upper limit ("the actual
number of results returned per call might be fewer"), `nextToken` continues. moto's server
does none of it, so `AwsLikeHistory` below does, and the tests/e2e ones run on moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from b3pipeline.aws_run import (
    ExecutionFollower,
    ExecutionHistory,
    QualityDigest,
    QualityGate,
    RunReport,
    RunRequest,
    RunTarget,
    ScrapeDigest,
    StartedExecution,
    Timeline,
    TransformDigest,
    execution_name,
    readable_cause,
    resolve_run_request,
    start_execution,
    state_machine_region,
)
from b3pipeline.deployment import DeploymentOutputs
from b3pipeline.errors import (
    DeploymentOutputsError,
    ExecutionFailedError,
    InvalidRequestError,
    WorkflowStartError,
)

T0 = datetime(2025, 8, 29, 22, 0, tzinfo=UTC)
ARN = "arn:aws:states:sa-east-1:123456789012:stateMachine:b3-quotes-pipeline"
EXECUTION_ARN = "arn:aws:states:sa-east-1:123456789012:execution:b3-quotes-pipeline:aws-run-x"
JOB_RUN_ID = "jr_" + "ab" * 32


# -- events ---------------------------------------------------------------------------------------
class Events:
    """History events with ids and timestamps, as GetExecutionHistory returns them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, kind: str, at: float, previous: int | None = None, **details: Any) -> Events:
        """One event; its previousEventId is the event before it unless `previous` says."""
        event_id = len(self.items) + 1
        self.items.append(
            {
                "id": event_id,
                "previousEventId": event_id - 1 if previous is None else previous,
                "type": kind,
                "timestamp": T0 + timedelta(seconds=at),
            }
            | details
        )
        return self

    def state(self, kind: str, name: str, entered: float, exited: float | None = None) -> Events:
        self.add(f"{kind}StateEntered", entered, stateEnteredEventDetails={"name": name})
        if exited is not None:
            self.add(f"{kind}StateExited", exited, stateExitedEventDetails={"name": name})
        return self

    def scheduled(self, at: float, resource_type: str, resource: str, **parameters: Any) -> Events:
        details = {
            "resourceType": resource_type,
            "resource": resource,
            "parameters": json.dumps(parameters),
        }
        return self.add("TaskScheduled", at, taskScheduledEventDetails=details)

    def succeeded(self, at: float, output: dict[str, Any]) -> Events:
        return self.add(
            "TaskSucceeded", at, taskSucceededEventDetails={"output": json.dumps(output)}
        )

    def failed(self, at: float, error: str, cause: str | None = None) -> Events:
        details = {"error": error} | ({"cause": cause} if cause else {})
        return self.add("TaskFailed", at, taskFailedEventDetails=details)


def _lines(events: Events) -> tuple[Timeline, list[str]]:
    timeline = Timeline(T0)
    lines = [line for event in events.items for line in timeline.add(event)]
    return timeline, lines


# -- the history, paged like AWS ------------------------------------------------------------------
@dataclass
class AwsLikeHistory:
    """GetExecutionHistory as documented: newest first with reverseOrder, pages of at most
    `page_size` (fewer than asked), nextToken to continue."""

    events: list[dict[str, Any]]
    page_size: int = 2
    calls: list[dict[str, Any]] = field(default_factory=list)

    def get_execution_history(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        ordered = list(reversed(self.events)) if arguments.get("reverseOrder") else self.events
        start = int(arguments.get("nextToken", "0"))
        size = min(self.page_size, int(arguments.get("maxResults") or 100))
        page: dict[str, Any] = {"events": ordered[start : start + size]}
        if start + size < len(ordered):
            page["nextToken"] = str(start + size)
        return page


def test_history_returns_each_event_once_in_order_and_reads_only_new_pages() -> None:
    events = Events()
    for index in range(6):
        events.state("Pass", f"S{index}", index, index + 0.5)
    fake = AwsLikeHistory(events.items[:5])
    history = ExecutionHistory(cast(Any, fake), EXECUTION_ARN)

    assert [e["id"] for e in history.fetch_new()] == [1, 2, 3, 4, 5]
    fake.events = events.items[:12]
    fake.calls.clear()
    assert [e["id"] for e in history.fetch_new()] == [6, 7, 8, 9, 10, 11, 12]
    # Newest first, two a page, down to the page holding id 5: 12-11, 10-9, 8-7, 6-5.
    assert len(fake.calls) == 4
    assert all(call["reverseOrder"] is True for call in fake.calls)
    assert history.fetch_new() == []


def test_history_tolerates_an_engine_that_ignores_order_and_paging() -> None:
    """moto's server: everything, oldest first, in one page."""

    class Unordered:
        def __init__(self, events: list[dict[str, Any]]) -> None:
            self.events = events

        def get_execution_history(self, **arguments: Any) -> dict[str, Any]:
            return {"events": list(self.events)}

    events = Events().state("Pass", "A", 0, 1).state("Pass", "B", 1, 2).items
    fake = Unordered(events[:2])
    history = ExecutionHistory(cast(Any, fake), EXECUTION_ARN)
    assert [e["id"] for e in history.fetch_new()] == [1, 2]
    fake.events = events
    assert [e["id"] for e in history.fetch_new()] == [3, 4]
    assert history.fetch_new() == []


def test_a_history_error_names_the_permission() -> None:
    class Denied:
        def get_execution_history(self, **arguments: Any) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                "GetExecutionHistory",
            )

    with pytest.raises(Exception, match="states:GetExecutionHistory") as caught:
        ExecutionHistory(cast(Any, Denied()), EXECUTION_ARN).fetch_new()
    assert "AccessDeniedException: no" in str(caught.value)


# -- the story ------------------------------------------------------------------------------------
def test_each_state_is_told_as_entered_and_with_its_duration() -> None:
    events = (
        Events()
        .add("ExecutionStarted", 0)
        .state("Pass", "Load Defaults", 0, 0.1)
        .state("Task", "Scrape Quotes", 0.1)
        .scheduled(0.1, "lambda", "invoke", FunctionName="f")
        .succeeded(5.2, {"Payload": {}})
        .add("TaskStateExited", 5.3, stateExitedEventDetails={"name": "Scrape Quotes"})
        .state("Wait", "Wait For Crawler", 5.3, 35.3)
        .state("Choice", "Quality Passed?", 35.3, 35.3)
        .state("Succeed", "Pipeline Succeeded", 95, 95)
        .add("ExecutionSucceeded", 95)
    )
    timeline, lines = _lines(events)
    assert lines == [
        "+00:00  Load Defaults (0.1s)",
        "+00:00  Scrape Quotes ...",
        "+00:05  Scrape Quotes done in 5.2s",
        "+00:05  Wait For Crawler ...",
        "+00:35  Wait For Crawler done in 30s",
        "+00:35  Quality Passed? (0.0s)",
        "+01:35  Pipeline Succeeded",
    ]
    assert timeline.status == "SUCCEEDED"
    assert timeline.states_entered == [
        "Load Defaults",
        "Scrape Quotes",
        "Wait For Crawler",
        "Quality Passed?",
        "Pipeline Succeeded",
    ]


def test_retries_and_caught_failures_are_told() -> None:
    events = (
        Events()
        .state("Task", "Scrape Quotes", 0)
        .scheduled(0, "lambda", "invoke")
        .failed(1, "Lambda.TooManyRequestsException", "Rate Exceeded")
        .scheduled(3, "lambda", "invoke")
        .failed(4, "BrapiUnauthorizedError", "401")
        .add("TaskStateExited", 4, stateExitedEventDetails={"name": "Scrape Quotes"})
        .state("Pass", "Scrape Quotes Error", 4, 4)
        .state("Fail", "Pipeline Failed", 4)
        .add(
            "ExecutionFailed",
            4,
            executionFailedEventDetails={"error": "B3Pipeline.ScrapeFailed", "cause": "{}"},
        )
    )
    timeline, lines = _lines(events)
    assert lines == [
        "+00:00  Scrape Quotes ...",
        "+00:03  Scrape Quotes: Lambda.TooManyRequestsException, retrying",
        "+00:04  Scrape Quotes failed after 4.0s: BrapiUnauthorizedError (caught)",
        "+00:04  Scrape Quotes Error (0.0s)",
        "+00:04  Pipeline Failed",
    ]
    assert (timeline.status, timeline.error, timeline.cause) == (
        "FAILED",
        "B3Pipeline.ScrapeFailed",
        "{}",
    )
    assert [(call.error, call.cause) for call in timeline.calls] == [
        ("Lambda.TooManyRequestsException", "Rate Exceeded"),
        ("BrapiUnauthorizedError", "401"),
    ]


def test_a_map_tells_its_own_state_not_each_item() -> None:
    events = (
        Events()
        .state("Map", "Scrape Batches", 0)
        .add("MapStateStarted", 0)
        .add("MapIterationStarted", 0)
        .state("Task", "Scrape Quotes", 0)
        .scheduled(0, "lambda", "invoke")
        .succeeded(2, {})
        .add("TaskStateExited", 2, stateExitedEventDetails={"name": "Scrape Quotes"})
        .add("MapIterationSucceeded", 2)
        .add("MapStateSucceeded", 2)
        .add("MapStateExited", 2, stateExitedEventDetails={"name": "Scrape Batches"})
    )
    timeline, lines = _lines(events)
    assert lines == ["+00:00  Scrape Batches ...", "+00:02  Scrape Batches done in 2.0s"]
    # The calls inside are recorded under the Map's name (the report reads them).
    assert [(c.state, c.resource, c.output) for c in timeline.calls] == [
        ("Scrape Batches", "invoke", {})
    ]


def _map_of(items: int, failed_at: int | None = None) -> Events:
    events = (
        Events()
        .state("Map", "Scrape Batches", 0)
        .add("MapStateStarted", 0, mapStateStartedEventDetails={"length": items})
    )
    for index in range(items):
        ended = "MapIterationFailed" if index == failed_at else "MapIterationSucceeded"
        events.add(ended, index + 1, mapIterationSucceededEventDetails={"index": index})
    return events.add("MapStateSucceeded", items).add(
        "MapStateExited", items, stateExitedEventDetails={"name": "Scrape Batches"}
    )


def test_a_map_tells_how_many_of_its_items_are_done() -> None:
    _, lines = _lines(_map_of(3, failed_at=1))
    assert lines == [
        "+00:00  Scrape Batches ...",
        "+00:01  Scrape Batches: 1 of 3 done",
        "+00:02  Scrape Batches: 2 of 3 done, 1 failed",
        "+00:03  Scrape Batches: 3 of 3 done, 1 failed",
        "+00:03  Scrape Batches done in 3.0s",
    ]


def test_a_large_map_tells_every_tenth_of_its_items() -> None:
    _, lines = _lines(_map_of(95))
    progress = [line.split("  ", 1)[1] for line in lines if " of 95 done" in line]
    assert progress == [f"Scrape Batches: {n} of 95 done" for n in (*range(10, 95, 10), 95)]


def _merge_call(output: dict[str, Any]) -> dict[str, Any]:
    return {"Payload": output, "StatusCode": 200}


def test_the_report_tells_what_the_scrape_wrote_and_set_aside() -> None:
    merged = {
        "tickers": [f"T{i:03d}3" for i in range(400)],
        "dates": ["2025-08-29"],
        "rows": 400,
        "manifest_keys": [],
        "failed_count": 7,
        "failed_tickers": [{"ticker": f"Z{i}ZZ3", "reason": f"reason {i}"} for i in range(7)],
    }
    events = (
        Events()
        .state("Map", "Scrape Batches", 0)
        .add("MapStateStarted", 0, mapStateStartedEventDetails={"length": 8})
        .scheduled(0, "lambda", "invoke", Payload={"tickers": ["T0003"], "batch_count": 8})
        .succeeded(1, _merge_call({"tickers": ["T0003"]}))
        .add("MapStateSucceeded", 1)
        .add("MapStateExited", 1, stateExitedEventDetails={"name": "Scrape Batches"})
        .state("Task", "Merge Batches", 1)
        .scheduled(1, "lambda", "invoke", Payload={"batches": []})
        .succeeded(2, _merge_call(merged))
        .add("TaskStateExited", 2, stateExitedEventDetails={"name": "Merge Batches"})
    )
    timeline, _ = _lines(events)
    report = RunReport(
        EXECUTION_ARN, "x", "FAILED", "B3Pipeline.TickersFailed", None, 3.0, [],
        scrape=ScrapeDigest.from_calls(timeline.calls),
    )  # fmt: skip
    assert report.lines()[1] == (
        "  Scrape: 400 tickers written in 8 batches, 400 rows (2025-08-29..2025-08-29); 7 set "
        "aside: Z0ZZ3 (reason 0); Z1ZZ3 (reason 1); Z2ZZ3 (reason 2); Z3ZZ3 (reason 3); Z4ZZ3 "
        "(reason 4); 2 more"
    )
    assert ScrapeDigest.from_calls([]) is None


def test_interleaved_map_iterations_keep_each_call_s_own_outcome() -> None:
    """Two iterations at once: each Task event belongs to the call its previousEventId
    chain leads back to, not to the call scheduled last."""
    quality = "getQueryResults"
    events = (
        Events()
        .state("Map", "Run Quality Checks", 0)  # 1
        .add("MapStateStarted", 0)  # 2
        .scheduled(1, "athena", quality, QueryExecutionId="q-1")  # 3
        .scheduled(1, "athena", quality, QueryExecutionId="q-2")  # 4
        .add("TaskStarted", 1, previous=4)  # 5
        .add("TaskStarted", 1, previous=3)  # 6
        .add("TaskSucceeded", 2, previous=5, taskSucceededEventDetails={"output": '{"n": 2}'})
        .add("TaskFailed", 2, previous=6, taskFailedEventDetails={"error": "Athena.Boom"})
        .add("MapStateSucceeded", 3)
        .add("MapStateExited", 3, stateExitedEventDetails={"name": "Run Quality Checks"})
    )
    timeline, _ = _lines(events)
    outcomes = {c.parameters["QueryExecutionId"]: (c.output, c.error) for c in timeline.calls}
    assert outcomes == {"q-1": (None, "Athena.Boom"), "q-2": ({"n": 2}, None)}


def _results(total: str) -> dict[str, Any]:
    return {
        "ResultSet": {
            "Rows": [{"Data": [{"VarCharValue": total}]}],
            "ResultSetMetadata": {"ColumnInfo": [{"Name": "total_violations"}]},
        }
    }


def test_the_quality_gate_passes_only_when_every_batch_passed() -> None:
    passed = QualityDigest.from_results(_results("0"), "q-1")
    failed = QualityDigest.from_results(_results("3"), "q-2")
    assert QualityGate((passed,)).describe() == "passed (total_violations 0, Athena query q-1)"
    assert QualityGate((passed, passed)).passed
    assert QualityGate((passed, passed)).describe() == (
        "passed (total_violations 0 in each of 2 queries)"
    )
    assert not QualityGate((passed, failed)).passed
    assert not QualityGate(()).passed
    assert QualityGate((passed, failed)).describe() == (
        "FAILED in 1 of 2 queries: (total_violations 3, last column total_violations, "
        "Athena query q-2)"
    )


def test_an_abort_keeps_the_error_and_cause_stop_execution_gave() -> None:
    events = Events().add(
        "ExecutionAborted",
        1,
        executionAbortedEventDetails={"error": "Ops.Stopped", "cause": "wrong window"},
    )
    timeline, _ = _lines(events)
    assert (timeline.status, timeline.error, timeline.cause) == (
        "ABORTED",
        "Ops.Stopped",
        "wrong window",
    )


def test_the_clock_counts_hours() -> None:
    assert Timeline(T0).clock(T0 + timedelta(hours=1, minutes=2, seconds=3)) == "+1:02:03"


# -- following the Glue job run -------------------------------------------------------------------
class ScriptedExecution:
    """Step Functions whose history grows by one batch per GetExecutionHistory call."""

    def __init__(self, batches: list[list[dict[str, Any]]], description: dict[str, Any]) -> None:
        self.batches = batches
        self.visible: list[dict[str, Any]] = []
        self.description = description

    def get_execution_history(self, **arguments: Any) -> dict[str, Any]:
        if self.batches:
            self.visible += self.batches.pop(0)
        return {"events": list(reversed(self.visible))}

    def describe_execution(self, **arguments: Any) -> dict[str, Any]:
        return self.description


class ScriptedGlue:
    def __init__(self, states: list[str], job_run: dict[str, Any]) -> None:
        self.states = states
        self.job_run = job_run
        self.calls: list[dict[str, Any]] = []

    def get_job_run(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"JobRun": self.job_run | {"JobRunState": state}}


class Clock:
    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += self.step


def _glue_story(polls_in_glue: int) -> list[list[dict[str, Any]]]:
    events = (
        Events()
        .state("Task", "Run Transform Job", 0)
        .scheduled(0, "glue", "startJobRun.sync", JobName="b3-quotes-transform", Arguments={})
        .add(
            "TaskSubmitted",
            1,
            taskSubmittedEventDetails={"output": json.dumps({"JobRunId": JOB_RUN_ID})},
        )
    )
    start = events.items[:]
    end = (
        Events()
        .succeeded(600, {"Id": JOB_RUN_ID, "JobRunState": "SUCCEEDED"})
        .add("TaskStateExited", 600, stateExitedEventDetails={"name": "Run Transform Job"})
        .add("ExecutionSucceeded", 600)
        .items
    )
    for offset, event in enumerate(end, start=len(start) + 1):
        event["id"] = offset
    return [start] + [[] for _ in range(polls_in_glue)] + [end]


def _follower(
    sfn: ScriptedExecution,
    glue: ScriptedGlue,
    clock: Clock,
    *,
    poll_seconds: float,
    glue_poll_seconds: float,
) -> ExecutionFollower:
    """A follower on fakes, its sleeps advancing the fake clock."""
    return ExecutionFollower(
        cast(Any, sfn),
        cast(Any, glue),
        cast(Any, None),
        StartedExecution(EXECUTION_ARN, "aws-run-x", "sa-east-1", T0),
        poll_seconds=poll_seconds,
        glue_poll_seconds=glue_poll_seconds,
        sleep=clock.sleep,
        clock=clock,
    )


def test_a_glue_job_run_waiting_for_flex_capacity_is_shown_waiting_not_hung() -> None:
    sfn = ScriptedExecution(_glue_story(polls_in_glue=10), {"status": "SUCCEEDED"})
    glue = ScriptedGlue(
        ["WAITING"] * 6 + ["RUNNING"],
        {"Id": JOB_RUN_ID, "StartedOn": T0 + timedelta(seconds=1)},
    )
    clock = Clock(T0 + timedelta(seconds=1), timedelta(seconds=30))
    lines = list(_follower(sfn, glue, clock, poll_seconds=30, glue_poll_seconds=30).follow())
    glue_lines = [line for line in lines if "Glue job run" in line]
    assert glue_lines == [
        f"+00:01  Run Transform Job: Glue job run {JOB_RUN_ID} WAITING for capacity for 0.0s "
        "(a FLEX run starts when Glue has spare capacity; after 15 minutes Glue forces the "
        "start, and the run fails if capacity is still short)",
        "+01:01  Run Transform Job: Glue job run WAITING for capacity for 1m00s",
        "+02:01  Run Transform Job: Glue job run WAITING for capacity for 2m00s",
        f"+03:01  Run Transform Job: Glue job run {JOB_RUN_ID} RUNNING, 3m00s since it was started",
        "+04:01  Run Transform Job: Glue job run RUNNING, 4m00s since it was started",
        "+05:01  Run Transform Job: Glue job run RUNNING, 5m00s since it was started",
    ]
    assert glue.calls[0] == {"JobName": "b3-quotes-transform", "RunId": JOB_RUN_ID}
    assert lines[-1] == "+10:00  Run Transform Job done in 10m00s"


def test_glue_is_asked_at_most_once_per_glue_poll_interval() -> None:
    sfn = ScriptedExecution(_glue_story(polls_in_glue=12), {"status": "SUCCEEDED"})
    glue = ScriptedGlue(["RUNNING"], {"Id": JOB_RUN_ID, "StartedOn": T0})
    clock = Clock(T0, timedelta(seconds=5))
    list(_follower(sfn, glue, clock, poll_seconds=5, glue_poll_seconds=15).follow())
    # 13 looks at the history while in the Glue state, 5 s apart: one GetJobRun per 15 s.
    assert len(glue.calls) == 5


# -- the outcome ----------------------------------------------------------------------------------
def test_a_failed_report_raises_with_the_error_name_and_cause() -> None:
    report = RunReport(
        execution_arn=EXECUTION_ARN,
        name="aws-run-x",
        status="TIMED_OUT",
        error="States.Timeout",
        cause=None,
        duration_seconds=3600,
        states_entered=[],
    )
    assert report.lines()[0] == "Execution aws-run-x TIMED_OUT in 1h00m"
    with pytest.raises(ExecutionFailedError, match=r"aws-run-x TIMED_OUT with States\.Timeout \("):
        report.raise_for_status()
    RunReport(EXECUTION_ARN, "ok", "SUCCEEDED", None, None, 1.0, []).raise_for_status()


def test_the_run_summary_digest_reads_the_job_s_summary() -> None:
    summary = {
        "tickers": ["PETR4", "VALE3"],
        "start_date": "2025-08-25",
        "end_date": "2025-08-29",
        "rows": {"daily": 10, "monthly": 2},
        "partitions": {"partitions": 22, "registered": 20, "already_present": 1, "failed": 1},
        "catalog_current": False,
        "summary_version": 1,
    }
    assert TransformDigest.from_summary(JOB_RUN_ID, summary).describe() == (
        "PETR4, VALE3 2025-08-25..2025-08-29: 10 daily and 2 monthly rows; partitions 20 "
        "registered, 1 already present, 1 failed; catalog current: no (the crawler repairs it)"
    )


@pytest.mark.parametrize(
    ("rows", "columns", "passed"),
    [
        ([["a", "total_violations"], ["0", "0"]], ["a", "total_violations"], True),
        ([["0", "0"]], ["a", "total_violations"], True),  # EXECUTE may return no header row
        ([["a", "total_violations"], ["1", "1"]], ["a", "total_violations"], False),
        ([["a", "total_violations"]], ["a", "total_violations"], False),  # header only
        ([["0", "0"]], ["a", "b"], False),
    ],
)
def test_the_quality_result_is_read_as_the_state_machine_reads_it(
    rows: list[list[str]], columns: list[str], passed: bool
) -> None:
    output = {
        "ResultSet": {
            "Rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
            "ResultSetMetadata": {"ColumnInfo": [{"Name": c} for c in columns]},
        }
    }
    assert QualityDigest.from_results(output).passed is passed


# -- what to start, and where ---------------------------------------------------------------------
def _outputs(**values: Any) -> Callable[[], DeploymentOutputs]:
    return lambda: DeploymentOutputs(values, "terraform -chdir=terraform output -json")


def _never() -> DeploymentOutputs:
    raise AssertionError("Terraform must not be read when the ARN is given")


def test_an_arn_alone_brings_its_region_and_terraform_is_not_read() -> None:
    request = resolve_run_request(
        state_machine_arn=ARN,
        region=None,
        tickers=None,
        run_date=None,
        default_tickers=["PETR4"],
        read_outputs=_never,
    )
    assert request == RunRequest(RunTarget(ARN, "sa-east-1"), ["PETR4"], None)
    assert request.execution_input() == {"tickers": ["PETR4"], "run_date": None}


def test_terraform_outputs_give_the_machine_region_and_deployed_tickers() -> None:
    request = resolve_run_request(
        state_machine_arn=None,
        region=None,
        tickers=None,
        run_date=date(2025, 8, 29),
        default_tickers=["PETR4"],
        read_outputs=_outputs(
            state_machine_arn=ARN, aws_region="sa-east-1", tickers=["PETR4", "VALE3"]
        ),
    )
    assert request.target == RunTarget(ARN, "sa-east-1")
    assert request.execution_input() == {"tickers": ["PETR4", "VALE3"], "run_date": "2025-08-29"}


def test_a_region_other_than_the_machine_s_is_refused_before_any_call() -> None:
    with pytest.raises(
        InvalidRequestError, match=r"--region us-east-1 does not match .* sa-east-1"
    ):
        resolve_run_request(
            state_machine_arn=ARN,
            region="us-east-1",
            tickers=["PETR4"],
            run_date=None,
            default_tickers=["PETR4"],
            read_outputs=_never,
        )


def test_outputs_without_the_machine_say_which_option_to_pass() -> None:
    with pytest.raises(DeploymentOutputsError, match="or pass --state-machine-arn"):
        resolve_run_request(
            state_machine_arn=None,
            region=None,
            tickers=None,
            run_date=None,
            default_tickers=["PETR4"],
            read_outputs=_outputs(lake_bucket="b"),
        )


@pytest.mark.parametrize(
    "arn",
    [
        "b3-quotes-pipeline",
        "arn:aws:states:sa-east-1:123456789012:execution:b3-quotes-pipeline:x",
        "arn:aws:lambda:sa-east-1:123456789012:function:b3-quotes-scraper",
    ],
)
def test_only_state_machine_arns_are_accepted(arn: str) -> None:
    with pytest.raises(InvalidRequestError, match="is not a state machine ARN"):
        state_machine_region(arn)


# -- starting -------------------------------------------------------------------------------------
class Starter:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def start_execution(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        if self.error:
            raise self.error
        arn = ARN.replace(":stateMachine:", ":execution:") + ":" + arguments["name"]
        return {"executionArn": arn, "startDate": T0}


def test_start_names_the_execution_and_sends_the_manual_input() -> None:
    fake = Starter()
    request = RunRequest(RunTarget(ARN, "sa-east-1"), ["PETR4"], date(2025, 8, 29))
    started = start_execution(cast(Any, fake), request, now=lambda: T0)

    [call] = fake.calls
    assert call["name"].startswith("aws-run-20250829T220000Z-") and len(call["name"]) == 29
    assert json.loads(call["input"]) == {"tickers": ["PETR4"], "run_date": "2025-08-29"}
    assert started.stop_command == (
        f"aws stepfunctions stop-execution --region sa-east-1 --execution-arn {started.arn}"
    )
    assert started.console_url.startswith(
        "https://sa-east-1.console.aws.amazon.com/states/home?region=sa-east-1"
        "#/v2/executions/details/arn:aws:states:sa-east-1:"
    )
    assert execution_name(T0, "beef") == "aws-run-20250829T220000Z-beef"


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (
            ClientError({"Error": {"Code": "StateMachineDoesNotExist"}}, "StartExecution"),
            "check --state-machine-arn and --region",
        ),
        (
            ClientError({"Error": {"Code": "AccessDeniedException"}}, "StartExecution"),
            "needs states:StartExecution",
        ),
        (NoCredentialsError(), "no AWS credentials found"),
    ],
)
def test_a_failed_start_is_one_error_that_says_what_to_do(error: Exception, hint: str) -> None:
    request = RunRequest(RunTarget(ARN, "sa-east-1"), ["PETR4"], None)
    with pytest.raises(WorkflowStartError, match=hint):
        start_execution(cast(Any, Starter(error)), request)


@pytest.mark.parametrize(
    ("cause", "readable"),
    [
        ("plain words", "plain words"),
        ('{"Error":"States.Timeout"}', "States.Timeout"),
        (
            '{"Error":"B3Pipeline.QualityCheckFailed","Cause":"Quality check on PETR4 found 3"}',
            "B3Pipeline.QualityCheckFailed: Quality check on PETR4 found 3",
        ),
        (
            json.dumps(
                {
                    "Error": "BrapiUnauthorizedError",
                    "Cause": json.dumps(
                        {
                            "errorType": "BrapiUnauthorizedError",
                            "errorMessage": "401 for VALE3: set a token",
                            "stackTrace": ["..."],
                        }
                    ),
                }
            ),
            "BrapiUnauthorizedError: 401 for VALE3: set a token",
        ),
        ('{"other": 1}', '{"other": 1}'),
    ],
)
def test_a_cause_reads_as_words(cause: str, readable: str) -> None:
    assert readable_cause(cause) == readable
