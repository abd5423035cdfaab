//! Annualisation inferred from the bars, the risk-free rate and a benchmark read from a file,
//! end to end through `quant backtest` (issue 23, items 1 and 3).

use crate::support::{assert_close, backtest, repo, scratch, stderr};
use std::path::{Path, PathBuf};

/// Writes 400 daily bars on every day of the week from 2024-01-01 (a 24/7 market such as
/// crypto): a deterministic wave on a slow rise, so returns vary in sign.
fn crypto_daily(dir: &Path) -> PathBuf {
    let mut text = String::from("date,open,high,low,close,volume\n");
    let start = 19_723; // 2024-01-01, days since 1970-01-01
    let mut prev = 100.0;
    for k in 0..400 {
        let close = 100.0 * (1.0 + 0.03 * (k as f64 * 0.7).sin() + 0.001 * k as f64);
        let (hi, lo) = (f64::max(prev, close) * 1.01, f64::min(prev, close) * 0.99);
        let date = market_data::Timestamp((start + k) * market_data::NANOS_PER_DAY);
        text.push_str(&format!("{date},{prev},{hi},{lo},{close},1000\n"));
        prev = close;
    }
    let file = dir.join("BTCUSDT.csv");
    std::fs::write(&file, text).unwrap();
    file
}

fn config(dir: &Path, name: &str, body: &str) -> PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, format!("name = \"{name}\"\n{body}")).unwrap();
    file
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// The equity column of `equity.csv`.
fn equity(out: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(out.join("equity.csv")).unwrap();
    (text.lines().skip(1))
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect()
}

fn returns(values: &[f64]) -> Vec<f64> {
    values.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn daily_bars_on_every_day_are_annualised_with_365_and_say_so() {
    let dir = scratch("crypto-365");
    let data = crypto_daily(&dir);
    let body = format!(
        "[data]\nkind = \"csv\"\npath = {data:?}\n[strategy]\nname = \"buy_and_hold\"\n\
         [broker]\ninitial_cash = 10000.0\nfractional = true\n"
    );
    let inferred = config(&dir, "inferred", &body);
    let set = config(
        &dir,
        "set",
        &format!("{body}[metrics]\nperiods_per_year = 252\n"),
    );
    let (a, b) = (dir.join("a"), dir.join("b"));
    let run = backtest(&inferred, &a);
    assert!(run.status.success(), "{}", stderr(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("annualised with 365 periods: daily bars on every day of the week"),
        "{stdout}"
    );
    let run = backtest(&set, &b);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout)
            .contains("annualised with 252 periods: set by [metrics] periods_per_year")
    );
    let (a, b) = (summary(&a), summary(&b));
    assert_eq!(a["periods_per_year"], 365.0);
    assert!(
        a["annualisation"]
            .as_str()
            .unwrap()
            .contains("every day of the week")
    );
    // Same returns, so Sharpe and volatility differ by exactly sqrt(365 / 252).
    let ratio = (365.0f64 / 252.0).sqrt();
    for key in ["sharpe", "annual_volatility"] {
        let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
        assert_close(x / y, ratio, 1e-12, key);
    }
}

