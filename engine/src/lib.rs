//! The engine: the event loop, orders, the simulated broker, the portfolio ledger, pre-trade risk,
//! results and metrics.
//!
//! It is synchronous and deterministic: time comes only from the events it is fed, so the same
//! inputs give bit-identical outputs on any machine and thread count.

mod broker;
mod config;
mod engine;
mod error;
mod features;
mod order;
mod outcome;
mod portfolio;
mod results;
mod router;
pub mod session;
#[cfg(test)]
mod session_tests;
mod sleeves;
mod strategy;
mod touch;
mod volatility;

#[cfg(test)]
mod fill_tests;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tick_property_tests;
#[cfg(test)]
mod tick_tests;

pub mod analysis;
pub mod journal;
#[cfg(feature = "live")]
pub mod live;
pub mod metrics;
pub mod report;
pub mod table;

pub use broker::{FillRecord, OrderRecord, SimBroker};
pub use config::{BrokerConfig, EngineSpec, RangeError, RiskConfig, SizingConfig, SizingMethod};
pub use engine::{
    Engine, run_backtest, run_backtest_merged, run_backtest_with, run_tick_backtest,
    run_tick_backtest_with,
};
pub use error::{Error, Result};
pub use features::{
    Attribution, AttributionValues, FeatureSource, InputDrift, ModelNames, OrderAttribution,
};
pub use order::{Bracket, Order, OrderId, OrderKind, OrderRequest, OrderStatus, Size, TimeInForce};
pub use outcome::{BacktestOutcome, EquityCurve};
pub use portfolio::{Portfolio, Position, TradeRecord};
pub use results::{InstrumentSummary, Summary, write_results};
pub use router::{NoUpdate, OrderRouter};
pub use sleeves::{SleeveSummary, SleevesOutcome, combine_sleeves, run_sleeves, sleeve_spec};
pub use strategy::{
    Ctx, EngineEvent, ExecKind, ExecReport, Intent, Intents, RejectReason, ShortText, Strategy,
    StrategyError,
};
pub use volatility::RollingVolatility;
