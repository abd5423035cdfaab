//! What trading costs: fees per fill and slippage on market and stop fills.
//!
//! One rule each, used by the simulated broker, the live router (sizing and its estimate of a
//! commission charged in a third asset) and reconciliation (fills that happened while away).

use crate::config::BrokerConfig;
use market_data::Side;

/// The fee of a fill.
pub trait FeeModel {
    /// Returns the fee of a fill of `qty` units at `price`; `first_fill` is true for an order's
    /// first fill, which also pays any per-order charge.
    fn fee(&self, qty: f64, price: f64, first_fill: bool) -> f64;

    /// Returns the (fractional) units that `budget` buys at `price` in one order, its fees
    /// included.
    fn affordable_units(&self, budget: f64, price: f64) -> f64;
}

/// The price a fill gets once the market has moved against the trader.
pub trait SlippageModel {
    /// Returns the price a `side` fill gets where the market offers `price`.
    fn slipped(&self, side: Side, price: f64) -> f64;
}

/// A fraction of traded notional per fill plus a fixed charge per order, on its first fill
/// (`[broker] commission` and `commission_fixed`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Commission {
    /// Fraction of notional.
    pub rate: f64,
    /// Per order.
    pub per_order: f64,
}

impl FeeModel for Commission {
    #[inline]
    fn fee(&self, qty: f64, price: f64, first_fill: bool) -> f64 {
        let fixed = if first_fill { self.per_order } else { 0.0 };
        self.rate * qty * price + fixed
    }

    fn affordable_units(&self, budget: f64, price: f64) -> f64 {
        let per_unit = price * (1.0 + self.rate);
        ((budget - self.per_order) / per_unit).max(0.0)
    }
}

/// A fixed number of basis points against the trader (`[broker] slippage_bps`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BpsSlippage {
    /// Basis points.
    pub bps: f64,
}

impl SlippageModel for BpsSlippage {
    #[inline]
    fn slipped(&self, side: Side, price: f64) -> f64 {
        let slip = self.bps / 10_000.0;
        match side {
            Side::Buy => price * (1.0 + slip),
            Side::Sell => price * (1.0 - slip),
        }
    }
}

impl BrokerConfig {
    /// Returns the fee model the config describes.
    pub fn fees(&self) -> Commission {
        Commission {
            rate: self.commission,
            per_order: self.commission_fixed,
        }
    }

    /// Returns the slippage model the config describes.
    pub fn slippage(&self) -> BpsSlippage {
        BpsSlippage {
            bps: self.slippage_bps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_order_charge_is_paid_once_on_the_first_fill() {
        let fees = Commission {
            rate: 0.001,
            per_order: 2.5,
        };
        assert_eq!(fees.fee(10.0, 100.0, true), 0.001 * 10.0 * 100.0 + 2.5);
        assert_eq!(fees.fee(10.0, 100.0, false), 0.001 * 10.0 * 100.0);
        // 1,002.5 less the 2.5 per order leaves 1,000: units at 100 plus 0.1% commission.
        let units = fees.affordable_units(1_002.5, 100.0);
        assert!((units - 1_000.0 / 100.1).abs() < 1e-12, "{units}");
        assert_eq!(fees.affordable_units(1.0, 100.0), 0.0);
    }

    #[test]
    fn slippage_moves_buys_up_and_sells_down() {
        let s = BpsSlippage { bps: 10.0 };
        assert_eq!(s.slipped(Side::Buy, 100.0), 100.0 * (1.0 + 0.001));
        assert_eq!(s.slipped(Side::Sell, 100.0), 100.0 * (1.0 - 0.001));
    }
}
