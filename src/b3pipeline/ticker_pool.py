"""Many tickers at once: a bounded pool of requests, each ticker's failure set aside.

A full B3 market is about 400 tickers; one BRAPI request at a time, at ~300 ms each, is two
minutes. `fetch_tickers` groups the tickers (`tickers_per_request` per request: BRAPI's
free plan takes one), runs the groups on `concurrency` threads, and returns what each
ticker gave. The fetching itself is a callable, so this module knows nothing of HTTP and
stays importable without `requests` (settings read its defaults).

Failures come in two kinds, and the callable tells them apart:
- about one ticker (BRAPI does not know it; its bars fail validation): it answers a
  `TickerFailure` for that ticker, which is set aside with its reason while the others
  carry on;
- about the run (bad token, plan quota used up, BRAPI down after its retries, a body that
  is not BRAPI's JSON): it raises; no new request starts (those in flight finish) and the
  error is raised here.
When more tickers fail than `max_failed_share` of them (rounded up, so with the default
0.1 one failure in ten tickers is always isolated), the run stops early with
TooManyTickersFailedError instead of listing hundreds of identical failures: a failure
that broad is a broken ticker list or a BRAPI problem, not the tickers'.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from b3pipeline.errors import InvalidRequestError, TooManyTickersFailedError

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_FAILED_SHARE",
    "DEFAULT_TICKERS_PER_REQUEST",
    "MAX_CONCURRENCY",
    "MAX_TICKERS_PER_REQUEST",
    "FetchPolicy",
    "TickerFailure",
    "describe_failures",
    "fetch_tickers",
    "ticker_batches",
]

#: Requests in flight at once. BRAPI documents no concurrency or per-second limit (only
#: each plan's monthly quota, HTTP 402) and its own SDK allows 100 connections and retries
#: 429 after Retry-After; 8 keeps a full market (~400 tickers at ~300 ms) near 15 s
#: while staying a modest client.
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
#: BRAPI's free plan answers one ticker per request ("limitado a 1 ticker/requisição");
#: paid plans take several, comma-separated (`/api/quote/PETR4,VALE3`).
DEFAULT_TICKERS_PER_REQUEST = 1
#: A bound on the URL, not a BRAPI rule: the plan decides how many it accepts.
MAX_TICKERS_PER_REQUEST = 100
DEFAULT_MAX_FAILED_SHARE = 0.1
#: Failures quoted in an early-stop message; the others are only counted.
FAILURES_QUOTED = 5

T = TypeVar("T")


@dataclass(frozen=True)
class FetchPolicy:
    """How a scrape talks to BRAPI: BRAPI_CONCURRENCY, BRAPI_TICKERS_PER_REQUEST and
    B3_MAX_FAILED_TICKER_SHARE (read by the adapters, see Settings)."""

    concurrency: int = DEFAULT_CONCURRENCY
    tickers_per_request: int = DEFAULT_TICKERS_PER_REQUEST
    max_failed_share: float = DEFAULT_MAX_FAILED_SHARE

    def __post_init__(self) -> None:
        if not _whole(self.concurrency) or not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise InvalidRequestError(
                f"concurrency {self.concurrency!r} is not a whole number from 1 to "
                f"{MAX_CONCURRENCY}: give how many BRAPI requests may run at once"
            )
        if (
            not _whole(self.tickers_per_request)
            or not 1 <= self.tickers_per_request <= MAX_TICKERS_PER_REQUEST
        ):
            raise InvalidRequestError(
                f"tickers per request {self.tickers_per_request!r} is not a whole number "
                f"from 1 to {MAX_TICKERS_PER_REQUEST}: BRAPI's free plan takes 1"
            )
        share = self.max_failed_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise InvalidRequestError(
                f"max failed share {share!r} is not a number from 0 to 1: give the share of "
                "tickers that may fail before the run stops early (0.1 is one in ten)"
            )

    def allowed_failures(self, total: int) -> int:
        """How many of `total` tickers may be set aside before the run stops early."""
        # round() first: 0.07 * 100 is 7.000000000000001 in binary floating point.
        return math.ceil(round(self.max_failed_share * total, 9))


@dataclass(frozen=True)
class TickerFailure:
    """A ticker set aside, with the short reason a person reads next to it."""

    ticker: str
    reason: str
    error: BaseException | None = field(default=None, compare=False, repr=False)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def ticker_batches(tickers: Sequence[str], size: int) -> list[list[str]]:
    """`tickers` cut into consecutive batches of at most `size`, in order."""
    if not _whole(size) or size < 1:
        raise InvalidRequestError(
            f"batch size {size!r} is not a whole number of at least 1: give how many "
            "tickers go together"
        )
    if isinstance(tickers, str) or not isinstance(tickers, Sequence):
        raise InvalidRequestError(
            f"tickers must be a list of symbols such as ['PETR4', 'VALE3'], got {tickers!r}"
        )
    if not tickers:
        raise InvalidRequestError("no tickers to split into batches: give at least one")
    return [list(tickers[i : i + size]) for i in range(0, len(tickers), size)]


def describe_failures(failures: Sequence[TickerFailure], limit: int | None = None) -> str:
    """`T1 (reason); T2 (reason)`, the first `limit` of them and a count of the rest."""
    shown = failures if limit is None else failures[:limit]
    text = "; ".join(f"{f.ticker} ({f.reason})" for f in shown)
    if len(failures) > len(shown):
        text += f"; and {len(failures) - len(shown)} more"
    return text


GroupFetch = Callable[[list[str]], Mapping[str, T | TickerFailure]]


class _Run(Generic[T]):
    """What the pool's threads share: results, failures and the first run-wide error."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.results: dict[str, T] = {}
        self.failures: list[TickerFailure] = []
        self.error: Exception | None = None
        self.too_many = False

    def fetch(self, fetch_group: GroupFetch[T], group: list[str]) -> None:
        if self.stopped.is_set():  # a run-wide error or too many failures: start nothing new
            return
        try:
            answers = fetch_group(group)
        except Exception as exc:  # raised again in the caller's thread
            with self.lock:
                self.error = self.error or exc
            self.stopped.set()
            return
        with self.lock:
            for symbol in group:
                answer = answers[symbol]
                if isinstance(answer, TickerFailure):
                    self.failures.append(answer)
                else:
                    self.results[symbol] = answer
            if len(self.failures) > self.allowed:
                self.too_many = True
                self.stopped.set()


