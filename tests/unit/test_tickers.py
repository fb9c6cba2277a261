from __future__ import annotations

import pytest

from b3pipeline.errors import InvalidTickerError
from b3pipeline.tickers import (
    MAX_TICKER_LENGTH,
    parse_tickers,
    tickers_json,
    validate_ticker,
    validate_tickers,
)


@pytest.mark.parametrize(
    "symbol", ["PETR4", "VALE3", "BOVA11", "ITUB4", "TAEE11", "AAPL34", "PETR4F"]
)
def test_accepts_b3_symbols(symbol: str) -> None:
    assert validate_ticker(symbol) == symbol


def test_normalises_case_and_spaces() -> None:
    assert validate_ticker(" petr4 ") == "PETR4"


@pytest.mark.parametrize(
    "bad", ["", "PETR", "PETR4.SA", "AAPL", "PETR123", "4PET4", "PE TR4", "../x"]
)
def test_rejects_non_b3_symbols(bad: str) -> None:
    with pytest.raises(InvalidTickerError, match="not a B3 ticker"):
        validate_ticker(bad)


def test_the_longest_symbol_has_max_ticker_length() -> None:
    """The quality gate sizes its Athena parameters on it (b3pipeline.quality)."""
    assert len(validate_ticker("BOVA11F")) == MAX_TICKER_LENGTH == 7
    for longer in ("BOVA111F", "BOVA11FF", "BOVAX11F"):
        with pytest.raises(InvalidTickerError):
            validate_ticker(longer)


def test_deduplicates_keeping_order() -> None:
    assert validate_tickers(["VALE3", "petr4", "VALE3"]) == ["VALE3", "PETR4"]


def test_empty_list_is_an_error() -> None:
    with pytest.raises(InvalidTickerError, match="no ticker"):
        validate_tickers([])


@pytest.mark.parametrize(
    "text",
    ["PETR4,VALE3", "PETR4, VALE3", "PETR4 VALE3", '["PETR4","VALE3"]', '[ "petr4", "VALE3" ]'],
)
def test_parse_comma_list_or_json_array(text: str) -> None:
    assert parse_tickers(text) == ["PETR4", "VALE3"]


@pytest.mark.parametrize("text", ['["PETR4",', '{"a": 1}', "[1, 2]"])
def test_parse_rejects_bad_json(text: str) -> None:
    with pytest.raises(InvalidTickerError):
        parse_tickers(text)


def test_tickers_json_round_trips_through_parse() -> None:
    assert tickers_json(["PETR4", "VALE3"]) == '["PETR4","VALE3"]'
    assert parse_tickers(tickers_json(["PETR4", "VALE3"])) == ["PETR4", "VALE3"]
