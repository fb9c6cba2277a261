"""The transform split by ticker (b3pipeline.ticker_split), without Spark.

The reference is the core itself: one run_transform over every ticker. Running each ticker
alone and merging must write the same files and report the same result.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from b3pipeline.errors import TransformError
from b3pipeline.lake import Lake, quotes_daily_key, raw_quotes_key
from b3pipeline.ticker_split import TickerFailure, merge_ticker_outcomes, transform_ticker
from b3pipeline.transform import TransformResult, run_transform
from tests.support.raw_builders import two_ticker_history, write_raw

PROCESSED_AT = datetime(2024, 7, 1, 22, 30, tzinfo=UTC)
START, END = date(2024, 4, 10), date(2024, 6, 20)
TICKERS = ["VALE3", "PETR4", "ITUB4"]  # ITUB4 has no raw data


def _lake_with_history(folder: Path) -> Lake:
    lake = Lake.open(str(folder))
    write_raw(lake, two_ticker_history())
    return lake


def _refined_files(folder: Path) -> dict[str, bytes]:
    refined = folder / "refined"
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(refined.rglob("*"))
        if path.is_file()
    }


def test_per_ticker_runs_merged_equal_one_run_over_every_ticker(tmp_path: Path) -> None:
    whole_lake = _lake_with_history(tmp_path / "whole")
    split_lake = _lake_with_history(tmp_path / "split")
    whole = run_transform(whole_lake, TICKERS, START, END, now=PROCESSED_AT)

    outcomes = [
        transform_ticker(ticker, str(tmp_path / "split"), START, END, PROCESSED_AT)
        for ticker in reversed(TICKERS)  # completion order must not matter
    ]
    merged = merge_ticker_outcomes(TICKERS, START, END, PROCESSED_AT, outcomes)

    assert _refined_files(tmp_path / "split") == _refined_files(tmp_path / "whole")
    assert merged.tickers == TICKERS
    assert merged.tickers_without_data == ["ITUB4"] == whole.tickers_without_data
    assert (merged.start, merged.end, merged.processed_at) == (START, END, PROCESSED_AT)
    assert merged.daily_rows == whole.daily_rows > 0
    # VALE3: Apr, May, Jun; PETR4: Apr and Jun (it has no May rows).
    assert merged.monthly_rows == whole.monthly_rows == 5
    assert merged.daily_keys == sorted(whole.daily_keys)
    assert merged.monthly_keys == sorted(whole.monthly_keys)
    assert merged.dates == whole.dates
    assert merged.months == ["2024-04", "2024-05", "2024-06"] == whole.months
    assert merged.raw_files_read == whole.raw_files_read
    assert merged.deleted_keys == whole.deleted_keys == []
    assert merged.summary() == {**whole.summary(), "tickers": TICKERS}
    assert split_lake.exists(quotes_daily_key(START, "PETR4"))


def test_merged_lists_are_sorted_whatever_order_the_tasks_finish_in(tmp_path: Path) -> None:
    _lake_with_history(tmp_path)
    outcomes = [transform_ticker(t, str(tmp_path), START, END, PROCESSED_AT) for t in TICKERS]
    forwards = merge_ticker_outcomes(TICKERS, START, END, PROCESSED_AT, outcomes)
    backwards = merge_ticker_outcomes(TICKERS, START, END, PROCESSED_AT, outcomes[::-1])
    assert dataclasses.asdict(forwards) == dataclasses.asdict(backwards)
    assert forwards.daily_keys == sorted(forwards.daily_keys)
    assert forwards.deleted_keys == sorted(forwards.deleted_keys)


def test_deleted_keys_of_every_ticker_are_merged(tmp_path: Path) -> None:
    lake = _lake_with_history(tmp_path)
    for ticker in ("PETR4", "VALE3"):
        transform_ticker(ticker, str(tmp_path), START, END, PROCESSED_AT)
    gone = date(2024, 6, 3)
    for ticker in ("PETR4", "VALE3"):
        lake.delete(raw_quotes_key(gone, ticker))
    outcomes = [transform_ticker(t, str(tmp_path), START, END, PROCESSED_AT) for t in TICKERS]
    merged = merge_ticker_outcomes(TICKERS, START, END, PROCESSED_AT, outcomes)
    assert merged.deleted_keys == [
        quotes_daily_key(gone, "PETR4"),
        quotes_daily_key(gone, "VALE3"),
    ]


def test_an_expected_failure_comes_back_as_a_ticker_failure(tmp_path: Path) -> None:
    lake = _lake_with_history(tmp_path)
    bad = raw_quotes_key(date(2024, 5, 6), "VALE3")
    table = pq.read_table(lake.path(bad)).drop_columns(["adjusted_close"])
    lake.write_parquet(bad, table)

    outcome = transform_ticker("VALE3", str(tmp_path), START, END, PROCESSED_AT)

    assert isinstance(outcome, TickerFailure)
    assert outcome.ticker == "VALE3"
    assert outcome.error == "TransformError"
    assert "adjusted_close" in outcome.message and "dt=2024-05-06" in outcome.message
    assert not lake.exists(quotes_daily_key(START, "VALE3")), "a failed ticker writes nothing"


def test_any_failed_ticker_fails_the_merge_naming_each_one(tmp_path: Path) -> None:
    _lake_with_history(tmp_path)
    ok = transform_ticker("PETR4", str(tmp_path), START, END, PROCESSED_AT)
    failures = [
        TickerFailure("ITUB4", "LakeError", "cannot read s3://lake/raw"),
        TickerFailure("VALE3", "TransformError", "raw file x lacks the column(s) volume"),
    ]
    with pytest.raises(TransformError) as raised:
        merge_ticker_outcomes(TICKERS, START, END, PROCESSED_AT, [ok, *failures[::-1]])
    message = str(raised.value)
    assert message.startswith("transform failed for 2 of 3 ticker(s) (VALE3, ITUB4); 1 other")
    assert "VALE3: TransformError: raw file x lacks the column(s) volume" in message
    assert "ITUB4: LakeError: cannot read s3://lake/raw" in message
    assert "rerun the same window" in message


def _result(ticker: str, **changes: object) -> TransformResult:
    result = TransformResult(tickers=[ticker], start=START, end=END, processed_at=PROCESSED_AT)
    return dataclasses.replace(result, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcomes", "match"),
    [
        ([_result("PETR4"), _result("VALE3")], "expected each of"),  # ITUB4 missing
        ([_result("PETR4"), _result("VALE3"), _result("ITUB4"), _result("PETR4")], "once"),
        (
            [_result("PETR4"), _result("VALE3"), _result("ITUB4", end=date(2024, 6, 21))],
            "covered 2024-04-10..2024-06-21",
        ),
        (
            [
                _result("PETR4"),
                _result("VALE3", processed_at=datetime(2024, 7, 1, tzinfo=UTC)),
                _result("ITUB4"),
            ],
            "at 2024-07-01T00:00:00",
        ),
    ],
)
def test_outcomes_that_do_not_match_the_run_are_refused(
    outcomes: list[TransformResult], match: str
) -> None:
    with pytest.raises(TransformError, match=match):
        merge_ticker_outcomes(TICKERS, START, END, PROCESSED_AT, outcomes)


def test_the_merge_knows_every_transform_result_field() -> None:
    # merge_ticker_outcomes builds TransformResult field by field: a new field must be
    # merged there (and listed here), or it would silently keep its default.
    assert {f.name for f in dataclasses.fields(TransformResult)} == {
        "tickers",
        "start",
        "end",
        "processed_at",
        "daily_rows",
        "monthly_rows",
        "daily_keys",
        "monthly_keys",
        "dates",
        "months",
        "raw_files_read",
        "tickers_without_data",
        "deleted_keys",
    }
