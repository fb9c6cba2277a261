"""BRAPI client: request shape, range choice, errors, payload validation (no sockets)."""

from __future__ import annotations

import copy
import json
import logging
import math
import socket
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from b3pipeline import brapi
from b3pipeline.brapi import BrapiClient, DailyBar, QuoteHistory, choose_range
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
    InvalidTickerError,
    TooManyTickersFailedError,
)
from b3pipeline.ticker_pool import FetchPolicy
from tests.support.fake_http import FakeAdapter, fake_session, json_response, text_response

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "brapi_quote_petr4_5d.json"
FIXTURE_DATES = [date(2025, 8, d) for d in (25, 26, 27, 28, 29)]
TOKEN = "s3cr3t-token-value"


@pytest.fixture(scope="module")
def fixture_payload() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return payload


@pytest.fixture
def payload(fixture_payload: dict[str, Any]) -> dict[str, Any]:
    """A fresh deep copy of the real PETR4 response, safe to mutate."""
    return copy.deepcopy(fixture_payload)


def bars_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = payload["results"][0]["historicalDataPrice"]
    return history


def for_symbol(payload: dict[str, Any], symbol: str) -> dict[str, Any]:
    other = copy.deepcopy(payload)
    other["results"][0]["symbol"] = symbol
    return other


#: One request at a time, so a list of canned answers is consumed in the tickers' order.
SEQUENTIAL = FetchPolicy(concurrency=1)


def make_client(
    answers: list[Any],
    token: str | None = None,
    base_url: str = "https://brapi.dev",
    policy: FetchPolicy = SEQUENTIAL,
) -> tuple[BrapiClient, FakeAdapter]:
    session, adapter = fake_session(answers)
    return BrapiClient(base_url, token, session=session, policy=policy), adapter


def query(request: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url or "").query)


def path(request: requests.PreparedRequest) -> str:
    return urlsplit(request.url or "").path


def fetch_error(client: BrapiClient, tickers: list[str] | None = None) -> tuple[str, BrapiError]:
    """How fetching one ticker failed: ("raised", error) for a failure of the whole fetch,
    ("set aside", error) for that ticker's own failure (nothing of it returned)."""
    try:
        history = client.fetch_daily_history(tickers or ["PETR4"])
    except BrapiError as exc:
        return "raised", exc
    (failure,) = history.failed
    assert history.bars == []
    assert isinstance(failure.error, BrapiError)
    assert failure.reason == failure.error.reason
    return "set aside", failure.error


# --------------------------------------------------------------------------- happy path


def test_real_fixture_gives_five_trade_dates_with_fixture_values(
    payload: dict[str, Any], fixture_payload: dict[str, Any]
) -> None:
    client, adapter = make_client([json_response(200, payload)])

    history = client.fetch_daily_history(["PETR4"])

    assert isinstance(history, QuoteHistory)
    assert history.request_range == "5d"
    assert history.requested_at == fixture_payload["requestedAt"]
    assert [bar.trade_date for bar in history.bars] == FIXTURE_DATES
    result = fixture_payload["results"][0]
    for bar, raw in zip(history.bars, result["historicalDataPrice"]):
        assert bar == DailyBar(
            ticker="PETR4",
            trade_date=bar.trade_date,
            open=raw["open"],
            high=raw["high"],
            low=raw["low"],
            close=raw["close"],
            adjusted_close=raw["adjustedClose"],
            volume=raw["volume"],
            currency=result["currency"],
        )
        assert isinstance(bar.volume, int)
        assert isinstance(bar.open, float)

    (request,) = adapter.requests
    assert request.method == "GET"
    assert urlsplit(request.url or "").path == "/api/quote/PETR4"
    assert query(request) == {"range": ["5d"], "interval": ["1d"]}
    assert (request.headers["User-Agent"] or "").startswith("b3pipeline/")
    assert adapter.send_kwargs[0]["timeout"] == (10.0, 10.0)


def test_trade_date_is_the_sao_paulo_calendar_date(payload: dict[str, Any]) -> None:
    # 02:30 UTC on Aug 26 is still Aug 25 in Sao Paulo (UTC-3).
    late = datetime(2025, 8, 26, 2, 30, tzinfo=UTC).timestamp()
    bars_of(payload)[:] = [dict(bars_of(payload)[0], date=late)]
    client, _ = make_client([json_response(200, payload)])

    (bar,) = client.fetch_daily_history(["PETR4"]).bars

    assert bar.trade_date == date(2025, 8, 25)


