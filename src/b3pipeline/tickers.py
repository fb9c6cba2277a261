"""B3 ticker symbols: validation and parsing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from b3pipeline.errors import InvalidTickerError

# Four letters/digits for the issuer, then the share class (3 ON, 4 PN, 5-8 PNA..., 11 units,
# ETFs and BDRs 11/31-35...), optionally F for the fractional market.
_B3_SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{3}[0-9]{1,2}F?$")
#: The longest symbol _B3_SYMBOL accepts (e.g. BOVA11F): what sizes the quality gate's batches.
MAX_TICKER_LENGTH = 7

DEFAULT_TICKERS: tuple[str, ...] = ("PETR4",)


def validate_ticker(ticker: str) -> str:
    """Return the ticker upper-cased, or raise InvalidTickerError."""
    symbol = ticker.strip().upper()
    if not _B3_SYMBOL.match(symbol):
        raise InvalidTickerError(
            f"{ticker!r} is not a B3 ticker: use symbols such as PETR4, VALE3 or BOVA11"
        )
    return symbol


def validate_tickers(tickers: Iterable[str]) -> list[str]:
    """Validate, upper-case and de-duplicate tickers, keeping their first-seen order."""
    symbols: list[str] = []
    for ticker in tickers:
        symbol = validate_ticker(ticker)
        if symbol not in symbols:
            symbols.append(symbol)
    if not symbols:
        raise InvalidTickerError("no ticker given: pass at least one, such as PETR4")
    return symbols


def parse_tickers(text: str) -> list[str]:
    """Parse a ticker list given as text: "PETR4,VALE3" or a JSON array '["PETR4","VALE3"]'.

    The JSON form exists because Step Functions can render an array only as JSON
    (States.JsonToString); people and EventBridge use the comma list.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InvalidTickerError(
                f"ticker list {text!r} is not valid JSON: use PETR4,VALE3"
            ) from exc
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise InvalidTickerError(f"ticker list {text!r} must be an array of strings")
        return validate_tickers(items)
    return validate_tickers(part for part in re.split(r"[,\s]+", stripped) if part)


def tickers_json(tickers: Iterable[str]) -> str:
    """Tickers as compact JSON array text, the form SQL parameters and Step Functions use."""
    return json.dumps(list(tickers), separators=(",", ":"))
