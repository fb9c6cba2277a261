from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_brapi import FakeBrapi, petr4_fake, serve
from tests.support.moto_server import moto_endpoint

__all__ = ["moto_endpoint"]  # a fixture: pytest finds it by name


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
