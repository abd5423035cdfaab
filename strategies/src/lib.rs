//! Built-in strategies, the indicators they are made of, and the registry that maps a config's
//! strategy name to an implementation.

pub mod bollinger_reversion;
pub mod buy_and_hold;
pub mod indicators;
mod registry;
pub mod sma_crossover;

pub use registry::{STRATEGY_NAMES, StrategyConfig};
