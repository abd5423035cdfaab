"""Shared fixtures: the repository root as the working folder (configs name their data relative
to it), the GOOG daily bars and the reference trades of the SMA(10/20) crossover that
Backtesting.py, backtrader and vectorbt agree on (tests/fixtures/reference/sma_goog.json)."""

import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    return ROOT


@pytest.fixture(scope="session")
def goog() -> pd.DataFrame:
    return pd.read_csv(ROOT / "backtests/data/GOOG.csv", index_col=0, parse_dates=True)


@pytest.fixture(scope="session")
def reference() -> dict:
    return json.loads((ROOT / "tests/fixtures/reference/sma_goog.json").read_text())["reference"]


def assert_reference_trades(trades, reference) -> None:
    """Checks a run's trades table against the reference: 46 closed round trips with their
    times, prices, sizes and P&L, then the open one."""
    rows = trades.to_pylist()
    closed = [r for r in rows if r["status"] == "closed"]
    opened = [r for r in rows if r["status"] == "open"]
    assert len(rows) == 47 and len(closed) == 46 and len(opened) == 1
    for got, want in zip(closed, reference["trades"]):
        assert got["entry_time"].strftime("%Y-%m-%dT%H:%M:%S") == want["entry_time"]
        assert got["exit_time"].strftime("%Y-%m-%dT%H:%M:%S") == want["exit_time"]
        assert got["entry_price"] == pytest.approx(want["entry_price"], abs=1e-9)
        assert got["exit_price"] == pytest.approx(want["exit_price"], abs=1e-9)
        assert got["quantity"] == want["size"]
        assert got["pnl"] == pytest.approx(want["pnl"], abs=1e-6)
    open_trade = reference["open_trade"]
    assert opened[0]["entry_time"].strftime("%Y-%m-%dT%H:%M:%S") == open_trade["entry_time"]
    assert opened[0]["quantity"] == open_trade["size"]
