//! `quant features`: the written columns, values checked against the `ta` library's reference,
//! and pipeline config errors located by line.

use crate::support::{assert_close, quant, repo, scratch, stderr};

fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    (
        header,
        lines
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect(),
    )
}

#[test]
fn features_csv_matches_ta_on_goog() {
    let out = scratch("features").join("f.csv");
    let output = quant(&[
        "features",
        "backtests/features_goog.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (header, rows) = read_csv(&out);
    assert_eq!(&header[..3], ["timestamp", "instrument", "rsi"]);
    for column in [
        "macd_signal",
        "bb_upper",
        "bb_lower",
        "atr",
        "sma_fast",
        "sma_slow",
        "ret_z",
    ] {
        assert!(
            header.contains(&column.to_string()),
            "missing {column} in {header:?}"
        );
    }
    assert_eq!(rows.len(), 2148);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (reference_header, reference) =
        read_csv(&repo("tests/fixtures/reference/indicators_goog.csv"));
    let rcol = |name: &str| reference_header.iter().position(|h| h == name).unwrap();
    for (ours, theirs) in [
        ("rsi", "rsi14"),
        ("macd_macd", "macd"),
        ("macd_signal", "macd_signal"),
        ("bb_upper", "bb_upper"),
        ("bb_mid", "bb_mid"),
        ("atr", "atr14"),
    ] {
        let mut compared = 0;
        for (row, reference_row) in rows.iter().zip(&reference) {
            assert_eq!(row[0], reference_row[0], "dates align");
            let (a, b) = (&row[col(ours)], &reference_row[rcol(theirs)]);
            if a.is_empty() {
                continue; // not ready yet (ta prints 0.0 for an unready ATR)
            }
            assert_close(
                a.parse().unwrap(),
                b.parse().unwrap(),
                1e-9,
                &format!("{ours} on {}", row[0]),
            );
            compared += 1;
        }
        assert!(compared > 2100, "{ours}: only {compared} values compared");
    }
    // The crossover's own averages: the mean of the last 10 closes, including the bar itself.
    let closes: Vec<f64> = reference
        .iter()
        .map(|r| r[rcol("close")].parse().unwrap())
        .collect();
    for t in [9, 500, 2147] {
        let mean = closes[t - 9..=t].iter().sum::<f64>() / 10.0;
        assert_close(
            rows[t][col("sma_fast")].parse().unwrap(),
            mean,
            1e-12,
            "sma_fast",
        );
    }
    assert!(
        rows[8][col("sma_fast")].is_empty(),
        "not ready before 10 bars"
    );
}

#[test]
fn parquet_is_written_by_extension() {
    let out = scratch("features").join("f.parquet");
    let output = quant(&[
        "features",
        "backtests/features_goog.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"PAR1");
}

#[test]
fn a_bad_feature_names_its_line_and_key() {
    let dir = scratch("features-bad");
    let text = std::fs::read_to_string(repo("backtests/features_goog.toml")).unwrap();
    let line_of = |needle: &str, text: &str| text.lines().position(|l| l == needle).unwrap() + 1;
    for (from, to, key) in [
        (
            "period = 14\n\n[[features]]\nname = \"rsi_smooth\"",
            "period = 0\n\n[[features]]\nname = \"rsi_smooth\"",
            "period = 0",
        ),
        ("input = \"rsi\"", "input = \"rsx\"", "input = \"rsx\""),
        ("kind = \"obv\"", "kind = \"obvv\"", "kind = \"obvv\""),
    ] {
        let broken = text.replacen(from, to, 1);
        let config = dir.join("c.toml");
        std::fs::write(&config, &broken).unwrap();
        let output = quant(&[
            "features",
            config.to_str().unwrap(),
            "--out",
            dir.join("x.csv").to_str().unwrap(),
        ]);
        assert!(!output.status.success());
        let err = stderr(&output);
        let line = line_of(key, &broken);
        assert!(err.contains(&format!("line {line}")), "{key}: {err}");
        assert!(err.contains("feature"), "{err}");
    }
}

#[test]
fn a_config_without_a_strategy_computes_its_features() {
    let dir = scratch("no-strategy");
    let config = dir.join("features.toml");
    let goog = repo("backtests/data/GOOG.csv");
    std::fs::write(
        &config,
        format!(
            "name = \"goog-features\"\n\n[data]\nkind = \"csv\"\npath = {:?}\n\n[[features]]\n\
             name = \"sma\"\nkind = \"sma\"\nperiod = 10\n",
            goog.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = dir.join("f.csv");
    let (config, out_text) = (config.to_str().unwrap(), out.to_str().unwrap());
    let output = quant(&["features", config, "--out", out_text]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["timestamp", "instrument", "sma"]);
    assert_eq!(rows.len(), 2148);
    assert!(rows[8][2].is_empty() && !rows[9][2].is_empty());
    // `--set` reaches the pipeline too.
    let output = quant(&[
        "features",
        config,
        "--out",
        out_text,
        "--set",
        "features.0.period=3",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (_, rows) = read_csv(&out);
    assert!(rows[1][2].is_empty() && !rows[2][2].is_empty());
    // Commands that run a strategy refuse it, saying so, before reading any data.
    for command in ["backtest", "sweep"] {
        let output = quant(&[command, config]);
        assert_eq!(output.status.code(), Some(1), "{command}");
        let err = stderr(&output);
        assert!(err.contains("no [strategy] table"), "{command}: {err}");
    }
}
