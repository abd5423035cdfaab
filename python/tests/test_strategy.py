"""Strategies written in Python: run inside the engine, with its fill rules."""

import math

import pytest

import quant
from conftest import assert_reference_trades

BROKER = {"broker": {"initial_cash": 10_000.0, "commission": 0.002}}


class SmaCross(quant.Strategy):
    """The reference crossover, with the averages computed here in Python."""

    def __init__(self, fast=10, slow=20):
        self.fast, self.slow = fast, slow
        self.closes = []
        self.previous = None

    def on_bar(self, ctx):
        self.closes.append(ctx.close)
        if len(self.closes) < self.slow:
            return
        fast = sum(self.closes[-self.fast :]) / self.fast
        slow = sum(self.closes[-self.slow :]) / self.slow
        previous, self.previous = self.previous, (fast, slow)
        if previous is None or ctx.open_orders:
            return
        if previous[0] <= previous[1] and fast > slow and ctx.position == 0:
            ctx.buy()
        elif previous[0] >= previous[1] and fast < slow and ctx.position > 0:
            ctx.close_position()


class FeatureCross(quant.Strategy):
    """The same crossover reading the engine's SMA features."""

    features = [
        {"name": "fast", "kind": "sma", "period": 10, "input": "close"},
        {"name": "slow", "kind": "sma", "period": 20, "input": "close"},
    ]

    def __init__(self):
        self.previous = None

    def on_bar(self, ctx):
        fast, slow = ctx.feature("fast"), ctx.feature("slow")
        if fast is None or slow is None:
            return
        previous, self.previous = self.previous, (fast, slow)
        if previous is None or ctx.open_orders:
            return
        if previous[0] <= previous[1] and fast > slow and ctx.position == 0:
            ctx.buy()
        elif previous[0] >= previous[1] and fast < slow and ctx.position > 0:
            ctx.sell(ctx.position)


@pytest.mark.parametrize("strategy", [SmaCross, FeatureCross])
def test_a_python_crossover_gives_the_reference_trades(goog, reference, strategy):
    run = quant.backtest(BROKER, data={"GOOG": goog}, strategy=strategy())
    assert run.summary["final_equity"] == pytest.approx(reference["final_equity"], abs=1e-6)
    assert_reference_trades(run.trades, reference)


def test_the_config_data_and_strategy_table_are_used_or_replaced(reference):
    # The config's own strategy is replaced; its data, broker and sizing are kept.
    run = quant.backtest("backtests/sma_crossover.toml", strategy=SmaCross())
    assert run.summary["final_equity"] == pytest.approx(reference["final_equity"], abs=1e-6)
    assert run.trades.column("instrument")[0].as_py() == "GOOG"
    # The report names the class that traded, not the config's strategy.
    page = run.report_html()
    assert "SmaCross" in page and "sma_crossover" not in page.split("<body", 1)[1][:5000]


def test_what_ctx_shows(goog):
    seen, rows = [], []

    class Look(quant.Strategy):
        features = [{"name": "sma3", "kind": "sma", "period": 3, "input": "close"}]

        def on_bar(self, ctx):
            if ctx.bar_index < 4:
                rows.append(ctx.features)
            if ctx.bar_index == 0:
                ctx.buy(10)
            if ctx.bar_index in (0, 1, 2):
                seen.append((ctx.ts, ctx.instrument, ctx.open, ctx.close, ctx.volume, ctx.position, ctx.cash, ctx.equity, ctx.entry_price))

    quant.backtest(BROKER, data={"GOOG": goog}, strategy=Look())
    # SMA(3) of the closes, ready from the third bar.
    closes = goog["Close"].iloc[:4].tolist()
    assert rows[:2] == [{"sma3": None}, {"sma3": None}]
    assert rows[2]["sma3"] == pytest.approx(sum(closes[:3]) / 3)
    assert rows[3]["sma3"] == pytest.approx(sum(closes[1:4]) / 3)
    first, second, third = seen
    assert first[0] == goog.index[0].value and first[1] == "GOOG"
    assert (first[2], first[3], first[4]) == (100.0, 100.34, 22351900.0)
    assert first[5] == 0 and first[6] == 10_000.0
    # Bought 10 at the second bar's open, 0.2% commission; marked at its close.
    open_1, close_1 = goog["Open"].iloc[1], goog["Close"].iloc[1]
    assert second[5] == 10 and second[8] == pytest.approx(open_1)
    assert second[6] == pytest.approx(10_000.0 - 10 * open_1 * 1.002)
    assert second[7] == pytest.approx(second[6] + 10 * close_1)