def fetch_tickers(
    symbols: Sequence[str], fetch_group: GroupFetch[T], policy: FetchPolicy
) -> tuple[dict[str, T], list[TickerFailure]]:
    """Run `fetch_group` over `symbols` in groups, `policy.concurrency` groups at a time.

    `fetch_group(group)` answers every symbol of its group with a value or a
    TickerFailure, or raises for a run-wide failure. Returns the values by symbol and the
    failures sorted by ticker. Raises the first run-wide error, or TooManyTickersFailedError
    when more than `policy.allowed_failures(len(symbols))` tickers failed.
    """
    groups = ticker_batches(symbols, policy.tickers_per_request)
    run: _Run[T] = _Run(policy.allowed_failures(len(symbols)))
    workers = min(policy.concurrency, len(groups))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="brapi") as pool:
        for group in groups:
            pool.submit(run.fetch, fetch_group, group)
    if run.error is not None:
        raise run.error
    failures = sorted(run.failures, key=lambda f: f.ticker)
    if run.too_many:
        raise TooManyTickersFailedError(
            f"stopped early: {len(failures)} of {len(symbols)} tickers failed, more than the "
            f"allowed share {policy.max_failed_share:g} ({run.allowed}); nothing was written. "
            f"{describe_failures(failures, FAILURES_QUOTED)}. A failure this broad is rarely "
            "the tickers' own: check the ticker list and BRAPI's answers (or raise "
            "B3_MAX_FAILED_TICKER_SHARE to keep the good tickers anyway)"
        ) from failures[-1].error
    return run.results, failures
