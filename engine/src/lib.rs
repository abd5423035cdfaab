//! The engine: the event loop, orders, the simulated broker, the portfolio ledger, pre-trade risk,
//! the summary of a run and its metrics.
//!
//! It is synchronous and deterministic: time comes only from the events it is fed, so the same
//! inputs give bit-identical outputs on any machine and thread count.
//!
//! Owns: the `Strategy` trait and its context, orders, the `OrderRouter` trait and the simulated
//! broker, portfolio and ledger, risk and sizing, the event loop, sleeves, results as data.
//! Never depends on: tokio or any I/O runtime, candle, HTML, files, or the wall clock.

#![forbid(unsafe_code)]

mod annualisation;
mod broker;
pub mod column;
mod config;
mod costs;
mod engine;
mod error;
mod features;
mod fills;
mod handed_on;
mod history;
mod holdings;
mod order;
mod outcome;
mod portfolio;
mod risk;
mod router;
mod selection;
mod sink;
mod sizing;
mod sleeves;
mod strategy;
mod summary;
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

pub mod metrics;
pub mod overfitting;

pub use broker::{FillRecord, OrderRecord, SimBroker};
pub use config::{BrokerConfig, EngineSpec, RangeError, RiskConfig, SizingConfig, SizingMethod};
pub use costs::{BpsSlippage, Commission, FeeModel, SlippageModel};
pub use engine::{Engine, Replay, backtest, backtest_into, run_backtest};
pub use error::{Error, Result};
pub use features::{
    Attribution, AttributionValues, FeatureSource, InputDrift, ModelNames, OrderAttribution,
};
pub use fills::{FillModel, FillPrice, FixedLatency, LatencyModel, Reach, ReferenceFills};
pub use handed_on::{
    EXTREME_TRADES, FillLog, HandedOn, InstrumentTally, SHOWN_TRADES, TradeSample, TradeTally,
};
pub use history::BarWindow;
pub use holdings::Holdings;
pub use order::{Bracket, Order, OrderId, OrderKind, OrderRequest, OrderStatus, Size, TimeInForce};
pub use outcome::{BacktestOutcome, EquityCurve};
pub use portfolio::{Portfolio, Position, TradeRecord};
pub use risk::RiskCheck;
pub use router::{NoUpdate, OrderRouter};
pub use selection::order_key;
pub use sink::{CHUNK_HOLDINGS, CHUNK_ORDERS, CHUNK_STEPS, StepChunk, StepSink};
pub use sizing::Sizer;
pub use sleeves::{SleeveSummary, SleevesOutcome, combine_sleeves, run_sleeves, sleeve_spec};
pub use strategy::{
    Ctx, EngineEvent, ExecKind, ExecReport, Intent, Intents, RejectReason, ShortText, Strategy,
    StrategyError,
};
pub use summary::{
    Better, InstrumentSummary, METRICS, MetricDef, MetricUnit, MetricsSpec, Reading, Summary,
    metric,
};
pub use volatility::RollingVolatility;
