"""quant.backtest: parity with the reference run, every kind of data, overrides, results."""

import json

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import quant
from conftest import ROOT, assert_reference_trades

CONFIG = "backtests/sma_crossover.toml"


def test_the_reference_config_gives_the_reference_run(reference):
    run = quant.backtest(CONFIG)
    assert run.summary["final_equity"] == pytest.approx(63_341.19136, abs=1e-5)
    assert run.summary["final_equity"] == pytest.approx(reference["final_equity"], abs=1e-6)
    assert run.trades.num_rows == 47
    assert_reference_trades(run.trades, reference)
    # The summary is summary.json's: the config it ran is in it.
    assert run.summary["config"]["strategy"]["params"] == {"fast": 10, "slow": 20}


def test_tables_are_pyarrow_and_read_by_pandas_and_polars():
    run = quant.backtest(CONFIG)
    for table in (run.trades, run.fills, run.orders, run.equity, run.positions, run.returns):
        assert isinstance(table, pa.Table)
    equity = run.equity.to_pandas()
    assert list(equity.columns) == ["timestamp", "equity", "cash", "drawdown"]
    assert len(equity) == 2148
    assert equity["equity"].iloc[-1] == pytest.approx(run.summary["final_equity"])
    # Every fill is in fills (two per closed trade, one for the open one).
    assert pl.from_arrow(run.fills).height == 93
    assert pa.compute.sum(run.fills["fee"]).as_py() == pytest.approx(run.summary["fees"])


@pytest.mark.parametrize("kind", ["pandas", "pandas_column", "polars", "pyarrow", "dict"])
def test_data_in_memory_gives_the_same_run(goog, reference, kind):
    frames = {
        "pandas": lambda: goog,
        "pandas_column": lambda: goog.rename_axis("Date").reset_index(),
        "polars": lambda: pl.from_pandas(goog.rename_axis("timestamp").reset_index()),
        "pyarrow": lambda: pa.Table.from_pandas(goog.rename_axis("timestamp").reset_index()),
        "dict": lambda: {"GOOG": goog},
    }
    run = quant.backtest(CONFIG, data=frames[kind]())
    assert run.summary["final_equity"] == pytest.approx(reference["final_equity"], abs=1e-6)
    assert_reference_trades(run.trades, reference)


def test_a_dict_config_and_integer_volumes(goog, reference):
    config = {
        "name": "from-a-dict",
        "strategy": {"name": "sma_crossover", "params": {"fast": 10, "slow": 20}},
        "broker": {"initial_cash": 10_000.0, "commission": 0.002},
    }
    data = goog.astype({"Volume": "int64"})
    run = quant.backtest(config, data={"GOOG": data})
    assert run.summary["final_equity"] == pytest.approx(reference["final_equity"], abs=1e-6)
    assert run.trades.column("instrument")[0].as_py() == "GOOG"


def test_overrides_change_the_run_like_set():
    base = quant.backtest(CONFIG)
    faster = quant.backtest(CONFIG, overrides={"strategy.params.fast": 5, "broker.commission": 0.0})
    assert faster.summary["config"]["strategy"]["params"]["fast"] == 5
    assert faster.summary["config"]["broker"]["commission"] == 0.0
    assert faster.summary["final_equity"] != base.summary["final_equity"]
    assert faster.summary["fees"] == 0.0


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"strategy.params.fast": "ten"}, ["`strategy.params.fast`", "expected usize"]),
        ({"strategy.params.fst": 3}, ["`strategy.params.fst`", "unknown field `fst`"]),
        ({"strategy.params.fast": 30}, ["`strategy.params.fast`", "fewer bars than slow (20)"]),
        ({"broker.commission": [1]}, ["`broker.commission`"]),
    ],
)
def test_a_bad_override_names_its_key(overrides, words):
    with pytest.raises(quant.QuantError) as caught:
        quant.backtest(CONFIG, overrides=overrides)
    for word in words:
        assert word in str(caught.value)


def test_an_override_of_no_toml_type_names_its_key():
    with pytest.raises(TypeError, match="strategy.params.fast: expected a bool, int"):
        quant.backtest(CONFIG, overrides={"strategy.params.fast": None})


def test_bad_data_names_the_column_or_row(goog):
    with pytest.raises(quant.QuantError, match="no `volume` column"):
        quant.backtest(CONFIG, data=goog.drop(columns=["Volume"]))
    nan = goog.copy()
    nan.iloc[5, nan.columns.get_loc("Close")] = float("nan")
    with pytest.raises(quant.QuantError, match=r'row 6, column "close"'):
        quant.backtest(CONFIG, data={"GOOG": nan})
    swapped = pd.concat([goog.iloc[:10], goog.iloc[[11, 10]], goog.iloc[12:]])
    with pytest.raises(quant.QuantError, match=r'row 12, column "timestamp": timestamp 2004-09-02 is before'):
        quant.backtest(CONFIG, data=swapped)
    negative = goog.copy()
    negative.iloc[3, negative.columns.get_loc("Low")] = -1.0
    with pytest.raises(quant.QuantError, match=r'row 4, column "low"'):
        quant.backtest(CONFIG, data=negative)
    with pytest.raises(TypeError, match="expected a pandas or polars DataFrame"):
        quant.backtest(CONFIG, data=[1, 2, 3])


