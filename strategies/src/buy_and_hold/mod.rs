//! `buy_and_hold`: buys each instrument on its first bar and holds it to the end.

use crate::state_for;
use engine::{Ctx, EngineEvent, Intents, OrderRequest, Size, Strategy, StrategyError};
use market_data::Side;
use serde::{Deserialize, Serialize};

/// `[strategy.params]` of `buy_and_hold` (none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyAndHoldParams {}

/// The strategy: one market buy per instrument, sized by the config's sizing.
#[derive(Debug, Clone, Default)]
pub struct BuyAndHold {
    bought: Vec<bool>,
}

impl BuyAndHold {
    /// Returns the strategy.
    pub fn new() -> Self {
        Self::default()
    }
}

/// What `quant strategies` says about it.
pub const ABOUT: &str = "Buys on each instrument's first bar and holds to the end (no params)";

impl Strategy for BuyAndHold {
    fn name(&self) -> &str {
        "buy_and_hold"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        _ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        let Some((idx, _)) = event.as_bar() else {
            return Ok(());
        };
        let bought = state_for(&mut self.bought, idx, || false);
        if !*bought {
            *bought = true;
            out.submit(OrderRequest::market(idx, Side::Buy, Size::Auto));
        }
        Ok(())
    }
}
