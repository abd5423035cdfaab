//! Sizing: how many units an order of `Size::Auto` (or a share of it) gets, from the
//! `[sizing]` method (all in, a fixed fraction of equity, a volatility target), within cash,
//! fees and the risk limits. The simulated broker sizes at the fill price, the live router at
//! submission with the last price; both ask this.

use crate::config::{BrokerConfig, RiskConfig, SizingConfig, SizingMethod};
use crate::costs::{Commission, FeeModel as _};
use crate::portfolio::Portfolio;
use crate::strategy::RejectReason;
use crate::volatility::RollingVolatility;
use market_data::{InstrumentIdx, Side, Timestamp};

/// The sizing of one run.
#[derive(Debug, Clone)]
pub struct Sizer {
    sizing: SizingConfig,
    fees: Commission,
    allow_short: bool,
    fractional: bool,
    limits: RiskConfig,
    /// Realized volatility per instrument, for volatility targeting only (else empty).
    volatility: Vec<RollingVolatility>,
}

impl Sizer {
    /// Returns the sizing of `sizing` for `instruments` instruments, with `broker`'s fees and
    /// unit rules and the `limits` of `[risk]`.
    pub fn new(
        broker: &BrokerConfig,
        sizing: SizingConfig,
        limits: RiskConfig,
        instruments: usize,
    ) -> Self {
        let vol_slots = if sizing.method == SizingMethod::VolatilityTarget {
            instruments
        } else {
            0
        };
        Self {
            volatility: (0..vol_slots)
                .map(|_| RollingVolatility::new(sizing.lookback))
                .collect(),
            sizing,
            fees: broker.fees(),
            allow_short: broker.allow_short,
            fractional: broker.fractional,
            limits,
        }
    }

    /// Feeds a close to the realized-volatility estimate used by volatility targeting.
    pub fn observe_close(&mut self, instrument: InstrumentIdx, ts: Timestamp, close: f64) {
        if let Some(vol) = self.volatility.get_mut(instrument.get()) {
            vol.push(ts, close);
        }
    }

    /// Returns the units an `Auto` order gets at `price` with `scale` of the sizing budget,
    /// within cash and risk limits.
    ///
    /// # Errors
    /// Why no unit can be bought or sold.
    pub fn units(
        &self,
        instrument: InstrumentIdx,
        side: Side,
        held: f64,
        price: f64,
        scale: f64,
        portfolio: &Portfolio,
    ) -> Result<f64, RejectReason> {
        let sign = side.sign();
        if held * sign < 0.0 {
            // Against the position: an Auto order closes it.
            return Ok(held.abs());
        }
        if side == Side::Sell && !self.allow_short {
            return Err(RejectReason::ShortNotAllowed);
        }
        let equity = portfolio.equity();
        let cash = portfolio.cash();
        let mut budget = match self.sizing.method {
            SizingMethod::AllIn => cash,
            SizingMethod::FixedFraction => self.sizing.fraction * equity,
            SizingMethod::VolatilityTarget => {
                let realized = self
                    .volatility
                    .get(instrument.get())
                    .map_or(f64::NAN, RollingVolatility::annualized);
                if realized.is_nan() || realized <= 0.0 {
                    return Err(RejectReason::ZeroSize);
                }
                equity * (self.sizing.target_volatility / realized).min(self.sizing.fraction)
            }
        };
        budget *= scale;
        if side == Side::Buy {
            // Cash never goes negative on a long purchase.
            budget = budget.min(cash);
        }
        let mut units = self.fees.affordable_units(budget, price);
        let room_position =
            (self.limits.max_position_fraction * equity - held.abs() * price) / price;
        let room_gross =
            (self.limits.max_gross_exposure * equity - portfolio.gross_exposure()) / price;
        let capped = units.min(room_position).min(room_gross).max(0.0);
        let limited_by = if capped < units {
            Some(if room_position <= room_gross {
                RejectReason::PositionLimit
            } else {
                RejectReason::ExposureLimit
            })
        } else {
            None
        };
        units = if self.fractional {
            capped
        } else {
            capped.floor()
        };
        if units > 0.0 {
            Ok(units)
        } else {
            Err(limited_by.unwrap_or(RejectReason::ZeroSize))
        }
    }
}
