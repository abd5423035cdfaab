//! Sweeps and sleeves (issue 6): results do not depend on the thread count, a sharded sweep merges
//! into the unsharded table, an interrupted sweep resumes to the same table, sleeves equal the
//! sum of solo runs, and bad input names the key or shard.

use crate::support::{quant, repo, scratch, stderr};
use std::path::{Path, PathBuf};
use std::process::Output;

const SWEEP: &str = r#"name = "sweep-test"
seed = 3

[data]
kind = "csv"
path = "DATA_PATH"

[strategy]
name = "sma_crossover"
[strategy.params]
fast = 10
slow = 20

[broker]
initial_cash = 10_000.0
commission = 0.002

[output]
report = false

[sweep]
"strategy.params.fast" = [5, 10, 20]
"strategy.params.slow" = { from = 30, to = 50, step = 20 }
"broker.commission" = [0.001, 0.002]
rank_by = "sharpe"
keep = 2
"#;

/// Writes `text` (with DATA_PATH set to `data`, GOOG by default) as a config in a fresh folder.
fn config_with(text: &str, data: Option<&Path>) -> PathBuf {
    let dir = scratch("sweep-config");
    let path = dir.join("config.toml");
    let goog = repo("backtests/data/GOOG.csv");
    let data = data.unwrap_or(&goog);
    std::fs::write(&path, text.replace("DATA_PATH", data.to_str().unwrap())).unwrap();
    path
}

fn config(text: &str) -> PathBuf {
    config_with(text, None)
}

/// Runs `quant` without the batch schedulers' variables, which would pick a shard.
fn quant_clean(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_quant"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_MIN")
        .env_remove("RAYON_NUM_THREADS");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fails(output: Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    assert_eq!(output.status.code(), Some(1));
    stderr(&output)
}

fn sweep(config: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "sweep",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    ok(quant_clean(&args, &[]))
}

fn assert_mentions(err: &str, parts: &[&str]) {
    for part in parts {
        assert!(err.contains(part), "error lacks {part:?}:\n{err}");
    }
}

/// Asserts that `file` is byte-identical in two folders.
fn same_file(a: &Path, b: &Path, file: &str) {
    let (x, y) = (
        std::fs::read(a.join(file)).unwrap_or_else(|e| panic!("{}: {e}", a.join(file).display())),
        std::fs::read(b.join(file)).unwrap_or_else(|e| panic!("{}: {e}", b.join(file).display())),
    );
    assert!(
        x == y,
        "{file} differs between {} and {}",
        a.display(),
        b.display()
    );
}

fn same_tables(a: &Path, b: &Path) {
    same_file(a, b, "sweep.csv");
    same_file(a, b, "sweep.parquet");
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn one_and_two_threads_give_identical_tables_and_top_runs() {
    let cfg = config(SWEEP);
    let (one, two) = (scratch("sweep-t1"), scratch("sweep-t2"));
    let stdout = sweep(&cfg, &one, &["--threads", "1"]);
    assert_mentions(&stdout, &["12 of 12 jobs", "12 run now", "on 1 threads"]);
    sweep(&cfg, &two, &["--threads", "2"]);
    same_tables(&one, &two);
    // The winner is judged against the 12 trials, the same whatever the thread count.
    assert_mentions(
        &stdout,
        &[
            "deflated Sharpe ratio of the winner",
            "probability of backtest overfitting",
            "12870 splits",
        ],
    );
    same_file(&one, &two, "overfitting.json");
    let rows = csv_rows(&one.join("sweep.csv"));
    assert_eq!(rows.len(), 13);
    let judged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("overfitting.json")).unwrap())
            .unwrap();
    assert_eq!(judged["winner"].to_string(), rows[1][1]);
    assert_eq!(judged["trials"], 12);
    for figure in ["deflated_sharpe", "pbo"] {
        let p = judged[figure].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "{figure} {p}");
    }
    assert_eq!(
        rows[0][..5],
        [
            "rank",
            "job",
            "broker.commission",
            "strategy.params.fast",
            "strategy.params.slow"
        ]
    );
    for metric in [
        "sharpe",
        "final_equity",
        "max_drawdown",
        "trades",
        "turnover",
    ] {
        assert!(rows[0].contains(&metric.to_string()), "no {metric} column");
    }
    // Ranked best first by sharpe.
    let sharpe = rows[0].iter().position(|c| c == "sharpe").unwrap();
    let scores: Vec<f64> = rows[1..]
        .iter()
        .map(|r| r[sharpe].parse().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    for rank in [1, 2] {
        let job = &rows[rank][1];
        let dir = format!("top/{rank}-job{job}");
        for file in ["summary.json", "trades.csv", "equity.csv", "fills.parquet"] {
            same_file(&one, &two, &format!("{dir}/{file}"));
        }
    }
    assert!(!one.join("top/3-job").exists());
    // The best run's full results are those of a plain backtest of its parameters.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(one.join(format!("top/1-job{}/summary.json", rows[1][1])))
            .unwrap(),
    )
    .unwrap();
    let final_equity = rows[0].iter().position(|c| c == "final_equity").unwrap();
    assert_eq!(
        summary["final_equity"].as_f64().unwrap(),
        rows[1][final_equity].parse::<f64>().unwrap()
    );
    // The trial's per-period Sharpe ratio is the winner's annualised one de-annualised.
    let per_period =
        summary["sharpe"].as_f64().unwrap() / summary["periods_per_year"].as_f64().unwrap().sqrt();
    let trial = judged["winner_sharpe"].as_f64().unwrap();
    assert!(
        (trial - per_period).abs() < 1e-12,
        "{trial} vs {per_period}"
    );
}

