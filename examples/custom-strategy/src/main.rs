//! `rsi-reversion`: the quant command line with this crate's strategy registered, so
//! `rsi-reversion backtest rsi_reversion.toml` (or sweep, paper, live, ...) can name it.

use strategies::custom::Registration;

fn main() -> std::process::ExitCode {
    cli::main_with(vec![Registration::of::<rsi_reversion::RsiReversion>()])
}
