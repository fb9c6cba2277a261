"""Batch outputs of the scraper and their merge into one run window (the state machine's
fan-out, b3pipeline.batch_output)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from b3pipeline.batch_output import (
    FAILED_TICKERS_MAX_CHARS,
    MAP_OUTPUT_MAX_BYTES,
    MAX_BATCHES,
    MAX_RUN_TICKERS,
    OUTPUT_MAX_BYTES,
    REASON_MAX_CHARS,
    batch_output_budget,
    failed_tickers_output,
    merge_batch_outputs,
)
from b3pipeline.errors import InvalidRequestError
from b3pipeline.ticker_pool import TickerFailure


def batch(
    tickers: list[Any],
    dates: Any,
    rows: int,
    key: str | None,
    failed: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "tickers": tickers,
        "dates": dates,
        "rows": rows,
        "manifest_key": key,
        "failed_tickers": failed or [],
    }


def test_merge_is_the_window_of_every_batch() -> None:
    merged = merge_batch_outputs(
        [
            batch(["PETR4", "VALE3"], ["2025-08-27", "2025-08-28", "2025-08-29"], 6, "m/a"),
            batch(["ITUB4"], ["2025-08-25", "2025-08-26", "2025-08-27"], 3, "m/b"),
            batch([], [], 0, None, [{"ticker": "ZZZZ3", "reason": "unknown"}]),
            batch(["MGLU3"], [], 0, "m/d", [{"ticker": "AAAA3", "reason": "null close"}]),
        ]
    )

    assert merged == {
        "tickers": ["PETR4", "VALE3", "ITUB4", "MGLU3"],
        # A plain union of the batches' lists would start at 2025-08-27.
        "dates": ["2025-08-25", "2025-08-26", "2025-08-27", "2025-08-28", "2025-08-29"],
        "rows": 9,
        "manifest_keys": ["m/a", "m/b", "m/d"],
        "failed_count": 2,
        "failed_tickers": [
            {"ticker": "AAAA3", "reason": "null close"},
            {"ticker": "ZZZZ3", "reason": "unknown"},
        ],
    }


def test_a_merged_market_of_failures_still_fits() -> None:
    reason = "x" * 5_000
    outputs = [
        batch(
            [], [], 0, None, [{"ticker": f"B{n:02d}{i:02d}3", "reason": reason} for i in range(50)]
        )
        for n in range(8)
    ]

    merged = merge_batch_outputs(outputs)

    assert len(merged["failed_tickers"]) == 400
    assert len(json.dumps(merged)) <= OUTPUT_MAX_BYTES
    assert {len(f["reason"]) for f in merged["failed_tickers"]} == {
        len(merged["failed_tickers"][0]["reason"])
    }


def test_the_merged_list_fits_a_fail_cause_and_counts_every_failure() -> None:
    """A Fail state's cause is at most 32,768 characters (botocore's SensitiveCause): the
    merged list, as JSON, stays within FAILED_TICKERS_MAX_CHARS with long reasons cut..."""
    reason = "BRAPI says: " + "Não encontramos a ação. " * 20
    outputs = [
        batch(
            [], [], 0, None, [{"ticker": f"B{n:02d}{i:02d}3", "reason": reason} for i in range(20)]
        )
        for n in range(20)
    ]

    merged = merge_batch_outputs(outputs)

    listed = merged["failed_tickers"]
    assert merged["failed_count"] == len(listed) == 400
    assert FAILED_TICKERS_MAX_CHARS - 400 < len(json.dumps(listed)) <= FAILED_TICKERS_MAX_CHARS
    assert all(reason.startswith(f["reason"][:-3]) for f in listed)


def test_a_list_too_long_even_without_reasons_keeps_its_first_tickers() -> None:
    """...and when even empty reasons do not fit (every ticker of a maximal run failed), the
    first tickers that fit are named and failed_count still counts every one."""
    outputs = [
        batch([], [], 0, None, [{"ticker": f"B{n:02d}{i:02d}3", "reason": "x"} for i in range(20)])
        for n in range(MAX_BATCHES)
    ]

    merged = merge_batch_outputs(outputs)

    listed = merged["failed_tickers"]
    assert merged["failed_count"] == MAX_RUN_TICKERS
    assert len(json.dumps(listed)) <= FAILED_TICKERS_MAX_CHARS
    assert len(json.dumps(listed)) > FAILED_TICKERS_MAX_CHARS - 40
    assert listed == [{"ticker": f"B00{i:02d}3", "reason": ""} for i in range(20)] + listed[20:]
    assert [f["ticker"] for f in listed] == sorted(f["ticker"] for f in listed)


@pytest.mark.parametrize(
    ("batch_count", "budget"),
    [(1, OUTPUT_MAX_BYTES), (2, OUTPUT_MAX_BYTES), (8, MAP_OUTPUT_MAX_BYTES // 8), (100, 1310)],
)
def test_every_batch_output_together_fits_the_map_budget(batch_count: int, budget: int) -> None:
    assert batch_output_budget(batch_count) == budget
    assert batch_count * budget <= MAP_OUTPUT_MAX_BYTES or batch_count == 1


def test_a_run_of_more_batches_than_the_state_machine_makes_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match=f"a run has at most {MAX_BATCHES} batches"):
        merge_batch_outputs([batch(["PETR4"], [], 0, "k")] * (MAX_BATCHES + 1))


def test_reasons_are_cut_only_as_far_as_needed() -> None:
    failures = [TickerFailure("PETR4", "y" * 1_000), TickerFailure("ABEV3", "short")]

    output = failed_tickers_output({"rows": 1}, failures)

    assert output == {
        "rows": 1,
        "failed_tickers": [
            {"ticker": "ABEV3", "reason": "short"},
            {"ticker": "PETR4", "reason": "y" * (REASON_MAX_CHARS - 3) + "..."},
        ],
    }


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([], "batches must be a non-empty list"),
        ("[]", "batches must be a non-empty list"),
        ({"tickers": []}, "batches must be a non-empty list"),
        ([42], "batch output #0 is not an object"),
        ([{"dates": [], "rows": 0}], "batch output #0 has no 'tickers'"),
        ([batch(["PETR4"], ["29/08/2025"], 1, "k")], "date '29/08/2025' is not like"),
        ([batch(["PETR4"], "2025-08-29", 1, "k")], "dates must be a list of strings"),
        ([batch(["PETR4", 4], [], 1, "k")], "tickers must be a list of strings"),
        ([batch(["PETR4"], [], -1, "k")], "rows -1 is not a count"),
        ([batch(["PETR4"], [], True, "k")], "rows True is not a count"),
        ([batch(["PETR4"], [], 1, "")], "manifest_key '' is not a key"),
        (
            [batch(["PETR4"], [], 1, "k"), {**batch([], [], 0, None), "failed_tickers": ["ZZZZ3"]}],
            'batch output #1: failed_tickers must be a list of {"ticker", "reason"} objects',
        ),
    ],
)
def test_malformed_outputs_get_a_clear_error(outputs: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message.replace("(", r"\(").replace("{", r"\{")):
        merge_batch_outputs(outputs)
