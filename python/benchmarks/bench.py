"""Speed of the Python package on the 1 M-bar GBM SMA job (`quant bench`'s bars: one instrument,
one-minute GBM bars from the seeded generator, seed 42), medians over several runs:

* ``from_signals`` with SMA(10/20) crossings computed in numpy, against vectorbt's
  ``Portfolio.from_signals`` on the same bars (0.25 s on the project's machine);
* a strategy written in Python whose ``on_bar`` runs on every bar, against Backtesting.py's
  90 k bars/s on this job (target: 5x, 450 k bars/s);
* the same crossover as a config (``quant.backtest(config, data=...)``), for the engine alone.

Run from the repository root after ``pip install ./python``:
``python python/benchmarks/bench.py [--bars N] [--runs R]``. A benchmark, not a test: nothing is
asserted about time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import quant


def crossings(close: np.ndarray, fast: int = 10, slow: int = 20):
    sums = np.cumsum(close)

    def sma(n: int) -> np.ndarray:
        out = np.full(len(close), np.nan)
        out[n - 1 :] = (sums[n - 1 :] - np.r_[0.0, sums[:-n]]) / n
        return out

    f, s = sma(fast), sma(slow)
    pf, ps = np.r_[np.nan, f[:-1]], np.r_[np.nan, s[:-1]]
    with np.errstate(invalid="ignore"):
        return (pf <= ps) & (f > s), (pf >= ps) & (f < s)


class FeatureCross(quant.Strategy):
    """SMA(10/20) crossover in Python on the engine's SMA features: one call per bar."""

    features = [
        {"name": "fast", "kind": "sma", "period": 10, "input": "close"},
        {"name": "slow", "kind": "sma", "period": 20, "input": "close"},
    ]

    def __init__(self) -> None:
        self.above = None

    def on_bar(self, ctx) -> None:
        fast = ctx.feature("fast")
        if fast is None:
            return
        slow = ctx.feature("slow")
        if slow is None:
            return
        above = fast > slow
        was, self.above = self.above, above
        if was is None or was == above or ctx.open_orders:
            return
        if above and ctx.position == 0:
            ctx.buy()
        elif not above and ctx.position > 0:
            ctx.close_position()


def timed(runs: int, job) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # The peers' figures were measured on 1 M bars; other sizes print no ratio.
    versus = args.bars == 1_000_000
    config = {
        "name": "bench",
        "seed": 42,
        "data": {"kind": "synthetic", "instruments": 1, "bars": args.bars, "interval": "1m"},
        "broker": {"initial_cash": 10_000.0, "commission": 0.002},
        "output": {"report": False},
    }
    bars = quant.load_bars(config)["SYN000"]
    n = bars.num_rows
    close = bars.column("close").to_numpy()
    numpy_s, (entries, exits) = timed(args.runs, lambda: crossings(close))
    print(f"{n} one-minute GBM bars, SMA(10/20), medians of {args.runs} runs")
    print(f"  numpy crossings:                {numpy_s:8.3f} s")

    signals_s, run = timed(
        args.runs,
        lambda: quant.from_signals(bars, entries, exits, initial_cash=10_000.0, commission=0.002),
    )
    trades = run.trades.num_rows
    full_s, _ = timed(
        args.runs,
        lambda: quant.from_signals(
            bars, entries, exits, initial_cash=10_000.0, commission=0.002
        ).summary,
    )
    vbt = lambda s: f"; {0.25 / s:.1f}x vectorbt's 0.25 s" if versus else ""
    print(
        f"  from_signals:                   {signals_s:8.3f} s  ({n / signals_s / 1e6:.1f} M bars/s, "
        f"{trades} trades{vbt(signals_s)})"
    )
    print(f"  from_signals + summary:         {full_s:8.3f} s  ({vbt(full_s)[2:] or 'with the summary'})")

    config_run = {**config, "strategy": {"name": "sma_crossover", "params": {"fast": 10, "slow": 20}}}
    engine_s, run = timed(args.runs, lambda: quant.backtest(config_run, data={"SYN000": bars}))
    print(
        f"  config strategy (Rust):         {engine_s:8.3f} s  ({n / engine_s / 1e6:.1f} M bars/s, "
        f"{run.trades.num_rows} trades)"
    )

    python_s, run = timed(
        args.runs, lambda: quant.backtest(config, data={"SYN000": bars}, strategy=FeatureCross())
    )
    rate = n / python_s
    print(
        f"  Python on_bar strategy:         {python_s:8.3f} s  ({rate / 1e3:.0f} k bars/s, "
        f"{run.trades.num_rows} trades"
        + (f"; {rate / 90e3:.1f}x Backtesting.py's 90 k bars/s)" if versus else ")")
    )


if __name__ == "__main__":
    main()
