//! Explanations end to end: `quant train` writes `explain.json`, `quant report MODEL_DIR`
//! renders a model card that opens cleanly in headless Chromium, a model-driven backtest
//! explains every order (with the model id) and reports input drift, silent on the training
//! data and firing on data unlike it, and `[explain]` typos are named.

use crate::browser::require_chromium;
use crate::configs::trained;
use crate::support::{backtest, quant, repo, scratch, stderr};
use std::path::{Path, PathBuf};

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The model folder a trained config names.
fn model_dir(config: &Path) -> PathBuf {
    let text = std::fs::read_to_string(config).unwrap();
    let line = text.lines().find(|l| l.starts_with("model = ")).unwrap();
    let dir = toml::from_str::<toml::Table>(line).unwrap()["model"]
        .as_str()
        .unwrap()
        .to_string();
    PathBuf::from(dir)
}

/// Reads a CSV into a header and rows of cells (no quoted commas in these files).
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>());
    (lines.next().unwrap(), lines.collect())
}

#[test]
fn training_writes_explain_json_and_the_model_card_opens_in_chromium() {
    let config = trained(&repo("backtests/ml_trend.toml"));
    let dir = model_dir(&config);
    let e = json(&dir.join("explain.json"));
    let inputs = 7;
    assert_eq!(e["features"].as_array().unwrap().len(), inputs);
    let folds = e["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 4);
    for f in folds {
        // One figure per input and per lag block (4 blocks of a 16-bar window).
        assert_eq!(
            f["importance"]["log_loss_increase"]
                .as_array()
                .unwrap()
                .len(),
            inputs + 4
        );
        assert_eq!(f["drift"].as_array().unwrap().len(), inputs);
        assert_eq!(f["calibration"]["bins"].as_array().unwrap().len(), 10);
        let brier = f["calibration"]["brier"].as_f64().unwrap();
        assert!((0.0..=2.0).contains(&brier), "{brier}");
    }
    assert_eq!(e["importance"].as_array().unwrap().len(), inputs + 4);
    assert_eq!(
        e["drift_profile"]["features"].as_array().unwrap().len(),
        inputs
    );
    // Deterministic for the config's seed.
    let again = trained(&repo("backtests/ml_trend.toml"));
    assert_eq!(json(&model_dir(&again).join("explain.json")), e);

    let output = quant(&["report", dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let card = dir.join("model_card.html");
    let html = std::fs::read_to_string(&card).unwrap();
    let id = json(&dir.join("model.json"))["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(html.contains(&id), "the card names the model id");
    for chart in [
        "model_training_curves",
        "model_fold_accuracy",
        "model_confusion",
        "model_importance",
        "model_reliability",
        "model_oos_equity",
    ] {
        assert!(html.contains(&format!("data-chart=\"{chart}\"")), "{chart}");
    }
    require_chromium();
    let output = quant(&[
        "report-check",
        card.to_str().unwrap(),
        "--timeout-secs",
        "60",
    ]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    assert!(out.contains("network requests  0"), "{out}");
}

#[test]
fn a_model_driven_backtest_explains_every_order_and_reports_drift() {
    let config = trained(&repo("backtests/ml_trend.toml"));
    let id = json(&model_dir(&config).join("model.json"))["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = scratch("explained-run");
    let output = backtest(&config, &out);
    assert!(output.status.success(), "{}", stderr(&output));
    let (_, orders) = csv(&out.join("orders.csv"));
    let (header, rows) = csv(&out.join("attributions.csv"));
    assert!(!orders.is_empty());
    // ml_trend only orders on a bar with a prediction, so every order is explained, in order.
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let order_ids: Vec<&str> = orders.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, order_ids);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let inputs = ["ret", "ret5", "rsi", "bb_percent_b", "bb_width", "vol", "z"];
    // Out of sample, each order is explained by the walk-forward model that predicted it: the
    // latest whose turn began before the order's bar (dates compare as text).
    let summary = json(&out.join("summary.json"));
    let turns = summary["model"]["models"].as_array().unwrap();
    assert_eq!(turns.last().unwrap()["model_ids"][0], id.as_str());
    for (r, order) in rows.iter().zip(&orders) {
        let trader = (turns.iter())
            .rfind(|t| t["trades_after"].as_str().unwrap() < order[1].as_str())
            .unwrap();
        assert_eq!(r[col("model_id")], trader["model_ids"][0].as_str().unwrap());
        let p: f64 = ["p_down", "p_flat", "p_up"]
            .iter()
            .map(|c| r[col(c)].parse::<f64>().unwrap())
            .sum();
        assert!((p - 1.0).abs() < 1e-5, "{r:?}");
        assert!(inputs.contains(&r[col("feature_1")].as_str()), "{r:?}");
    }
    assert!(out.join("attributions.parquet").exists());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<tr id=\"order-1\">") && html.contains("href=\"#order-1\""));

    // The backtest runs over the model's own training data: no input drifts.
    let (header, drift) = csv(&out.join("drift.csv"));
    assert_eq!(drift.len(), inputs.len());
    let flag = header.iter().position(|h| h == "drifted").unwrap();
    assert!(drift.iter().all(|r| r[flag] == "false"), "{drift:?}");
    assert_eq!(json(&out.join("summary.json"))["drift"]["threshold"], 0.2);

    // Ten times GOOG's volatility, in generated bars: the volatility inputs drift.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[data]\nkind = \"csv\"\npath = \"backtests/data/GOOG.csv\"",
        "[data]\nkind = \"synthetic\"\ninstruments = 1\nbars = 1500\ninterval = \"1d\"\n\
         start = \"2004-01-01\"\nmodel = \"gbm\"\nvolatility = 3.0",
    );
    assert!(text.contains("kind = \"synthetic\""));
    let shifted = config.with_file_name("shifted.toml");
    std::fs::write(&shifted, text).unwrap();
    let out = scratch("drifted-run");
    let output = quant(&[
        "backtest",
        shifted.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (_, drift) = csv(&out.join("drift.csv"));
    let vol = drift.iter().find(|r| r[1] == "vol").unwrap();
    assert_eq!(vol[flag], "true", "{drift:?}");
    assert!(
        stderr(&output).contains("model input `vol` drifted"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn plain_runs_write_no_attributions() {
    let out = scratch("plain-run");
    let output = quant(&[
        "backtest",
        "backtests/sma_crossover.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!out.join("attributions.csv").exists());
    assert!(!out.join("drift.csv").exists());
}

#[test]
fn explain_keys_are_checked_by_name() {
    let dir = scratch("explain-typo");
    let base = std::fs::read_to_string(repo("backtests/sma_crossover.toml")).unwrap();
    for (table, wanted) in [
        ("[explain]\ndrift_treshold = 0.1\n", "drift_treshold"),
        (
            "[explain]\ndrift_threshold = -1.0\n",
            "explain.drift_threshold",
        ),
    ] {
        let config = dir.join("c.toml");
        std::fs::write(&config, format!("{base}\n{table}")).unwrap();
        let output = backtest(&config, &dir);
        assert!(!output.status.success());
        assert!(stderr(&output).contains(wanted), "{}", stderr(&output));
    }
}
