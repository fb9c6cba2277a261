"""BRAPI client: daily quote history for B3 tickers, validated before anything is returned.

The client receives plain values (base URL, optional token, a FetchPolicy); the adapters
(CLI, Lambda) read settings and secrets. One GET per group of tickers, `tickers_per_request`
of them (BRAPI's free plan accepts one symbol per request), `concurrency` GETs at a time
(b3pipeline.ticker_pool):

    GET {base}/api/quote/{T1[,T2...]}?range=R&interval=1d      Authorization: Bearer <token>

Transport: a `requests.Session` whose adapter retries connection errors (refused, reset),
timeouts, 429 and 5xx with capped exponential backoff and jitter (urllib3 `Retry`). Whatever
is still failing after the retries becomes `BrapiUnavailableError` (transient: retry later).
A host name that does not resolve is not retried: without a network, or with a mistyped
BRAPI_BASE_URL, waiting does not help, so it fails at once with `BrapiHostNotFoundError`.

Every bar of every ticker is validated before `fetch_daily_history` returns. A ticker BRAPI
does not know (404) or whose bars fail validation is set aside with its reason
(`QuoteHistory.failed`) and the others are returned; a 404 for a request of several
tickers (BRAPI's answer when any one of them is unknown) is asked again one ticker at a
time. Anything else (401, 402, 400, 429/5xx after the retries, a body that is not BRAPI's
JSON) fails the whole fetch. Trade dates are calendar dates in America/Sao_Paulo.

Decisions worth knowing:
- A missing or null `currency` defaults to "BRL" (B3 lists in reais; the field is
  descriptive, not a price). A `currency` that is present but not a non-empty string is a
  payload error.
- With a window, the range is the smallest one whose span surely covers `start..today`
  (inclusive calendar days), counting "Nd" as N calendar days although BRAPI counts trading
  days, so the choice errs on the side of asking for more.
- `end` without `start` is rejected: no range can be chosen without knowing how far back
  to go.
"""

from __future__ import annotations

import inspect
import logging
import math
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Self
from zoneinfo import ZoneInfo

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from b3pipeline.errors import (
    BrapiBadRequestError,
    BrapiError,
    BrapiHostNotFoundError,
    BrapiPayloadError,
    BrapiQuotaError,
    BrapiTickerNotFoundError,
    BrapiUnauthorizedError,
    BrapiUnavailableError,
    InvalidDateRangeError,
)
from b3pipeline.ticker_pool import FetchPolicy, TickerFailure, fetch_tickers
from b3pipeline.tickers import validate_tickers

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RANGE",
    "RANGE_SPANS_DAYS",
    "RETRY_STATUSES",
    "SAO_PAULO",
    "BrapiClient",
    "DailyBar",
    "QuoteHistory",
    "RetryLogAsDebug",
    "build_retry",
    "build_session",
    "choose_range",
    "parse_quotes_payload",
    "ticker_examples",
    "today_in_sao_paulo",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://brapi.dev"
DEFAULT_RANGE = "5d"
INTERVAL = "1d"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")

#: BRAPI ranges, smallest first, with the calendar days each one surely covers. "ytd" is
#: left out (its span depends on the date); anything longer than "10y" asks for "max".
RANGE_SPANS_DAYS: tuple[tuple[str, int], ...] = (
    ("1d", 1),
    ("2d", 2),
    ("5d", 5),
    ("7d", 7),
    ("1mo", 28),
    ("3mo", 89),
    ("6mo", 181),
    ("1y", 365),
    ("2y", 730),
    ("5y", 1826),
    ("10y", 3652),
)
MAX_RANGE = "max"

RETRY_STATUSES: tuple[int, ...] = (429, 500, 502, 503, 504)
#: Longest single sleep between retries (computed backoff), in seconds.
BACKOFF_MAX_SECONDS = 10.0
#: Longest Retry-After (on 429/503) the client honours, in seconds; longer waits are cut.
RETRY_AFTER_MAX_SECONDS = 30

_PRICE_FIELDS: tuple[tuple[str, str], ...] = (
    ("open", "open"),
    ("high", "high"),
    ("low", "low"),
    ("close", "close"),
    ("adjustedClose", "adjusted_close"),
)
_MESSAGE_MAX_CHARS = 300
#: Symbols a 404 message offers as examples (never the one that failed).
_TICKER_EXAMPLES = ("PETR4", "VALE3", "BOVA11", "ITUB4")


