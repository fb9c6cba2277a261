"""The scraper's output for one batch of tickers, and the merge of every batch's output.

In AWS the state machine scrapes a run's tickers in batches, one scraper invocation each,
then merges their outputs into the one window the transform and the quality gate work on.
Each output (and the merge) is a small JSON object:

    {"tickers": [...], "dates": [...], "rows": N, "manifest_key": "..." | null,
     "failed_tickers": [{"ticker": "ZZZZ3", "reason": "..."}]}

`tickers` are the ones written (asked for, minus those set aside), `dates` the trade dates
written, sorted; `manifest_key` is null when every ticker of the batch was set aside
(nothing was written). The merge has `manifest_keys` (one manifest per batch) instead.

Step Functions caps a state's input and output at 256 KiB of UTF-8 (262,144 bytes:
"Length Constraints" of `output` in StateExitedEventDetails, Step Functions API reference),
and a Map state's output is the array of every batch's output. So an output is kept under
OUTPUT_MAX_BYTES, a quarter of that: each reason is cut to REASON_MAX_CHARS, and shorter
still when many tickers failed (400 tickers all failing fit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from b3pipeline.errors import InvalidRequestError
from b3pipeline.ticker_pool import TickerFailure

__all__ = [
    "OUTPUT_MAX_BYTES",
    "REASON_MAX_CHARS",
    "failed_tickers_output",
    "merge_batch_outputs",
]

OUTPUT_MAX_BYTES = 64 * 1024
REASON_MAX_CHARS = 200
_CUT = "..."


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - len(_CUT), 0)] + _CUT


def _size(body: Mapping[str, Any]) -> int:
    # json.dumps' defaults (ASCII escapes, a space after "," and ":") give the longest of
    # the usual encodings: an upper bound of the UTF-8 bytes Step Functions counts.
    return len(json.dumps(body))


def failed_tickers_output(
    body: Mapping[str, Any], failures: Sequence[TickerFailure]
) -> dict[str, Any]:
    """`body` plus `failed_tickers` (sorted by ticker), each reason cut to the longest
    length (at most REASON_MAX_CHARS) at which it all fits OUTPUT_MAX_BYTES. A body too
    large even with empty reasons is returned with empty reasons."""
    ordered = sorted(failures, key=lambda f: f.ticker)

    def with_reasons(limit: int) -> dict[str, Any]:
        entries = [{"ticker": f.ticker, "reason": _clip(f.reason, limit)} for f in ordered]
        return {**body, "failed_tickers": entries}

    low, high = 0, REASON_MAX_CHARS  # the answer is in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if _size(with_reasons(middle)) <= OUTPUT_MAX_BYTES:
            low = middle
        else:
            high = middle - 1
    return with_reasons(low)


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
    the union of trade dates (sorted), total rows, every manifest key and every ticker
    set aside (sorted, reasons cut to fit OUTPUT_MAX_BYTES).

    Raises InvalidRequestError naming the batch when an output is not shaped as above.
    """
    if isinstance(outputs, (str, bytes)) or not isinstance(outputs, Sequence) or not outputs:
        raise InvalidRequestError(
            f"batches must be a non-empty list of scraper outputs, got {_preview(outputs)}"
        )
    tickers: dict[str, None] = {}
    dates: set[str] = set()
    rows = 0
    manifest_keys: list[str] = []
    failures: list[TickerFailure] = []
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
        failures.extend(TickerFailure(f["ticker"], f["reason"]) for f in failed)
    body = {
        "tickers": list(tickers),
        "dates": sorted(dates),
        "rows": rows,
        "manifest_keys": manifest_keys,
    }
    return failed_tickers_output(body, failures)
