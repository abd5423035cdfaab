//! `quant strategies` and `quant init`: every strategy listed, and a starter config for each that
//! runs as written (ml_trend once trained), never overwriting a file unasked.

use crate::support::{quant, scratch, stderr};

#[test]
fn strategies_lists_every_built_in_with_its_params() {
    let output = quant(&["strategies"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for name in strategies::STRATEGY_NAMES {
        assert!(
            text.contains(&format!("{name}: ")),
            "{name} missing:\n{text}"
        );
    }
    for param in [
        "fast",
        "width",
        "entry_long",
        "trailing_stop",
        "medium_scale",
    ] {
        assert!(text.contains(param), "{param} missing:\n{text}");
    }
}

#[test]
fn init_writes_a_starter_config_that_runs() {
    let dir = scratch("init");
    for strategy in strategies::STRATEGY_NAMES {
        let name = format!("start-{strategy}");
        let made = quant(&[
            "init",
            &name,
            "--strategy",
            strategy,
            "--dir",
            dir.to_str().unwrap(),
        ]);
        assert!(made.status.success(), "{strategy}: {}", stderr(&made));
        let config = dir.join(format!("{name}.toml"));
        let out = dir.join(format!("out-{strategy}"));
        let run = quant(&[
            "backtest",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        if *strategy == "ml_trend" {
            // It names a model folder that `quant train` has not written yet.
            assert!(stderr(&run).contains("quant train"), "{}", stderr(&run));
        } else {
            assert!(run.status.success(), "{strategy}: {}", stderr(&run));
            assert!(out.join("summary.json").exists());
        }
    }
    // Never overwritten unasked; an unknown strategy or a name with a slash is refused.
    let config = dir.join("start-rules.toml");
    let before = std::fs::read(&config).unwrap();
    let again = quant(&[
        "init",
        "start-rules",
        "--strategy",
        "sma_crossover",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        !again.status.success() && stderr(&again).contains("--force"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&config).unwrap(), before);
    let unknown = quant(&[
        "init",
        "x",
        "--strategy",
        "sma_cross",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        stderr(&unknown).contains("sma_crossover"),
        "{}",
        stderr(&unknown)
    );
    let slash = quant(&["init", "../x", "--dir", dir.to_str().unwrap()]);
    assert!(!slash.status.success(), "{}", stderr(&slash));
}