def test_several_tickers_one_request_each_sorted_by_ticker_then_date(
    payload: dict[str, Any],
) -> None:
    vale = for_symbol(payload, "VALE3")
    bars_of(vale).reverse()  # BRAPI's order does not matter
    client, adapter = make_client([json_response(200, vale), json_response(200, payload)])

    history = client.fetch_daily_history(["vale3", "PETR4", "VALE3"])  # validated, de-duplicated

    assert [urlsplit(r.url or "").path for r in adapter.requests] == [
        "/api/quote/VALE3",
        "/api/quote/PETR4",
    ]
    keys = [(bar.ticker, bar.trade_date) for bar in history.bars]
    assert keys == sorted(keys)
    assert keys == [("PETR4", d) for d in FIXTURE_DATES] + [("VALE3", d) for d in FIXTURE_DATES]


def test_bare_string_ticker_is_one_ticker(payload: dict[str, Any]) -> None:
    client, adapter = make_client([json_response(200, payload)])

    client.fetch_daily_history("PETR4")

    assert len(adapter.requests) == 1


def test_empty_history_is_no_bars(payload: dict[str, Any]) -> None:
    bars_of(payload).clear()
    client, _ = make_client([json_response(200, payload)])

    assert client.fetch_daily_history(["PETR4"]).bars == []


def test_base_url_trailing_slash_and_path_prefix(payload: dict[str, Any]) -> None:
    client, adapter = make_client([json_response(200, payload)], base_url="http://127.0.0.1:8080/")

    client.fetch_daily_history(["PETR4"])

    assert (adapter.requests[0].url or "").startswith("http://127.0.0.1:8080/api/quote/PETR4?")


def test_base_url_must_be_http() -> None:
    with pytest.raises(BrapiError, match="BRAPI_BASE_URL"):
        BrapiClient("ftp://brapi.dev")


# --------------------------------------------------------------------------- tickers


@pytest.mark.parametrize("bad", [["PETR"], ["PETR4;rm"], ["../x"], [], [""]])
def test_invalid_tickers_fail_before_any_request(bad: list[str]) -> None:
    client, adapter = make_client([])

    with pytest.raises(InvalidTickerError):
        client.fetch_daily_history(bad)

    assert adapter.requests == []


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("days_back", "expected"),
    [
        (0, "1d"),
        (1, "2d"),
        (2, "5d"),
        (4, "5d"),
        (5, "7d"),
        (6, "7d"),
        (7, "1mo"),
        (27, "1mo"),
        (28, "3mo"),
        (88, "3mo"),
        (89, "6mo"),
        (180, "6mo"),
        (181, "1y"),
        (364, "1y"),
        (365, "2y"),
        (729, "2y"),
        (730, "5y"),
        (1825, "5y"),
        (1826, "10y"),
        (3651, "10y"),
        (3652, "max"),
        (20000, "max"),
    ],
)
def test_range_choice_table(days_back: int, expected: str) -> None:
    today = date(2025, 8, 29)
    start = date.fromordinal(today.toordinal() - days_back)

    assert choose_range(start, today) == expected


def test_ytd_is_never_chosen() -> None:
    today = date(2025, 12, 31)
    ranges = {
        choose_range(date.fromordinal(today.toordinal() - n), today) for n in range(0, 4000, 7)
    }
    assert "ytd" not in ranges


def test_window_asks_for_covering_range_and_keeps_only_window_bars(
    payload: dict[str, Any],
) -> None:
    client, adapter = make_client([json_response(200, payload)])

    history = client.fetch_daily_history(
        ["PETR4"], start=date(2025, 8, 26), end=date(2025, 8, 28), today=date(2025, 8, 30)
    )

    assert history.request_range == "5d"  # Aug 26..30 is 5 calendar days
    assert query(adapter.requests[0])["range"] == ["5d"]
    assert [bar.trade_date for bar in history.bars] == FIXTURE_DATES[1:4]
    # What BRAPI returned, before the window: the coverage report compares the two.
    assert history.spans == {"PETR4": (FIXTURE_DATES[0], FIXTURE_DATES[-1])}


def test_a_ticker_without_bars_has_no_span(payload: dict[str, Any]) -> None:
    bars_of(payload).clear()
    client, _ = make_client([json_response(200, payload)])

    assert client.fetch_daily_history(["PETR4"]).spans == {}


def test_window_with_start_only_keeps_bars_from_start(payload: dict[str, Any]) -> None:
    client, _ = make_client([json_response(200, payload)])

    history = client.fetch_daily_history(
        ["PETR4"], start=date(2025, 8, 28), today=date(2025, 9, 10)
    )

    assert history.request_range == "1mo"
    assert [bar.trade_date for bar in history.bars] == FIXTURE_DATES[3:]


def test_window_single_day(payload: dict[str, Any]) -> None:
    client, _ = make_client([json_response(200, payload)])
    day = FIXTURE_DATES[2]

    history = client.fetch_daily_history(["PETR4"], start=day, end=day, today=date(2025, 8, 29))

    assert history.request_range == "5d"
    assert [bar.trade_date for bar in history.bars] == [day]


