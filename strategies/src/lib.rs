//! Built-in strategies and the registry that maps a config's strategy name to one.
//!
//! Owns: `sma_crossover`, `buy_and_hold`, `bollinger_reversion`, `ml_trend` (a model's
//! signals as orders), `signals` (entry and exit flags computed ahead, for the Python package)
//! and `rules` (a strategy written as expressions in the config, with its small language), the
//! typed parameters of each, and the registry.
//! Never depends on: tokio (live), report rendering, or the wall clock. Indicators and
//! pipelines are `features`'; model training and inference are `models'`.

#![forbid(unsafe_code)]

pub mod bollinger_reversion;
pub mod buy_and_hold;
pub mod custom;
pub mod ml_trend;
#[cfg(test)]
mod pipeline_tests;
mod registry;
pub mod rules;
pub mod signals;
pub mod sma_crossover;

pub use registry::{
    BUILTINS, BuildError, BuiltStrategy, RegisteredConfig, STRATEGY_NAMES, StrategyConfig,
    StrategyInfo, StrategyParts, catalog,
};

/// Returns the state of `instrument`, creating states with `make` up to it on first sight, so a
/// strategy needs no instrument count up front and allocates only when a new instrument appears.
pub(crate) fn state_for<T>(
    states: &mut Vec<T>,
    instrument: market_data::InstrumentIdx,
    make: impl FnMut() -> T,
) -> &mut T {
    let idx = instrument.get();
    if idx >= states.len() {
        states.resize_with(idx + 1, make);
    }
    &mut states[idx]
}

/// The long-only signal rule of `sma_crossover` and `signals` (the reference crossover's
/// trading): nothing while an order of `instrument` is working or when `entry` and `exit` agree;
/// else `entry` buys at the next open when flat and `exit` closes a long position.
pub(crate) fn long_only(
    instrument: market_data::InstrumentIdx,
    entry: bool,
    exit: bool,
    ctx: &engine::Ctx<'_>,
    out: &mut engine::Intents,
) {
    use engine::{OrderRequest, Size};
    use market_data::Side;
    if entry == exit || !ctx.open_orders(instrument).is_empty() {
        return;
    }
    let qty = ctx.qty(instrument);
    if entry && qty == 0.0 {
        out.submit(OrderRequest::market(instrument, Side::Buy, Size::Auto));
    } else if exit && qty > 0.0 {
        out.submit(OrderRequest::market(
            instrument,
            Side::Sell,
            Size::ClosePosition,
        ));
    }
}
