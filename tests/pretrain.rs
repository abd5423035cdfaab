//! Pre-training on a universe and fine-tuning a target (issue 21, items 8-10), end to end: a
//! universe of related instruments on other calendars and of other lengths is pre-trained with
//! `quant train --pretrain`; a target with a short history fine-tuned from it (`init_from`)
//! beats the same target trained from scratch out of sample; a pre-trained model with other
//! inputs, or a folder without one, is refused naming `init_from`.

use crate::support::{quant, scratch, stderr};
use std::path::{Path, PathBuf};

/// Writes `bars` daily bars from `start` (skipping Saturdays and Sundays when `weekdays`) of the
/// planted process: each bar's return has the sign of the return four bars earlier with
/// probability 2/3 (else the other), and a size of 0.2% to 1.2%. A window of 8 returns holds
/// the sign that matters; nothing else predicts the next bar, so the Bayes rate of its
/// direction is 2/3.
fn planted_csv(path: &Path, bars: usize, start: (i32, u32, u32), weekdays: bool, seed: u64) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut day = chrono::NaiveDate::from_ymd_opt(start.0, start.1, start.2).unwrap();
    let mut signs: Vec<f64> = Vec::with_capacity(bars);
    let mut close = 100.0;
    let mut text = String::from("date,open,high,low,close,volume\n");
    for t in 0..bars {
        while weekdays && chrono::Datelike::weekday(&day).number_from_monday() > 5 {
            day = day.succ_opt().unwrap();
        }
        let sign = if t < 4 {
            if uniform() < 0.5 { 1.0 } else { -1.0 }
        } else if uniform() < 2.0 / 3.0 {
            signs[t - 4]
        } else {
            -signs[t - 4]
        };
        signs.push(sign);
        let open = close;
        close *= 1.0 + sign * (0.002 + 0.01 * uniform());
        let (high, low) = (open.max(close) * 1.001, open.min(close) * 0.999);
        text.push_str(&format!("{day},{open},{high},{low},{close},1000\n"));
        day = day.succ_opt().unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// A config over `data` with the small model every test here uses; `training` adds keys.
fn config(dir: &Path, name: &str, data: &Path, window: usize, training: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
seed = 1
[data]
kind = "csv"
path = {data:?}
[[features]]
name = "ret"
kind = "returns"
[model]
hidden = [8]
dropout = 0.0
window = {window}
horizon = 1
threshold = 0.003
[training]
epochs = 12
batch = 64
learning_rate = 0.005
patience = 4
seed = 5
{training}
"#
        ),
    )
    .unwrap();
    path
}