def test_engine_and_config_errors_carry_the_command_line_message(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(open(CONFIG).read().replace("fast = 10", "fast = 0"))
    with pytest.raises(quant.QuantError, match=r"line \d+, column \d+: `strategy.params.fast`: expected at least 1 bar"):
        quant.backtest(str(broken))
    with pytest.raises(quant.QuantError, match="cannot read config"):
        quant.backtest(tmp_path / "missing.toml")


def test_save_writes_the_usual_files_and_refuses_to_overwrite(tmp_path):
    run = quant.backtest(CONFIG)
    folder = run.save(tmp_path / "run")
    for name in ["summary.json", "trades.csv", "trades.parquet", "equity.csv", "report.html"]:
        assert (folder / name).is_file(), name
    written = json.loads((folder / "summary.json").read_text())
    assert written["final_equity"] == run.summary["final_equity"]
    assert written["trades"] == run.summary["trades"]
    assert pd.read_csv(folder / "trades.csv").shape[0] == run.trades.num_rows
    with pytest.raises(quant.QuantError, match="already holds a run's results"):
        run.save(folder)
    run.save(folder, force=True)


def test_saved_parquet_tables_read_in_pandas_and_polars(tmp_path):
    # The files are written in Parquet's version 2 data pages: both readers take them, and agree.
    run = quant.backtest(CONFIG)
    folder = run.save(tmp_path / "run")
    for name in ["equity", "returns", "positions", "orders", "fills", "trades"]:
        frame = pd.read_parquet(folder / f"{name}.parquet")
        assert frame.shape == pl.read_parquet(folder / f"{name}.parquet").shape, name
        assert frame.shape[0] > 0, name
    equity = pd.read_parquet(folder / "equity.parquet")
    assert equity["equity"].iloc[-1] == pytest.approx(run.summary["final_equity"])
    trades = pl.read_parquet(folder / "trades.parquet")
    assert trades.height == run.trades.num_rows
    # Names (instruments, sides) are dictionary-encoded in the files and read back as text.
    trades_pd = pd.read_parquet(folder / "trades.parquet")
    for column in ["instrument", "side"]:
        names = run.trades.column(column).to_pylist()
        assert pd.api.types.is_string_dtype(trades_pd[column]), column
        assert trades[column].dtype == pl.String, column
        assert list(trades_pd[column]) == names, column
        assert trades[column].to_list() == names, column
    positions = pl.read_parquet(folder / "positions.parquet")
    assert positions["instrument"].dtype == pl.String
    assert "cash" in positions["instrument"].to_list()


def test_report_html_is_the_page():
    page = quant.backtest(CONFIG).report_html()
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "sma-crossover-goog" in page
    no_report = quant.backtest(CONFIG, overrides={"output.report": False})
    with pytest.raises(quant.QuantError, match="report = false"):
        no_report.report_html()


def test_a_long_table_is_split_by_its_instrument_column(goog):
    frame = goog.rename_axis("timestamp").reset_index()
    long = pd.concat([frame.assign(instrument="A"), frame.assign(instrument="B")])
    run = quant.backtest(CONFIG, data=long, overrides={"portfolio.mode": "sleeves"})
    trades = run.trades.to_pandas()
    # Two sleeves with half the cash each, trading the same signals on the same bars.
    assert sorted(trades["instrument"].unique()) == ["A", "B"]
    assert (trades["instrument"] == "A").sum() == (trades["instrument"] == "B").sum() == 47
    a = trades[trades["instrument"] == "A"].reset_index(drop=True)
    b = trades[trades["instrument"] == "B"].reset_index(drop=True)
    assert (a["entry_time"] == b["entry_time"]).all() and (a["quantity"] == b["quantity"]).all()


def test_market_data_files_quant_writes_read_in_pandas_and_polars(goog):
    # Times delta-packed, prices and volumes split into byte streams, names in a dictionary.
    path = ROOT / "tests/fixtures/written/GOOG.parquet"
    pandas = pd.read_parquet(path)
    polars = pl.read_parquet(path)
    assert list(pandas.columns) == ["timestamp", "instrument", "open", "high", "low", "close", "volume"]
    assert pandas.shape == polars.shape == (len(goog), 7)
    assert set(pandas["instrument"]) == {"GOOG"}
    for column in ["open", "high", "low", "close", "volume"]:
        assert pandas[column].tolist() == goog[column.capitalize()].tolist(), column
        assert polars[column].to_list() == goog[column.capitalize()].tolist(), column
    dates = goog.index.to_numpy()
    assert (pandas["timestamp"].dt.tz_localize(None).to_numpy() == dates).all()
    assert (polars["timestamp"].dt.replace_time_zone(None).to_numpy() == dates).all()
