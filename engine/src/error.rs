//! Errors that stop a run.

use crate::strategy::StrategyError;
use market_data::{InstrumentIdx, Timestamp};

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error that stops a run. Refused orders are not errors: they are reports to the strategy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The strategy failed.
    #[error("at {ts}")]
    Strategy {
        /// When.
        ts: Timestamp,
        /// Why.
        #[source]
        source: StrategyError,
    },
    /// A feature refused its input.
    #[error("at {ts}: feature pipeline failed")]
    Feature {
        /// When.
        ts: Timestamp,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The market data source failed mid-run (a bad row, an unreadable file).
    #[error("market data failed after {processed} time steps")]
    Data {
        /// Time steps processed before the failure.
        processed: usize,
        /// Why.
        #[source]
        source: Box<market_data::Error>,
    },
    /// The run's results could not be handed on (their file could not be written).
    #[error("cannot record the results of steps {first} and after")]
    Sink {
        /// The first step that was not recorded.
        first: usize,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The strategy kept answering reports with new orders past a sane bound.
    #[error("at {ts}: strategy submitted more than {limit} orders in response to one event")]
    Runaway {
        /// When.
        ts: Timestamp,
        /// The bound.
        limit: usize,
    },
    /// A tick stream is not sorted by (timestamp, instrument).
    #[error(
        "event {index} (instrument {} at {ts}) sorts before event {} (instrument {} at \
         {previous_ts}): events must be sorted by (timestamp, instrument)",
        instrument.0, index - 1, previous_instrument.0
    )]
    OutOfOrder {
        /// Position of the offending event in the stream.
        index: usize,
        /// Its timestamp.
        ts: Timestamp,
        /// Its instrument.
        instrument: InstrumentIdx,
        /// Timestamp of the event before it.
        previous_ts: Timestamp,
        /// Instrument of the event before it.
        previous_instrument: InstrumentIdx,
    },
    /// An event names an instrument that is not part of the run.
    #[error(
        "event {index} at {ts} is for instrument index {}, but the run has {instruments} \
         instruments",
        instrument.0
    )]
    UnknownInstrument {
        /// Position of the event in the stream.
        index: usize,
        /// Its timestamp.
        ts: Timestamp,
        /// The index it names.
        instrument: InstrumentIdx,
        /// How many instruments the run has.
        instruments: usize,
    },
    /// A tick stream holds a bar, which is stamped at its open and would leak its close to the
    /// ticks of its interval.
    #[error("event {index} at {ts} is a bar; a tick backtest takes trades and quotes only")]
    BarInTicks {
        /// Position of the bar in the stream.
        index: usize,
        /// Its timestamp.
        ts: Timestamp,
    },
}
