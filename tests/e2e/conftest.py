from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from tests.support.fake_brapi import FakeBrapi, petr4_fake, serve


@pytest.fixture
def fake_brapi() -> FakeBrapi:
    return petr4_fake()


@pytest.fixture
def brapi_url(fake_brapi: FakeBrapi, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A BRAPI-speaking server on 127.0.0.1, wired in through BRAPI_BASE_URL like a user would."""
    with serve(fake_brapi) as url:
        monkeypatch.setenv("BRAPI_BASE_URL", url)
        monkeypatch.delenv("BRAPI_TOKEN", raising=False)
        monkeypatch.delenv("LAKE_URI", raising=False)
        monkeypatch.delenv("B3_TICKERS", raising=False)
        yield url


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, as host:port (what pyarrow's endpoint_override takes)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"{host}:{port}"
    finally:
        server.stop()
