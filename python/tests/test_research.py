"""quant.features, quant.sweep and quant.train: the pipeline equals pandas, a sweep row equals its backtest, a trained model has its scores."""

import numpy as np
import pytest

import quant


def test_sma_and_rsi_columns(goog):
    table = quant.features(
        {"GOOG": goog},
        [
            {"name": "sma", "kind": "sma", "period": 20, "input": "close"},
            {"name": "ret", "kind": "returns", "period": 1, "input": "close"},
        ],
    )
    assert table.column_names == ["timestamp", "instrument", "sma", "ret"]
    frame = table.to_pandas()
    expected = goog["Close"].rolling(20).mean().to_numpy()
    np.testing.assert_allclose(frame["sma"].to_numpy(dtype=float), expected, rtol=1e-12, equal_nan=True)
    assert frame["sma"].isna().sum() == 19
    np.testing.assert_allclose(
        frame["ret"].to_numpy(dtype=float)[1:], goog["Close"].pct_change().to_numpy()[1:], rtol=1e-9
    )


def test_a_config_pipeline_over_its_own_data():
    table = quant.features(None, "backtests/features_goog.toml")
    assert table.num_rows == 2148
    assert table.column_names[:2] == ["timestamp", "instrument"]


def test_a_bad_feature_names_it(goog):
    with pytest.raises(quant.QuantError, match="period"):
        quant.features(goog, [{"name": "sma", "kind": "sma", "period": 0}])


def test_a_sweep_returns_the_ranked_table_the_command_writes(tmp_path):
    table = quant.sweep("backtests/sma_crossover.toml", out=tmp_path / "sweep")
    # [sweep] is fast in {5, 10, 20} x slow in {30, 50, 100}: nine jobs, best first.
    assert table.num_rows == 9
    assert table.column("rank").to_pylist() == list(range(1, 10))
    pairs = {(f, s) for f, s in zip(table.column("strategy.params.fast").to_pylist(), table.column("strategy.params.slow").to_pylist())}
    assert pairs == {(f, s) for f in (5, 10, 20) for s in (30, 50, 100)}
    sharpe = table.column("sharpe").to_pylist()
    assert sharpe == sorted(sharpe, reverse=True)
    # Each row is that job's backtest.
    f, s = (int(table.column(k)[0].as_py()) for k in ("strategy.params.fast", "strategy.params.slow"))
    one = quant.backtest("backtests/sma_crossover.toml", overrides={"strategy.params.fast": f, "strategy.params.slow": s})
    assert table.column("final_equity")[0].as_py() == pytest.approx(one.summary["final_equity"], rel=1e-12)
    assert (tmp_path / "sweep" / "sweep.parquet").is_file()


def test_train_returns_the_scores_and_the_model_folder(tmp_path):
    trained = quant.train("backtests/ml_trend.toml", out=tmp_path / "model", overrides={"training.epochs": 2})
    assert (trained.folder / "weights.safetensors").is_file()
    overall = trained.metrics["overall"]
    assert 0.0 <= overall["model"]["accuracy"] <= 1.0
    assert len(trained.metrics["folds"]) >= 2
    # The baselines are scored on the same test rows as the model.
    assert overall["majority"]["n"] == overall["model"]["n"]
    with pytest.raises(TypeError, match="path of a TOML config"):
        quant.train({"name": "x"})
