"""The request pool: bounded concurrency, per-ticker failures set aside, early stops."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import pytest

from b3pipeline.errors import (
    BrapiUnauthorizedError,
    InvalidRequestError,
    TooManyTickersFailedError,
)
from b3pipeline.ticker_pool import (
    FetchPolicy,
    TickerFailure,
    describe_failures,
    fetch_tickers,
    ticker_batches,
)

TICKERS = [f"T{i:03d}3" for i in range(40)]


def echo(group: list[str]) -> Mapping[str, str | TickerFailure]:
    return {symbol: symbol.lower() for symbol in group}


def test_every_ticker_answered_once_in_groups() -> None:
    groups: list[list[str]] = []
    lock = threading.Lock()

    def fetch(group: list[str]) -> Mapping[str, str | TickerFailure]:
        with lock:
            groups.append(group)
        return echo(group)

    results, failures = fetch_tickers(
        TICKERS[:7], fetch, FetchPolicy(concurrency=3, tickers_per_request=3)
    )

    assert results == {t: t.lower() for t in TICKERS[:7]}
    assert failures == []
    assert sorted(groups) == [TICKERS[0:3], TICKERS[3:6], TICKERS[6:7]]


def test_requests_overlap_up_to_the_concurrency_and_never_beyond() -> None:
    """A barrier of 4 passes only when 4 groups are in flight at once; a fifth never is."""
    barrier = threading.Barrier(4, timeout=10)
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def fetch(group: list[str]) -> Mapping[str, str | TickerFailure]:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        barrier.wait()
        with lock:
            in_flight -= 1
        return echo(group)

    results, _ = fetch_tickers(TICKERS[:20], fetch, FetchPolicy(concurrency=4))

    assert len(results) == 20
    assert most == 4


def test_failed_tickers_are_set_aside_sorted_and_the_rest_kept() -> None:
    def fetch(group: list[str]) -> Mapping[str, str | TickerFailure]:
        return {
            s: TickerFailure(s, "unknown") if s in ("T0073", "T0023") else s.lower() for s in group
        }

    results, failures = fetch_tickers(TICKERS[:20], fetch, FetchPolicy(concurrency=5))

    assert sorted(results) == [t for t in TICKERS[:20] if t not in ("T0073", "T0023")]
    assert failures == [TickerFailure("T0023", "unknown"), TickerFailure("T0073", "unknown")]


@pytest.mark.parametrize(
    ("share", "total", "allowed"),
    [
        (0.1, 1, 1),
        (0.1, 5, 1),
        (0.1, 10, 1),
        (0.1, 11, 2),
        (0.1, 30, 3),
        (0.07, 100, 7),  # not 8: 0.07 * 100 is 7.000000000000001 in floating point
        (0.1, 402, 41),
        (0.0, 400, 0),
        (1.0, 400, 400),
    ],
)
def test_allowed_failures_round_the_share_up(share: float, total: int, allowed: int) -> None:
    assert FetchPolicy(max_failed_share=share).allowed_failures(total) == allowed


def test_too_many_failures_stop_new_requests() -> None:
    started: list[str] = []

    def fetch(group: list[str]) -> Mapping[str, str | TickerFailure]:
        started.extend(group)
        return {s: TickerFailure(s, f"bad data {s}") for s in group}

    with pytest.raises(TooManyTickersFailedError) as info:
        fetch_tickers(TICKERS, fetch, FetchPolicy(concurrency=1, max_failed_share=0.05))

    assert started == TICKERS[:3]  # 2 of 40 may fail
    assert str(info.value).startswith(
        "stopped early: 3 of 40 tickers failed, more than the allowed share 0.05 (2); "
        "nothing was written. T0003 (bad data T0003); T0013 (bad data T0013); "
        "T0023 (bad data T0023). "
    )


def test_share_zero_stops_at_the_first_failure() -> None:
    def fetch(group: list[str]) -> Mapping[str, str | TickerFailure]:
        return {s: TickerFailure(s, "bad") for s in group}

    with pytest.raises(TooManyTickersFailedError, match="1 of 40"):
        fetch_tickers(TICKERS, fetch, FetchPolicy(concurrency=1, max_failed_share=0))


def test_a_run_wide_error_is_raised_and_stops_new_requests() -> None:
    """The first group fails for the whole run (a bad token); the two others in flight are
    held until then and finish; none of the remaining 37 starts."""
    started = 0
    lock = threading.Lock()
    failed = threading.Event()

    def fetch(group: list[str]) -> Mapping[str, str | TickerFailure]:
        nonlocal started
        with lock:
            started += 1
            first = started == 1
        if first:
            failed.set()
            raise BrapiUnauthorizedError("HTTP 401: set BRAPI_TOKEN")
        failed.wait(5)
        return echo(group)

    with pytest.raises(BrapiUnauthorizedError, match="401"):
        fetch_tickers(TICKERS, fetch, FetchPolicy(concurrency=3))

    assert 1 <= started <= 3


@pytest.mark.parametrize(
    ("tickers", "size", "message"),
    [
        (["PETR4"], 0, "batch size 0 is not a whole number of at least 1"),
        (["PETR4"], -2, "batch size -2"),
        (["PETR4"], 2.5, "batch size 2.5"),
        (["PETR4"], True, "batch size True"),
        ([], 5, "no tickers to split into batches"),
        ("PETR4,VALE3", 5, "tickers must be a list of symbols"),
        (None, 5, "tickers must be a list of symbols"),
    ],
)
def test_bad_batches_get_a_clear_error(tickers: object, size: object, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        ticker_batches(tickers, size)  # type: ignore[arg-type]


def test_batches_keep_order_and_the_last_is_shorter() -> None:
    assert ticker_batches(TICKERS[:5], 2) == [TICKERS[0:2], TICKERS[2:4], TICKERS[4:5]]
    assert ticker_batches(TICKERS[:5], 50) == [TICKERS[:5]]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"concurrency": 0}, "concurrency 0 is not a whole number from 1 to 64"),
        ({"concurrency": 65}, "concurrency 65"),
        ({"tickers_per_request": 0}, "tickers per request 0 .* free plan takes 1"),
        ({"tickers_per_request": 101}, "tickers per request 101"),
        ({"max_failed_share": 1.5}, "max failed share 1.5 is not a number from 0 to 1"),
        ({"max_failed_share": -0.1}, "max failed share -0.1"),
    ],
)
def test_bad_policies_get_a_clear_error(policy: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        FetchPolicy(**policy)  # type: ignore[arg-type]


def test_describe_failures_counts_what_it_does_not_quote() -> None:
    failures = [TickerFailure(f"T{i:03d}3", f"reason {i}") for i in range(4)]
    assert describe_failures(failures) == (
        "T0003 (reason 0); T0013 (reason 1); T0023 (reason 2); T0033 (reason 3)"
    )
    assert describe_failures(failures, 2) == "T0003 (reason 0); T0013 (reason 1); and 2 more"
