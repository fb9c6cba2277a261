"""The scraper outputs the mocked `Scrape Quotes` and `Merge Batches` return, built by the core.

Each scenario is a run's tickers split as the state machine splits them (batches of
`batch_size`, in order), the trade dates BRAPI had and the tickers it refused. A batch's
output is what the scraper Lambda returns for it (`ScrapeResult.to_output` with the
batch's share of the output budget), the merge what `merge_batch_outputs` returns for
every batch's output: test_pipeline_contracts checks the mock config holds exactly these,
and that the real merge of what a run's Map really produced is the mocked merge. After a
change to either, refresh the mock config with
    .venv/bin/python -m tests.workflow.batch_mocks

A mocked response is picked by the state's invocation number, not by its input: inside the
Map, invocation n answers with batch n's output, and iterations running at once may take
each other's numbers. So a run's merged tickers are compared as a set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from b3pipeline.batch_output import batch_output_budget, merge_batch_outputs
from b3pipeline.lake import manifest_key, raw_quotes_key
from b3pipeline.manifest import ManifestFile
from b3pipeline.scrape import ScrapeResult
from b3pipeline.ticker_pool import TickerFailure, ticker_batches

from .sfn_harness import MOCK_CONFIG_PATH

RUN_DAY = date(2025, 8, 29)
FIVE_DAYS = [RUN_DAY - timedelta(days=back) for back in range(4, -1, -1)]
# Four hundred distinct valid tickers of the longest form B3 has (4 letters, 2 digits, F):
# every quality query parameter is as long as a batch of 100 can make it.
FULL_MARKET_TICKERS = [
    f"{first}{second}{third}Y11F"
    for first in "ABCD"
    for second in "EFGHIJKLMN"
    for third in "OPQRSTUVWX"
]
# What the scraper's BRAPI client says of a ticker BRAPI does not know and of a bar with a
# null close (b3pipeline.brapi: the 404's reason and a payload failure's reason).
UNKNOWN_REASON = "unknown to BRAPI, HTTP 404: 'Não encontramos a ação {}'"
NULL_CLOSE_REASON = f"bad BRAPI data: {RUN_DAY}: close is missing or null"
# A full market plus two bad tickers, each in a batch of 50 where it is one of 50 (the
# default share, 0.1, lets a batch set aside 5).
FULL_MARKET_WITH_TWO_BAD = [
    "ZZZZ3",
    *FULL_MARKET_TICKERS[:200],
    "NULL3",
    *FULL_MARKET_TICKERS[200:],
]
TWO_BAD = {"ZZZZ3": UNKNOWN_REASON.format("ZZZZ3"), "NULL3": NULL_CLOSE_REASON}
DEFAULT_BATCH_SIZE = 50  # Load Defaults' settings.scrape_batch_size


@dataclass(frozen=True)
class Scenario:
    """A scheduled run's scrape: its tickers, in batches, and what BRAPI had."""

    run: str  # names the batches' run ids (hence their manifest keys)
    tickers: list[str]
    days: list[date]
    batch_size: int = DEFAULT_BATCH_SIZE
    failed: dict[str, str] = field(default_factory=dict)

    def batches(self) -> list[list[str]]:
        return ticker_batches(self.tickers, self.batch_size)

    def outputs(self) -> list[dict[str, Any]]:
        """Each batch's output, in batch order."""
        batches = self.batches()
        return [
            _batch_output(f"{self.run}-b{number:03d}", batch, self.days, self.failed, len(batches))
            for number, batch in enumerate(batches, start=1)
        ]

    def merged(self) -> dict[str, Any]:
        return merge_batch_outputs(self.outputs())


def _batch_output(
    run_id: str, tickers: list[str], days: list[date], failed: dict[str, str], batch_count: int
) -> dict[str, Any]:
    written = [ticker for ticker in tickers if ticker not in failed]
    files = [
        ManifestFile(key=raw_quotes_key(day, ticker), rows=1) for day in days for ticker in written
    ]
    result = ScrapeResult(
        run_id=run_id,
        tickers=written,
        dates=[day.isoformat() for day in days] if written else [],
        rows=len(files),
        manifest_key=manifest_key(run_id) if written else None,
        files=files,
        failed=[TickerFailure(t, failed[t]) for t in sorted(failed) if t in tickers],
    )
    return result.to_output(batch_output_budget(batch_count))


