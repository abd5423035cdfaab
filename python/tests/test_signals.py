"""quant.from_signals: boolean arrays computed with numpy give the reference trades."""

import numpy as np
import pytest

import quant
from conftest import assert_reference_trades


def crossings(close: np.ndarray, fast: int, slow: int):
    """SMA crossings as DESIGN.md defines them, in numpy: no signal while an average is
    undefined."""
    def sma(n):
        out = np.full(len(close), np.nan)
        sums = np.cumsum(close)
        out[n - 1 :] = (sums[n - 1 :] - np.r_[0.0, sums[:-n]]) / n
        return out

    f, s = sma(fast), sma(slow)
    pf, ps = np.r_[np.nan, f[:-1]], np.r_[np.nan, s[:-1]]
    with np.errstate(invalid="ignore"):
        entries = (pf <= ps) & (f > s)
        exits = (pf >= ps) & (f < s)
    return entries, exits


def test_numpy_crossings_give_the_reference_trades(goog, reference):
    entries, exits = crossings(goog["Close"].to_numpy(), 10, 20)
    run = quant.from_signals(goog, entries, exits, initial_cash=10_000.0, commission=0.002)
    assert run.summary["final_equity"] == pytest.approx(reference["final_equity"], abs=1e-6)
    assert_reference_trades(run.trades, reference)


def test_flags_per_instrument_and_pandas_series(goog):
    entries, exits = crossings(goog["Close"].to_numpy(), 10, 20)
    import pandas as pd

    one = quant.from_signals({"A": goog}, {"A": pd.Series(entries)}, {"A": list(exits)}, commission=0.002)
    both = quant.from_signals(
        {"A": goog, "B": goog},
        {"A": entries, "B": entries},
        {"A": exits, "B": exits},
        commission=0.002,
        config={"sizing": {"method": "fixed_fraction", "fraction": 0.5}},
    )
    assert one.trades.num_rows == 47
    assert both.trades.num_rows == 94
    assert set(both.trades.column("instrument").to_pylist()) == {"A", "B"}


def test_wrong_lengths_and_keys_are_refused(goog):
    entries, exits = crossings(goog["Close"].to_numpy(), 10, 20)
    with pytest.raises(quant.QuantError, match=r"entries for data: expected one flag per bar \(2148 bars\), found 2147"):
        quant.from_signals(goog, entries[1:], exits)
    with pytest.raises(quant.QuantError, match="unknown field `comission`"):
        quant.from_signals(goog, entries, exits, comission=0.002)
    with pytest.raises(ValueError, match="NaN at row 0"):
        quant.from_signals(goog, np.where(entries, 1.0, np.nan), exits)