#[test]
fn the_reference_parameters_reproduce_the_reference_backtest() {
    // Job (commission 0.002, fast 10, slow 30): same as `quant backtest` with those values.
    let cfg = config(SWEEP);
    let out = scratch("sweep-ref");
    sweep(&cfg, &out, &[]);
    let single = config(
        SWEEP
            .replace("slow = 20", "slow = 30")
            .split("[sweep]")
            .next()
            .unwrap(),
    );
    let solo = scratch("sweep-ref-solo");
    ok(quant(&[
        "backtest",
        single.to_str().unwrap(),
        "--out",
        solo.to_str().unwrap(),
    ]));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(solo.join("summary.json")).unwrap()).unwrap();
    let rows = csv_rows(&out.join("sweep.csv"));
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let row = rows[1..]
        .iter()
        .find(|r| {
            r[col("broker.commission")] == "0.002"
                && r[col("strategy.params.fast")] == "10"
                && r[col("strategy.params.slow")] == "30"
        })
        .unwrap();
    for metric in ["final_equity", "sharpe", "cagr", "exposure"] {
        assert_eq!(
            row[col(metric)].parse::<f64>().unwrap(),
            summary[metric].as_f64().unwrap(),
            "{metric}"
        );
    }
}

#[test]
fn three_shards_merged_equal_the_unsharded_sweep() {
    let cfg = config(SWEEP);
    let (whole, shards) = (scratch("sweep-whole"), scratch("sweep-shards"));
    sweep(&cfg, &whole, &[]);
    for k in 0..3 {
        let shard = format!("{k}/3");
        let stdout = sweep(&cfg, &shards, &["--shard", &shard]);
        assert_mentions(&stdout, &["4 of 12 jobs", &format!("(shard {k} of 3)")]);
        assert!(
            shards
                .join(format!("sweep-shard-{k}-of-3.parquet"))
                .is_file()
        );
        assert!(shards.join(format!("sweep-shard-{k}-of-3.csv")).is_file());
    }
    assert!(!shards.join("sweep.csv").exists());
    ok(quant_clean(
        &["sweep", "merge", shards.to_str().unwrap()],
        &[],
    ));
    same_tables(&whole, &shards);
}