@dataclass(frozen=True)
class DailyBar:
    """One trading day of one ticker, BRAPI's values unchanged."""

    ticker: str
    trade_date: date
    open: float
    high: float
    low: float
    close: float
    adjusted_close: float
    volume: int
    currency: str


@dataclass(frozen=True)
class QuoteHistory:
    """Validated bars sorted by (ticker, trade_date), only within the window when given,
    and the tickers set aside (sorted by ticker), none of whose bars are in `bars`.

    `spans` says what BRAPI returned before the window was applied: the first and last
    trade date of each ticker that had any bar (a ticker without bars, or set aside, is
    absent). None when the source does not say.
    """

    bars: list[DailyBar]
    request_range: str
    requested_at: str | None
    spans: dict[str, tuple[date, date]] | None = None
    failed: list[TickerFailure] = field(default_factory=list)


def ticker_examples(excluding: Sequence[str] = ()) -> str:
    """Three well-known B3 symbols for an error message, never one that just failed."""
    return ", ".join([t for t in _TICKER_EXAMPLES if t not in excluding][:3])


def _package_version() -> str:
    try:
        return version("b3pipeline")
    except PackageNotFoundError:  # a Lambda zip carries the code without its metadata
        return "unknown"


USER_AGENT = f"b3pipeline/{_package_version()}"


def today_in_sao_paulo() -> date:
    """Today's calendar date on B3 (America/Sao_Paulo)."""
    return datetime.now(SAO_PAULO).date()


def choose_range(start: date, today: date) -> str:
    """The smallest BRAPI range whose span surely covers every day from `start` to `today`."""
    needed_days = (today - start).days + 1
    for name, span_days in RANGE_SPANS_DAYS:
        if span_days >= needed_days:
            return name
    return MAX_RANGE


# --------------------------------------------------------------------------- transport


def _retry_accepts(parameter: str) -> bool:
    return parameter in inspect.signature(Retry.__init__).parameters


def is_name_resolution_failure(error: BaseException | None) -> bool:
    """True when `error` was caused by a host name that does not resolve (DNS).

    urllib3 2 raises NameResolutionError from socket.gaierror, urllib3 1.26 a
    NewConnectionError while handling it: the gaierror is in the chain either way.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, socket.gaierror):
            return True
        seen.add(id(error))
        reason = getattr(error, "reason", None)  # MaxRetryError wraps the last error
        if isinstance(reason, BaseException) and is_name_resolution_failure(reason):
            return True
        error = error.__cause__ or error.__context__
    return False


class BrapiRetry(Retry):
    """urllib3's Retry, except that a host name that does not resolve is not retried.

    A DNS failure means no network or a mistyped BRAPI_BASE_URL; retrying it only delays
    the error by the whole backoff (about 9 s). Refused or reset connections, timeouts,
    429 and 5xx stay retried.
    """

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Self:
        if is_name_resolution_failure(error):
            raise urllib3.exceptions.MaxRetryError(_pool, url or "", error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


class RetryLogAsDebug(logging.Filter):
    """Turns urllib3's per-retry WARNING ("Retrying (Retry(...)) after connection broken
    by ...") into a DEBUG record of logger `b3pipeline.brapi`'s level: a retry is routine,
    and only the final outcome is the user's business. Install it on the
    `urllib3.connectionpool` logger (the CLI does)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or not str(record.msg).startswith("Retrying"):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logger.isEnabledFor(logging.DEBUG)


def build_retry(max_retries: int = 4, backoff_factor: float = 0.5) -> Retry:
    """The urllib3 Retry policy: GET only, connection/read errors, 429 and 5xx (but not a
    host name that does not resolve: see BrapiRetry).

    Sleeps grow as backoff_factor * 2**n, plus up to `backoff_factor` seconds of jitter,
    each capped at BACKOFF_MAX_SECONDS; a Retry-After header is honoured up to
    RETRY_AFTER_MAX_SECONDS. After the last retry the final response is returned
    (raise_on_status=False) so the client can report its status and BRAPI's message.
    """
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    if backoff_factor < 0:
        raise ValueError("backoff_factor must be >= 0")
    kwargs: dict[str, Any] = {
        "total": max_retries,
        "connect": max_retries,
        "read": max_retries,
        "status": max_retries,
        "backoff_factor": backoff_factor,
        "status_forcelist": RETRY_STATUSES,
        "allowed_methods": frozenset({"GET"}),
        "respect_retry_after_header": True,
        "raise_on_status": False,
    }
    # backoff_jitter and backoff_max are urllib3 >= 2.0, retry_after_max is newer still;
    # requests >= 2.28 may bring urllib3 1.26 (then backoff is capped at 120 s, no jitter).
    if _retry_accepts("backoff_jitter"):
        kwargs["backoff_jitter"] = backoff_factor
    if _retry_accepts("backoff_max"):
        kwargs["backoff_max"] = BACKOFF_MAX_SECONDS
    if _retry_accepts("retry_after_max"):
        kwargs["retry_after_max"] = RETRY_AFTER_MAX_SECONDS
    return BrapiRetry(**kwargs)