def test_limit_orders_and_brackets_follow_the_fill_rules(goog):
    """A limit buy below the market fills on the first later bar whose low reaches it, at
    min(open, limit); its bracket's take-profit (limit) or stop-loss (stop) closes it on the
    first bar after that reaching either: checked against a scan of the bars in pandas."""
    at = 250
    limit = round(0.95 * goog["Close"].iloc[at], 2)
    take, stop = round(limit * 1.15, 2), round(limit * 0.9, 2)

    class Dip(quant.Strategy):
        def on_bar(self, ctx):
            if ctx.bar_index == at:
                ctx.buy(5, limit=limit, take_profit=take, stop_loss=stop)

    run = quant.backtest(BROKER, data={"GOOG": goog}, strategy=Dip())
    fills = run.fills.to_pandas()
    later = goog.iloc[at + 1 :]
    entry_bar = later[later["Low"] <= limit].index[0]
    assert fills["timestamp"].iloc[0].tz_localize(None) == entry_bar
    assert fills["price"].iloc[0] == pytest.approx(min(goog.loc[entry_bar, "Open"], limit))
    after = goog.loc[goog.index > entry_bar]
    exit_bar = after[(after["High"] >= take) | (after["Low"] <= stop)].index[0]
    assert fills["timestamp"].iloc[1].tz_localize(None) == exit_bar
    assert fills["side"].iloc[1] == "sell" and fills["quantity"].iloc[1] == 5
    assert len(fills) == 2
    orders = run.orders.to_pandas()
    assert sorted(orders["kind"]) == ["limit", "limit", "stop"]


def test_an_exception_in_on_bar_stops_the_run_and_names_the_bar(goog):
    class Boom(quant.Strategy):
        def on_bar(self, ctx):
            if ctx.bar_index == 30:
                raise ZeroDivisionError("no more")

    with pytest.raises(ZeroDivisionError, match="no more") as caught:
        quant.backtest(BROKER, data={"GOOG": goog}, strategy=Boom())
    assert caught.value.__notes__ == ["raised by on_bar at the bar of 2004-10-01 of GOOG"]
    assert goog.index[30].strftime("%Y-%m-%d") == "2004-10-01"


def test_bad_orders_and_unknown_features_are_python_errors(goog):
    class BadSize(quant.Strategy):
        def on_bar(self, ctx):
            ctx.buy(-3)

    with pytest.raises(ValueError, match="size: expected a positive number of units, found -3"):
        quant.backtest(BROKER, data=goog, strategy=BadSize())

    class Unknown(quant.Strategy):
        def on_bar(self, ctx):
            ctx.feature("rsi")

    with pytest.raises(KeyError, match='no feature column "rsi"; the run has none'):
        quant.backtest(BROKER, data=goog, strategy=Unknown())

    class NoOnBar:
        pass

    with pytest.raises(TypeError, match="on_bar"):
        quant.backtest(BROKER, data=goog, strategy=NoOnBar())


def test_sleeves_are_refused_for_a_python_strategy(goog):
    config = {**BROKER, "portfolio": {"mode": "sleeves"}}
    with pytest.raises(quant.QuantError, match="portfolio.mode"):
        quant.backtest(config, data={"A": goog, "B": goog}, strategy=SmaCross())