#[test]
fn shards_from_batch_scheduler_variables() {
    let cfg = config(SWEEP);
    let (whole, shards) = (scratch("sweep-env-whole"), scratch("sweep-env-shards"));
    sweep(&cfg, &whole, &[]);
    let args = [
        "sweep",
        cfg.to_str().unwrap(),
        "--shards",
        "2",
        "--out",
        shards.to_str().unwrap(),
    ];
    // Kubernetes indexed Job for shard 0; a Slurm array numbered from 1 for shard 1.
    ok(quant_clean(&args, &[("JOB_COMPLETION_INDEX", "0")]));
    ok(quant_clean(
        &args,
        &[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "1")],
    ));
    assert!(shards.join("sweep-shard-1-of-2.parquet").is_file());
    ok(quant_clean(
        &["sweep", "merge", shards.to_str().unwrap()],
        &[],
    ));
    same_tables(&whole, &shards);
}

#[test]
fn an_interrupted_sweep_resumes_to_the_same_table() {
    let cfg = config(SWEEP);
    let (whole, resumed) = (scratch("sweep-whole"), scratch("sweep-resumed"));
    sweep(&cfg, &whole, &[]);
    sweep(&cfg, &resumed, &["--threads", "2"]);
    // Interrupt: the final table never written, the last 5 jobs lost, one entry cut short.
    for file in ["sweep.csv", "sweep.parquet"] {
        std::fs::remove_file(resumed.join(file)).unwrap();
    }
    std::fs::remove_dir_all(resumed.join("top")).unwrap();
    let journal = resumed.join("jobs.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13, "a header and 12 jobs");
    let cut = &lines[8][..lines[8].len() / 2];
    std::fs::write(&journal, lines[..8].join("\n") + "\n" + cut).unwrap();
    let stdout = sweep(&cfg, &resumed, &[]);
    assert_mentions(&stdout, &["5 run now, 7 from the journal"]);
    same_tables(&whole, &resumed);
    let best = format!(
        "top/1-job{}/summary.json",
        csv_rows(&whole.join("sweep.csv"))[1][1]
    );
    same_file(&whole, &resumed, &best);
    // A second run finds every job done.
    let stdout = sweep(&cfg, &resumed, &[]);
    assert_mentions(&stdout, &["0 run now, 12 from the journal"]);
    same_tables(&whole, &resumed);
}

#[test]
fn a_shard_run_then_the_full_sweep_reuses_the_shard_jobs() {
    let cfg = config(SWEEP);
    let (whole, partial) = (scratch("sweep-whole"), scratch("sweep-partial"));
    sweep(&cfg, &whole, &[]);
    sweep(&cfg, &partial, &["--shard", "1/3"]);
    let stdout = sweep(&cfg, &partial, &[]);
    assert_mentions(&stdout, &["8 run now, 4 from the journal"]);
    same_tables(&whole, &partial);
}

#[test]
fn a_changed_config_refuses_the_old_journal() {
    let cfg = config(SWEEP);
    let out = scratch("sweep-changed");
    sweep(&cfg, &out, &[]);
    let edit = |from: &str, to: &str| {
        let text = std::fs::read_to_string(&cfg).unwrap().replace(from, to);
        std::fs::write(&cfg, text).unwrap();
    };
    // Ranking settings change no job's figures: re-ranking reuses the journal.
    edit("rank_by = \"sharpe\"", "rank_by = \"-max_drawdown\"");
    let stdout = sweep(&cfg, &out, &[]);
    assert_mentions(
        &stdout,
        &["0 run now, 12 from the journal", "ranked by -max_drawdown"],
    );
    edit("initial_cash = 10_000.0", "initial_cash = 20_000.0");
    let err = fails(quant_clean(
        &[
            "sweep",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    ));
    assert_mentions(&err, &["jobs.jsonl", "another sweep", "config hash"]);
}

#[test]
fn random_search_samples_distinct_points_deterministically() {
    let text = SWEEP.replace("keep = 2", "keep = 0\nsamples = 5");
    let cfg = config(&text);
    let (a, b) = (scratch("sweep-rand-a"), scratch("sweep-rand-b"));
    sweep(&cfg, &a, &["--threads", "1"]);
    sweep(&cfg, &b, &["--threads", "2"]);
    same_tables(&a, &b);
    let rows = csv_rows(&a.join("sweep.csv"));
    assert_eq!(rows.len(), 6);
    let mut params: Vec<&[String]> = rows[1..].iter().map(|r| &r[2..5]).collect();
    params.sort();
    params.dedup();
    assert_eq!(params.len(), 5, "distinct points");
    assert!(!a.join("top").join("1-job0").exists());
}

#[test]
fn ranking_lower_is_better_with_a_minus() {
    let cfg = config(&SWEEP.replace("rank_by = \"sharpe\"", "rank_by = \"-annual_volatility\""));
    let out = scratch("sweep-asc");
    sweep(&cfg, &out, &[]);
    let rows = csv_rows(&out.join("sweep.csv"));
    let col = rows[0]
        .iter()
        .position(|c| c == "annual_volatility")
        .unwrap();
    let vols: Vec<f64> = rows[1..].iter().map(|r| r[col].parse().unwrap()).collect();
    assert!(vols.windows(2).all(|w| w[0] <= w[1]), "{vols:?}");
}

#[test]
fn walk_forward_stitches_out_of_sample_windows() {
    let text = SWEEP.replace(
        "keep = 2",
        "keep = 2\nwalk_forward = { train = 500, test = 250 }",
    );
    let cfg = config(&text);
    let (a, b) = (scratch("sweep-wf-a"), scratch("sweep-wf-b"));
    let stdout = sweep(&cfg, &a, &["--threads", "1"]);
    assert_mentions(
        &stdout,
        &["7 windows", "out of sample, stitched", "in sample"],
    );
    sweep(&cfg, &b, &["--threads", "2"]);
    for file in [
        "walk_forward.csv",
        "walk_forward.parquet",
        "walk_forward_equity.csv",
    ] {
        same_file(&a, &b, file);
    }
    let windows = csv_rows(&a.join("walk_forward.csv"));
    assert_eq!(windows.len(), 8);
    assert!(windows[0].contains(&"in_sample_sharpe".to_string()));
    assert!(windows[0].contains(&"out_of_sample_total_return".to_string()));
    // Every bar after the first training window is out of sample once: 2148 - 500.
    let equity = csv_rows(&a.join("walk_forward_equity.csv"));
    assert_eq!(equity.len() - 1, 2148 - 500);
}

/// GOOG as instrument A, and from its 400th row on, at half the price, as instrument B.
fn two_instruments() -> PathBuf {
    let dir = scratch("sleeves-data");
    let text = std::fs::read_to_string(repo("backtests/data/GOOG.csv")).unwrap();
    std::fs::write(dir.join("A.csv"), &text).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut b = vec![header.to_string()];
    for line in lines.skip(400) {
        let f: Vec<&str> = line.split(',').collect();
        let half = |s: &str| (s.parse::<f64>().unwrap() / 2.0).to_string();
        b.push(format!(
            "{},{},{},{},{},{}",
            f[0],
            half(f[1]),
            half(f[2]),
            half(f[3]),
            half(f[4]),
            f[5]
        ));
    }
    std::fs::write(dir.join("B.csv"), b.join("\n") + "\n").unwrap();
    dir
}

const SLEEVES: &str = r#"name = "sleeves"

[data]
kind = "csv"
path = "DATA_PATH"

[strategy]
name = "sma_crossover"
[strategy.params]
fast = 10
slow = 20

[broker]
initial_cash = 10_000.0
commission = 0.002

[portfolio]
mode = "sleeves"
weights = { A = 3, B = 1 }
"#;

fn backtest(cfg: &Path, threads: &str) -> PathBuf {
    let out = scratch("sleeves-out");
    ok(quant_clean(
        &[
            "backtest",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--threads",
            threads,
        ],
        &[],
    ));
    out
}

/// Returns (timestamp, equity, cash) rows of an equity.csv.
fn curve(dir: &Path) -> Vec<(String, f64, f64)> {
    csv_rows(&dir.join("equity.csv"))[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap(), r[2].parse().unwrap()))
        .collect()
}

/// Rows of `file` for `instrument`, without the columns named in `drop`.
fn rows_of(dir: &Path, file: &str, instrument: &str, drop: &[&str]) -> Vec<Vec<String>> {
    let rows = csv_rows(&dir.join(file));
    let keep: Vec<usize> = (0..rows[0].len())
        .filter(|i| !drop.contains(&rows[0][*i].as_str()))
        .collect();
    let inst = rows[0].iter().position(|c| c == "instrument").unwrap();
    rows[1..]
        .iter()
        .filter(|r| r[inst] == instrument)
        .map(|r| keep.iter().map(|i| r[*i].clone()).collect())
        .collect()
}

#[test]
fn sleeves_equal_the_sum_of_solo_runs_with_their_capital_share() {
    let data = two_instruments();
    let both = config_with(SLEEVES, Some(&data));
    let sleeves = backtest(&both, "2");
    // Same on one thread.
    let serial = backtest(&both, "1");
    for file in [
        "equity.csv",
        "trades.csv",
        "fills.csv",
        "orders.csv",
        "summary.json",
    ] {
        same_file(&sleeves, &serial, file);
    }
    let solo = |name: &str, cash: &str| {
        let text = SLEEVES
            .replace("initial_cash = 10_000.0", &format!("initial_cash = {cash}"))
            .replace(
                "[portfolio]\nmode = \"sleeves\"\nweights = { A = 3, B = 1 }\n",
                "",
            );
        backtest(&config_with(&text, Some(&data.join(name))), "1")
    };
    let (a, b) = (solo("A.csv", "7500.0"), solo("B.csv", "2500.0"));
    let (ca, cb, cs) = (curve(&a), curve(&b), curve(&sleeves));
    assert_eq!(cs.len(), ca.len(), "B's stamps are a subset of A's");
    let value = |c: &[(String, f64, f64)], t: &str, initial: f64| {
        c.iter()
            .take_while(|r| r.0.as_str() <= t)
            .last()
            .map_or((initial, initial), |r| (r.1, r.2))
    };
    for (t, equity, cash) in &cs {
        let (ea, ka) = value(&ca, t, 7_500.0);
        let (eb, kb) = value(&cb, t, 2_500.0);
        assert_eq!(*equity, ea + eb, "equity at {t}");
        assert_eq!(*cash, ka + kb, "cash at {t}");
    }
    for (dir, name) in [(&a, "A"), (&b, "B")] {
        assert_eq!(
            rows_of(&sleeves, "trades.csv", name, &[]),
            rows_of(dir, "trades.csv", name, &[]),
            "{name} trades"
        );
        assert_eq!(
            rows_of(&sleeves, "fills.csv", name, &["order_id"]),
            rows_of(dir, "fills.csv", name, &["order_id"]),
            "{name} fills"
        );
        assert_eq!(
            rows_of(&sleeves, "orders.csv", name, &["order_id"]),
            rows_of(dir, "orders.csv", name, &["order_id"]),
            "{name} orders"
        );
    }
    let read = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap()
    };
    let (s, sa, sb) = (read(&sleeves), read(&a), read(&b));
    assert_eq!(
        s["trades"].as_u64().unwrap(),
        sa["trades"].as_u64().unwrap() + sb["trades"].as_u64().unwrap()
    );
    assert_eq!(s["initial_cash"].as_f64(), Some(10_000.0));
    let sleeves_json = s["sleeves"].as_array().unwrap();
    assert_eq!(sleeves_json.len(), 2);
    assert_eq!(sleeves_json[0]["weight"].as_f64(), Some(0.75));
    assert_eq!(sleeves_json[1]["initial_cash"].as_f64(), Some(2_500.0));
    assert_eq!(sleeves_json[1]["final_equity"], sb["final_equity"]);
    // Order ids are unique and 1..=n.
    let ids: Vec<u64> = csv_rows(&sleeves.join("orders.csv"))[1..]
        .iter()
        .map(|r| r[0].parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
}

#[test]
fn one_sleeve_equals_the_shared_run() {
    let shared = config(&SLEEVES.replace(
        "[portfolio]\nmode = \"sleeves\"\nweights = { A = 3, B = 1 }\n",
        "",
    ));
    let one = config(&SLEEVES.replace("weights = { A = 3, B = 1 }\n", ""));
    let (x, y) = (backtest(&shared, "1"), backtest(&one, "1"));
    for file in ["equity.csv", "trades.csv", "fills.csv", "orders.csv"] {
        same_file(&x, &y, file);
    }
    let read = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap()
    };
    let (sx, sy) = (read(&x), read(&y));
    for key in [
        "final_equity",
        "exposure",
        "sharpe",
        "turnover",
        "instruments",
    ] {
        assert_eq!(sx[key], sy[key], "{key}");
    }
}

