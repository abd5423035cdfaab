//! `buy_and_hold`: buys each instrument on its first bar and holds it to the end.

use engine::{Ctx, EngineEvent, Intents, OrderRequest, Size, Strategy, StrategyError};
use market_data::{MarketKind, Side};
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
        let EngineEvent::Market(market) = event else {
            return Ok(());
        };
        if !matches!(market.kind, MarketKind::Bar(_)) {
            return Ok(());
        }
        let idx = market.instrument.get();
        if idx >= self.bought.len() {
            self.bought.resize(idx + 1, false);
        }
        if !self.bought[idx] {
            self.bought[idx] = true;
            out.submit(OrderRequest::market(
                market.instrument,
                Side::Buy,
                Size::Auto,
            ));
        }
        Ok(())
    }
}
