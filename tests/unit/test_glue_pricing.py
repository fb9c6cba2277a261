"""Pricing a Glue job run at list price (b3pipeline.glue_pricing), field by field.

GetJobRun's JobRun (https://docs.aws.amazon.com/glue/latest/webapi/API_JobRun.html):
ExecutionTime is the seconds the run consumed resources; DPUSeconds is set for FLEX runs and
auto-scaling runs only. Glue bills Spark runs per second with a 1-minute minimum.
"""

from __future__ import annotations

from typing import Any

import pytest

from b3pipeline.glue_pricing import DPU_HOUR_USD, MINIMUM_BILLED_SECONDS, job_run_cost


def _run(**fields: Any) -> dict[str, Any]:
    return {"WorkerType": "G.1X", "NumberOfWorkers": 2} | fields


def test_a_standard_run_is_execution_time_times_its_dpus() -> None:
    cost = job_run_cost(_run(ExecutionTime=90, ExecutionClass="STANDARD"))
    assert (cost.dpus, cost.dpu_seconds, cost.billed_dpu_seconds) == (2.0, 180.0, 180.0)
    assert cost.source == "ExecutionTime x DPUs"
    assert cost.cost_usd == pytest.approx(180 / 3600 * 0.44)


def test_a_flex_run_is_what_dpu_seconds_says_it_consumed() -> None:
    cost = job_run_cost(_run(ExecutionTime=90, DPUSeconds=150.0, ExecutionClass="FLEX"))
    assert (cost.dpu_seconds, cost.source, cost.rate_usd_per_dpu_hour) == (
        150.0,
        "DPUSeconds",
        0.29,
    )
    assert cost.cost_usd == pytest.approx(150 / 3600 * 0.29)


@pytest.mark.parametrize("execution_class", sorted(DPU_HOUR_USD))
def test_a_short_run_pays_the_one_minute_minimum(execution_class: str) -> None:
    cost = job_run_cost(_run(ExecutionTime=20, ExecutionClass=execution_class))
    assert cost.dpu_seconds == 40.0
    assert cost.billed_dpu_seconds == MINIMUM_BILLED_SECONDS * 2
    assert cost.cost_usd == pytest.approx(120 / 3600 * DPU_HOUR_USD[execution_class])


def test_a_run_without_execution_class_is_standard() -> None:
    assert job_run_cost(_run(ExecutionTime=60)).execution_class == "STANDARD"


def test_capacity_falls_back_to_max_capacity() -> None:
    cost = job_run_cost({"MaxCapacity": 10.0, "ExecutionTime": 60, "WorkerType": "Standard"})
    assert cost.dpus == 10.0
    assert cost.cost_usd == pytest.approx(600 / 3600 * 0.44)


@pytest.mark.parametrize(
    ("job_run", "reason"),
    [
        (_run(ExecutionTime=60, ExecutionClass="SPOT"), "no list price for execution class SPOT"),
        ({"ExecutionTime": 60, "WorkerType": "Z.9X", "NumberOfWorkers": 2}, "neither workers"),
        (_run(), "no ExecutionTime yet"),
    ],
)
def test_what_cannot_be_priced_says_why(job_run: dict[str, Any], reason: str) -> None:
    cost = job_run_cost(job_run)
    assert cost.cost_usd is None
    assert reason in cost.reason
