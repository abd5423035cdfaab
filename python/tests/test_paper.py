"""Paper sessions from Python: the same quant.Strategy as in a backtest, on a websocket feed (an
in-process replay of the GOOG bars), with simulated fills and the journal."""

import _thread
import signal
import threading

import pytest

import quant
from conftest import assert_reference_trades
from test_strategy import SmaCross

CONFIG = "backtests/paper_sma.toml"
GOOG_BARS = 2148  # rows of backtests/data/GOOG.csv


def journal_lines(path, kind):
    return [line for line in path.read_text().splitlines() if line.startswith(kind + " ")]


def on(feed, journal):
    return {"live.url": feed.url, "live.journal": str(journal)}


def test_a_python_strategy_trades_the_same_in_paper_as_in_its_backtest(tmp_path, reference):
    journal = tmp_path / "journal"
    with quant.replay_feed("backtests/data/GOOG.csv") as feed:
        assert feed.streams == ["goog@kline_1d"] and feed.messages == GOOG_BARS
        run = quant.paper(
            CONFIG, strategy=SmaCross(), overrides=on(feed, journal), events=feed.messages, duration=300
        )
    assert not feed.serving
    assert run.stopped == "events"
    # The reference trades (Backtesting.py, backtrader and vectorbt agree on them), as the same
    # class gives in a backtest of the same bars.
    assert_reference_trades(run.trades, reference)
    backtest = quant.backtest(CONFIG, strategy=SmaCross())
    for table in ("trades", "fills", "orders", "equity"):
        assert getattr(run, table).to_pylist() == getattr(backtest, table).to_pylist(), table
    assert run.summary["final_equity"] == pytest.approx(backtest.summary["final_equity"], abs=1e-9)
    # Every bar was journaled before it was used, every order and fill after.
    assert len(journal_lines(journal, "M")) == GOOG_BARS
    assert len(journal_lines(journal, "O")) == run.orders.num_rows
    assert len(journal_lines(journal, "F")) == run.fills.num_rows
    assert "SmaCross" in run.report_html()


def test_the_config_strategy_runs_too_and_out_writes_the_results(tmp_path):
    with quant.replay_feed("backtests/data/GOOG.csv") as feed:
        run = quant.paper(
            CONFIG, overrides=on(feed, tmp_path / "journal"), events=100, out=tmp_path / "out"
        )
    assert run.stopped == "events" and run.equity.num_rows == 100
    assert (tmp_path / "out/summary.json").exists() and (tmp_path / "out/trades.csv").exists()
    # The first 100 bars of the config's own backtest, bar for bar.
    goog = quant.load_bars(CONFIG)["GOOG"].slice(0, 100)
    backtest = quant.backtest(CONFIG, data={"GOOG": goog}, overrides={"broker.close_at_end": False})
    assert run.fills.to_pylist() == backtest.fills.to_pylist()


def test_a_strategy_that_raises_stops_the_session_with_its_exception_and_the_journal_kept(tmp_path, goog):
    class Boom(quant.Strategy):
        def on_bar(self, ctx):
            if ctx.bar_index == 30:
                raise ZeroDivisionError("no more")

    journal = tmp_path / "journal"
    with quant.replay_feed("backtests/data/GOOG.csv") as feed:
        with pytest.raises(ZeroDivisionError, match="no more") as caught:
            quant.paper(CONFIG, strategy=Boom(), overrides=on(feed, journal), duration=300)
    assert caught.value.__notes__ == ["raised by on_bar at the bar of 2004-10-01 of GOOG"]
    assert goog.index[30].strftime("%Y-%m-%d") == "2004-10-01"
    # The bar it raised on was journaled before the strategy saw it; nothing after it.
    assert len(journal_lines(journal, "M")) == 31


def test_ctrl_c_stops_the_session_and_returns_what_it_traded(tmp_path):
    journal = tmp_path / "journal"
    # Python's own Ctrl-C handler, which a test run started in the background by a shell without
    # job control lacks (SIGINT is inherited ignored, and interrupt_main would do nothing).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    # Paced at 30 daily bars a second, so the session is still running when Ctrl-C comes; the
    # timer's thread runs only because the session released the GIL while it waits.
    with quant.replay_feed("backtests/data/GOOG.csv", speed=30 * 86_400) as feed:
        timer = threading.Timer(1.5, _thread.interrupt_main)
        timer.start()
        try:
            run = quant.paper(CONFIG, strategy=SmaCross(), overrides=on(feed, journal), duration=120)
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, previous)
    assert run.stopped == "interrupted"
    used = len(journal_lines(journal, "M"))
    assert 0 < used < GOOG_BARS
    assert run.equity.num_rows == used


def test_a_session_resumes_from_its_journal(tmp_path):
    journal = tmp_path / "journal"
    with quant.replay_feed("backtests/data/GOOG.csv") as feed:
        first = quant.paper(CONFIG, strategy=SmaCross(), overrides=on(feed, journal), events=500)
    with quant.replay_feed("backtests/data/GOOG.csv") as feed:
        # The replay starts again from its first bar: bars already journaled are skipped.
        second = quant.paper(
            CONFIG, strategy=SmaCross(), overrides=on(feed, journal), events=GOOG_BARS, duration=300
        )
    assert first.equity.num_rows == 500 and second.equity.num_rows == GOOG_BARS
    assert len(journal_lines(journal, "M")) == GOOG_BARS
    whole = quant.backtest(CONFIG, strategy=SmaCross())
    assert second.fills.to_pylist() == whole.fills.to_pylist()


def test_bad_live_tables_are_refused_naming_the_key(tmp_path):
    with pytest.raises(quant.QuantError, match="stale_after") as caught:
        quant.paper(CONFIG, overrides={"live.stale_after": 5}, events=1)
    assert "live" in str(caught.value)
    with pytest.raises(quant.QuantError, match=r'mode = "live" routes real orders'):
        quant.paper(CONFIG, overrides={"live.mode": "live"}, events=1)
    with pytest.raises(quant.QuantError, match=r"no \[live\] table"):
        quant.paper("backtests/sma_crossover.toml", events=1)
    with pytest.raises(ValueError, match=r"duration: expected seconds >= 0 and < 1.8e19, found -1e0"):
        quant.paper(CONFIG, duration=-1)
    with pytest.raises(TypeError, match="on_bar"):
        quant.paper(CONFIG, strategy=object())
    assert not (tmp_path / "journal").exists()