SCENARIOS: dict[str, Scenario] = {
    "FiveDays": Scenario("20250829T203000Z-1a2b3c4d", ["PETR4"], FIVE_DAYS),
    "NoRows": Scenario("20250830T203000Z-5e6f7a8b", ["PETR4"], []),
    "FullMarket": Scenario("20250829T220000Z-f0f0f0f0", FULL_MARKET_TICKERS, [RUN_DAY]),
    "FullMarketTwoSetAside": Scenario(
        "20250829T220000Z-0b0b0b0b", FULL_MARKET_WITH_TWO_BAD, [RUN_DAY], failed=TWO_BAD
    ),
    # Two tickers BRAPI refuses, one per batch: each batch sets its one aside (a batch of
    # one may set aside one), nothing is written at all.
    "EverythingSetAside": Scenario(
        "20250829T220000Z-0e0e0e0e",
        ["ZZZZ3", "YYYY3"],
        [RUN_DAY],
        batch_size=1,
        failed={t: UNKNOWN_REASON.format(t) for t in ("ZZZZ3", "YYYY3")},
    ),
    # PETR4, VALE3 and ITUB4 one per batch: the first batch's output (the second fails).
    "FirstOfThree": Scenario(
        "20250829T220000Z-0c0c0c0c", ["PETR4", "VALE3", "ITUB4"], FIVE_DAYS, batch_size=1
    ),
}

# MockedResponses name -> (scenario, whose answers: "batches" or "merged", how many of them).
MOCKED: dict[str, tuple[str, str, int | None]] = {
    "ScraperFiveDays": ("FiveDays", "batches", None),
    "ScraperThrottledTwiceThenFiveDays": ("FiveDays", "batches", None),
    "MergedFiveDays": ("FiveDays", "merged", None),
    "ScraperNoRows": ("NoRows", "batches", None),
    "MergedNoRows": ("NoRows", "merged", None),
    "ScraperFullMarket": ("FullMarket", "batches", None),
    "MergedFullMarket": ("FullMarket", "merged", None),
    "ScraperFullMarketTwoSetAside": ("FullMarketTwoSetAside", "batches", None),
    "MergedFullMarketTwoSetAside": ("FullMarketTwoSetAside", "merged", None),
    "ScraperEverythingSetAside": ("EverythingSetAside", "batches", None),
    "MergedEverythingSetAside": ("EverythingSetAside", "merged", None),
    "ScraperFirstBatchThenUnavailable": ("FirstOfThree", "batches", 1),
}


def mocked_payloads() -> dict[str, list[Any]]:
    """{MockedResponses name: the payloads of its Return answers, in invocation order}."""
    payloads: dict[str, list[Any]] = {}
    for name, (scenario_name, kind, count) in MOCKED.items():
        scenario = SCENARIOS[scenario_name]
        built = scenario.outputs() if kind == "batches" else [scenario.merged()]
        payloads[name] = built[:count]
    return payloads


def _returns(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The Return answers of a mocked response, by invocation number."""
    ordered = sorted(response.items(), key=lambda item: int(item[0].partition("-")[0]))
    return [answer["Return"] for _, answer in ordered if "Return" in answer]


def mocked_payloads_in_config(config: dict[str, Any]) -> dict[str, list[Any]]:
    responses = config["MockedResponses"]
    return {name: [r["Payload"] for r in _returns(responses[name])] for name in MOCKED}


def write_mock_config() -> None:
    """Put the built payloads into the mock config: answers that are Returns get them in
    order; a response that does not exist yet gets one Return per payload."""
    config = json.loads(MOCK_CONFIG_PATH.read_text(encoding="utf-8"))
    responses = config["MockedResponses"]
    for name, payloads in mocked_payloads().items():
        if name not in responses:
            responses[name] = {
                str(number): {
                    "Return": {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload}
                }
                for number, payload in enumerate(payloads)
            }
            continue
        returns = _returns(responses[name])
        assert len(returns) == len(payloads), name
        for answer, payload in zip(returns, payloads, strict=True):
            answer["Payload"] = payload
    MOCK_CONFIG_PATH.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_mock_config()