def test_window_defaults_today_to_sao_paulo(
    payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(brapi, "today_in_sao_paulo", lambda: date(2025, 8, 30))
    client, _ = make_client([json_response(200, payload)])

    history = client.fetch_daily_history(["PETR4"], start=date(2025, 8, 1))

    assert history.request_range == "3mo"  # Aug 1..30 is 30 days, more than 1mo's 28


def test_today_in_sao_paulo_is_a_date() -> None:
    assert isinstance(brapi.today_in_sao_paulo(), date)


@pytest.mark.parametrize(
    ("start", "end", "match"),
    [
        (date(2025, 8, 29), date(2025, 8, 28), "after end"),
        (date(2025, 8, 31), None, "future"),
        (date(2025, 8, 31), date(2025, 9, 5), "future"),
        (None, date(2025, 8, 28), "without a start"),
    ],
)
def test_bad_windows_fail_before_any_request(
    start: date | None, end: date | None, match: str
) -> None:
    client, adapter = make_client([])

    with pytest.raises(InvalidDateRangeError, match=match):
        client.fetch_daily_history(["PETR4"], start=start, end=end, today=date(2025, 8, 30))

    assert adapter.requests == []


# --------------------------------------------------------------------------- auth


def test_authorization_header_only_with_a_token(payload: dict[str, Any]) -> None:
    with_token, sent_with = make_client([json_response(200, payload)], token=TOKEN)
    without, sent_without = make_client([json_response(200, payload)])
    blank, sent_blank = make_client([json_response(200, payload)], token="  ")

    with_token.fetch_daily_history(["PETR4"])
    without.fetch_daily_history(["PETR4"])
    blank.fetch_daily_history(["PETR4"])

    assert sent_with.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in sent_without.requests[0].headers
    assert "Authorization" not in sent_blank.requests[0].headers
    assert TOKEN not in (sent_with.requests[0].url or "")
    assert TOKEN not in repr(with_token)


def test_token_never_in_error_messages(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    client, _ = make_client(
        [json_response(401, {"error": True, "message": "Invalid token"})], token=TOKEN
    )

    with pytest.raises(BrapiUnauthorizedError) as info:
        client.fetch_daily_history(["PETR4"])

    assert TOKEN not in str(info.value)
    assert TOKEN not in caplog.text


# --------------------------------------------------------------------------- HTTP errors


@pytest.mark.parametrize(
    ("status", "error", "advice", "outcome"),
    [
        (400, BrapiBadRequestError, "range", "raised"),
        (401, BrapiUnauthorizedError, "BRAPI_TOKEN_PARAMETER", "raised"),
        (402, BrapiQuotaError, "upgrade", "raised"),
        (404, BrapiTickerNotFoundError, "check the ticker", "set aside"),
        (429, BrapiUnavailableError, "retry later", "raised"),
        (500, BrapiUnavailableError, "transient", "raised"),
        (502, BrapiUnavailableError, "transient", "raised"),
        (503, BrapiUnavailableError, "transient", "raised"),
        (504, BrapiUnavailableError, "transient", "raised"),
    ],
)
def test_error_statuses_raise_specific_errors_with_brapi_message(
    status: int, error: type[BrapiError], advice: str, outcome: str
) -> None:
    """Only an unknown ticker (404) is that ticker's problem; every other status stops."""
    message = f"BRAPI explains status {status}"
    client, _ = make_client([json_response(status, {"error": True, "message": message})])

    how, exc = fetch_error(client)

    assert (how, type(exc)) == (outcome, error)
    text = str(exc)
    assert message in text
    assert advice in text
    assert "PETR4" in text
    assert str(status) in text


def test_unknown_ticker_reason_is_short_and_quotes_brapi() -> None:
    client, _ = make_client([json_response(404, {"error": True, "message": "Não encontramos"})])

    history = client.fetch_daily_history(["ZZZZ3"])

    assert [(f.ticker, f.reason) for f in history.failed] == [
        ("ZZZZ3", "unknown to BRAPI, HTTP 404: 'Não encontramos'")
    ]


@pytest.mark.parametrize("symbol", ["PETR4", "VALE3", "BOVA11", "XXXX3"])
def test_unknown_ticker_message_never_offers_that_ticker_as_an_example(symbol: str) -> None:
    client, _ = make_client([json_response(404, {"error": True, "message": "not found"})])

    (failure,) = client.fetch_daily_history([symbol]).failed

    assert isinstance(failure.error, BrapiTickerNotFoundError)
    text = str(failure.error)
    assert f"BRAPI does not know {symbol}: check the ticker" in text
    examples = text.split("B3 symbols such as ", 1)[1].rstrip(")")
    assert symbol not in examples.split(", ")
    assert len(examples.split(", ")) == 3


def test_unexpected_status_is_a_plain_brapi_error() -> None:
    client, _ = make_client([json_response(403, {"error": True, "message": "Forbidden here"})])

    with pytest.raises(BrapiError) as info:
        client.fetch_daily_history(["PETR4"])

    assert type(info.value) is BrapiError
    assert "403" in str(info.value)
    assert "Forbidden here" in str(info.value)


def test_error_body_that_is_not_json_is_quoted() -> None:
    client, _ = make_client([text_response(502, "<html>Bad gateway</html>")])

    with pytest.raises(BrapiUnavailableError, match="Bad gateway"):
        client.fetch_daily_history(["PETR4"])


def test_unknown_second_ticker_is_set_aside_and_the_first_kept(payload: dict[str, Any]) -> None:
    client, adapter = make_client(
        [json_response(200, payload), json_response(404, {"error": True, "message": "nope"})]
    )

    history = client.fetch_daily_history(["PETR4", "XXXX3"])

    assert {bar.ticker for bar in history.bars} == {"PETR4"}
    assert len(history.bars) == 5
    assert [f.ticker for f in history.failed] == ["XXXX3"]
    assert isinstance(history.failed[0].error, BrapiTickerNotFoundError)
    assert len(adapter.requests) == 2


def test_a_run_wide_error_stops_every_ticker(payload: dict[str, Any]) -> None:
    client, adapter = make_client(
        [json_response(200, payload), json_response(402, {"error": True, "message": "quota"})]
    )

    with pytest.raises(BrapiQuotaError, match="VALE3"):
        client.fetch_daily_history(["PETR4", "VALE3", "ITUB4", "MGLU3"])

    assert len(adapter.requests) == 2  # nothing asked after the 402


@pytest.mark.parametrize(
    ("exc", "match"),
    [
        (requests.exceptions.ConnectionError("refused"), "transient"),
        (requests.exceptions.ConnectTimeout("slow"), "timed out"),
        (requests.exceptions.ReadTimeout("slow"), "timed out"),
        (requests.exceptions.RetryError("too many 503"), "transient"),
        (
            requests.exceptions.ConnectionError(
                urllib3.exceptions.MaxRetryError(
                    None,  # type: ignore[arg-type]
                    "/api/quote/PETR4",
                    urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),  # type: ignore[arg-type]
                )
            ),
            "timed out",
        ),
        (
            # urllib3's NewConnectionError subclasses ConnectTimeoutError: not a timeout.
            requests.exceptions.ConnectionError(
                urllib3.exceptions.MaxRetryError(
                    None,  # type: ignore[arg-type]
                    "/api/quote/PETR4",
                    urllib3.exceptions.NewConnectionError(None, "Failed to resolve 'brapi.dev'"),  # type: ignore[arg-type]
                )
            ),
            r"could not reach .*\(NewConnectionError\)",
        ),
    ],
)
def test_transport_failures_become_unavailable_from_the_cause(
    exc: requests.exceptions.RequestException, match: str
) -> None:
    client, _ = make_client([exc])

    with pytest.raises(BrapiUnavailableError, match=match) as info:
        client.fetch_daily_history(["PETR4"])

    assert info.value.__cause__ is exc


def _name_resolution_error(host: str) -> urllib3.exceptions.NameResolutionError:
    """What urllib3 raises for a host that does not resolve: NameResolutionError from a
    socket.gaierror (urllib3 1.26 raises NewConnectionError while handling it)."""
    try:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as cause:
            raise urllib3.exceptions.NameResolutionError(host, None, cause) from cause  # type: ignore[arg-type]
    except urllib3.exceptions.NameResolutionError as error:
        return error


def test_a_host_name_that_does_not_resolve_fails_at_once_and_is_not_transient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real transport (requests + urllib3 + the retry policy), with the resolver
    replaced: no DNS query and no socket leaves this process."""
    lookups: list[str] = []

    def no_such_host(host: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    client = BrapiClient("http://brapi-stand-in.invalid:8765", backoff_factor=0)

    with pytest.raises(BrapiHostNotFoundError) as info:
        client.fetch_daily_history(["PETR4"])

    assert lookups == ["brapi-stand-in.invalid"]  # one attempt, no retry
    text = str(info.value)
    assert "the host brapi-stand-in.invalid of http://brapi-stand-in.invalid:8765 does not" in text
    assert "not retried" in text and "transient" not in text
    assert not isinstance(info.value, BrapiUnavailableError)
    assert brapi.is_name_resolution_failure(info.value.__cause__)


def test_the_retry_policy_stops_on_dns_and_keeps_retrying_refused_connections() -> None:
    retry = brapi.build_retry(max_retries=4)
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]

    after_refused = retry.increment(method="GET", url="/api/quote/PETR4", error=refused)
    assert after_refused.connect == 3  # refused is retried, as before
    assert isinstance(after_refused, brapi.BrapiRetry)  # the policy survives Retry.new
    with pytest.raises(urllib3.exceptions.MaxRetryError) as info:
        after_refused.increment(
            method="GET", url="/api/quote/PETR4", error=_name_resolution_error("brapi.dev")
        )
    assert isinstance(info.value.reason, urllib3.exceptions.NameResolutionError)
    assert not brapi.is_name_resolution_failure(refused)


def test_retry_warnings_are_debug_records() -> None:
    record = logging.LogRecord(
        "urllib3.connectionpool",
        logging.WARNING,
        __file__,
        1,
        "Retrying (%r) after %r",
        ("r", "e"),
        None,
    )
    other = logging.LogRecord(
        "urllib3.connectionpool", logging.WARNING, __file__, 1, "Connection pool is full", (), None
    )
    log_filter = brapi.RetryLogAsDebug()
    brapi_logger = logging.getLogger("b3pipeline.brapi")
    try:
        brapi_logger.setLevel(logging.INFO)
        assert log_filter.filter(record) is False  # dropped unless DEBUG
        brapi_logger.setLevel(logging.DEBUG)
        assert log_filter.filter(record) is True
        assert (record.levelno, record.levelname) == (logging.DEBUG, "DEBUG")
        brapi_logger.setLevel(logging.INFO)
        assert log_filter.filter(other) is True and other.levelno == logging.WARNING
    finally:
        brapi_logger.setLevel(logging.NOTSET)


def test_other_request_failures_are_brapi_errors() -> None:
    exc = requests.exceptions.InvalidURL("bad url")
    client, _ = make_client([exc])

    with pytest.raises(BrapiError, match="BRAPI_BASE_URL") as info:
        client.fetch_daily_history(["PETR4"])

    assert info.value.__cause__ is exc


# --------------------------------------------------------------------------- retry policy


def test_default_session_mounts_the_retry_policy() -> None:
    client = BrapiClient(max_retries=3, backoff_factor=0.25)

    adapter = client.session.get_adapter("https://brapi.dev/api/quote/PETR4")
    assert isinstance(adapter, HTTPAdapter)
    assert client.session.get_adapter("http://127.0.0.1:1/") is not None
    retry = adapter.max_retries
    assert isinstance(retry, Retry)
    assert retry.total == 3
    assert retry.connect == 3
    assert retry.read == 3
    assert retry.status == 3
    assert set(retry.status_forcelist or ()) == {429, 500, 502, 503, 504}
    assert retry.allowed_methods == frozenset({"GET"})
    assert retry.backoff_factor == 0.25
    assert retry.backoff_jitter == 0.25
    assert 0 < retry.backoff_max <= 60
    assert retry.respect_retry_after_header is True
    assert retry.raise_on_status is False


def test_retry_backoff_grows_and_is_capped() -> None:
    retry = brapi.build_retry(max_retries=10, backoff_factor=0.5)
    sleeps = []
    for _ in range(10):
        retry = retry.increment(method="GET", url="/api/quote/PETR4")
        sleeps.append(retry.get_backoff_time())

    assert sleeps[0] == 0  # the first retry is immediate
    assert 1.0 <= sleeps[1] <= 1.5  # 0.5 * 2, plus up to 0.5 s of jitter
    assert 2.0 <= sleeps[2] <= 2.5
    assert sleeps[-1] == brapi.BACKOFF_MAX_SECONDS  # 0.5 * 2**9 = 256 s, capped
    assert max(sleeps) <= brapi.BACKOFF_MAX_SECONDS


def test_negative_retries_rejected() -> None:
    with pytest.raises(ValueError):
        brapi.build_retry(max_retries=-1)


# --------------------------------------------------------------------------- payload


def test_body_not_json(payload: dict[str, Any]) -> None:
    client, _ = make_client([text_response(200, "<html>maintenance</html>")])

    with pytest.raises(BrapiPayloadError, match="not JSON") as info:
        client.fetch_daily_history(["PETR4"])

    assert "PETR4" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


Mutation = Callable[[dict[str, Any]], Any]


def _set_bar(index: int, field: str, value: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        bars_of(payload)[index][field] = value

    return mutate


def _del_bar(index: int, field: str) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        del bars_of(payload)[index][field]

    return mutate


PAYLOAD_CASES: dict[str, tuple[Mutation, str, str | None]] = {
    # name: (mutation, expected words, ISO trade date named in the message or None)
    "results missing": (lambda p: p.pop("results"), "results", None),
    "results null": (lambda p: p.__setitem__("results", None), "results", None),
    "results not a list": (lambda p: p.__setitem__("results", {"a": 1}), "results", None),
    "results empty": (lambda p: p.__setitem__("results", []), "results", None),
    "two results": (lambda p: p["results"].append(p["results"][0]), "2 entries", None),
    "result not an object": (lambda p: p.__setitem__("results", ["PETR4"]), "not an object", None),
    "wrong symbol": (lambda p: p["results"][0].__setitem__("symbol", "VALE3"), "VALE3", None),
    "symbol missing": (lambda p: p["results"][0].pop("symbol"), "symbol", None),
    "history missing": (
        lambda p: p["results"][0].pop("historicalDataPrice"),
        "historicalDataPrice",
        None,
    ),
    "history not a list": (
        lambda p: p["results"][0].__setitem__("historicalDataPrice", {"date": 1}),
        "historicalDataPrice",
        None,
    ),
    "bar not an object": (
        lambda p: p["results"][0]["historicalDataPrice"].append([1, 2]),
        "not an object",
        None,
    ),
    "date missing": (_del_bar(1, "date"), "date", None),
    "date string": (_set_bar(1, "date", "2025-08-26"), "date", None),
    "date bool": (_set_bar(1, "date", True), "date", None),
    "date NaN": (_set_bar(1, "date", math.nan), "date", None),
    "date out of range": (_set_bar(1, "date", 1e20), "date", None),
    "currency not a string": (
        lambda p: p["results"][0].__setitem__("currency", 986),
        "currency",
        None,
    ),
    "currency empty": (lambda p: p["results"][0].__setitem__("currency", " "), "currency", None),
    "high below low": (_set_bar(1, "high", 30.0), "high", "2025-08-26"),
    "open above high": (_set_bar(1, "open", 30.99), "open", "2025-08-26"),
    "open below low": (_set_bar(1, "open", 30.0), "open", "2025-08-26"),
    "close above high": (_set_bar(1, "close", 30.99), "close", "2025-08-26"),
    "close below low": (_set_bar(1, "close", 30.0), "close", "2025-08-26"),
    "volume negative": (_set_bar(1, "volume", -1), "volume", "2025-08-26"),
    "volume fractional": (_set_bar(1, "volume", 123.5), "volume", "2025-08-26"),
    "volume null": (_set_bar(1, "volume", None), "volume", "2025-08-26"),
    "volume missing": (_del_bar(1, "volume"), "volume", "2025-08-26"),
    "volume string": (_set_bar(1, "volume", "123"), "volume", "2025-08-26"),
    "volume bool": (_set_bar(1, "volume", True), "volume", "2025-08-26"),
    "volume inf": (_set_bar(1, "volume", math.inf), "volume", "2025-08-26"),
}
for _field in ("open", "high", "low", "close", "adjustedClose"):
    PAYLOAD_CASES[f"{_field} missing"] = (_del_bar(1, _field), _field, "2025-08-26")
    PAYLOAD_CASES[f"{_field} null"] = (_set_bar(1, _field, None), _field, "2025-08-26")
    PAYLOAD_CASES[f"{_field} NaN"] = (_set_bar(1, _field, math.nan), _field, "2025-08-26")
    PAYLOAD_CASES[f"{_field} inf"] = (_set_bar(1, _field, math.inf), _field, "2025-08-26")
    PAYLOAD_CASES[f"{_field} zero"] = (_set_bar(1, _field, 0), _field, "2025-08-26")
    PAYLOAD_CASES[f"{_field} negative"] = (_set_bar(1, _field, -30.5), _field, "2025-08-26")
    PAYLOAD_CASES[f"{_field} string"] = (_set_bar(1, _field, "30.5"), _field, "2025-08-26")


#: Cases where the body itself cannot be read: the whole fetch fails. In every other case
#: only the ticker's own data is bad, and that ticker is set aside.
WHOLE_BODY_CASES = {"results missing", "results null", "results not a list", "result not an object"}


def _encode(payload: Any) -> requests.Response:
    # json.dumps writes NaN/Infinity as bare tokens, which is what a broken server might
    # send and what requests' JSON decoder accepts.
    return text_response(200, json.dumps(payload), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("case", sorted(PAYLOAD_CASES))
def test_payload_validation(payload: dict[str, Any], case: str) -> None:
    mutate, words, trade_date = PAYLOAD_CASES[case]
    mutate(payload)
    client, _ = make_client([_encode(payload)])

    how, exc = fetch_error(client)

    assert how == ("raised" if case in WHOLE_BODY_CASES else "set aside")
    assert isinstance(exc, BrapiPayloadError)
    text = str(exc)
    assert "PETR4" in text
    assert words in text and words in exc.reason
    if trade_date is not None:
        assert trade_date in text and trade_date in exc.reason


def test_top_level_not_an_object(payload: dict[str, Any]) -> None:
    client, _ = make_client([json_response(200, [payload])])

    with pytest.raises(BrapiPayloadError, match=r"PETR4.*not a JSON object"):
        client.fetch_daily_history(["PETR4"])


def test_bad_bar_sets_its_ticker_aside_whole(payload: dict[str, Any]) -> None:
    bad = copy.deepcopy(payload)
    bars_of(bad)[4]["low"] = None
    client, adapter = make_client(
        [json_response(200, for_symbol(payload, "VALE3")), json_response(200, bad)]
    )

    history = client.fetch_daily_history(["VALE3", "PETR4"])

    assert {bar.ticker for bar in history.bars} == {"VALE3"}  # none of PETR4's 4 good bars
    (failure,) = history.failed
    assert failure.ticker == "PETR4"
    assert failure.reason == "bad BRAPI data: 2025-08-29: low is missing or null"
    assert len(adapter.requests) == 2


def test_whole_float_volume_is_accepted(payload: dict[str, Any]) -> None:
    bars_of(payload)[0]["volume"] = 123.0
    client, _ = make_client([json_response(200, payload)])

    bar = client.fetch_daily_history(["PETR4"]).bars[0]

    assert bar.volume == 123
    assert isinstance(bar.volume, int)


def test_zero_volume_and_integer_prices_are_accepted(payload: dict[str, Any]) -> None:
    bars_of(payload)[0].update(open=30, high=31, low=30, close=31, adjustedClose=31, volume=0)
    client, _ = make_client([json_response(200, payload)])

    bar = client.fetch_daily_history(["PETR4"]).bars[0]

    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (30.0, 31.0, 30.0, 31.0, 0)
    assert isinstance(bar.open, float)


def test_adjusted_close_may_be_outside_the_day_range(payload: dict[str, Any]) -> None:
    # Adjusted for dividends/splits: not bound by the day's unadjusted high and low.
    bars_of(payload)[0]["adjustedClose"] = 25.0
    client, _ = make_client([json_response(200, payload)])

    assert client.fetch_daily_history(["PETR4"]).bars[0].adjusted_close == 25.0


def test_missing_currency_defaults_to_brl(payload: dict[str, Any]) -> None:
    del payload["results"][0]["currency"]
    client, _ = make_client([json_response(200, payload)])

    assert {bar.currency for bar in client.fetch_daily_history(["PETR4"]).bars} == {"BRL"}


def test_brapi_error_body_with_200_is_reported(payload: dict[str, Any]) -> None:
    client, _ = make_client([json_response(200, {"error": True, "message": "Something odd"})])

    with pytest.raises(BrapiPayloadError, match="Something odd"):
        client.fetch_daily_history(["PETR4"])


def test_missing_requested_at_is_none(payload: dict[str, Any]) -> None:
    del payload["requestedAt"]
    client, _ = make_client([json_response(200, payload)])

    assert client.fetch_daily_history(["PETR4"]).requested_at is None


# --------------------------------------------------------------------------- duplicates


def test_identical_duplicate_bars_are_collapsed(payload: dict[str, Any]) -> None:
    bars_of(payload).append(copy.deepcopy(bars_of(payload)[2]))
    # Same trade date stamped at another hour, same values: still the same bar.
    bars_of(payload).append(dict(bars_of(payload)[3], date=bars_of(payload)[3]["date"] + 3600))
    client, _ = make_client([json_response(200, payload)])

    history = client.fetch_daily_history(["PETR4"])

    assert [bar.trade_date for bar in history.bars] == FIXTURE_DATES


def test_conflicting_duplicate_bars_are_an_error(payload: dict[str, Any]) -> None:
    bars_of(payload).append(dict(bars_of(payload)[2], close=30.5))
    client, _ = make_client([json_response(200, payload)])

    how, exc = fetch_error(client)

    assert how == "set aside"
    assert "PETR4 2025-08-27" in str(exc) and "different bars" in str(exc)


# --------------------------------------------------------------------------- many tickers


def _payload_for(payload: dict[str, Any], symbols: list[str]) -> dict[str, Any]:
    """One BRAPI body answering for every symbol (the fixture's bars for each)."""
    body = copy.deepcopy(payload)
    body["results"] = [dict(copy.deepcopy(payload["results"][0]), symbol=s) for s in symbols]
    return body


def _by_path(answers: dict[str, requests.Response]) -> Callable[[requests.PreparedRequest], Any]:
    """An answer chosen by the request's path, so the order of concurrent requests is moot."""
    return lambda request: answers[path(request)]


def test_several_tickers_per_request_are_comma_separated(payload: dict[str, Any]) -> None:
    answers = {
        "/api/quote/PETR4,VALE3": json_response(200, _payload_for(payload, ["VALE3", "PETR4"])),
        "/api/quote/ITUB4": json_response(200, _payload_for(payload, ["ITUB4"])),
    }
    client, adapter = make_client(
        [_by_path(answers)], policy=FetchPolicy(concurrency=2, tickers_per_request=2)
    )

    history = client.fetch_daily_history(["PETR4", "VALE3", "ITUB4"])

    assert sorted(path(r) for r in adapter.requests) == sorted(answers)
    assert [
        (t, len([b for b in history.bars if b.ticker == t])) for t in ("ITUB4", "PETR4", "VALE3")
    ] == [
        ("ITUB4", 5),
        ("PETR4", 5),
        ("VALE3", 5),
    ]
    assert history.failed == []


def test_404_for_a_request_of_several_asks_one_by_one(payload: dict[str, Any]) -> None:
    """BRAPI answers 404 for the whole request when any one of its tickers is unknown."""
    not_found = json_response(404, {"error": True, "message": "Não encontramos a ação ZZZZ3"})
    answers = {
        "/api/quote/PETR4,ZZZZ3,VALE3": not_found,
        "/api/quote/PETR4": json_response(200, _payload_for(payload, ["PETR4"])),
        "/api/quote/ZZZZ3": not_found,
        "/api/quote/VALE3": json_response(200, _payload_for(payload, ["VALE3"])),
    }
    client, adapter = make_client([_by_path(answers)], policy=FetchPolicy(tickers_per_request=3))

    history = client.fetch_daily_history(["PETR4", "ZZZZ3", "VALE3"])

    assert [path(r) for r in adapter.requests] == list(answers)
    assert {bar.ticker for bar in history.bars} == {"PETR4", "VALE3"}
    assert [(f.ticker, type(f.error)) for f in history.failed] == [
        ("ZZZZ3", BrapiTickerNotFoundError)
    ]


def test_bad_bar_in_a_shared_answer_sets_aside_that_ticker_only(payload: dict[str, Any]) -> None:
    body = _payload_for(payload, ["PETR4", "VALE3", "ITUB4"])
    body["results"][1]["historicalDataPrice"][2]["close"] = None
    del body["results"][2]  # no entry for ITUB4 at all
    client, adapter = make_client(
        [json_response(200, body)], policy=FetchPolicy(tickers_per_request=3, max_failed_share=1)
    )

    history = client.fetch_daily_history(["PETR4", "VALE3", "ITUB4"])

    assert len(adapter.requests) == 1
    assert {bar.ticker for bar in history.bars} == {"PETR4"}
    assert [(f.ticker, f.reason) for f in history.failed] == [
        ("ITUB4", "bad BRAPI data: `results` has no entry whose symbol is ITUB4"),
        ("VALE3", "bad BRAPI data: 2025-08-27: close is missing or null"),
    ]


def test_refused_request_of_several_says_how_to_ask_one_at_a_time() -> None:
    client, _ = make_client(
        [json_response(401, {"error": True, "message": "Token necessário"})],
        policy=FetchPolicy(tickers_per_request=2),
    )

    with pytest.raises(BrapiUnauthorizedError, match="BRAPI_TICKERS_PER_REQUEST=1"):
        client.fetch_daily_history(["PETR4", "WEGE3"])


def test_bad_token_stops_at_once_under_concurrency() -> None:
    """A 401 is every request's problem: no request starts after the first one fails."""
    client, adapter = make_client(
        [json_response(401, {"error": True, "message": "Token inválido"})],
        policy=FetchPolicy(concurrency=4),
    )
    tickers = [f"AB{chr(65 + i // 26)}{chr(65 + i % 26)}3" for i in range(100)]

    with pytest.raises(BrapiUnauthorizedError):
        client.fetch_daily_history(tickers)

    assert 1 <= len(adapter.requests) <= 4  # at most those already in flight


def test_too_many_failures_stop_early_with_one_summary() -> None:
    client, adapter = make_client(
        [json_response(404, {"error": True, "message": "Não encontramos"})],
        policy=FetchPolicy(concurrency=1, max_failed_share=0.1),
    )
    tickers = [f"AB{chr(65 + i // 26)}{chr(65 + i % 26)}3" for i in range(100)]

    with pytest.raises(TooManyTickersFailedError) as info:
        client.fetch_daily_history(tickers)

    assert len(adapter.requests) == 11  # 10 of 100 may fail; the 11th stops the run
    text = str(info.value)
    assert text.startswith(
        "stopped early: 11 of 100 tickers failed, more than the allowed share 0.1 (10)"
    )
    assert "ABAA3 (unknown to BRAPI, HTTP 404: 'Não encontramos'); ABAB3 (" in text
    assert "; and 6 more." in text
    assert text.count("unknown to BRAPI") == 5
    assert isinstance(info.value.__cause__, BrapiTickerNotFoundError)


def test_default_session_has_a_connection_per_concurrent_request() -> None:
    for concurrency, pool in ((1, 10), (8, 10), (32, 32)):
        client = BrapiClient(policy=FetchPolicy(concurrency=concurrency))
        adapter = client.session.get_adapter("https://brapi.dev/api/quote/PETR4")
        assert isinstance(adapter, HTTPAdapter)
        assert adapter._pool_maxsize == pool  # type: ignore[attr-defined]
