"""What a Glue Spark job run costs at list price: the one source of the project's Glue rates.

README.md and docs/deploy.md quote these numbers in their cost tables; a docs test checks
that every "$N per DPU-hour" they print is one of `DPU_HOUR_USD`, so a price changes here
first. `b3pipeline aws run` prices the job run it followed with them.

Rules (AWS Glue pricing, https://aws.amazon.com/glue/pricing/, and the GetJobRun API's
JobRun structure, https://docs.aws.amazon.com/glue/latest/webapi/API_JobRun.html):

* A Spark job run (Glue 2.0 and later) is billed per second for the DPUs it holds, with a
  1-minute minimum per run.
* `ExecutionTime` is "the amount of time (in seconds) that the job run consumed resources";
  with `STANDARD` every worker is held for all of it: DPU-seconds = ExecutionTime x DPUs.
* `DPUSeconds` is set "for either job runs with execution class FLEX or when Auto Scaling is
  enabled": the time each executor really ran times its DPU factor, which can be less than
  ExecutionTime x DPUs. When a run has it, it is what the run consumed.
* A worker's DPUs by type: G.025X 0.25, G.1X 1, G.2X 2, G.4X 4, G.8X 8 (the provider's
  aws_glue_job documentation and the JobRun page above).

The rates are us-east-1's and were looked up 2026-11-29 (see docs/deploy.md for how):
other regions differ, and AWS's bill is the authority; these figures are an estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: USD per DPU-hour of a Glue Spark job run, by execution class (us-east-1 list prices).
DPU_HOUR_USD: Mapping[str, float] = {"STANDARD": 0.44, "FLEX": 0.29}
#: The region whose list prices DPU_HOUR_USD holds.
PRICE_REGION = "us-east-1"
#: Every Spark job run is billed for at least this long.
MINIMUM_BILLED_SECONDS = 60
#: What GetJobRun reports when a run names no execution class (the API's default).
DEFAULT_EXECUTION_CLASS = "STANDARD"
#: DPUs of one worker, by WorkerType.
WORKER_DPUS: Mapping[str, float] = {
    "G.025X": 0.25,
    "G.1X": 1.0,
    "G.2X": 2.0,
    "G.4X": 4.0,
    "G.8X": 8.0,
}


@dataclass(frozen=True)
class JobRunCost:
    """What one job run consumed and what that costs at list price.

    `cost_usd` is None when the run says too little to price it (no capacity, an unknown
    worker type or execution class, or no time at all yet); `reason` then says why.
    """

    execution_class: str
    execution_seconds: int | None
    dpus: float | None
    dpu_seconds: float | None  # consumed, before the 1-minute minimum
    billed_dpu_seconds: float | None  # after the minimum
    rate_usd_per_dpu_hour: float | None
    cost_usd: float | None
    source: str  # "DPUSeconds" or "ExecutionTime x DPUs": which field the figure comes from
    reason: str = ""


def job_run_dpus(job_run: Mapping[str, Any]) -> float | None:
    """DPUs the run holds: NumberOfWorkers x the worker type's DPUs, else MaxCapacity."""
    workers = job_run.get("NumberOfWorkers")
    per_worker = WORKER_DPUS.get(str(job_run.get("WorkerType", "")))
    if isinstance(workers, int | float) and workers > 0 and per_worker is not None:
        return float(workers) * per_worker
    capacity = job_run.get("MaxCapacity")
    if isinstance(capacity, int | float) and capacity > 0:
        return float(capacity)
    return None


def job_run_cost(job_run: Mapping[str, Any]) -> JobRunCost:
    """Price a GetJobRun `JobRun` (see the module's rules)."""
    execution_class = str(job_run.get("ExecutionClass") or DEFAULT_EXECUTION_CLASS)
    seconds_value = job_run.get("ExecutionTime")
    seconds = int(seconds_value) if isinstance(seconds_value, int | float) else None
    dpus = job_run_dpus(job_run)
    rate = DPU_HOUR_USD.get(execution_class)
    measured = job_run.get("DPUSeconds")
    if isinstance(measured, int | float) and measured > 0:
        consumed: float | None = float(measured)
        source = "DPUSeconds"
    elif seconds is not None and dpus is not None:
        consumed = float(seconds) * dpus
        source = "ExecutionTime x DPUs"
    else:
        consumed, source = None, "ExecutionTime x DPUs"

    def unpriced(reason: str) -> JobRunCost:
        return JobRunCost(
            execution_class, seconds, dpus, consumed, None, rate, None, source, reason
        )

    if rate is None:
        return unpriced(f"no list price for execution class {execution_class}")
    if dpus is None:
        return unpriced("the run reports neither workers of a known type nor MaxCapacity")
    if consumed is None:
        return unpriced("the run reports no ExecutionTime yet")
    billed = max(consumed, MINIMUM_BILLED_SECONDS * dpus)
    cost = billed / 3600.0 * rate
    return JobRunCost(execution_class, seconds, dpus, consumed, billed, rate, cost, source)
