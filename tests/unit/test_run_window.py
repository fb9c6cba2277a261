"""A local run touches only its window: files outside it cannot break it; inside, they do.

Covers the whole local pipeline (scrape -> transform -> pruned catalog -> quality gate ->
summary -> chart) and `b3pipeline transform`.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from b3pipeline import cli
from b3pipeline import lake as lake_module
from b3pipeline.catalog import CatalogWindow, LocalCatalog
from b3pipeline.errors import TransformError
from b3pipeline.lake import Lake
from b3pipeline.pipeline import run_pipeline
from b3pipeline.report import CHART_CALENDAR_DAYS, chart_window
from b3pipeline.transform import run_transform
from tests.support.quotes import StaticQuoteSource, make_bars

NOW = datetime(2025, 8, 29, 22, 0, tzinfo=UTC)
FIRST = date(2024, 9, 2)
BARS = make_bars("PETR4", FIRST, 260) + make_bars("VALE3", FIRST, 260, base=60.0)
DAYS = sorted({bar.trade_date for bar in BARS})
RUN_DAY = DAYS[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year of both tickers, backfilled up to the day before RUN_DAY."""
    root = tmp_path_factory.mktemp("window") / "lake"
    lake = Lake.open(str(root))
    run_pipeline(StaticQuoteSource(BARS), lake, ["PETR4", "VALE3"], DAYS[0], DAYS[-2], now=NOW)
    return root


@pytest.fixture
def root(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "lake"))


def _corrupt(root: Path, key: str) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PAR1 this is not parquet")
    return path


def _refined(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "refined").rglob("*"))
        if p.is_file()
    }


def test_corrupt_files_outside_the_window_do_not_touch_the_run(root: Path) -> None:
    months_back = RUN_DAY - timedelta(days=200)  # before the lookback and the chart period
    outside = [
        lake_module.raw_quotes_key(DAYS[5], "PETR4"),
        lake_module.quotes_daily_key(DAYS[5], "PETR4"),
        lake_module.quotes_monthly_key(f"{months_back:%Y-%m}", "VALE3"),
        lake_module.raw_quotes_key(RUN_DAY, "ITUB4"),  # same day, a ticker not in the run
        lake_module.quotes_daily_key(RUN_DAY, "ITUB4"),
    ]
    for key in outside:
        _corrupt(root, key)
    lake = Lake.open(str(root))

    result = run_pipeline(
        StaticQuoteSource(BARS), lake, ["PETR4", "VALE3"], RUN_DAY, RUN_DAY, now=NOW
    )

    assert result.quality is not None and result.quality.passed, result.quality
    assert [row["ticker"] for row in result.summary] == ["PETR4", "VALE3"]
    assert result.chart_key == f"reports/quotes_{RUN_DAY}.png"
    assert result.transform is not None and result.transform.daily_rows == 2


def test_a_corrupt_raw_file_in_the_lookback_fails_the_run_naming_it(root: Path) -> None:
    key = lake_module.raw_quotes_key(DAYS[-20], "VALE3")  # inside sma_50's lookback
    path = _corrupt(root, key)
    before = _refined(root)
    lake = Lake.open(str(root))

    with pytest.raises(TransformError, match=rf"cannot read raw file {path}"):
        run_transform(lake, ["PETR4", "VALE3"], DAYS[-2], DAYS[-2], now=NOW)
    assert _refined(root) == before  # nothing written, nothing deleted


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_a_run_checks_its_lookback_before_writing_anything(root: Path) -> None:
    bad_day = DAYS[-20]
    path = _corrupt(root, lake_module.raw_quotes_key(bad_day, "VALE3"))  # sma_50's lookback
    before = _files(root)
    lake = Lake.open(str(root))

    with pytest.raises(TransformError) as info:
        run_pipeline(StaticQuoteSource(BARS), lake, ["PETR4", "VALE3"], RUN_DAY, RUN_DAY, now=NOW)

    assert _files(root) == before  # no raw file for RUN_DAY, no manifest, no refined file
    text = str(info.value)
    assert f"cannot read raw file {path}" in text
    assert "nothing was written" in text
    assert f"`b3pipeline run --tickers VALE3 --date {bad_day}`" in text


def test_rerunning_the_bad_day_repairs_it_then_the_run_passes(root: Path) -> None:
    bad_day = DAYS[-20]
    _corrupt(root, lake_module.raw_quotes_key(bad_day, "VALE3"))
    lake = Lake.open(str(root))
    source = StaticQuoteSource(BARS)

    # The command the error names: the bad file is in its own window, so it is replaced.
    repaired = run_pipeline(source, lake, ["VALE3"], bad_day, bad_day, now=NOW)
    assert repaired.quality is not None and repaired.quality.passed
    result = run_pipeline(source, lake, ["PETR4", "VALE3"], RUN_DAY, RUN_DAY, now=NOW)
    assert result.quality is not None and result.quality.passed
    assert result.transform is not None and result.transform.daily_rows == 2


def test_transform_command_fails_in_one_line_naming_the_file(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAKE_URI", raising=False)
    path = _corrupt(root, lake_module.raw_quotes_key(DAYS[-3], "PETR4"))
    before = _refined(root)
    argv = ["transform", "--tickers", "PETR4", "--start", str(DAYS[-2]), "--end", str(DAYS[-2])]
    assert cli.main([*argv, "--lake", str(root)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert str(path) in err
    assert _refined(root) == before


def test_the_run_catalog_holds_only_the_window(root: Path) -> None:
    lake = Lake.open(str(root))
    window = CatalogWindow(DAYS[-6], DAYS[-2], ("VALE3",))
    with LocalCatalog(lake, window) as catalog:
        rows = catalog.run_sql(
            "SELECT min(dt) AS first, max(dt) AS last, count(*) AS n, "
            "count(DISTINCT ticker) AS tickers FROM quotes_daily"
        ).records()
        months = catalog.run_sql("SELECT DISTINCT month FROM quotes_monthly").records()
        raw = catalog.run_sql("SELECT count(*) AS n FROM raw_quotes").records()
    assert rows == [{"first": str(DAYS[-6]), "last": str(DAYS[-2]), "n": 5, "tickers": 1}]
    assert {m["month"] for m in months} == {f"{d:%Y-%m}" for d in DAYS[-6:-1]}
    assert raw == [{"n": 5}]
    with LocalCatalog(lake) as everything:  # `b3pipeline query` sees the whole lake
        total = everything.run_sql("SELECT count(*) AS n FROM quotes_daily").records()
    assert total == [{"n": 2 * (len(DAYS) - 1)}]


def test_the_chart_reads_six_months_ending_on_the_run_date() -> None:
    window = chart_window(["PETR4"], date(2025, 8, 29))
    assert (window.start, window.end) == (date(2025, 2, 28), date(2025, 8, 29))
    assert (window.end - window.start).days + 1 == CHART_CALENDAR_DAYS
