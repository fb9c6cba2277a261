"""The scraper's output for one batch of tickers, and the merge of every batch's output.

In AWS the state machine scrapes a run's tickers in batches, one scraper invocation each
(the Map state `Scrape Batches`), then merges their outputs into the one window the
transform and the quality gate work on. Each output is a small JSON object:

    {"tickers": [...], "dates": [...], "rows": N, "manifest_key": "..." | null,
     "failed_tickers": [{"ticker": "ZZZZ3", "reason": "..."}]}

`tickers` are the ones written (asked for, minus those set aside), `dates` the trade dates
written, sorted; `manifest_key` is null when every ticker of the batch was set aside
(nothing was written). The merge has `manifest_keys` (one manifest per batch) instead, and
`failed_count`, the number of tickers set aside in all.

Sizes. Step Functions caps a state's input and output, and a task's, at 262,144 bytes of
UTF-8 ("Maximum input or output size for a task, state, or execution", Step Functions
quotas), and a Map state's output is the array of every batch's output, which the state
holds next to the run's input. So:
- one output stays under OUTPUT_MAX_BYTES (a quarter of the quota), and a batch of
  `batch_count` under MAP_OUTPUT_MAX_BYTES / batch_count (`batch_output_budget`): every
  batch together stays under half the quota, however many tickers fail;
- the merged `failed_tickers` list, as JSON, stays within FAILED_TICKERS_MAX_CHARS: the
  state machine puts it in the cause of its `B3Pipeline.TickersFailed` failure, and a Fail
  state's cause is at most 32,768 characters (`cause` of ExecutionFailedEventDetails,
  Step Functions API reference; botocore's `SensitiveCause`, max 32768).
Reasons are cut first (each to REASON_MAX_CHARS at most, shorter while it does not fit);
a merged list that does not fit even with empty reasons keeps the first tickers that do
(`failed_count` still counts every one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from b3pipeline.errors import InvalidRequestError
from b3pipeline.ticker_pool import TickerFailure

__all__ = [
    "FAILED_TICKERS_MAX_CHARS",
    "MAP_OUTPUT_MAX_BYTES",
    "MAX_BATCHES",
    "MAX_RUN_TICKERS",
    "OUTPUT_MAX_BYTES",
    "REASON_MAX_CHARS",
    "batch_output_budget",
    "failed_tickers_output",
    "merge_batch_outputs",
]

OUTPUT_MAX_BYTES = 64 * 1024
MAP_OUTPUT_MAX_BYTES = 128 * 1024
#: The most tickers one run of the state machine takes, and the most batches it splits them
#: into (it refuses more): within both, a batch's share of MAP_OUTPUT_MAX_BYTES holds its
#: tickers and every one of them set aside, with empty reasons at worst.
MAX_RUN_TICKERS = 2_000
MAX_BATCHES = 100
#: The merged failed_tickers as JSON text; the rest of a 32,768-character cause is the
#: sentence around it.
FAILED_TICKERS_MAX_CHARS = 30_000
REASON_MAX_CHARS = 200
_CUT = "..."


def _clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, ending in "..." when cut (room permitting)."""
    if len(text) <= limit:
        return text
    if limit <= len(_CUT):
        return text[:limit]
    return text[: limit - len(_CUT)] + _CUT


def _size(body: Mapping[str, Any]) -> int:
    # json.dumps' defaults (ASCII escapes, a space after "," and ":") give the longest of
    # the usual encodings: an upper bound of the UTF-8 bytes Step Functions counts.
    return len(json.dumps(body))