#[test]
fn a_sleeves_sweep_runs() {
    let data = two_instruments();
    let text = SLEEVES.to_string() + "\n[sweep]\n\"strategy.params.fast\" = [5, 10]\nkeep = 1\n";
    let cfg = config_with(&text, Some(&data));
    let out = scratch("sweep-sleeves");
    sweep(&cfg, &out, &[]);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::fs::read_dir(out.join("top"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path()
                .join("summary.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["sleeves"].as_array().unwrap().len(), 2);
}

fn sweep_fails(text: &str, extra: &[&str]) -> String {
    let cfg = config(text);
    let out = scratch("sweep-bad");
    let mut args = vec![
        "sweep",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    fails(quant_clean(&args, &[]))
}

#[test]
fn an_unknown_sweep_key_names_it_and_its_line() {
    let err = sweep_fails(
        &SWEEP.replace(
            "\"strategy.params.fast\" = [",
            "\"strategy.params.fsat\" = [",
        ),
        &[],
    );
    assert_mentions(
        &err,
        &["`strategy.params.fsat`", "line 22", "unknown field `fsat`"],
    );
    let err = sweep_fails(
        &SWEEP.replace("\"broker.commission\"", "\"broker.comission\""),
        &[],
    );
    assert_mentions(&err, &["`broker.comission`", "line 24"]);
}

#[test]
fn an_empty_grid_is_an_error() {
    let err = sweep_fails(&SWEEP.replace("[5, 10, 20]", "[]"), &[]);
    assert_mentions(&err, &["`strategy.params.fast`", "line 22", "empty list"]);
    let err = sweep_fails(
        &SWEEP.replace("from = 30, to = 50", "from = 50, to = 30"),
        &[],
    );
    assert_mentions(
        &err,
        &[
            "`strategy.params.slow`",
            "line 23",
            "from = 50 > to = 30",
            "empty",
        ],
    );
}

#[test]
fn bad_sweep_settings_name_the_key() {
    let err = sweep_fails(
        &SWEEP.replace("\"broker.commission\"", "\"data.path\""),
        &[],
    );
    assert_mentions(&err, &["`data.path`", "cannot be swept"]);
    let err = sweep_fails(
        &SWEEP.replace("rank_by = \"sharpe\"", "rank_by = \"shrpe\""),
        &[],
    );
    assert_mentions(
        &err,
        &[
            "sweep.rank_by",
            "line 25",
            "shrpe",
            "sharpe",
            "max_drawdown",
        ],
    );
    let err = sweep_fails(&SWEEP.replace("[5, 10, 20]", "5"), &[]);
    assert_mentions(
        &err,
        &["`strategy.params.fast`", "a list of values or a range"],
    );
    let err = sweep_fails(&SWEEP.replace("[5, 10, 20]", "[5.5]"), &[]);
    assert_mentions(&err, &["`strategy.params.fast`", "line 22", "5.5"]);
    let err = sweep_fails(SWEEP.split("[sweep]").next().unwrap(), &[]);
    assert_mentions(&err, &["no [sweep] table"]);
}

#[test]
fn an_invalid_combination_names_the_job_and_key() {
    let err = sweep_fails(
        &SWEEP.replace("{ from = 30, to = 50, step = 20 }", "[15, 30]"),
        &[],
    );
    assert_mentions(
        &err,
        &[
            "sweep job 4 (broker.commission = 0.001, strategy.params.fast = 20",
            "strategy.params.slow = 15",
            "`strategy.params.fast`",
            "fewer bars than slow (15)",
        ],
    );
}

#[test]
fn bad_shards_are_clear_errors() {
    let err = sweep_fails(SWEEP, &["--shard", "3/3"]);
    assert_mentions(
        &err,
        &["--shard 3/3", "shard index 3 is out of range for 3 shards"],
    );
    let err = sweep_fails(SWEEP, &["--shard", "1-3"]);
    assert_mentions(&err, &["--shard 1-3", "expected K/N"]);
    let err = sweep_fails(SWEEP, &["--shards", "3"]);
    assert_mentions(
        &err,
        &["--shards 3", "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"],
    );
    let cfg = config(SWEEP);
    let out = scratch("sweep-bad-env");
    let err = fails(quant_clean(
        &[
            "sweep",
            cfg.to_str().unwrap(),
            "--shards",
            "3",
            "--out",
            out.to_str().unwrap(),
        ],
        &[("JOB_COMPLETION_INDEX", "5")],
    ));
    assert_mentions(
        &err,
        &["JOB_COMPLETION_INDEX = 5", "out of range for 3 shards"],
    );
}

#[test]
fn merge_checks_that_every_shard_is_there_and_of_one_sweep() {
    let cfg = config(SWEEP);
    let dir = scratch("sweep-merge-missing");
    sweep(&cfg, &dir, &["--shard", "0/3"]);
    sweep(&cfg, &dir, &["--shard", "1/3"]);
    let err = fails(quant_clean(&["sweep", "merge", dir.to_str().unwrap()], &[]));
    assert_mentions(&err, &["shard 2 of 3 is missing", "--shard 2/3"]);
    // A shard of another sweep, copied in.
    let other = config(&SWEEP.replace("[5, 10, 20]", "[5, 10, 15]"));
    let elsewhere = scratch("sweep-merge-other");
    sweep(&other, &elsewhere, &["--shard", "2/3"]);
    for ext in ["json", "parquet"] {
        let name = format!("sweep-shard-2-of-3.{ext}");
        std::fs::copy(elsewhere.join(&name), dir.join(&name)).unwrap();
    }
    let err = fails(quant_clean(&["sweep", "merge", dir.to_str().unwrap()], &[]));
    assert_mentions(
        &err,
        &["sweep-shard-2-of-3.json", "different sweeps", "config hash"],
    );
    let empty = scratch("sweep-merge-empty");
    let err = fails(quant_clean(
        &["sweep", "merge", empty.to_str().unwrap()],
        &[],
    ));
    assert_mentions(&err, &["no shards"]);
}

#[test]
fn bad_weights_name_the_key() {
    let data = two_instruments();
    let cfg = config_with(
        &SLEEVES.replace("A = 3, B = 1", "A = 3, C = 1"),
        Some(&data),
    );
    let err = fails(quant_clean(
        &[
            "backtest",
            cfg.to_str().unwrap(),
            "--out",
            scratch("w").to_str().unwrap(),
        ],
        &[],
    ));
    assert_mentions(&err, &["portfolio.weights.C", "line 19", "(A, B)"]);
    let cfg = config_with(
        &SLEEVES.replace("A = 3, B = 1", "A = 3, B = -1"),
        Some(&data),
    );
    let err = fails(quant_clean(
        &[
            "backtest",
            cfg.to_str().unwrap(),
            "--out",
            scratch("w").to_str().unwrap(),
        ],
        &[],
    ));
    assert_mentions(&err, &["portfolio.weights.B", "line 19", "positive", "-1"]);
    let cfg = config_with(&SLEEVES.replace("A = 3, B = 1", "A = 3"), Some(&data));
    let err = fails(quant_clean(
        &[
            "backtest",
            cfg.to_str().unwrap(),
            "--out",
            scratch("w").to_str().unwrap(),
        ],
        &[],
    ));
    assert_mentions(&err, &["portfolio.weights", "B has none"]);
    let cfg = config_with(
        &SLEEVES.replace("mode = \"sleeves\"", "mode = \"shared\""),
        Some(&data),
    );
    let err = fails(quant_clean(
        &[
            "backtest",
            cfg.to_str().unwrap(),
            "--out",
            scratch("w").to_str().unwrap(),
        ],
        &[],
    ));
    assert_mentions(&err, &["portfolio.weights", "line 19", "sleeves"]);
}
