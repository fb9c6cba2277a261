"""What the Glue script uses of Spark, run in this process (no JVM, no sockets).

Tasks are pickled and unpickled like Spark ships them to executors, then run in order.
tests/spark runs the same script on a real local SparkSession.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any


class FakeRDD:
    """What run_job uses of an RDD: map, then collect in order."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def map(self, function: Callable[[Any], Any]) -> FakeRDD:
        shipped = pickle.loads(pickle.dumps(function))
        return FakeRDD([shipped(item) for item in self.items])

    def collect(self) -> list[Any]:
        return list(self.items)


class FakeSparkContext:
    def __init__(self) -> None:
        self.parallelized: list[tuple[list[str], int]] = []

    def parallelize(self, items: list[str], slices: int) -> FakeRDD:
        self.parallelized.append((list(items), slices))
        return FakeRDD(list(items))


class FakeSpark:
    def __init__(self) -> None:
        self.sparkContext = FakeSparkContext()