def batch_output_budget(batch_count: int) -> int:
    """The most bytes one batch's output may take when the run has `batch_count` batches."""
    if (
        isinstance(batch_count, bool)
        or not isinstance(batch_count, int)
        or not 1 <= batch_count <= MAX_BATCHES
    ):
        raise InvalidRequestError(
            f"batch_count {batch_count!r} is not a whole number from 1 to {MAX_BATCHES}: give "
            "how many batches the run's tickers were split into"
        )
    return min(OUTPUT_MAX_BYTES, MAP_OUTPUT_MAX_BYTES // batch_count)


def failed_tickers_output(
    body: Mapping[str, Any],
    failures: Sequence[TickerFailure],
    *,
    max_bytes: int = OUTPUT_MAX_BYTES,
    list_max_chars: int | None = None,
) -> dict[str, Any]:
    """`body` plus `failed_tickers` (sorted by ticker), each reason cut to the longest
    length (at most REASON_MAX_CHARS) at which the whole output fits `max_bytes` and the
    list's JSON fits `list_max_chars` (when given). A body too large even with empty
    reasons is returned with empty reasons; a list too long even then keeps its first
    entries that fit `list_max_chars`."""
    ordered = sorted(failures, key=lambda f: f.ticker)

    def entries(limit: int, count: int | None = None) -> list[dict[str, str]]:
        kept = ordered if count is None else ordered[:count]
        return [{"ticker": f.ticker, "reason": _clip(f.reason, limit)} for f in kept]

    def fits(limit: int) -> bool:
        listed = entries(limit)
        if list_max_chars is not None and len(json.dumps(listed)) > list_max_chars:
            return False
        return _size({**body, "failed_tickers": listed}) <= max_bytes

    listed = entries(_largest(REASON_MAX_CHARS, fits))
    if list_max_chars is not None and len(json.dumps(listed)) > list_max_chars:
        count = _largest(len(listed), lambda n: len(json.dumps(entries(0, n))) <= list_max_chars)
        listed = entries(0, count)
    return {**body, "failed_tickers": listed}


def _largest(most: int, fits: Callable[[int], bool]) -> int:
    """The largest n in [0, most] with fits(n), fits growing false as n grows; 0 if none."""
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _field(output: Mapping[str, Any], name: str, index: int) -> Any:
    if name not in output:
        raise InvalidRequestError(f"batch output #{index} has no {name!r}: {_preview(output)}")
    return output[name]


def _preview(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + _CUT


def _strings(value: object, name: str, index: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequestError(
            f"batch output #{index}: {name} must be a list of strings, got {_preview(value)}"
        )
    return value


def merge_batch_outputs(outputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One run's window from every batch's output: the tickers written (in batch order),
    the union of trade dates (sorted), total rows, every manifest key, every ticker set
    aside (sorted; reasons cut so that the list fits FAILED_TICKERS_MAX_CHARS and the
    output OUTPUT_MAX_BYTES) and how many were set aside.

    Raises InvalidRequestError naming the batch when an output is not shaped as above.
    """
    if isinstance(outputs, (str, bytes)) or not isinstance(outputs, Sequence) or not outputs:
        raise InvalidRequestError(
            f"batches must be a non-empty list of scraper outputs, got {_preview(outputs)}"
        )
    if len(outputs) > MAX_BATCHES:
        raise InvalidRequestError(
            f"{len(outputs)} batch outputs: a run has at most {MAX_BATCHES} batches"
        )
    tickers: dict[str, None] = {}
    dates: set[str] = set()
    rows = 0
    manifest_keys: list[str] = []
    failures: dict[str, TickerFailure] = {}
    for index, output in enumerate(outputs):
        if not isinstance(output, Mapping):
            raise InvalidRequestError(f"batch output #{index} is not an object: {_preview(output)}")
        tickers.update(dict.fromkeys(_strings(_field(output, "tickers", index), "tickers", index)))
        for day in _strings(_field(output, "dates", index), "dates", index):
            try:
                dates.add(date.fromisoformat(day).isoformat())
            except ValueError as exc:
                raise InvalidRequestError(
                    f"batch output #{index}: date {day!r} is not like 2025-08-29"
                ) from exc
        count = _field(output, "rows", index)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidRequestError(f"batch output #{index}: rows {count!r} is not a count")
        rows += count
        key = _field(output, "manifest_key", index)
        if key is not None and not (isinstance(key, str) and key):
            raise InvalidRequestError(f"batch output #{index}: manifest_key {key!r} is not a key")
        if key:
            manifest_keys.append(key)
        failed = _field(output, "failed_tickers", index)
        if not isinstance(failed, list) or not all(
            isinstance(f, Mapping)
            and isinstance(f.get("ticker"), str)
            and isinstance(f.get("reason"), str)
            for f in failed
        ):
            raise InvalidRequestError(
                f"batch output #{index}: failed_tickers must be a list of "
                f'{{"ticker", "reason"}} objects, got {_preview(failed)}'
            )
        for f in failed:
            failures.setdefault(f["ticker"], TickerFailure(f["ticker"], f["reason"]))
    body = {
        "tickers": list(tickers),
        "dates": sorted(dates),
        "rows": rows,
        "manifest_keys": manifest_keys,
        "failed_count": len(failures),
    }
    return failed_tickers_output(
        body, list(failures.values()), list_max_chars=FAILED_TICKERS_MAX_CHARS
    )
