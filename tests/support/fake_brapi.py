"""A loopback HTTP server that speaks BRAPI's quote API, for e2e tests and offline demos.

It serves daily bars loaded from a Yahoo-style CSV (the real PETR4 history in
tests/fixtures) converted to BRAPI's shape: Unix-second dates stamped 13:00 UTC,
`adjustedClose`, integer volume, and BRAPI's error bodies (`{"error": true, "message"}`),
or a synthetic market of any size (`synthetic_market`). Like BRAPI it takes several
tickers per request (`/api/quote/PETR4,VALE3`) and answers 404 for the whole request
when any one of them is unknown. Tests script failures (e.g. one 503, or a 429 with
Retry-After, before success), slow every answer down (`delay_seconds`, as a distant
server would), serve bad bars (a null close) and inspect the requests it got, when, and
how many overlapped.

Run it by hand: `make fake-brapi` (or `python -m tests.support.fake_brapi --port 8765`),
then point the pipeline at it with `BRAPI_BASE_URL=http://127.0.0.1:8765`. What it serves:
PETR4 only (any other ticker is BRAPI's 404), daily bars from 2018-09-12 to 2022-09-09;
"1d".."7d" are the last trading days of that history, longer ranges count back from
today (so a window after 2022-09-09 has no bar, and "1mo".."2y" ranges return none).

`--status` says whether the port is free or already serves BRAPI (exit 1 with a message
when another program holds it); `--wait` waits until BRAPI answers there.
"""

from __future__ import annotations

import argparse
import csv
import errno
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PETR4_HISTORY_CSV = FIXTURES / "petr4_yahoo_daily_2018-09_2022-09.csv"

