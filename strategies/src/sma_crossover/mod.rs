//! `sma_crossover`, the reference strategy: long while the fast SMA is above the slow one.
//!
//! Cross up at t: fast[t-1] <= slow[t-1] and fast[t] > slow[t]; cross down mirrors it; no signal
//! while either average is warming up. On a cross up while flat: a market buy sized by the
//! config's sizing; on a cross down while long: a market sell of the whole position.

use crate::indicators::RollingMean;
use crate::state_for;
use engine::{Ctx, EngineEvent, Intents, OrderRequest, RangeError, Size, Strategy, StrategyError};
use market_data::Side;
use serde::{Deserialize, Serialize};

/// `[strategy.params]` of `sma_crossover`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmaCrossoverParams {
    /// Bars in the fast average.
    pub fast: usize,
    /// Bars in the slow average; greater than `fast`.
    pub slow: usize,
}

impl SmaCrossoverParams {
    /// Checks `1 <= fast < slow`.
    ///
    /// # Errors
    /// Names the parameter out of range.
    pub fn validate(&self) -> Result<(), RangeError> {
        if self.fast == 0 {
            return Err(RangeError::new(
                "strategy.params.fast",
                "at least 1 bar, found 0",
            ));
        }
        if self.fast >= self.slow {
            return Err(RangeError::new(
                "strategy.params.fast",
                format!("fewer bars than slow ({}), found {}", self.slow, self.fast),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Averages {
    fast: RollingMean,
    slow: RollingMean,
    previous: Option<(f64, f64)>,
}

/// The strategy, with one pair of averages per instrument.
#[derive(Debug, Clone)]
pub struct SmaCrossover {
    params: SmaCrossoverParams,
    state: Vec<Averages>,
}

impl SmaCrossover {
    /// Returns the strategy; call `params.validate()` first.
    pub fn new(params: SmaCrossoverParams) -> Self {
        Self {
            params,
            state: Vec::new(),
        }
    }
}

impl Strategy for SmaCrossover {
    fn name(&self) -> &str {
        "sma_crossover"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        let Some((idx, bar)) = event.as_bar() else {
            return Ok(());
        };
        let (fast, slow) = (self.params.fast, self.params.slow);
        let s = state_for(&mut self.state, idx, || Averages {
            fast: RollingMean::new(fast),
            slow: RollingMean::new(slow),
            previous: None,
        });
        let now = (s.fast.update(bar.close), s.slow.update(bar.close));
        let (Some(fast), Some(slow)) = now else {
            return Ok(());
        };
        let previous = s.previous.replace((fast, slow));
        let Some((prev_fast, prev_slow)) = previous else {
            return Ok(());
        };
        let qty = ctx.qty(idx);
        let idle = ctx.open_orders(idx).is_empty();
        if prev_fast <= prev_slow && fast > slow && qty == 0.0 && idle {
            out.submit(OrderRequest::market(idx, Side::Buy, Size::Auto));
        } else if prev_fast >= prev_slow && fast < slow && qty > 0.0 && idle {
            out.submit(OrderRequest::market(idx, Side::Sell, Size::ClosePosition));
        }
        Ok(())
    }
}
