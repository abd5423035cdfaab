//! What a run recorded: the equity curve and the holdings (columnar), orders, fills and trades
//! (of a run with a sink, those it did not hand on: see [`crate::handed_on`]).

use crate::broker::{FillRecord, OrderRecord};
use crate::config::EngineSpec;
use crate::features::{InputDrift, OrderAttribution};
use crate::handed_on::HandedOn;
use crate::holdings::Holdings;
use crate::portfolio::{Position, TradeRecord};
use market_data::{InstrumentId, Timestamp};

/// Equity and cash after each time step, as parallel columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EquityCurve {
    /// The step's timestamp.
    pub ts: Vec<Timestamp>,
    /// Cash plus positions at their marks.
    pub equity: Vec<f64>,
    /// Cash.
    pub cash: Vec<f64>,
}

impl EquityCurve {
    /// Returns an empty curve with room for `n` steps.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ts: Vec::with_capacity(n),
            equity: Vec::with_capacity(n),
            cash: Vec::with_capacity(n),
        }
    }

    /// Appends one step.
    pub fn push(&mut self, ts: Timestamp, equity: f64, cash: f64) {
        self.ts.push(ts);
        self.equity.push(equity);
        self.cash.push(cash);
    }

    /// Overwrites the last step's values (after closing positions at the end).
    pub fn replace_last(&mut self, equity: f64, cash: f64) {
        if let (Some(e), Some(c)) = (self.equity.last_mut(), self.cash.last_mut()) {
            *e = equity;
            *c = cash;
        }
    }

    /// Returns the number of steps.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Returns true when no step was recorded.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

/// Everything a run recorded.
#[derive(Debug, Clone)]
pub struct BacktestOutcome {
    /// Instrument names by index.
    pub instruments: Vec<InstrumentId>,
    /// The rules it ran with.
    pub spec: EngineSpec,
    /// Equity after each time step.
    pub curve: EquityCurve,
    /// The positions held after each time step, valued at their marks (steps index `curve`).
    pub holdings: Holdings,
    /// Every order, by id.
    pub orders: Vec<OrderRecord>,
    /// Every fill, in time order (after those handed on, with a sink).
    pub fills: Vec<FillRecord>,
    /// Closed round trips, in closing order (after those handed on, with a sink).
    pub trades: Vec<TradeRecord>,
    /// The fills and closed trades a run with a sink handed on instead of keeping them, summed
    /// up (set by the sink's owner; `None` when everything is kept here).
    pub handed_on: Option<HandedOn>,
    /// Round trips still open at the end, valued at the last mark.
    pub open_trades: Vec<TradeRecord>,
    /// Final positions by instrument.
    pub positions: Vec<Position>,
    /// Starting cash.
    pub initial_cash: f64,
    /// Commission paid.
    pub fees: f64,
    /// P&L realized, before fees.
    pub realized: f64,
    /// Sum of |qty x price| over fills.
    pub traded_notional: f64,
    /// Time steps during which any position was held.
    pub exposed_steps: usize,
    /// Market events (bars, or trades and quotes) processed per instrument.
    pub bars_per_instrument: Vec<usize>,
    /// When trading was halted, if it was: by the drawdown kill switch, or by an operator when
    /// `killed` is true.
    pub halted_at: Option<Timestamp>,
    /// Whether the halt was an operator's kill (a signal, a kill file) rather than the drawdown
    /// limit.
    pub killed: bool,
    /// Why the model behind a model-driven strategy predicted what it did, per order (empty
    /// for strategies without a model).
    pub attributions: Vec<OrderAttribution>,
    /// Drift of each model input over the run against the training window (empty without a
    /// model).
    pub drift: Vec<InputDrift>,
}

impl BacktestOutcome {
    /// Returns the final equity (the initial cash when nothing ran).
    pub fn final_equity(&self) -> f64 {
        self.curve
            .equity
            .last()
            .copied()
            .unwrap_or(self.initial_cash)
    }
}