_RANGE_DAYS = {"1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731, "5y": 1827, "10y": 3653}
_TRADING_DAY_RANGES = {"1d": 1, "2d": 2, "5d": 5, "7d": 7}


def bar_timestamp(day: date) -> int:
    """BRAPI stamps daily bars at 13:00 UTC of the trade date."""
    return int(datetime(day.year, day.month, day.day, 13, tzinfo=UTC).timestamp())


def load_yahoo_csv(path: Path = PETR4_HISTORY_CSV) -> list[dict[str, Any]]:
    """Yahoo daily CSV rows -> BRAPI historicalDataPrice entries, oldest first."""
    bars = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            bars.append(
                {
                    "date": bar_timestamp(date.fromisoformat(row["Date"])),
                    "open": float(row["Open"]),
                    "high": float(row["High"]),
                    "low": float(row["Low"]),
                    "close": float(row["Close"]),
                    "volume": int(row["Volume"]),
                    "adjustedClose": float(row["Adj Close"]),
                }
            )
    return bars


def weekdays_back(last: date, count: int) -> list[date]:
    """`count` Monday-to-Friday dates ending on `last` (a weekday), oldest first."""
    days: list[date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def synthetic_bars(days: Sequence[date], seed: int) -> list[dict[str, Any]]:
    """BRAPI historicalDataPrice entries: a seeded random walk, valid OHLC, one per day."""
    rng = np.random.default_rng(seed)
    closes = 30 * np.exp(np.cumsum(rng.normal(0.0, 0.02, len(days))))
    volumes = rng.integers(1_000_000, 50_000_000, len(days))
    return [
        {
            "date": bar_timestamp(day),
            "open": round(float(close) - 0.1, 4),
            "high": round(float(close) + 0.5, 4),
            "low": round(float(close) - 0.6, 4),
            "close": round(float(close), 4),
            "volume": int(volume),
            "adjustedClose": round(float(close), 4),
        }
        for day, close, volume in zip(days, closes, volumes)
    ]


def market_tickers(count: int) -> list[str]:
    """`count` distinct B3-shaped symbols (AAAA3, AAAB3, ...), sorted."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return ["".join(letters[i // 26**p % 26] for p in (3, 2, 1, 0)) + "3" for i in range(count)]


def synthetic_market(
    tickers: Sequence[str], days: Sequence[date]
) -> dict[str, list[dict[str, Any]]]:
    """Each ticker's bars over `days`, a different random walk per ticker."""
    return {ticker: synthetic_bars(days, seed) for seed, ticker in enumerate(tickers)}


@dataclass
class ScriptedResponse:
    status: int
    body: Any  # dict/list (sent as JSON) or str (sent as is)
    headers: dict[str, str] = field(default_factory=dict)  # e.g. {"Retry-After": "1"}


@dataclass
class FakeBrapi:
    """What the server serves: bars per ticker, scripted responses, and a request log."""

    bars: dict[str, list[dict[str, Any]]]
    today: date
    token: str | None = None  # when set, requests must carry it as a Bearer token
    delay_seconds: float = 0.0  # every answer waits this long first (a distant server)
    scripted: list[ScriptedResponse] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    most_in_flight: int = 0  # the most requests seen at once

    def script(self, *responses: ScriptedResponse) -> None:
        """Answer the next requests with these responses, in order, before the real data."""
        with self.lock:
            self.scripted.extend(responses)

    def handle(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> ScriptedResponse:
        """One request: counted while in flight, slowed by `delay_seconds`, then answered."""
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay_seconds:
                time.sleep(self.delay_seconds)
            status, body, extra = self.answer(path, query, headers)
            return ScriptedResponse(status, body, extra)
        finally:
            with self.lock:
                self.in_flight -= 1

    def answer(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append(
                {"path": path, "query": query, "headers": headers, "at": time.monotonic()}
            )
            if self.scripted:
                response = self.scripted.pop(0)
                return response.status, response.body, response.headers
        status, body = self._quote(path, query, headers)
        return status, body, {}

    def _quote(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[int, Any]:
        if not path.startswith("/api/quote/"):
            return 404, {"error": True, "message": f"Rota {path} não encontrada"}
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": True, "message": "Token inválido ou ausente"}
        symbols = unquote(path[len("/api/quote/") :]).split(",")
        requested_range = query.get("range", ["1mo"])[0]
        if requested_range not in (*_RANGE_DAYS, *_TRADING_DAY_RANGES, "ytd", "max"):
            return 400, {"error": True, "message": f"Range {requested_range} inválido"}
        results = []
        for symbol in symbols:
            if symbol not in self.bars:
                return 404, {"error": True, "message": f"Não encontramos a ação {symbol}"}
            results.append(self._result(symbol, requested_range))
        return 200, {
            "results": results,
            "requestedAt": f"{self.today}T21:00:00.000Z",
            "took": "1ms",
        }

    def _result(self, symbol: str, requested_range: str) -> dict[str, Any]:
        history = self.bars[symbol]
        if requested_range in _TRADING_DAY_RANGES:
            selected = history[-_TRADING_DAY_RANGES[requested_range] :]
        elif requested_range == "max":
            selected = history
        else:
            cutoff = (
                date(self.today.year, 1, 1)
                if requested_range == "ytd"
                else self.today - timedelta(days=_RANGE_DAYS[requested_range])
            )
            selected = [b for b in history if b["date"] >= bar_timestamp(cutoff)]
        last = history[-1]
        return {
            "currency": "BRL",
            "symbol": symbol,
            "shortName": symbol,
            "regularMarketPrice": last["close"],
            "usedInterval": "1d",
            "usedRange": requested_range,
            "historicalDataPrice": [dict(b) for b in selected],
        }


def _handler(fake: FakeBrapi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = fake.handle(url.path, parse_qs(url.query), headers)
            body = response.body
            payload = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean

    return Handler


class _Server(ThreadingHTTPServer):
    # The listen backlog (5 by default) must hold a burst of concurrent connections.
    request_queue_size = 128


@contextmanager
def serve(fake: FakeBrapi, port: int = 0) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1 in a background thread; yields the base URL."""
    server = _Server(("127.0.0.1", port), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def petr4_fake(today: date | None = None) -> FakeBrapi:
    return FakeBrapi(bars={"PETR4": load_yahoo_csv()}, today=today or date.today())


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s"
                ) from None
            time.sleep(0.1)


FREE, SERVES_BRAPI, TAKEN = "free", "running", "taken"


def port_status(port: int) -> str:
    """FREE (nothing listens on 127.0.0.1:port), SERVES_BRAPI (a server there answers a
    BRAPI quote request, such as a fake BRAPI started earlier) or TAKEN (something else)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return FREE
    url = f"http://127.0.0.1:{port}/api/quote/PETR4?range=1d&interval=1d"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return TAKEN
    results = body.get("results") if isinstance(body, dict) else None
    if isinstance(results, list) and results and isinstance(results[0], dict):
        return SERVES_BRAPI if results[0].get("symbol") == "PETR4" else TAKEN
    return TAKEN


def _port_taken(port: int) -> str:
    return (
        f"port {port} on 127.0.0.1 is taken by a program that does not answer as BRAPI: "
        f"stop it, or use another port (make demo FAKE_BRAPI_PORT={port + 1})"
    )


def wait_for_brapi(port: int, timeout: float = 10.0) -> None:
    """Return once a server on `port` answers as BRAPI; exit 1 after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (status := port_status(port)) != SERVES_BRAPI:
        if time.monotonic() > deadline:
            raise SystemExit(
                _port_taken(port)
                if status == TAKEN
                else f"no fake BRAPI answers on 127.0.0.1:{port} after {timeout:.0f} s"
            )
        time.sleep(0.1)


def describe(fake: FakeBrapi, url: str) -> str:
    """What the stand-in serves, and how to point the pipeline at it."""
    served = ", ".join(
        f"{ticker} {datetime.fromtimestamp(bars[0]['date'], UTC).date()}.."
        f"{datetime.fromtimestamp(bars[-1]['date'], UTC).date()}"
        for ticker, bars in sorted(fake.bars.items())
    )
    return (
        f"fake BRAPI on {url}: daily bars of {served} (any other ticker is a 404).\n"
        f"Point the pipeline at it: export BRAPI_BASE_URL={url}  (Ctrl-C to stop)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1")
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--wait",
        action="store_true",
        help="only wait (up to 10 s) until a server on --port answers as BRAPI",
    )
    action.add_argument(
        "--status",
        action="store_true",
        help=f"print {FREE!r} or {SERVES_BRAPI!r} (a BRAPI stand-in already answers there); "
        "exit 1 when another program holds the port",
    )
    parser.add_argument("--quiet", action="store_true", help="serve without the banner")
    args = parser.parse_args()
    if args.wait:
        wait_for_brapi(args.port)
        return
    if args.status:
        status = port_status(args.port)
        if status == TAKEN:
            raise SystemExit(_port_taken(args.port))
        print(status)
        return
    fake = petr4_fake()
    with ExitStack() as stack:
        try:
            url = stack.enter_context(serve(fake, args.port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            if port_status(args.port) == SERVES_BRAPI:
                raise SystemExit(
                    f"port {args.port} already serves BRAPI (a fake BRAPI started earlier?): "
                    f"use it with BRAPI_BASE_URL=http://127.0.0.1:{args.port}, or stop it first"
                ) from None
            raise SystemExit(_port_taken(args.port)) from None
        if not args.quiet:
            print(describe(fake, url), flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
