//! `quant report-check` in headless Chromium: small pages with known faults, then a real backtest
//! report. These need Debian's chromium package (`.ci/run` installs it) and fail, rather than
//! skip, without it: a skipped browser check would let a broken report through CI.

use crate::support::{quant, scratch, stderr};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Panics with the fix when no Chromium can be found, the way `quant report-check` looks for it.
pub(crate) fn require_chromium() {
    let on_path = std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p)
            .any(|dir| dir.join("chromium").is_file() || dir.join("chromium-browser").is_file())
    });
    assert!(
        on_path
            || Path::new("/usr/bin/chromium").is_file()
            || std::env::var_os("QUANT_CHROMIUM").is_some(),
        "the report-check tests need headless Chromium: install Debian's chromium package \
         (apt-get install chromium; .ci/run does this) or set QUANT_CHROMIUM"
    );
}

fn page(name: &str, body: &str) -> PathBuf {
    let path = scratch("browser").join(format!("{name}.html"));
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title></head>\n\
         <body>\n{body}\n</body></html>\n"
    );
    std::fs::write(&path, html).unwrap();
    path
}

fn check(file: &Path, extra: &[&str]) -> Output {
    require_chromium();
    let mut args = vec!["report-check", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    quant(&args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn describe(output: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", stdout(output), stderr(output))
}

#[test]
fn good_page_passes() {
    let file = page(
        "good",
        r##"<svg class="chart" data-chart="equity" width="300" height="120">
  <path d="M0 100 L100 60 L200 80 L300 10" stroke="#1f77b4" fill="none"/></svg>
<svg class="chart" data-chart="yearly" width="300" height="120">
  <rect x="20" y="30" width="40" height="90" fill="#2ca02c"/></svg>
<svg class="chart empty" data-chart="rolling_sharpe" width="300" height="120">
  <text x="10" y="60">not enough data</text></svg>"##,
    );
    let output = check(&file, &["--timeout-secs", "60"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        text.contains("2 checked, 1 empty, 0 without drawn content"),
        "{text}"
    );
    assert!(text.contains("network requests  0"), "{text}");
    assert!(text.contains(" ms (navigation timing"), "{text}");
}

#[test]
fn console_error_and_network_request_fail() {
    let file = page(
        "leaky",
        r#"<img src="http://example.invalid/x.png" alt="">
<script>console.error("x");</script>"#,
    );
    let output = check(&file, &["--timeout-secs", "60"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(text.contains("console error: x ("), "{text}");
    assert!(
        text.contains("network request: http://example.invalid/x.png"),
        "{text}"
    );
    assert!(
        stderr(&output).contains("report check failed"),
        "{}",
        describe(&output)
    );
}

#[test]
fn chart_without_drawn_content_fails() {
    let file = page(
        "blank",
        r#"<svg class="chart" data-chart="equity" width="300" height="120">
  <path d="M0 100 L300 10" stroke="black"/></svg>
<svg class="chart" data-chart="drawdown" width="300" height="120">
  <g><path d=""/><rect x="10" y="10" width="0" height="0"/></g></svg>"#,
    );
    let output = check(&file, &["--timeout-secs", "60"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        text.contains("chart without drawn content: drawdown"),
        "{text}"
    );
    assert!(!text.contains("drawn content: equity"), "{text}");
}

#[test]
fn uncaught_exception_fails() {
    let file = page("throws", "<script>null.x;</script>");
    let output = check(&file, &["--timeout-secs", "60"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        stdout(&output).contains("uncaught exception: TypeError"),
        "{}",
        describe(&output)
    );
}

/// A page that never finishes loading must end in a timeout error, not hang CI.
#[test]
fn hung_page_times_out() {
    let file = page("hangs", "<script>while (true) {}</script>");
    let started = std::time::Instant::now();
    let output = check(&file, &["--timeout-secs", "3"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        stderr(&output).contains("timed out after 3 s"),
        "{}",
        describe(&output)
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn missing_file_is_named() {
    let output = quant(&["report-check", "no/such/report.html"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot open no/such/report.html"),
        "{}",
        describe(&output)
    );
}

/// The report of a real backtest loads cleanly and screenshots to a real image.
#[test]
fn backtest_report_passes() {
    let dir = scratch("browser-report");
    let out = dir.to_str().unwrap();
    let output = quant(&["backtest", "backtests/sma_crossover.toml", "--out", out]);
    assert!(output.status.success(), "{}", describe(&output));
    let png = dir.join("report.png");
    let output = check(
        &dir.join("report.html"),
        &[
            "--screenshot",
            png.to_str().unwrap(),
            "--timeout-secs",
            "60",
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    // The zoom check ran on the equity, log equity, drawdown and price charts, and hovering at
    // the end of the equity chart showed the run's final equity as the tables print it.
    let text = stdout(&output);
    assert!(text.contains("4 linked charts, 0 failed checks"), "{text}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let last = summary["final_equity"].as_f64().unwrap();
    let whole = format!("{last:.2}");
    let (int, frac) = whole.split_once('.').unwrap();
    let mut grouped = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let tip = format!("hover at the end: 2013-03-01 | Strategy: {grouped}.{frac} |");
    assert!(text.contains(&tip), "{tip} in {text}");
    let bytes = std::fs::metadata(&png).unwrap().len();
    assert!(bytes > 10 * 1024, "screenshot is only {bytes} bytes");
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}