fn train(args: &[&str]) -> String {
    let mut all = vec!["train"];
    all.extend_from_slice(args);
    let output = quant(&all);
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The pooled out-of-sample accuracy and log loss of every walk-forward test fold.
fn oos(model: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(model.join("model.json")).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    let m = &meta["metadata"]["metrics"]["overall"]["model"];
    (
        m["accuracy"].as_f64().unwrap(),
        m["log_loss"].as_f64().unwrap(),
    )
}

#[test]
fn a_short_target_fine_tuned_from_a_related_universe_beats_training_from_scratch() {
    let dir = scratch("pretrain");
    let universe = dir.join("universe");
    std::fs::create_dir_all(&universe).unwrap();
    // Three related instruments: every calendar day, weekdays only, every calendar day; other
    // starts and lengths.
    planted_csv(&universe.join("AAA.csv"), 1500, (2015, 1, 1), false, 1);
    planted_csv(&universe.join("BBB.csv"), 1900, (2012, 1, 2), true, 2);
    planted_csv(&universe.join("CCC.csv"), 1100, (2018, 6, 1), false, 3);
    let pre = dir.join("pre");
    let u = config(&dir, "universe", &universe, 8, "");
    let stdout = train(&[
        u.to_str().unwrap(),
        "--pretrain",
        "--out",
        pre.to_str().unwrap(),
    ]);
    eprintln!("{stdout}");
    for name in ["AAA", "BBB", "CCC", "pre-trained model"] {
        assert!(stdout.contains(name), "{name}: {stdout}");
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pre.join("model.json")).unwrap()).unwrap();
    let rows = meta["metadata"]["metrics"]["pretrained"]["instruments"]
        .as_array()
        .unwrap();
    let bars: Vec<u64> = rows.iter().map(|r| r["bars"].as_u64().unwrap()).collect();
    assert_eq!(bars, [1500, 1900, 1100], "each instrument on its own bars");

    // The target: 600 weekday bars, two folds of about 200 test bars after 200 training bars.
    let target_csv = dir.join("TGT.csv");
    planted_csv(&target_csv, 600, (2020, 1, 6), true, 9);
    let split = "folds = 2\ntrain_bars = 200\n";
    let scratch_model = dir.join("scratch");
    let c = config(&dir, "scratch", &target_csv, 8, split);
    train(&[
        c.to_str().unwrap(),
        "--out",
        scratch_model.to_str().unwrap(),
    ]);
    let tuned_model = dir.join("tuned");
    let init = format!("{split}init_from = {:?}\n", pre.to_str().unwrap());
    let c = config(&dir, "tuned", &target_csv, 8, &init);
    train(&[c.to_str().unwrap(), "--out", tuned_model.to_str().unwrap()]);
    let ((acc_s, loss_s), (acc_t, loss_t)) = (oos(&scratch_model), oos(&tuned_model));
    eprintln!(
        "target out of sample: from scratch accuracy {acc_s:.3} log loss {loss_s:.3}; \
         fine-tuned from the universe accuracy {acc_t:.3} log loss {loss_t:.3}"
    );
    assert!(acc_t > acc_s + 0.03, "{acc_t} vs {acc_s}");
    assert!(loss_t < loss_s, "{loss_t} vs {loss_s}");

    // Bad input: a pre-trained model with another window, and a folder without a model.
    let c = config(&dir, "other", &target_csv, 6, &init);
    let output = quant(&[
        "train",
        c.to_str().unwrap(),
        "--out",
        dir.join("x").to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert!(!output.status.success());
    assert!(
        err.contains("`init_from`") && err.contains("architecture"),
        "{err}"
    );
    let missing = format!(
        "{split}init_from = {:?}\n",
        dir.join("none").to_str().unwrap()
    );
    let c = config(&dir, "missing", &target_csv, 8, &missing);
    let output = quant(&[
        "train",
        c.to_str().unwrap(),
        "--out",
        dir.join("y").to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert!(!output.status.success());
    assert!(
        err.contains("`training.init_from`") && err.contains("--pretrain"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Per-instrument models fine-tuned from a pooled one carry their own figures: each
/// `instruments/<NAME>/model.json` holds that instrument's fine-tune curves and its scores on its
/// own test rows (which add up to the pooled model's test rows), and its model card shows them.
#[test]
fn each_fine_tuned_instrument_keeps_its_own_curves_and_out_of_sample_scores() {
    let dir = scratch("own-scores");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (name, seed) in [("AAA", 11), ("BBB", 12)] {
        planted_csv(
            &data.join(format!("{name}.csv")),
            700,
            (2020, 1, 6),
            true,
            seed,
        );
    }
    let split = "folds = 2\ntrain_bars = 300\nfine_tune_epochs = 3\n";
    let c = config(&dir, "own", &data, 8, split);
    let out = dir.join("model");
    train(&[c.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let read = |path: PathBuf| -> serde_json::Value {
        let text = std::fs::read_to_string(path.join("model.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["metadata"]["metrics"].clone()
    };
    let pooled = read(out.clone());
    let mut test_samples = [0u64; 2];
    for name in ["AAA", "BBB"] {
        let own = read(out.join("instruments").join(name));
        let folds = own["folds"].as_array().unwrap();
        assert_eq!(folds.len(), 2, "{name}");
        for (k, f) in folds.iter().enumerate() {
            test_samples[k] += f["model"]["n"].as_u64().unwrap();
            // Fine-tuning runs at most 3 epochs; its curve is its own, not the pooled run's.
            let epochs = f["curve"]["valid_loss"].as_array().unwrap().len();
            assert!((1..=3).contains(&epochs), "{name} fold {k}: {epochs}");
            assert!(f["majority"]["accuracy"].is_number());
        }
        let last = &own["final_model"];
        assert_eq!(
            last["curve"]["train_loss"].as_array().unwrap().len() as u64,
            last["epochs_run"].as_u64().unwrap()
        );
        assert!(last["epochs_run"].as_u64().unwrap() <= 3);
        assert_eq!(
            own["pooled"]["folds"], pooled["folds"],
            "pooled figures kept"
        );
        let output = quant(&[
            "report",
            out.join("instruments").join(name).to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    // Every pooled test sample is one instrument's.
    for (k, n) in test_samples.iter().enumerate() {
        assert_eq!(
            Some(*n),
            pooled["folds"][k]["model"]["n"].as_u64(),
            "fold {k}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sweep over `training.*` keys trains a model per job (walk-forward folds and final model,
/// as `quant train`) and backtests it out of sample: two seeds give two models and two results,
/// each equal to `quant train` then `quant backtest` of that seed.
#[test]
fn a_sweep_over_training_keys_trains_and_trades_a_model_per_job() {
    let dir = scratch("retrain-sweep");
    let data = dir.join("TGT.csv");
    planted_csv(&data, 600, (2020, 1, 6), true, 9);
    let model = dir.join("base-model");
    let rest = format!(
        "folds = 2\ntrain_bars = 200\n[strategy]\nname = \"ml_trend\"\n[strategy.params]\n\
         model = {:?}\nentry = 0.4\n[output]\nreport = false\n[sweep]\n\"training.seed\" = [5, 6]\n\
         keep = 1\n",
        model.to_str().unwrap()
    );
    let c = config(&dir, "sweep", &data, 8, &rest);
    let out = dir.join("out");
    let output = quant(&["sweep", c.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let id = |path: PathBuf| -> String {
        let text = std::fs::read_to_string(path.join("model.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["model_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (id(out.join("models/job-0")), id(out.join("models/job-1")));
    assert_ne!(a, b, "two seeds, one model");
    let table = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split(',').collect()).collect();
    let column = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
    let (job, seed, equity) = (
        column("job"),
        column("training.seed"),
        column("final_equity"),
    );
    assert_eq!(rows.len(), 3);
    assert_ne!(rows[1][equity], rows[2][equity], "identical runs: {table}");
    // Job 1 (seed 6), trained and backtested by hand.
    let by_hand = dir.join("seed6");
    let set = ["--set", "training.seed=6"];
    let output = quant(
        &[
            &[
                "train",
                c.to_str().unwrap(),
                "--out",
                by_hand.to_str().unwrap(),
            ][..],
            &set[..],
        ]
        .concat(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(id(by_hand.clone()), b, "the sweep's model is quant train's");
    let results = dir.join("results");
    let model_set = format!("strategy.params.model={:?}", by_hand.to_str().unwrap());
    let output = quant(&[
        "backtest",
        c.to_str().unwrap(),
        "--out",
        results.to_str().unwrap(),
        "--set",
        &model_set,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("summary.json")).unwrap())
            .unwrap();
    let row = rows.iter().find(|r| r[job] == "1").unwrap();
    assert_eq!(row[seed], "6");
    assert_eq!(
        summary["final_equity"].as_f64().unwrap(),
        row[equity].parse::<f64>().unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
