"""quant.features: the pipeline's columns equal the same indicators computed with pandas."""

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
