"""Workflow tests: one ASL engine for the whole session (moto, or Step Functions Local)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sfn_harness import Engine, engine_from_environment


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with engine_from_environment() as started:
        yield started
