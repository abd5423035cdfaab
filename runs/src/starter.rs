//! `quant strategies` lists every strategy a config can name, with its parameters; `quant init`
//! writes a commented starter config for one of them.

use crate::config::LoadedConfig;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use strategies::{StrategyInfo, catalog};

/// Prints every strategy (built-in, then registered) with its parameters: name, type, default
/// (`-` for none) and what it does.
pub fn list() {
    for info in catalog() {
        println!("{}: {}", info.name, info.about);
        for p in info.params {
            let default = p.default.unwrap_or("-");
            println!("    {:<14} {:<20} {:<12} {}", p.name, p.ty, default, p.doc);
        }
    }
}

/// `quant init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The config's name: it writes `<dir>/<name>.toml`, and its results go to `results/<name>/`.
    name: String,
    /// The strategy to start from (`quant strategies` lists them).
    #[arg(long, default_value = "sma_crossover")]
    strategy: String,
    /// The bar file it reads.
    #[arg(long, default_value = "backtests/data/GOOG.csv")]
    data: PathBuf,
    /// The folder it writes into.
    #[arg(long, default_value = "backtests")]
    dir: PathBuf,
    /// Replace an existing file of that name.
    #[arg(long)]
    force: bool,
}

/// Writes a commented starter config and checks that it loads.
///
/// # Errors
/// An unknown strategy, a name that is not a file name, an existing file (without `--force`),
/// or a write that fails; no file is left half-written.
pub fn init(args: &InitArgs) -> Result<()> {
    let name = args.name.as_str();
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!(
            "invalid name {name:?}: expected letters, digits, '-', '_' or '.', not starting with '.'"
        );
    }
    let all = catalog();
    let Some(info) = all.iter().find(|s| s.name == args.strategy) else {
        let names: Vec<&str> = all.iter().map(|s| s.name).collect();
        bail!(
            "unknown strategy {:?}: expected one of {}",
            args.strategy,
            names.join(", ")
        );
    };
    let path = args.dir.join(format!("{name}.toml"));
    if path.exists() && !args.force {
        bail!(
            "{} exists: pick another name, or pass --force to replace it",
            path.display()
        );
    }
    let text = starter(name, info, &args.data);
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    // Written beside, checked, then renamed into place: a failure leaves no broken file behind.
    let draft = args.dir.join(format!(".{name}.toml.draft"));
    std::fs::write(&draft, &text).with_context(|| format!("cannot write {}", draft.display()))?;
    if let Err(error) = LoadedConfig::load(&draft) {
        let _ = std::fs::remove_file(&draft);
        return Err(error.context("the starter config does not load (a bug in quant init)"));
    }
    std::fs::rename(&draft, &path).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    println!("run it: quant backtest {}", path.display());
    Ok(())
}

/// Returns the starter config's text.
fn starter(name: &str, info: &StrategyInfo, data: &Path) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# {name}: {} ({}).", info.name, info.about);
    let _ = writeln!(
        t,
        "# Written by `quant init`. Run it: quant backtest <this file>; sweep the [sweep] grid: quant sweep <this file>."
    );
    let _ = writeln!(t, "name = {name:?}\nseed = 42\n");
    let _ = writeln!(
        t,
        "[data]\nkind = \"csv\"\npath = {:?}",
        data.display().to_string()
    );
    let _ = writeln!(
        t,
        "# on_invalid = \"skip\"          # drop bad rows instead of stopping\n"
    );
    let _ = writeln!(t, "[strategy]\nname = {:?}", info.name);
    if !info.params.is_empty() {
        let _ = writeln!(t, "[strategy.params]");
    }
    for p in info.params {
        match (p.example, p.default) {
            (Some(example), _) => {
                let value = example.replace("NAME", name);
                let _ = writeln!(t, "{} = {value}    # {} ({})", p.name, p.doc, p.ty);
            }
            (None, Some(default)) => {
                let _ = writeln!(t, "# {} = {default}    # {} ({})", p.name, p.doc, p.ty);
            }
            (None, None) => {
                let _ = writeln!(t, "# {} =    # {} ({}, optional)", p.name, p.doc, p.ty);
            }
        }
    }
    if info.name == "rules" {
        for (feature, kind, period) in [
            ("sma_fast", "sma", 10),
            ("sma_slow", "sma", 20),
            ("rsi", "rsi", 14),
            ("atr", "atr", 14),
        ] {
            let _ = writeln!(
                t,
                "\n[[features]]\nname = {feature:?}\nkind = {kind:?}\nperiod = {period}"
            );
        }
    }
    if info.name == "ml_trend" {
        let _ = writeln!(
            t,
            "# Train the model first (`quant train`), with a [model] table: see backtests/ml_trend.toml."
        );
    }
    let _ = writeln!(
        t,
        "\n[broker]\ninitial_cash = 10_000.0\ncommission = 0.001      # fraction of notional per fill\n\
         # slippage_bps = 0.0\n# allow_short = false\n\n[sizing]\nmethod = \"all_in\"          # all_in | fixed_fraction | volatility_target\n\n\
         # [sweep]\n# \"strategy.params.<key>\" = [..., ...]\n# rank_by = \"sharpe\""
    );
    t
}
