//! Helpers: paths inside the repository, scratch folders, and running the binary.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Returns a path inside the repository.
pub(crate) fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Returns a fresh, empty scratch folder for one test.
///
/// Folders live under cargo's temporary folder for integration tests, one parent per test
/// process; the first call removes the parents of processes that have ended, so repeated runs
/// do not fill the disk while a failed run's files stay for inspection until the next one.
pub(crate) fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    static SWEEP: Once = Once::new();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scratch");
    SWEEP.call_once(|| remove_ended(&root));
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = root
        .join(std::process::id().to_string())
        .join(format!("{name}-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes the scratch parents under `root` whose process is no longer running (on Linux, where
/// `/proc` tells; elsewhere they are left).
fn remove_ended(root: &Path) {
    let (Ok(entries), true) = (std::fs::read_dir(root), Path::new("/proc/self").exists()) else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name();
        if !Path::new("/proc").join(&pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Runs `quant` with `args` from the repository root.
pub(crate) fn quant(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_quant"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// Runs `quant backtest CONFIG --out OUT`.
pub(crate) fn backtest(config: &Path, out: &Path) -> Output {
    quant(&[
        "backtest",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// Returns stderr as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts |a - b| <= tol * max(|b|, 1e-300).
pub(crate) fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    let scale = b.abs().max(1e-300);
    assert!(
        (a - b).abs() <= tol * scale,
        "{what}: {a} vs reference {b} (rel diff {:e})",
        (a - b).abs() / scale
    );
}

/// Writes GOOG's bars into `dir` with row 1000's prices divided by 1e8 (a decimal point shifted:
/// still a valid bar); returns the file and that row's date.
pub(crate) fn goog_with_a_shifted_bar(dir: &Path) -> (PathBuf, String) {
    let text = std::fs::read_to_string(repo("backtests/data/GOOG.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let fields: Vec<String> = lines[1000].split(',').map(str::to_string).collect();
    let shifted: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| match (i, f.parse::<f64>()) {
            (1..=4, Ok(x)) => format!("{}", x / 1e8),
            _ => f.clone(),
        })
        .collect();
    lines[1000] = shifted.join(",");
    let file = dir.join("GOOG.csv");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    (file, fields[0].clone())
}

/// Returns GOOG's daily bars (backtests/data/GOOG.csv).
pub(crate) fn goog() -> market_data::BarSeries {
    market_data::csv::read_bars(
        &repo("backtests/data/GOOG.csv"),
        market_data::InstrumentId::new("GOOG"),
        market_data::csv::OnInvalid::Error,
    )
    .unwrap()
    .0
}
