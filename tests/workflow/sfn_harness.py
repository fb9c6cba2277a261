"""Run statemachine/pipeline.asl.json on an ASL interpreter with the MockConfigFile's test cases.

Two engines, one result shape (the execution history, as boto3 returns it):
- moto 5.2.5 (default): LocalStack's ASL interpreter, ported into moto, run in-process.
- Step Functions Local (when SFN_LOCAL_ENDPOINT is set): `make sfn-local` starts
  amazon/aws-stepfunctions-local with statemachine/test/mock_config.json as SFN_MOCK_CONFIG.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import boto3

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "statemachine" / "pipeline.asl.json"
MOCK_CONFIG_PATH = ROOT / "statemachine" / "test" / "mock_config.json"
STATE_MACHINE_NAME = "B3Pipeline"  # the key under StateMachines in the mock config
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/b3-pipeline-sfn"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
#: "States.ALL ... cannot catch the States.DataLimitExceeded terminal error or Runtime error
#: types" (Step Functions, "Handling errors in Step Functions workflows").
UNCATCHABLE_BY_STATES_ALL = ("States.Runtime", "States.DataLimitExceeded")
MOTO_VERSION = "5.2.5"  # the glue in MotoEngine is written against this version's internals

# What Terraform's templatefile() fills in; test values shaped like the real ones.
PLACEHOLDERS: dict[str, str] = {
    "scraper_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:b3-scraper",
    "glue_job_name": "b3-transform",
    "crawler_name": "b3-lake-crawler",
    "athena_workgroup": "b3-pipeline",
    "glue_database": "b3_lake",
    "quality_statement_name": "b3_quality_check",
    "failure_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:b3-pipeline-failures",
    "lake_uri": "s3://b3-lake",
    "lake_bucket": "b3-lake",
    "run_summaries_prefix": "runs/transform/",
    "default_tickers": "PETR4",
    "scrape_batch_size": "50",
    "scrape_max_concurrency": "2",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def placeholders_in(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def render_definition(text: str, values: dict[str, str]) -> str:
    """Fill ${name} like Terraform's templatefile(); a name without a value is an error."""
    missing = placeholders_in(text) - set(values)
    if missing:
        raise KeyError(f"no value for placeholders {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def all_states(states: dict[str, Any]) -> dict[str, Any]:
    """Every state by name, those inside a Map's ItemProcessor included (names are unique
    in a whole state machine)."""
    found: dict[str, Any] = {}
    for name, state in states.items():
        found[name] = state
        if "ItemProcessor" in state:
            found |= all_states(state["ItemProcessor"]["States"])
    return found


def load_mock_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(MOCK_CONFIG_PATH.read_text(encoding="utf-8"))
    return config


def mock_test_case_names() -> list[str]:
    return list(load_mock_config()["StateMachines"][STATE_MACHINE_NAME]["TestCases"])


@dataclass
class ExecutionResult:
    """What a test asserts on, read from the execution's history."""

    arn: str
    status: str
    error: str | None
    cause: str | None
    output: dict[str, Any] | None
    events: list[dict[str, Any]]
    states_entered: list[str] = field(default_factory=list)
    retries: dict[str, int] = field(default_factory=dict)
    scheduled: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The seconds each Retry would have waited, in order (moto only: Step Functions Local
    # really waits and does not say how long).
    retry_delays: list[float] | None = None

    @classmethod
    def from_history(
        cls, description: dict[str, Any], events: list[dict[str, Any]]
    ) -> ExecutionResult:
        result = cls(
            arn=description["executionArn"],
            status=description["status"],
            error=description.get("error"),
            cause=description.get("cause"),
            output=json.loads(description["output"]) if description.get("output") else None,
            events=events,
        )
        entries: dict[str, int] = {}
        attempts: dict[str, int] = {}
        by_id = {event["id"]: event for event in events}
        for event in events:
            if event["type"].endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                result.states_entered.append(name)
                entries[name] = entries.get(name, 0) + 1
            elif event["type"] == "TaskScheduled":
                # The state a task belongs to is the one whose entry its previousEventId chain
                # leads back to: Map iterations interleave, so "the last state entered" is not.
                name = _entered_state(by_id, event)
                attempts[name] = attempts.get(name, 0) + 1
                parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
                result.scheduled.setdefault(name, []).append(parameters)
        result.retries = {
            name: attempts[name] - entries[name]
            for name in attempts
            if attempts[name] > entries[name]
        }
        return result

    def first_parameters(self, state: str) -> dict[str, Any]:
        return self.scheduled[state][0]


def _entered_state(by_id: dict[int, dict[str, Any]], event: dict[str, Any]) -> str:
    """The name of the state entered most recently on `event`'s own previousEventId chain."""
    current = event
    while not current["type"].endswith("StateEntered"):
        current = by_id[current["previousEventId"]]
    name: str = current["stateEnteredEventDetails"]["name"]
    return name


def _history(client: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    paginator = client.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=arn):
        events.extend(page["events"])
    return events


def _wait_terminal(client: Any, arn: str, timeout: float, interval: float) -> dict[str, Any]:
    """Poll until ANY terminal status, so a failing path cannot hang the suite."""
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = client.describe_execution(executionArn=arn)
        if description["status"] in TERMINAL:
            return description
        if time.monotonic() > deadline:
            raise TimeoutError(f"{arn} still {description['status']} after {timeout:.0f}s")
        time.sleep(interval)


class Engine:
    name = "engine"

    def run(self, test_case: str, execution_input: dict[str, Any]) -> ExecutionResult:
        raise NotImplementedError


class MotoEngine(Engine):
    """moto's Step Functions engine with the mock config's test cases.

    moto 5.2.5 contains the MockConfigFile machinery (moto.stepfunctions.parser.mocking) but
    never loads a file, and its backend never hands a test case to the execution worker. So:
    1. we build MockTestCase objects from mock_config.json with moto's own classes;
    2. we wrap Execution._get_start_execution_worker to set the worker's _mock_test_case,
       picked by execution name (the worker passes it to the interpreter's Environment);
    3. the retrier's time.sleep is replaced by a recorder, so Retry backoff costs no time
       (the delays it would have slept are kept in `retry_delays`);
    4. Athena's optimized resources are refused by this engine even for mocked states, so
       here only the two Athena states run under the equivalent aws-sdk:athena:* resource;
    5. a mocked Throw is raised as a custom error name, which refuses the reserved States.*
       names (a failed Glue/Athena .sync run really ends in States.TaskFailed), so mocked
       throws named States.* are raised as the engine's own States error names; the same
       holds for the error a failed Map iteration hands to its Map state;
    6. a Catch's error output always carries a Cause on this engine (an empty string when the
       failure has none), while AWS documents Cause as optional (a task timeout can come
       without one): a mocked Throw without a Cause yields an error output without a Cause;
    7. States.ALL matches every error here, while AWS documents that it "cannot catch the
       States.DataLimitExceeded terminal error or Runtime error types" ("Handling errors in
       Step Functions workflows", States.ALL): a Retry or Catch on States.ALL lets both pass
       here too, so a missing path in a selector ends the execution with no alert, as on AWS;
    8. this engine picks a state's mocked response by its RetryCount (an index into the list
       of ranges), so a state entered again (the crawler poll loop, a Map iteration) always
       gets the first response; Step Functions Local numbers every invocation of a state in
       the execution, retries and re-entries alike, and a response key is a range of those
       numbers ("0", "1-2"; "Configuration file for mocked service integrations"): the
       harness counts invocations per execution and state and answers from that range;
    9. a Choice rule whose Variable is not in the input evaluates to false here (every
       comparison, IsString and IsNumeric included), while on AWS "If the state input doesn't
       contain the [Variable's] field, the execution fails" ("Choice workflow state", its
       example's note): only IsPresent may look at a path that may be missing. The harness
       ends such an execution in States.Runtime, so a rule that reads a path no rule before
       it proved present fails the tests as it would fail the run.

    `started()` is the one fixture that installs all of these; tests/workflow/
    test_engine_fidelity.py shows each rule on a small machine, and fails without it.
    """

    name = "moto"
    _ATHENA_SWAP: ClassVar[dict[str, str]] = {
        "arn:aws:states:::athena:startQueryExecution.sync": (
            "arn:aws:states:::aws-sdk:athena:startQueryExecution"
        ),
        "arn:aws:states:::athena:getQueryResults": (
            "arn:aws:states:::aws-sdk:athena:getQueryResults"
        ),
    }

    def __init__(self, client: Any, cases: dict[str, Any]) -> None:
        self._client = client
        self._cases = cases  # execution name -> MockTestCase, read by the patched worker
        self._arn = ""
        self._counter = 0
        self.retry_delays: list[float] = []

    @classmethod
    @contextmanager
    def started(cls) -> Iterator[MotoEngine]:
        import moto
        from moto import mock_aws
        from moto.stepfunctions.parser import api
        from moto.stepfunctions.parser.asl.component.common.error_name import (
            failure_event,
            states_error_name_type,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
            CustomErrorName,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
            ErrorEqualsDecl,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
            StatesErrorName,
        )
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.choice.comparison import (
            comparison_operator_type,
            comparison_variable,
            variable,
        )
        from moto.stepfunctions.parser.asl.component.state.exec import execute_state
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
            iteration_worker,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import mock_eval_utils
        from moto.stepfunctions.parser.asl.eval.environment import Environment
        from moto.stepfunctions.parser.asl.eval.event import event_detail as event_detail_module

        if moto.__version__ != MOTO_VERSION:
            raise RuntimeError(
                f"tests/workflow/sfn_harness.py patches moto {MOTO_VERSION} internals but moto "
                f"{moto.__version__} is installed: re-check MotoEngine, then update MOTO_VERSION"
            )
        # Typed as Any: these are moto internals we patch on purpose (and restore).
        retrier_module: Any = retrier_decl
        mock_module: Any = mock_eval_utils
        iteration_module: Any = iteration_worker
        execute_state_class: Any = execute_state.ExecutionState
        error_equals_class: Any = ErrorEqualsDecl
        environment_class: Any = Environment
        event_detail: Any = event_detail_module  # moto internals, patched on purpose (restored)
        comparison_class: Any = comparison_variable.ComparisonVariable
        is_present = comparison_operator_type.ComparisonOperatorType.IsPresent
        no_such_variable = variable.NoSuchVariable
        runtime: Any = states_error_name_type.StatesErrorNameType.StatesRuntime
        original_comparison = comparison_class._eval_body
        original_error_output = execute_state_class._construct_error_output_value
        original_error_equals = error_equals_class._eval_body
        original_mocked_response = environment_class.get_current_mocked_response
        cases: dict[str, Any] = {}
        original_time = retrier_module.time
        uncatchable = {StatesErrorName.from_name(name).typ for name in UNCATCHABLE_BY_STATES_ALL}
        invocation_lock = threading.Lock()

        def mocked_error_name(error_name: str) -> Any:
            if error_name.startswith("States."):
                return StatesErrorName.from_name(error_name)
            return CustomErrorName(error_name)

        def error_equals_as_documented(decl: Any, env: Any) -> None:
            error_name = env.stack[-1]
            if (
                isinstance(error_name, StatesErrorName)
                and error_name.typ in uncatchable
                and any(name.error_name == "States.ALL" for name in decl.error_names)
            ):
                env.stack.pop()
                env.stack.append(False)
                return
            original_error_equals(decl, env)

        def mocked_response_by_invocation(env: Any) -> Any:
            state = env.next_state_name
            test_case = env.mock_test_case
            with invocation_lock:
                counts: dict[str, int] = test_case.__dict__.setdefault("invocations", {})
                invocation = counts.get(state, 0)
                counts[state] = invocation + 1
            for response in test_case.state_mocked_responses[state].mocked_responses:
                if response.range_start <= invocation <= response.range_end:
                    return response
            raise RuntimeError(f"no mocked response for invocation {invocation} of {state!r}")

        def comparison_needing_its_variable(rule: Any, env: Any) -> None:
            if rule.comparison_function.operator_type != is_present:
                rule.variable.eval(env)
                value = env.stack.pop()
                if isinstance(value, no_such_variable):
                    details = event_detail.EventDetails(
                        executionFailedEventDetails=api.ExecutionFailedEventDetails(
                            error=runtime.to_name(),
                            cause=f"Invalid path {value.path}: a Choice rule's Variable is missing",
                        )
                    )
                    raise failure_event.FailureEventException(
                        failure_event=failure_event.FailureEvent(
                            env=env,
                            error_name=StatesErrorName(typ=runtime),
                            event_type=api.HistoryEventType.ExecutionFailed,
                            event_details=details,
                        )
                    )
            original_comparison(rule, env)

        def error_output_without_absent_cause(failure_event: Any) -> Any:
            output = original_error_output(failure_event)
            details: dict[str, Any] = next(iter(failure_event.event_details.values()), {})
            if isinstance(output, dict) and details.get("cause") is None:
                output.pop("Cause", None)
            return output

        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            mock_test_cases_by_execution(cases.get),
        ):
            engine = cls(boto3.client("stepfunctions", region_name=REGION), cases)
            retrier_module.time = types.SimpleNamespace(sleep=engine.retry_delays.append)
            mock_module.CustomErrorName = mocked_error_name
            iteration_module.CustomErrorName = mocked_error_name
            execute_state_class._construct_error_output_value = staticmethod(
                error_output_without_absent_cause
            )
            error_equals_class._eval_body = error_equals_as_documented
            environment_class.get_current_mocked_response = mocked_response_by_invocation
            comparison_class._eval_body = comparison_needing_its_variable
            try:
                engine._create()
                yield engine
            finally:
                retrier_module.time = original_time
                mock_module.CustomErrorName = CustomErrorName
                iteration_module.CustomErrorName = CustomErrorName
                execute_state_class._construct_error_output_value = staticmethod(
                    original_error_output
                )
                error_equals_class._eval_body = original_error_equals
                environment_class.get_current_mocked_response = original_mocked_response
                comparison_class._eval_body = original_comparison

    @classmethod
    def runnable(cls, definition: str) -> str:
        """A rendered definition as this engine runs it (item 4: Athena through aws-sdk
        resources)."""
        for optimized, sdk in cls._ATHENA_SWAP.items():
            definition = definition.replace(f'"{optimized}"', f'"{sdk}"')
        return definition

    @classmethod
    def definition(cls) -> str:
        """The project's rendered ASL as this engine runs it."""
        return cls.runnable(render_definition(ASL_PATH.read_text(encoding="utf-8"), PLACEHOLDERS))

    def _create(self) -> None:
        self._arn = self._create_machine(STATE_MACHINE_NAME, self.definition())

    def _create_machine(self, name: str, definition: str) -> str:
        arn: str = self._client.create_state_machine(
            name=name, definition=definition, roleArn=ROLE_ARN
        )["stateMachineArn"]
        return arn

    def run(self, test_case: str, execution_input: dict[str, Any]) -> ExecutionResult:
        return self._execute(
            self._arn, mock_test_case(load_mock_config(), test_case), execution_input
        )

    def run_definition(
        self,
        definition: dict[str, Any],
        mock_config: dict[str, Any],
        execution_input: dict[str, Any],
    ) -> ExecutionResult:
        """Run another definition (rendered, as a dict) with the one TestCase of a
        MockConfigFile-shaped `mock_config` whose machine is named STATE_MACHINE_NAME."""
        self._counter += 1
        arn = self._create_machine(
            f"{STATE_MACHINE_NAME}-{self._counter}", self.runnable(json.dumps(definition))
        )
        (test_case,) = mock_config["StateMachines"][STATE_MACHINE_NAME]["TestCases"]
        return self._execute(arn, mock_test_case(mock_config, test_case), execution_input)

    def _execute(
        self, machine_arn: str, case: Any, execution_input: dict[str, Any]
    ) -> ExecutionResult:
        self._counter += 1
        name = f"{case.test_case_name}-{self._counter}"
        self._cases[name] = case
        self.retry_delays.clear()
        arn = self._client.start_execution(
            stateMachineArn=machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]
        description = _wait_terminal(self._client, arn, timeout=60, interval=0.02)
        result = ExecutionResult.from_history(description, _history(self._client, arn))
        result.retry_delays = list(self.retry_delays)
        return result


@contextmanager
def mock_test_cases_by_execution(case_for: Callable[[str], Any]) -> Iterator[None]:
    """Hand each execution moto starts the MockTestCase `case_for(execution name)` (None: no
    mocks), as Step Functions Local does with `<arn>#<TestCase>`: moto 5.2.5 has the mocking
    machinery but never gives a test case to the execution worker, in-process or in its server.
    """
    from moto.stepfunctions.parser.backend.execution import Execution

    execution_class: Any = Execution  # a moto internal, patched on purpose and restored
    original_worker = execution_class._get_start_execution_worker

    def worker_with_mocks(execution: Any) -> Any:
        worker = original_worker(execution)
        worker._mock_test_case = case_for(execution.name)
        return worker

    execution_class._get_start_execution_worker = worker_with_mocks
    try:
        yield
    finally:
        execution_class._get_start_execution_worker = original_worker


def mock_test_case(config: dict[str, Any], test_case: str) -> Any:
    """moto's MockTestCase for one TestCase of a MockConfigFile (what moto never loads itself)."""
    from moto.stepfunctions.parser.mocking.mock_config import (
        MockedResponse,
        MockedResponseReturn,
        MockedResponseThrow,
        MockTestCase,
        StateMockedResponses,
    )

    states = config["StateMachines"][STATE_MACHINE_NAME]["TestCases"][test_case]
    per_state = []
    for state_name, response_name in states.items():
        responses: list[MockedResponse] = []
        for attempts, response in config["MockedResponses"][response_name].items():
            first, _, last = attempts.partition("-")
            start, end = int(first), int(last or first)
            if "Return" in response:
                responses.append(MockedResponseReturn(start, end, response["Return"]))
            else:
                throw = response["Throw"]
                responses.append(
                    MockedResponseThrow(start, end, throw["Error"], throw.get("Cause"))
                )
        per_state.append(StateMockedResponses(state_name, response_name, responses))
    return MockTestCase(STATE_MACHINE_NAME, test_case, per_state)


class SfnLocalEngine(Engine):
    """Step Functions Local with SFN_MOCK_CONFIG: a test case is picked with `<arn>#<TestCase>`."""

    name = "sfn-local"

    def __init__(self, endpoint: str) -> None:
        self._client = boto3.client(
            "stepfunctions",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        definition = render_definition(ASL_PATH.read_text(encoding="utf-8"), PLACEHOLDERS)
        for machine in self._client.list_state_machines()["stateMachines"]:
            if machine["name"] == STATE_MACHINE_NAME:
                self._client.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
        self._arn: str = self._client.create_state_machine(
            name=STATE_MACHINE_NAME, definition=definition, roleArn=ROLE_ARN
        )["stateMachineArn"]

    def run(self, test_case: str, execution_input: dict[str, Any]) -> ExecutionResult:
        arn = self._client.start_execution(
            stateMachineArn=f"{self._arn}#{test_case}", input=json.dumps(execution_input)
        )["executionArn"]
        # Retry intervals are really waited here (up to a minute with jitter on some paths).
        description = _wait_terminal(self._client, arn, timeout=300, interval=0.5)
        return ExecutionResult.from_history(description, _history(self._client, arn))


@contextmanager
def engine_from_environment() -> Iterator[Engine]:
    endpoint = os.environ.get("SFN_LOCAL_ENDPOINT", "").strip()
    if endpoint:
        yield SfnLocalEngine(endpoint)
    else:
        with MotoEngine.started() as engine:
            yield engine
