//! The P&L report end to end: re-rendering from report.json, comparison, sweep and walk-forward
//! pages, and the edge cases a report must explain rather than break on, each opened in
//! headless Chromium.

use crate::support::{quant, scratch, stderr};
use std::path::Path;

fn ok(args: &[&str]) -> String {
    let output = quant(args);
    assert!(
        output.status.success(),
        "quant {args:?} failed: {}",
        stderr(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Opens a page in headless Chromium: no console error, request or empty chart.
fn browser_check(page: &Path) {
    ok(&["report-check", s(page)]);
}

/// Asserts no undefined figure leaked into a page or JSON file as NaN or infinity.
fn assert_finite_text(path: &Path) {
    let body = text(path);
    for bad in ["NaN", "inf<", ">inf", "Infinity"] {
        assert!(!body.contains(bad), "{} contains {bad}", path.display());
    }
}

#[test]
fn a_report_renders_again_from_its_json_and_runs_compare() {
    let dir = scratch("report-json");
    let (a, b) = (dir.join("sma"), dir.join("hold"));
    ok(&["backtest", "backtests/sma_crossover.toml", "--out", s(&a)]);
    ok(&["backtest", "backtests/buy_and_hold.toml", "--out", s(&b)]);
    let written = text(&a.join("report.html"));
    let stdout = ok(&["report", s(&a)]);
    assert_eq!(
        text(&a.join("report.html")),
        written,
        "re-rendering changed the page"
    );
    assert!(
        stdout.contains("Max drawdown") && stdout.contains("Buy & hold GOOG"),
        "{stdout}"
    );
    ok(&["report", s(&a), "--compare", s(&b)]);
    let comparison = a.join("comparison.html");
    assert!(text(&comparison).contains("buy-and-hold-goog"));
    browser_check(&comparison);
    for file in ["report.html", "report.json", "summary.json"] {
        assert_finite_text(&a.join(file));
    }
}

#[test]
fn sweep_and_walk_forward_pages_open_cleanly() {
    let dir = scratch("report-sweep");
    let config = dir.join("wf.toml");
    let base = text(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/backtests/sma_sweep.toml"
    )));
    std::fs::write(
        &config,
        base.replace(
            "# walk_forward = { train = 500, test = 250 }",
            "walk_forward = { train = 500, test = 250 }",
        ),
    )
    .unwrap();
    ok(&[
        "sweep",
        "backtests/sma_crossover.toml",
        "--out",
        s(&dir.join("grid")),
    ]);
    let sweep = dir.join("grid/sweep.html");
    assert!(text(&sweep).contains("data-chart=\"sweep_heatmap\""));
    browser_check(&sweep);
    ok(&["sweep", s(&config), "--out", s(&dir.join("wf"))]);
    let wf = dir.join("wf/walk_forward.html");
    assert!(text(&wf).contains("data-chart=\"walk_forward_equity\""));
    browser_check(&wf);
}

/// Writes a CSV of daily bars with the given closes (open = previous close).
fn write_bars(path: &Path, closes: &[f64]) {
    let mut csv = String::from("date,open,high,low,close,volume\n");
    let start = 1_704_067_200; // 2024-01-01
    for (i, c) in closes.iter().enumerate() {
        let open = if i == 0 { *c } else { closes[i - 1] };
        let ts = market_data::Timestamp::from_secs(start + 86_400 * i as i64);
        csv.push_str(&format!(
            "{ts},{open},{},{},{c},1000\n",
            open.max(*c),
            open.min(*c)
        ));
    }
    std::fs::write(path, csv).unwrap();
}

fn run_case(dir: &Path, name: &str, closes: &[f64], strategy: &str, extra: &str) -> String {
    let data = dir.join(format!("{name}.csv"));
    write_bars(&data, closes);
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "name = \"{name}\"\n[data]\nkind = \"csv\"\npath = \"{}\"\n[strategy]\n{strategy}\n\
             [broker]\ninitial_cash = 10_000.0\n{extra}\n[output]\ndir = \"{}\"\n",
            s(&data),
            s(dir)
        ),
    )
    .unwrap();
    let stdout = ok(&["backtest", s(&config)]);
    let out = dir.join(name).join("latest");
    for file in ["report.html", "report.json", "summary.json"] {
        assert_finite_text(&out.join(file));
    }
    browser_check(&out.join("report.html"));
    stdout
}

#[test]
fn edge_cases_render_with_an_explanation() {
    let dir = scratch("report-edges");
    let sma = "name = \"sma_crossover\"\n[strategy.params]\nfast = 3\nslow = 5";
    let hold = "name = \"buy_and_hold\"";

    // One bar: nothing can be measured.
    let out = run_case(&dir, "one_bar", &[100.0], hold, "");
    assert!(out.contains("note:"), "{out}");

    // Too few bars for the slow average: no trades at all.
    run_case(&dir, "no_trades", &[100.0, 101.0, 102.0, 101.0], sma, "");
    let page = text(&dir.join("no_trades/latest/report.html"));
    assert!(page.contains("n/a"));

    // Constant prices: equity never moves, Sharpe is undefined and shown as n/a.
    let out = run_case(&dir, "constant", &[50.0; 40], hold, "");
    assert!(out.contains("undefined"), "{out}");
    let summary: serde_json::Value =
        serde_json::from_str(&text(&dir.join("constant/latest/summary.json"))).unwrap();
    assert!(summary["sharpe"].is_null(), "{summary}");

    // A falling market, closed at the end: every trade loses.
    let falling: Vec<f64> = (0..60).map(|i| 100.0 * 0.99f64.powi(i)).collect();
    run_case(&dir, "all_losing", &falling, hold, "close_at_end = true");
    let summary: serde_json::Value =
        serde_json::from_str(&text(&dir.join("all_losing/latest/summary.json"))).unwrap();
    assert_eq!(summary["win_rate"].as_f64(), Some(0.0), "{summary}");
    assert!(summary["payoff_ratio"].is_null(), "{summary}");
}