#[test]
fn risk_free_rate_and_a_benchmark_file_enter_sharpe_and_alpha() {
    let dir = scratch("benchmark-file");
    // The benchmark: GOOG's own bars under another name (backtests/data/GOOG.csv, see its
    // PROVENANCE.md), so buy and hold of it is independently known from its closes.
    let spy = dir.join("SPY.csv");
    std::fs::copy(repo("backtests/data/GOOG.csv"), &spy).unwrap();
    let shipped = std::fs::read_to_string(repo("backtests/sma_crossover.toml")).unwrap();
    let base = shipped.replace(
        "path = \"backtests/data/GOOG.csv\"",
        &format!("path = {:?}", repo("backtests/data/GOOG.csv")),
    );
    let with = |output: &str| {
        format!("{base}\n[output]\nbenchmark = {output}\n[metrics]\nrisk_free = 0.04\n")
    };
    let file_cfg = dir.join("file.toml");
    std::fs::write(&file_cfg, with(&format!("{{ path = {spy:?} }}"))).unwrap();
    let named_cfg = dir.join("named.toml");
    std::fs::write(&named_cfg, with("\"GOOG\"")).unwrap();
    let (file_out, named_out) = (dir.join("file"), dir.join("named"));
    for (cfg, out) in [(&file_cfg, &file_out), (&named_cfg, &named_out)] {
        let run = backtest(cfg, out);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let s = summary(&file_out);
    assert_eq!(s["risk_free"], 0.04);
    // Independently: returns of equity.csv in excess of (1.04)^(1/252) - 1 a day.
    let r = returns(&equity(&file_out));
    let rf = 1.04f64.powf(1.0 / 252.0) - 1.0;
    let ex: Vec<f64> = r.iter().map(|x| x - rf).collect();
    let m = mean(&ex);
    let sd = (ex.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (ex.len() - 1) as f64).sqrt();
    assert_close(
        s["sharpe"].as_f64().unwrap(),
        m / sd * 252f64.sqrt(),
        1e-9,
        "sharpe",
    );
    // Alpha and beta against buy and hold of the file's closes, as empyrical's alpha_beta
    // with a risk-free rate: beta of excess returns, alpha = (1 + mean(ex - beta exb))^252 - 1.
    let closes: Vec<f64> = crate::support::goog()
        .bars
        .iter()
        .map(|b| b.close)
        .collect();
    let b: Vec<f64> = returns(&closes).iter().map(|x| x - rf).collect();
    let (mb, mx) = (mean(&b), mean(&ex));
    let cov: f64 = ex.iter().zip(&b).map(|(x, y)| (x - mx) * (y - mb)).sum();
    let var: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    let beta = cov / var;
    let excess: Vec<f64> = ex.iter().zip(&b).map(|(x, y)| x - beta * y).collect();
    let alpha = (1.0 + mean(&excess)).powf(252.0) - 1.0;
    assert_close(s["beta"].as_f64().unwrap(), beta, 1e-9, "beta");
    assert_close(s["alpha"].as_f64().unwrap(), alpha, 1e-9, "alpha");
    // The instrument form of `[output] benchmark` still works, with the same figures.
    let named = summary(&named_out);
    for key in ["alpha", "beta", "information_ratio", "tracking_error"] {
        assert_close(
            named[key].as_f64().unwrap(),
            s[key].as_f64().unwrap(),
            1e-12,
            key,
        );
    }
    // The tear sheet's figures reach summary.json (8.5 years of data: a 5-year return exists).
    let t = &s["tear_sheet"];
    for key in [
        "return_ytd",
        "return_5y",
        "best_month",
        "winning_quarters",
        "gross_leverage_max",
    ] {
        assert!(t[key].is_f64(), "{key}: {t}");
    }
    let report = std::fs::read_to_string(file_out.join("report.html")).unwrap();
    assert!(report.contains("Buy &amp; hold SPY") && report.contains("End-of-year returns"));
}

#[test]
fn a_benchmark_file_that_misses_the_run_is_refused_before_it() {
    let dir = scratch("benchmark-miss");
    let old = dir.join("OLD.csv");
    std::fs::write(
        &old,
        "date,open,high,low,close,volume\n2001-01-02,1,1.2,1,1,10\n2001-01-03,1,1.2,1,1.1,10\n",
    )
    .unwrap();
    let shipped = std::fs::read_to_string(repo("backtests/sma_crossover.toml")).unwrap();
    let cfg = dir.join("miss.toml");
    let text = shipped.replace(
        "path = \"backtests/data/GOOG.csv\"",
        &format!("path = {:?}", repo("backtests/data/GOOG.csv")),
    ) + &format!("\n[output]\nbenchmark = {{ path = {old:?} }}\n");
    std::fs::write(&cfg, text).unwrap();
    let out = dir.join("out");
    let run = backtest(&cfg, &out);
    assert!(!run.status.success());
    let err = stderr(&run);
    assert!(
        err.contains("`output.benchmark`")
            && err.contains("overlapping the run (2004-08-19 to 2013-03-01)")
            && err.contains("from 2001-01-02 to 2001-01-03 only"),
        "{err}"
    );
    assert!(!out.join("summary.json").exists());
    // A sweep (the shipped config has a [sweep] grid) refuses it too, before any job runs.
    let sweep_out = dir.join("sweep");
    let run = crate::support::quant(&[
        "sweep",
        cfg.to_str().unwrap(),
        "--out",
        sweep_out.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = stderr(&run);
    assert!(err.contains("from 2001-01-02 to 2001-01-03 only"), "{err}");
    assert!(!sweep_out.exists());
}
