//! `bollinger_reversion`: buys a dip to the lower Bollinger band with a resting limit order, exits
//! at the middle band with a limit, or at a protective stop below the entry.
//!
//! It exercises the order types the crossover does not: limits (entry and exit), a stop (the
//! bracket's stop-loss), one-cancels-other, and cancel-and-replace as the bands move.

use crate::custom::ParamDoc;
use crate::sma_crossover::column;
use engine::{
    Bracket, Ctx, EngineEvent, Intents, OrderRequest, RangeError, Size, Strategy, StrategyError,
};
use features::{FeatureConfig, FeatureError, FeatureKind, PipelineSpec};
use market_data::{Price, Side};
use serde::{Deserialize, Serialize};

/// What `quant strategies` says about it.
pub const ABOUT: &str =
    "Limit entry at the lower Bollinger band with a stop below it; limit exit at the middle band";

/// Its parameters, as `quant strategies` lists them.
pub const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "period",
        ty: "integer",
        default: Some("20"),
        example: None,
        doc: "bars in the bands' window",
    },
    ParamDoc {
        name: "width",
        ty: "number",
        default: Some("2.0"),
        example: None,
        doc: "band width in standard deviations",
    },
    ParamDoc {
        name: "stop",
        ty: "number",
        default: Some("0.05"),
        example: None,
        doc: "stop-loss distance below the entry, as a fraction",
    },
];

/// `[strategy.params]` of `bollinger_reversion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BollingerParams {
    /// Bars in the bands' window.
    pub period: usize,
    /// Band width in population standard deviations.
    pub width: f64,
    /// Stop-loss distance below the entry limit, as a fraction (0.05 = 5%).
    pub stop: f64,
}

impl Default for BollingerParams {
    fn default() -> Self {
        Self {
            period: 20,
            width: 2.0,
            stop: 0.05,
        }
    }
}

impl BollingerParams {
    /// Checks `period >= 2`, `width > 0` and `0 < stop < 1`.
    ///
    /// # Errors
    /// Names the parameter out of range.
    pub fn validate(&self) -> Result<(), RangeError> {
        if self.period < 2 {
            return Err(RangeError::new(
                "strategy.params.period",
                format!("at least 2 bars, found {}", self.period),
            ));
        }
        if !(self.width > 0.0 && self.width.is_finite()) {
            return Err(RangeError::new(
                "strategy.params.width",
                format!("a positive number, found {:?}", self.width),
            ));
        }
        if !(self.stop > 0.0 && self.stop < 1.0) {
            return Err(RangeError::new(
                "strategy.params.stop",
                format!("a fraction in (0, 1), found {:?}", self.stop),
            ));
        }
        Ok(())
    }
}

/// Tags the strategy gives its orders, to tell them apart in reports and in the book.
const ENTRY: u32 = 1;
const EXIT: u32 = 2;

/// The strategy: reads the bands (`bb_mid`, `bb_lower`) from the feature pipeline.
#[derive(Debug, Clone)]
pub struct BollingerReversion {
    stop: f64,
    mid: usize,
    lower: usize,
}

impl BollingerReversion {
    /// Returns the features the strategy reads: Bollinger bands `bb` of the close.
    pub fn required_features(params: &BollingerParams) -> Vec<FeatureConfig> {
        let bands = FeatureKind::Bollinger {
            period: params.period,
            width: params.width,
        };
        vec![FeatureConfig::of("bb", "close", bands)]
    }

    /// Returns the strategy reading its bands from `pipeline`; call `params.validate()` first.
    ///
    /// # Errors
    /// Names a required feature missing from the pipeline.
    pub fn new(params: &BollingerParams, pipeline: &PipelineSpec) -> Result<Self, FeatureError> {
        Ok(Self {
            stop: params.stop,
            mid: column(pipeline, "bb_mid")?,
            lower: column(pipeline, "bb_lower")?,
        })
    }
}

impl Strategy for BollingerReversion {
    fn name(&self) -> &str {
        "bollinger_reversion"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        let Some((idx, _)) = event.as_bar() else {
            return Ok(());
        };
        let (Some(mid), Some(lower)) = (ctx.feature(idx, self.mid), ctx.feature(idx, self.lower))
        else {
            return Ok(());
        };
        let qty = ctx.qty(idx);
        if qty == 0.0 {
            // Flat: rest one entry at the current lower band, replacing yesterday's.
            out.cancel_all(idx);
            if lower > 0.0 {
                let stop = Price(lower * (1.0 - self.stop));
                let entry = OrderRequest::limit(idx, Side::Buy, Size::Auto, Price(lower))
                    .with_bracket(Bracket {
                        take_profit: None,
                        stop_loss: Some(stop),
                    })
                    .with_tag(ENTRY);
                out.submit(entry);
            }
        } else if qty > 0.0 {
            // Long: move the exit limit to the current middle band; the bracket's stop stays.
            for order in ctx
                .open_orders(idx)
                .iter()
                .filter(|o| o.request.tag == EXIT)
            {
                out.cancel(order.id);
            }
            let exit = OrderRequest::limit(idx, Side::Sell, Size::ClosePosition, Price(mid))
                .reduce_only()
                .with_tag(EXIT);
            out.submit(exit);
        }
        Ok(())
    }
}
