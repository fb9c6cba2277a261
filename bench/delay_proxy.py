"""A small HTTP proxy on 127.0.0.1 that adds a fixed delay to every request it forwards.

Put in front of moto's S3 server it turns a local endpoint into one with S3's round-trip
latency, so a benchmark can count how many requests a run makes one after another. It
counts requests by kind (LIST, GET, PUT, DELETE, HEAD, other), and stops by itself after
`max_seconds` if its owner never stops it.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass
class DelayProxy:
    upstream: str  # host:port
    delay_seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kind(self, method: str, path: str) -> str:
        query = parse_qs(urlsplit(path).query, keep_blank_values=True)
        if method == "GET" and "list-type" in query:
            return "LIST"
        if method == "POST" and "delete" in query:
            return "DELETE (batch)"
        return method if method in ("GET", "PUT", "DELETE", "HEAD") else "other"

    def record(self, method: str, path: str) -> None:
        with self.lock:
            self.counts[self.kind(method, path)] += 1

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


def _handler(proxy: DelayProxy) -> type[BaseHTTPRequestHandler]:
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects

        def _upstream(self) -> http.client.HTTPConnection:
            connection = getattr(local, "connection", None)
            if connection is None:
                host, port = proxy.upstream.rsplit(":", 1)
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
                local.connection = connection
            return connection

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            proxy.record(self.command, self.path)
            time.sleep(proxy.delay_seconds)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection = self._upstream()
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                local.connection = None
                raise
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", response.getheader("Content-Length") or "0")
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def delaying_proxy(upstream: str, max_seconds: float = 1800.0) -> Iterator[tuple[str, DelayProxy]]:
    """Serve a DelayProxy to `upstream` on 127.0.0.1; yields (endpoint URL, proxy)."""
    proxy = DelayProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # Bounded: however the benchmark ends, the proxy does not outlive max_seconds.
    deadline = threading.Timer(max_seconds, server.shutdown)
    deadline.daemon = True
    deadline.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", proxy
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
