//! Pre-trade risk: what an order must be before it is accepted, and what a fill must leave
//! (cash, shorting, position and gross exposure limits). The simulated broker and the live
//! router both ask it, so a strategy meets the same limits in every mode.

use crate::config::{BrokerConfig, RiskConfig};
use crate::order::{OrderRequest, Size};
use crate::portfolio::Portfolio;
use crate::strategy::RejectReason;
use market_data::{InstrumentIdx, Price, Qty, Side};

/// Relative tolerance of limit checks, so that a sizing that lands exactly on a limit passes.
const LIMIT_TOLERANCE: f64 = 1e-9;

/// The checks of one run's `[risk]` table and `[broker] allow_short`.
#[derive(Debug, Clone)]
pub struct RiskCheck {
    allow_short: bool,
    limits: RiskConfig,
}

impl RiskCheck {
    /// Returns the checks of `broker`'s shorting rule and `limits`.
    pub fn new(broker: &BrokerConfig, limits: RiskConfig) -> Self {
        Self {
            allow_short: broker.allow_short,
            limits,
        }
    }

    /// Checks what can be checked before a price is known, for a run of `instruments`
    /// instruments: a known instrument, positive finite prices and a valid size.
    pub fn validate(&self, request: &OrderRequest, instruments: usize) -> Option<RejectReason> {
        if request.instrument.get() >= instruments {
            return Some(RejectReason::UnknownInstrument);
        }
        let positive = |p: Price| p.0.is_finite() && p.0 > 0.0;
        let prices_ok = request.kind.limit_price().is_none_or(positive)
            && request.kind.trigger_price().is_none_or(positive)
            && request.bracket.take_profit.is_none_or(positive)
            && request.bracket.stop_loss.is_none_or(positive);
        let size_ok = match request.size {
            Size::Units(Qty(q)) => q.is_finite() && q > 0.0,
            Size::Scaled(f) => f.is_finite() && f > 0.0 && f <= 1.0,
            Size::Auto | Size::ClosePosition => true,
        };
        (!prices_ok || !size_ok).then_some(RejectReason::InvalidOrder)
    }

    /// Checks cash, shorting and risk limits for one fill.
    ///
    /// # Errors
    /// Why the fill may not happen.
    #[allow(clippy::too_many_arguments)]
    pub fn check_fill(
        &self,
        side: Side,
        held: f64,
        qty: f64,
        price: f64,
        fee: f64,
        portfolio: &Portfolio,
        instrument: InstrumentIdx,
    ) -> Result<(), RejectReason> {
        let sign = side.sign();
        let after = held + sign * qty;
        if after.abs() <= held.abs() && after * held >= 0.0 {
            // Reducing exposure is always allowed; a fill through zero opens the other side and
            // is checked like any opening fill.
            return Ok(());
        }
        if after < 0.0 && !self.allow_short {
            return Err(RejectReason::ShortNotAllowed);
        }
        let cash = portfolio.cash();
        if side == Side::Buy && after > 0.0 {
            let needed = qty.min(after) * price + fee;
            if needed > cash * (1.0 + LIMIT_TOLERANCE) {
                return Err(RejectReason::InsufficientCash {
                    needed,
                    available: cash,
                });
            }
        }
        let equity = portfolio.equity();
        let tol = 1.0 + LIMIT_TOLERANCE;
        if after.abs() * price > self.limits.max_position_fraction * equity * tol {
            return Err(RejectReason::PositionLimit);
        }
        let gross = portfolio.gross_exposure()
            - portfolio.position(instrument).market_value().abs()
            + after.abs() * price;
        if gross > self.limits.max_gross_exposure * equity * tol {
            return Err(RejectReason::ExposureLimit);
        }
        Ok(())
    }
}
