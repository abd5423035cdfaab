//! `quant train` and model-driven backtests end to end: deterministic training, walk-forward
//! scores saved with the model, and clear errors for a missing model or a bad `[model]`.

use crate::configs::trained;
use crate::support::{backtest, quant, repo, scratch, stderr};

fn model_json(config: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(config).unwrap();
    let line = text.lines().find(|l| l.starts_with("model = ")).unwrap();
    let dir: String = toml::from_str::<toml::Table>(line).unwrap()["model"]
        .as_str()
        .unwrap()
        .into();
    let path = std::path::Path::new(&dir).join("model.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes the shipped `ml_trend.toml` with `from` replaced by `to` into `dir`, returns its path.
fn shipped_with(dir: &std::path::Path, from: &str, to: &str) -> std::path::PathBuf {
    let config = dir.join("ml.toml");
    let text = std::fs::read_to_string(repo("backtests/ml_trend.toml"))
        .unwrap()
        .replace(from, to);
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn training_is_deterministic_and_saves_walk_forward_scores() {
    let config = repo("backtests/ml_trend.toml");
    let (a, b) = (trained(&config), trained(&config));
    let (a, b) = (model_json(&a), model_json(&b));
    assert_eq!(
        a["model_id"], b["model_id"],
        "same config and seed, other weights"
    );
    let metrics = &a["metadata"]["metrics"];
    let folds = metrics["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 4);
    for fold in folds {
        // Test rows start after the training rows plus the embargo of `horizon` bars.
        let (train_end, test_start) = (
            fold["train_rows"][1].as_u64().unwrap(),
            fold["test_rows"][0].as_u64().unwrap(),
        );
        assert!(test_start >= train_end + 5, "{fold}");
        for who in ["model", "majority", "last_return_sign"] {
            let acc = fold[who]["accuracy"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&acc), "{who} {acc}");
        }
        assert!(fold["oos_return"].as_f64().unwrap().is_finite());
    }
    assert!(metrics["overall"]["model"]["log_loss"].as_f64().unwrap() > 0.0);
}

#[test]
fn backtest_without_a_trained_model_says_how_to_get_one() {
    let dir = scratch("missing-model");
    let config = shipped_with(
        &dir,
        "models/ml-trend-goog",
        dir.join("nowhere").to_str().unwrap(),
    );
    let output = quant(&["backtest", config.to_str().unwrap()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("strategy.params.model")
            && err.contains("quant train")
            && err.contains("line"),
        "{err}"
    );
}

#[test]
fn an_unknown_model_kind_names_the_valid_ones() {
    let dir = scratch("bad-kind");
    let config = shipped_with(&dir, "kind = \"mlp\"", "kind = \"attention\"");
    let output = quant(&["train", config.to_str().unwrap()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("attention") && err.contains("mlp") && err.contains("transformer"),
        "{err}"
    );
}

/// A three-instrument synthetic config training `per_instrument` models into `dir`.
fn multi_instrument_config(dir: &std::path::Path, training: &str) -> std::path::PathBuf {
    let config = dir.join("ml.toml");
    let model = dir.join("model");
    std::fs::write(
        &config,
        format!(
            r#"name = "ml-multi"
seed = 3
[data]
kind = "synthetic"
instruments = 3
bars = 1500
interval = "1h"
[strategy]
name = "ml_trend"
[strategy.params]
model = {model:?}
entry = 0.4
[sizing]
method = "fixed_fraction"
fraction = 0.3
[[features]]
name = "ret"
kind = "returns"
[[features]]
name = "rsi"
kind = "rsi"
period = 14
[model]
hidden = [8]
window = 8
horizon = 3
[training]
epochs = 3
folds = 2
{training}
"#
        ),
    )
    .unwrap();
    config
}

#[test]
fn fine_tuned_and_per_instrument_models_are_saved_and_traded() {
    for (training, pooled) in [
        ("fine_tune_epochs = 2", true),
        ("pretrain_pooled = false", false),
    ] {
        let dir = scratch("per-instrument");
        let config = multi_instrument_config(&dir, training);
        let output = quant(&["train", config.to_str().unwrap()]);
        assert!(output.status.success(), "{training}: {}", stderr(&output));
        let model = dir.join("model");
        assert_eq!(model.join("model.json").is_file(), pooled, "{training}");
        for name in ["SYN000", "SYN001", "SYN002"] {
            let own = model.join("instruments").join(name).join("model.json");
            let meta: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&own).unwrap()).unwrap();
            assert_eq!(meta["metadata"]["instrument"], name, "{training}");
        }
        let out = dir.join("results");
        let output = backtest(&config, &out);
        assert!(output.status.success(), "{training}: {}", stderr(&output));
        assert!(out.join("summary.json").is_file());
    }
}

#[test]
fn a_risk_model_trains_and_scales_entries() {
    let dir = scratch("risk");
    let models = format!(
        "model = {:?}\nrisk_model = {:?}",
        dir.join("trend").to_str().unwrap(),
        dir.join("risk").to_str().unwrap()
    );
    let config = shipped_with(&dir, "model = \"models/ml-trend-goog\"", &models);
    for target in ["volatility", "trend"] {
        let output = quant(&["train", config.to_str().unwrap(), "--target", target]);
        assert!(output.status.success(), "{target}: {}", stderr(&output));
    }
    let risk: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("risk").join("model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(risk["metadata"]["target"], "volatility");
    assert_eq!(risk["metadata"]["classes"][2], "high");
    let out = dir.join("results");
    let output = backtest(&config, &out);
    assert!(output.status.success(), "{}", stderr(&output));
    let orders = std::fs::read_to_string(out.join("orders.csv")).unwrap();
    assert!(
        orders.contains("auto x"),
        "no entry was scaled by predicted risk"
    );
}

/// Reads a model folder's `model.json` as JSON.
fn read_model(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap()
}

// See: issue 21, item 1.
#[test]
fn a_model_trades_only_bars_its_model_never_saw_and_in_sample_says_so() {
    let config = trained(&repo("backtests/ml_trend.toml"));
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().find(|l| l.starts_with("model = ")).unwrap();
    let model_dir = std::path::PathBuf::from(
        toml::from_str::<toml::Table>(line).unwrap()["model"]
            .as_str()
            .unwrap(),
    );
    let dates: Vec<String> = crate::support::goog()
        .bars
        .iter()
        .map(|b| b.ts.to_string())
        .collect();
    let row_of = |date: &str| dates.iter().position(|d| d == date).unwrap();
    // Every model of the folder, by id: the last bar its labels read is `horizon` (5) bars
    // after its last training row, counted on GOOG's own bars.
    let mut seen_row = std::collections::HashMap::new();
    let mut dirs: Vec<_> = (1..=4)
        .map(|k| model_dir.join("walk_forward").join(format!("fold-{k}")))
        .collect();
    dirs.push(model_dir.clone());
    for dir in &dirs {
        let m = read_model(dir);
        let last_ns = m["metadata"]["training_period"]["last_ns"]
            .as_i64()
            .unwrap();
        let last = market_data::Timestamp(last_ns).to_string();
        seen_row.insert(
            m["model_id"].as_str().unwrap().to_string(),
            row_of(&last) + 5,
        );
    }

    let out = scratch("oos").join("results");
    let output = backtest(&config, &out);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("(ml_trend, out of sample)"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let turns = summary["model"]["models"].as_array().unwrap();
    assert_eq!(turns.len(), 5, "4 folds and the final model");
    let orders = std::fs::read_to_string(out.join("orders.csv")).unwrap();
    let created: Vec<usize> = (orders.lines().skip(1))
        .map(|l| row_of(l.split(',').nth(1).unwrap()))
        .collect();
    assert!(!created.is_empty(), "the out-of-sample run never traded");
    let first_fold = seen_row[turns[0]["model_ids"][0].as_str().unwrap()];
    for row in created {
        // The model that traded the bar: the latest whose turn began before it.
        let trader = (turns.iter())
            .rfind(|t| row_of(t["trades_after"].as_str().unwrap()) < row)
            .unwrap_or_else(|| panic!("bar {row} was traded before any model's turn"));
        let id = trader["model_ids"][0].as_str().unwrap();
        assert!(
            seen_row[id] < row,
            "bar {row} ({}) was traded by {id}, whose labels read up to bar {}",
            dates[row],
            seen_row[id]
        );
        assert!(row > first_fold);
    }
    assert_eq!(
        summary["model"]["untraded_steps"].as_u64(),
        Some(first_fold as u64 + 1),
        "bars up to the first fold's last seen bar are not traded"
    );
    // Buy and hold over the bars a model could trade, from GOOG's closes.
    let closes: Vec<f64> = crate::support::goog()
        .bars
        .iter()
        .map(|b| b.close)
        .collect();
    let held = closes[closes.len() - 1] / closes[first_fold + 1] - 1.0;
    let saved = summary["model"]["buy_and_hold_out_of_sample"]
        .as_f64()
        .unwrap();
    assert!((saved - held).abs() < 1e-12, "{saved} vs {held}");

    // In sample only when asked, and then said in plain words everywhere.
    let in_sample = config.with_file_name("in_sample.toml");
    std::fs::write(
        &in_sample,
        text.replace(line, &format!("{line}\nin_sample = true")),
    )
    .unwrap();
    let out = scratch("in-sample").join("results");
    let output = backtest(&in_sample, &out);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("(ml_trend, in-sample)"), "{stdout}");
    assert!(stdout.contains("IN-SAMPLE"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["model"]["mode"], "in_sample");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("IN-SAMPLE"));
    // And it does trade bars the model was trained on.
    let orders = std::fs::read_to_string(out.join("orders.csv")).unwrap();
    assert!(
        (orders.lines().skip(1)).any(|l| row_of(l.split(',').nth(1).unwrap()) <= first_fold),
        "the in-sample run traded no training bar"
    );
}

// See: issue 21, item 7.
#[test]
fn model_json_records_its_data_sources_and_content_hashes() {
    let config = trained(&repo("backtests/ml_trend.toml"));
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().find(|l| l.starts_with("model = ")).unwrap();
    let model_dir = |text: &str| {
        let line = text.lines().find(|l| l.starts_with("model = ")).unwrap();
        std::path::PathBuf::from(
            toml::from_str::<toml::Table>(line).unwrap()["model"]
                .as_str()
                .unwrap(),
        )
    };
    let lineage = |dir: &std::path::Path| read_model(dir)["metadata"]["lineage"].clone();
    let original = model_dir(&text);
    let fold1 = original.join("walk_forward").join("fold-1");
    let (first, last) = (lineage(&fold1), lineage(&original));
    let sources = last["data_sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1);
    let source = sources[0].as_str().unwrap();
    assert!(
        source.starts_with("GOOG: ") && source.contains("GOOG.csv") && source.contains("2148 bars"),
        "{source}"
    );
    assert!(
        first["data_sources"][0]
            .as_str()
            .unwrap()
            .contains("1079 bars")
    );
    for key in ["bars_hash", "features_hash", "config_hash"] {
        assert_eq!(last[key].as_str().unwrap().len(), 16, "{key}");
    }
    assert_ne!(first["bars_hash"], last["bars_hash"]);
    assert_eq!(first["config_hash"], last["config_hash"]);

    // Row 1500's close nudged: fold 1 saw bars up to row 1078 only, the final model all.
    let dir = scratch("lineage");
    let csv = std::fs::read_to_string(repo("backtests/data/GOOG.csv")).unwrap();
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[1501].split(',').map(str::to_string).collect();
    let close: f64 = fields[4].parse().unwrap();
    fields[4] = format!("{}", close + 0.01);
    lines[1501] = fields.join(",");
    let data = dir.join("GOOG.csv");
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let moved = dir.join("model");
    let changed = text
        .replace("backtests/data/GOOG.csv", data.to_str().unwrap())
        .replace(line, &format!("model = {:?}", moved.to_str().unwrap()));
    let changed_config = dir.join("ml.toml");
    std::fs::write(&changed_config, &changed).unwrap();
    let output = quant(&["train", changed_config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (first2, last2) = (
        lineage(&moved.join("walk_forward").join("fold-1")),
        lineage(&moved),
    );
    assert_eq!(first["bars_hash"], first2["bars_hash"]);
    assert_eq!(first["features_hash"], first2["features_hash"]);
    assert_ne!(last["bars_hash"], last2["bars_hash"]);
    assert_ne!(last["features_hash"], last2["features_hash"]);
    assert_ne!(
        last["config_hash"], last2["config_hash"],
        "the data path changed"
    );
}

// See: issue 21, items 2, 3 and 6.
#[test]
fn training_scores_baselines_seeds_significance_and_calibration() {
    let dir = scratch("baselines");
    let config = shipped_with(
        &dir,
        "model = \"models/ml-trend-goog\"",
        &format!("model = {:?}", dir.join("model").to_str().unwrap()),
    );
    let config = config.to_str().unwrap();
    let output = quant(&["train", config, "--set", "training.seeds=0"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("seeds"), "{}", stderr(&output));

    let output = quant(&[
        "train",
        config,
        "--set",
        "training.seeds=2",
        "--set",
        "training.epochs=4",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for text in [
        "Out of sample, the model is",
        "Diebold-Mariano",
        "2 seeds",
        "ECE",
    ] {
        assert!(stdout.contains(text), "{text}: {stdout}");
    }
    let metrics = read_model(&dir.join("model"))["metadata"]["metrics"].clone();
    let closes: Vec<f64> = crate::support::goog()
        .bars
        .iter()
        .map(|b| b.close)
        .collect();
    let folds = metrics["folds"].as_array().unwrap();
    for fold in folds {
        // Buy and hold over the fold's test rows, from GOOG's closes.
        let (a, b) = (
            fold["test_rows"][0].as_u64().unwrap() as usize,
            fold["test_rows"][1].as_u64().unwrap() as usize,
        );
        let held = closes[b - 1] / closes[a] - 1.0;
        let saved = fold["buy_and_hold"]["return"].as_f64().unwrap();
        assert!((saved - held).abs() < 1e-12, "{saved} vs {held}");
        let logit = fold["logistic_regression"]["log_loss"].as_f64().unwrap();
        assert!(logit.is_finite() && logit > 0.0);
        let t = fold["temperature"].as_f64().unwrap();
        assert!((0.05..=20.0).contains(&t), "{t}");
    }
    // The verdict counts the folds where the model's figure beats the baseline's.
    let verdict = metrics["verdict"].as_array().unwrap();
    assert_eq!(verdict.len(), 4);
    let majority_better = (folds.iter())
        .filter(|f| {
            f["model"]["log_loss"].as_f64().unwrap() < f["majority"]["log_loss"].as_f64().unwrap()
        })
        .count();
    assert_eq!(verdict[0]["baseline"], "majority");
    assert_eq!(verdict[0]["better_folds"], majority_better);
    let held_better = (folds.iter())
        .filter(|f| {
            f["oos_return"].as_f64().unwrap() > f["buy_and_hold"]["return"].as_f64().unwrap()
        })
        .count();
    assert_eq!(verdict[3]["baseline"], "buy and hold");
    assert_eq!(verdict[3]["better_folds"], held_better);
    let p = metrics["diebold_mariano"]["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    let seeds = &metrics["seeds"];
    assert_eq!(seeds["n"], 2);
    let losses = seeds["log_loss"]["values"].as_array().unwrap();
    assert_eq!(losses.len(), 2);
    assert_eq!(losses[0], metrics["overall"]["model"]["log_loss"]);
    let (x, y) = (losses[0].as_f64().unwrap(), losses[1].as_f64().unwrap());
    let std = seeds["log_loss"]["std"].as_f64().unwrap();
    assert!((std - (x - y).abs() / 2f64.sqrt()).abs() < 1e-12);

    // The model card opens with the verdict, then the test.
    let output = quant(&["report", dir.join("model").to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let card = std::fs::read_to_string(dir.join("model").join("model_card.html")).unwrap();
    let verdict_at = card.find("Out of sample, the model is").unwrap();
    assert!(verdict_at < card.find("Diebold-Mariano test").unwrap());
    assert!(verdict_at < card.find("Model id").unwrap());

    // The risk model's baselines: persistence and HAR.
    let output = quant(&[
        "train",
        config,
        "--target",
        "volatility",
        "--set",
        "training.epochs=4",
        "--out",
        dir.join("risk").to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let metrics = read_model(&dir.join("risk"))["metadata"]["metrics"].clone();
    for fold in metrics["folds"].as_array().unwrap() {
        for key in ["persistence", "har"] {
            let acc = fold[key]["accuracy"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&acc), "{key} {acc}");
        }
    }
    let names: Vec<&str> = (metrics["verdict"].as_array().unwrap().iter())
        .map(|v| v["baseline"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["majority", "logistic regression", "persistence", "HAR"]
    );
}