def build_session(
    max_retries: int = 4, backoff_factor: float = 0.5, pool_size: int = 1
) -> requests.Session:
    """A Session that retries as `build_retry` says, for http:// and https://.

    `pool_size` is how many requests run at once: each keeps its own connection, where
    requests' default pool of 10 would drop the ones above it after use.
    """
    session = requests.Session()
    adapter = HTTPAdapter(
        max_retries=build_retry(max_retries, backoff_factor),
        pool_maxsize=max(pool_size, requests.adapters.DEFAULT_POOLSIZE),
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# --------------------------------------------------------------------------- client


class BrapiClient:
    """Fetches daily quote history from BRAPI.

    `session`: when given it is used as is (its adapters decide retries; tests pass one
    with a fake adapter); otherwise `build_session(max_retries, backoff_factor)` with a
    connection per concurrent request. `policy`: concurrency, tickers per request and the
    share of tickers that may fail before a fetch stops early (b3pipeline.ticker_pool).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        max_retries: int = 4,
        backoff_factor: float = 0.5,
        session: requests.Session | None = None,
        policy: FetchPolicy | None = None,
    ) -> None:
        base = base_url.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise BrapiError(
                f"BRAPI base URL {base_url!r} is not an http(s) URL: "
                "set BRAPI_BASE_URL like https://brapi.dev"
            )
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        self.base_url = base
        self.timeout = timeout
        self._token = token.strip() if token and token.strip() else None
        self.policy = policy or FetchPolicy()
        self.session = (
            session
            if session is not None
            else build_session(max_retries, backoff_factor, self.policy.concurrency)
        )

    def __repr__(self) -> str:  # never show the token
        return f"BrapiClient(base_url={self.base_url!r}, token={'***' if self._token else None})"

    def fetch_daily_history(
        self,
        tickers: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        today: date | None = None,
    ) -> QuoteHistory:
        """Daily bars of every ticker, each one's bars all valid, or the ticker set aside.

        Without start/end: range "5d", every bar BRAPI returns (the latest trading days).
        With start (and optionally end): the smallest range covering start..today, then
        only bars with start <= trade_date <= end. Raises for a failure of the whole fetch
        (see the module's docstring) and TooManyTickersFailedError when more tickers fail
        than the policy's share allows.
        """
        if isinstance(tickers, str):  # a bare "PETR4" would otherwise be split into letters
            tickers = [tickers]
        symbols = validate_tickers(tickers)
        request_range = self._request_range(start, end, today)

        answers, failed = fetch_tickers(
            symbols, lambda group: self._fetch_group(group, request_range), self.policy
        )
        bars: list[DailyBar] = []
        spans: dict[str, tuple[date, date]] = {}
        requested_at: str | None = None
        for symbol in symbols:
            if symbol not in answers:
                continue
            ticker_bars, ticker_requested_at = answers[symbol]
            if requested_at is None:
                requested_at = ticker_requested_at
            if ticker_bars:
                spans[symbol] = (ticker_bars[0].trade_date, ticker_bars[-1].trade_date)
            kept = [
                bar
                for bar in ticker_bars
                if (start is None or bar.trade_date >= start)
                and (end is None or bar.trade_date <= end)
            ]
            logger.info(
                "BRAPI %s range=%s: %d bars, %d in the window",
                symbol,
                request_range,
                len(ticker_bars),
                len(kept),
            )
            bars.extend(kept)
        for failure in failed:
            logger.info("BRAPI %s set aside: %s", failure.ticker, failure.reason)
        bars.sort(key=lambda bar: (bar.ticker, bar.trade_date))
        return QuoteHistory(
            bars=bars,
            request_range=request_range,
            requested_at=requested_at,
            spans=spans,
            failed=failed,
        )

    def _fetch_group(
        self, symbols: list[str], request_range: str
    ) -> dict[str, tuple[list[DailyBar], str | None] | TickerFailure]:
        """One request for `symbols`: each one's bars and BRAPI's `requestedAt`, or why it
        is set aside. Raises for anything that is not about one ticker."""
        try:
            payload = self._get_quote(symbols, request_range)
        except BrapiTickerNotFoundError as exc:
            if len(symbols) == 1:
                return {symbols[0]: TickerFailure(symbols[0], exc.reason, exc)}
            # BRAPI answers 404 for a whole request when any one of its tickers is unknown
            # ("Um ou mais tickers solicitados não foram encontrados"): ask one by one.
            logger.info("BRAPI 404 for %s: asking one ticker at a time", ",".join(symbols))
            answers: dict[str, tuple[list[DailyBar], str | None] | TickerFailure] = {}
            for symbol in symbols:
                answers.update(self._fetch_group([symbol], request_range))
            return answers
        parsed, requested_at = parse_quotes_payload(payload, symbols)
        return {
            symbol: (
                TickerFailure(symbol, answer.reason, answer)
                if isinstance(answer, BrapiPayloadError)
                else (answer, requested_at)
            )
            for symbol, answer in parsed.items()
        }

    @staticmethod
    def _request_range(start: date | None, end: date | None, today: date | None) -> str:
        if start is None and end is None:
            return DEFAULT_RANGE
        if start is None:
            raise InvalidDateRangeError(
                f"end date {end} given without a start date: give the start of the window too"
            )
        if end is not None and start > end:
            raise InvalidDateRangeError(
                f"start date {start} is after end date {end}: give start <= end"
            )
        current = today if today is not None else today_in_sao_paulo()
        if start > current:
            raise InvalidDateRangeError(
                f"start date {start} is in the future (today is {current} in "
                "America/Sao_Paulo): give a start date up to today"
            )
        return choose_range(start, current)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _get_quote(self, symbols: Sequence[str], request_range: str) -> Any:
        listed = ",".join(symbols)
        url = f"{self.base_url}/api/quote/{listed}"
        what = f"BRAPI quote {listed} (range={request_range})"
        try:
            response = self.session.get(
                url,
                params={"range": request_range, "interval": INTERVAL},
                headers=self._headers(),
                timeout=(self.timeout, self.timeout),
            )
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.RetryError,
        ) as exc:
            if is_name_resolution_failure(exc):
                host = urllib3.util.parse_url(self.base_url).host
                raise BrapiHostNotFoundError(
                    f"{what}: the host {host} of {self.base_url} does not resolve (no network, "
                    "or a mistyped BRAPI_BASE_URL); not retried"
                ) from exc
            if _is_timeout(exc):
                raise BrapiUnavailableError(
                    f"{what} timed out after {self.timeout:g} s on every attempt; this is "
                    "transient: retry later"
                ) from exc
            cause = type(_retry_reason(exc) or exc).__name__
            raise BrapiUnavailableError(
                f"{what}: could not reach {self.base_url} ({cause}) after every retry; this is "
                "transient: retry later (check BRAPI_BASE_URL and the network if it persists)"
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise BrapiError(
                f"{what}: request to {self.base_url} failed ({type(exc).__name__}): "
                "check BRAPI_BASE_URL"
            ) from exc

        status = response.status_code
        logger.debug("%s -> HTTP %d", what, status)
        if status == 200:
            try:
                return response.json()
            except ValueError as exc:
                raise BrapiPayloadError(
                    f"{what}: HTTP 200 but the body is not JSON "
                    f"({_snippet(response.text)!r}); nothing was written: retry later, and "
                    "report it if it persists"
                ) from exc
        _raise_for_status(what, symbols, status, _brapi_message(response))
        raise AssertionError("unreachable")  # pragma: no cover


def _is_timeout(exc: requests.exceptions.RequestException) -> bool:
    """A timeout, including one that used up the read retries (requests then raises a
    ConnectionError wrapping urllib3's MaxRetryError whose reason is the timeout)."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    reason = _retry_reason(exc)
    # urllib3's NewConnectionError (refused, unresolvable host) subclasses its
    # ConnectTimeoutError for historical reasons; it is not a timeout.
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(reason, urllib3.exceptions.TimeoutError)


def _retry_reason(exc: requests.exceptions.RequestException) -> BaseException | None:
    """The last underlying error when requests wraps urllib3's MaxRetryError."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return reason if isinstance(reason, BaseException) else None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MESSAGE_MAX_CHARS:
        return text[:_MESSAGE_MAX_CHARS] + "..."
    return text


def _brapi_message(response: requests.Response) -> str:
    """BRAPI's `message` field, or a snippet of the body when it is not BRAPI's JSON."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message.strip():
            return _snippet(message)
    text = _snippet(response.text or "")
    return text or (response.reason or "no message")


def _raise_for_status(what: str, symbols: Sequence[str], status: int, message: str) -> None:
    said = f"{what}: HTTP {status}, BRAPI says: {message!r}"
    if len(symbols) > 1 and status in (400, 401, 403):
        said += (
            f" (the request asked for {len(symbols)} tickers at once: if the BRAPI plan "
            "takes one ticker per request, set BRAPI_TICKERS_PER_REQUEST=1)"
        )
    if status == 400:
        raise BrapiBadRequestError(
            f"{said}; BRAPI rejected the request (range or interval): check the date window"
        )
    if status == 401:
        raise BrapiUnauthorizedError(
            f"{said}; set BRAPI_TOKEN (or BRAPI_TOKEN_PARAMETER in AWS) to a valid token "
            "from brapi.dev"
        )
    if status == 402:
        raise BrapiQuotaError(
            f"{said}; the BRAPI plan's request quota is used up: wait for it to renew or "
            "upgrade the plan at brapi.dev"
        )
    if status == 404:
        unknown = symbols[0] if len(symbols) == 1 else f"one of {', '.join(symbols)}"
        raise BrapiTickerNotFoundError(
            f"{said}; BRAPI does not know {unknown}: check the ticker (B3 symbols such as "
            f"{ticker_examples(symbols)})",
            reason=f"unknown to BRAPI, HTTP 404: {message!r}",
        )
    if status == 429 or status >= 500:
        raise BrapiUnavailableError(
            f"{said}; still failing after every retry; this is transient: retry later"
        )
    raise BrapiError(f"{said}; unexpected status from BRAPI")


# --------------------------------------------------------------------------- payload


def _fail(symbol: str, problem: str, trade_date: date | None = None) -> BrapiPayloadError:
    where = f"{symbol} {trade_date.isoformat()}" if trade_date is not None else symbol
    day = f"{trade_date.isoformat()}: " if trade_date is not None else ""
    return BrapiPayloadError(
        f"BRAPI payload for {where}: {problem}; nothing was written: retry later, and "
        "report it to BRAPI if it persists",
        reason=f"bad BRAPI data: {day}{problem}",
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _trade_date(symbol: str, raw: Mapping[str, Any], index: int) -> date:
    stamp: Any = raw.get("date")
    if not _is_number(stamp) or not math.isfinite(stamp):
        raise _fail(symbol, f"bar #{index} has date={stamp!r}, not Unix seconds")
    try:
        moment = datetime.fromtimestamp(stamp, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise _fail(symbol, f"bar #{index} has date={stamp!r}, out of range") from exc
    return moment.astimezone(SAO_PAULO).date()


def _price(symbol: str, trade_date: date, raw: Mapping[str, Any], field: str) -> float:
    value = raw.get(field)
    if value is None:
        raise _fail(symbol, f"{field} is missing or null", trade_date)
    if not _is_number(value) or not math.isfinite(value):
        raise _fail(symbol, f"{field}={value!r} is not a finite number", trade_date)
    if value <= 0:
        raise _fail(symbol, f"{field}={value!r} is not positive", trade_date)
    return float(value)


def _volume(symbol: str, trade_date: date, raw: Mapping[str, Any]) -> int:
    value = raw.get("volume")
    if value is None:
        raise _fail(symbol, "volume is missing or null", trade_date)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(symbol, f"volume={value!r} is not a whole number", trade_date)
    if value < 0:
        raise _fail(symbol, f"volume={value!r} is negative", trade_date)
    return value


def _currency(symbol: str, result: Mapping[str, Any]) -> str:
    value = result.get("currency")
    if value is None:
        return "BRL"
    if not isinstance(value, str) or not value.strip():
        raise _fail(symbol, f"currency={value!r} is not a currency code")
    return value.strip()


def _bar(symbol: str, currency: str, raw: object, index: int) -> DailyBar:
    if not isinstance(raw, Mapping):
        raise _fail(symbol, f"bar #{index} is {type(raw).__name__}, not an object")
    trade_date = _trade_date(symbol, raw, index)
    prices = {name: _price(symbol, trade_date, raw, field) for field, name in _PRICE_FIELDS}
    high, low = prices["high"], prices["low"]
    if high < low:
        raise _fail(symbol, f"high={high} is below low={low}", trade_date)
    for name in ("open", "close"):
        if not low <= prices[name] <= high:
            raise _fail(
                symbol, f"{name}={prices[name]} is outside [low={low}, high={high}]", trade_date
            )
    return DailyBar(
        ticker=symbol,
        trade_date=trade_date,
        open=prices["open"],
        high=high,
        low=low,
        close=prices["close"],
        adjusted_close=prices["adjusted_close"],
        volume=_volume(symbol, trade_date, raw),
        currency=currency,
    )


def parse_quotes_payload(
    payload: Any, symbols: Sequence[str]
) -> tuple[dict[str, list[DailyBar] | BrapiPayloadError], str | None]:
    """Validate one BRAPI quote body for `symbols`: each one's bars by date, or its error.

    Raises BrapiPayloadError when the body itself cannot be read (not an object, no
    `results` list, an entry that is not an object): that is the whole answer's problem.
    A ticker without exactly one entry in `results`, or whose entry fails validation, gets
    its own BrapiPayloadError (naming the ticker and trade date where known) in the map.
    Identical bars of the same trade date are collapsed into one; bars of the same trade
    date that differ are an error. Also returns the body's `requestedAt`.
    """
    listed = ",".join(symbols)
    if not isinstance(payload, Mapping):
        raise _fail(listed, f"the body is {type(payload).__name__}, not a JSON object")
    results = payload.get("results")
    if not isinstance(results, list):
        detail = payload.get("message") if payload.get("error") else None
        problem = "`results` is missing or not a list"
        if isinstance(detail, str):
            problem += f" (BRAPI says: {_snippet(detail)!r})"
        raise _fail(listed, problem)
    entries: dict[str, list[Mapping[str, Any]]] = {symbol: [] for symbol in symbols}
    others: list[str] = []
    for index, result in enumerate(results):
        if not isinstance(result, Mapping):
            raise _fail(listed, f"`results[{index}]` is not an object")
        returned = result.get("symbol")
        if isinstance(returned, str) and returned in entries:
            entries[returned].append(result)
        else:
            others.append(repr(returned))

    parsed: dict[str, list[DailyBar] | BrapiPayloadError] = {}
    for symbol, found in entries.items():
        try:
            if len(found) != 1:
                raise _fail(symbol, _entry_problem(symbol, len(found), others))
            parsed[symbol] = _parse_result(symbol, found[0])
        except BrapiPayloadError as exc:
            parsed[symbol] = exc
    requested_at = payload.get("requestedAt")
    return parsed, requested_at if isinstance(requested_at, str) else None


def _entry_problem(symbol: str, count: int, others: list[str]) -> str:
    if count:
        return f"`results` has {count} entries for {symbol}, expected one"
    problem = f"`results` has no entry whose symbol is {symbol}"
    if others:
        problem += f" (BRAPI answered for symbol {', '.join(others)})"
    return problem


def _parse_result(symbol: str, result: Mapping[str, Any]) -> list[DailyBar]:
    history = result.get("historicalDataPrice")
    if not isinstance(history, list):
        raise _fail(symbol, "`historicalDataPrice` is missing or not a list")
    currency = _currency(symbol, result)

    by_date: dict[date, DailyBar] = {}
    for index, raw in enumerate(history):
        bar = _bar(symbol, currency, raw, index)
        seen = by_date.get(bar.trade_date)
        if seen is None:
            by_date[bar.trade_date] = bar
        elif seen != bar:
            raise _fail(symbol, "two different bars for the same trade date", bar.trade_date)
        else:
            logger.debug("BRAPI %s %s: identical duplicate bar collapsed", symbol, bar.trade_date)
    return [by_date[day] for day in sorted(by_date)]
