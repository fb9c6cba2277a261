"""One local SparkSession for the whole test session (a JVM start costs seconds).

The session comes from the Glue script's own spark_session(), the one
`python glue/transform_job.py` builds outside Glue; the script reuses it (getOrCreate).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from tests.support.modules import load_module
from tests.support.moto_server import moto_endpoint

__all__ = ["moto_endpoint"]  # a fixture: pytest finds it by name

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def glue_job() -> ModuleType:
    return load_module("glue/transform_job.py", "glue_transform_job_spark")


@pytest.fixture(scope="session")
def spark(glue_job: ModuleType) -> Iterator[SparkSession]:
    session: SparkSession = glue_job.spark_session()
    try:
        yield session
    finally:
        session.stop()
