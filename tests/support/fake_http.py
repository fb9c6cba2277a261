"""A fake requests transport: records every request and answers with canned responses.

Mount it on a `requests.Session` (see `fake_session`) to drive an HTTP client in unit tests
without opening a socket. Each canned answer is a `requests.Response` built by
`json_response`/`text_response`, an exception instance (raised from `send`, as a real
adapter raises ConnectionError or Timeout), or a callable taking the PreparedRequest.
When answers run out the last one is repeated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

Answer = requests.Response | BaseException | Callable[[requests.PreparedRequest], Any]


def text_response(
    status: int,
    body: str | bytes,
    *,
    headers: Mapping[str, str] | None = None,
    reason: str | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode("utf-8") if isinstance(body, str) else body
    response.headers = CaseInsensitiveDict(headers or {})
    response.encoding = "utf-8"
    response.reason = reason if reason is not None else ("OK" if status == 200 else "Error")
    return response


def json_response(
    status: int, body: Any, *, headers: Mapping[str, str] | None = None
) -> requests.Response:
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return text_response(status, json.dumps(body), headers=all_headers)


class FakeAdapter(BaseAdapter):
    """Answers requests from a list of canned answers and records what was sent."""

    def __init__(self, answers: list[Answer] | None = None) -> None:
        super().__init__()
        self.answers: list[Answer] = list(answers or [])
        self.requests: list[requests.PreparedRequest] = []
        self.send_kwargs: list[dict[str, Any]] = []

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        self.requests.append(request)
        self.send_kwargs.append({"stream": stream, "timeout": timeout})
        if not self.answers:
            raise AssertionError(f"FakeAdapter has no answer for {request.method} {request.url}")
        index = min(len(self.requests), len(self.answers)) - 1
        answer = self.answers[index]
        if isinstance(answer, BaseException):
            raise answer
        response = answer if isinstance(answer, requests.Response) else answer(request)
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def fake_session(answers: list[Answer] | None = None) -> tuple[requests.Session, FakeAdapter]:
    """A Session whose every http(s) request goes to a new FakeAdapter."""
    adapter = FakeAdapter(answers)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session, adapter
