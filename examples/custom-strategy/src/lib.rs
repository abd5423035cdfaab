//! RSI mean reversion, long only: buy when the RSI is oversold and the bar closes below the
//! previous bar's low; sell when the RSI is overbought.

use engine::{Ctx, EngineEvent, Intents, OrderRequest, RangeError, Size, Strategy, StrategyError};
use features::indicators::RsiSmoothing;
use features::{FeatureConfig, FeatureError, FeatureKind, PipelineSpec};
use market_data::Side;
use serde::{Deserialize, Serialize};
use strategies::custom::{ParamDoc, UserStrategy};

/// `[strategy.params]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// RSI window in bars.
    pub period: usize,
    /// Buy below this RSI.
    pub oversold: f64,
    /// Sell above this RSI.
    pub overbought: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self { period: 14, oversold: 30.0, overbought: 70.0 }
    }
}

/// The strategy: the RSI's column, found once.
pub struct RsiReversion {
    params: Params,
    rsi: usize,
}

impl UserStrategy for RsiReversion {
    const NAME: &'static str = "rsi_reversion";
    const ABOUT: &'static str = "Buys an oversold RSI on a close below the last low; sells overbought";
    const PARAMS: &'static [ParamDoc] = &[
        ParamDoc::optional("period", "integer", "14", "RSI window in bars"),
        ParamDoc::optional("oversold", "number", "30.0", "buy below this RSI"),
        ParamDoc::optional("overbought", "number", "70.0", "sell above this RSI"),
    ];
    type Params = Params;

    fn validate(p: &Params) -> Result<(), RangeError> {
        if !(0.0 < p.oversold && p.oversold < p.overbought && p.overbought < 100.0) {
            return Err(RangeError::new(
                "strategy.params.oversold",
                format!("0 < oversold < overbought < 100, found {} and {}", p.oversold, p.overbought),
            ));
        }
        Ok(())
    }

    fn features(p: &Params) -> Vec<FeatureConfig> {
        let rsi = FeatureKind::Rsi { period: p.period, smoothing: RsiSmoothing::Ta };
        vec![FeatureConfig::of("rsi", "close", rsi)]
    }

    fn build(params: &Params, pipeline: &PipelineSpec) -> Result<Self, FeatureError> {
        let rsi = pipeline.column("rsi").ok_or_else(|| FeatureError::new("rsi", None, "the RSI column"))?;
        Ok(Self { params: params.clone(), rsi })
    }
}

impl Strategy for RsiReversion {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// The bar being handled and the one before it.
    fn bar_history(&self) -> usize {
        2
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
        let (Some(rsi), Some(previous)) = (ctx.feature(idx, self.rsi), ctx.bars(idx).get(1)) else {
            return Ok(()); // warming up
        };
        if !ctx.open_orders(idx).is_empty() {
            return Ok(());
        }
        let held = ctx.qty(idx);
        if held == 0.0 && rsi < self.params.oversold && bar.close < previous.low {
            out.submit(OrderRequest::market(idx, Side::Buy, Size::Auto));
        } else if held > 0.0 && rsi > self.params.overbought {
            out.submit(OrderRequest::market(idx, Side::Sell, Size::ClosePosition));
        }
        Ok(())
    }
}
