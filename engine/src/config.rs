//! The broker, sizing and risk tables of a backtest config, as serde reads them, with their
//! defaults and range checks.
//!
//! Unknown keys are refused at load (`deny_unknown_fields`), so a typo names itself; `validate`
//! then checks ranges and names the offending key.

use market_data::Zone;
use serde::{Deserialize, Serialize};

/// A config value out of its range: the dotted key and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{key}`: {expected}")]
pub struct RangeError {
    /// The dotted key, e.g. `broker.commission`.
    pub key: String,
    /// What was expected, with the value found.
    pub expected: String,
}

impl RangeError {
    /// Returns an error for `key`.
    pub fn new(key: impl Into<String>, expected: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            expected: expected.into(),
        }
    }
}

fn check(ok: bool, key: &str, expected: impl FnOnce() -> String) -> Result<(), RangeError> {
    if ok {
        Ok(())
    } else {
        Err(RangeError::new(key, expected()))
    }
}

/// The longest `sizing.lookback`, as for any window: ten million bars.
const MAX_LOOKBACK: usize = 10_000_000;

/// The longest `latency_ms`: a day.
const MAX_LATENCY_MS: f64 = 86_400_000.0;

/// `[broker]`: cash, costs and fill rules of the simulated broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// Starting cash.
    pub initial_cash: f64,
    /// Commission as a fraction of traded notional, per fill.
    pub commission: f64,
    /// Fixed commission per order, charged on its first fill.
    pub commission_fixed: f64,
    /// Market and stop fills move against the trader by this many basis points.
    pub slippage_bps: f64,
    /// Whether sells may open or grow a short position.
    pub allow_short: bool,
    /// Whether sizing may buy fractions of a unit.
    pub fractional: bool,
    /// Whether open positions are closed at the last close when the data ends.
    pub close_at_end: bool,
    /// A fill takes at most this fraction of the event's volume (a bar's volume, a trade's
    /// quantity, the quoted size on the side taken); the rest stays working.
    pub max_volume_participation: Option<f64>,
    /// Whether a limit order fills when a traded price (a bar's low or high, a trade) only
    /// touches its limit. True is NautilusTrader's default and the bar reference (low <= L);
    /// false asks the market to trade through the limit, as for an order at the back of the
    /// queue. Quotes at the limit fill either way.
    pub limit_fill_on_touch: bool,
    /// Milliseconds between a decision and its order reaching the market: the order acts only
    /// on events stamped more than this after the one it was decided on. 0 means the next event
    /// with a later timestamp, as in the reference (a bar's next open).
    pub latency_ms: f64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            initial_cash: 10_000.0,
            commission: 0.0,
            commission_fixed: 0.0,
            slippage_bps: 0.0,
            allow_short: false,
            fractional: false,
            close_at_end: false,
            max_volume_participation: None,
            limit_fill_on_touch: true,
            latency_ms: 0.0,
        }
    }
}

impl BrokerConfig {
    /// Checks every range.
    ///
    /// # Errors
    /// Returns the first key out of range.
    pub fn validate(&self) -> Result<(), RangeError> {
        let c = self;
        check(
            c.initial_cash.is_finite() && c.initial_cash > 0.0,
            "broker.initial_cash",
            || format!("a positive amount, found {:?}", c.initial_cash),
        )?;
        check(
            (0.0..1.0).contains(&c.commission),
            "broker.commission",
            || format!("a fraction of notional in [0, 1), found {:?}", c.commission),
        )?;
        check(
            c.commission_fixed.is_finite() && c.commission_fixed >= 0.0,
            "broker.commission_fixed",
            || format!("a non-negative amount, found {:?}", c.commission_fixed),
        )?;
        check(
            (0.0..10_000.0).contains(&c.slippage_bps),
            "broker.slippage_bps",
            || format!("basis points in [0, 10000), found {:?}", c.slippage_bps),
        )?;
        check(
            (0.0..=MAX_LATENCY_MS).contains(&c.latency_ms),
            "broker.latency_ms",
            || {
                format!(
                    "milliseconds in [0, {MAX_LATENCY_MS}] (one day), found {:?}",
                    c.latency_ms
                )
            },
        )?;
        if let Some(p) = c.max_volume_participation {
            check(
                p > 0.0 && p <= 1.0,
                "broker.max_volume_participation",
                || format!("a fraction in (0, 1], found {p:?}"),
            )?;
        }
        Ok(())
    }
}

/// How `Size::Auto` orders are sized when they fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizingMethod {
    /// All available cash.
    #[default]
    AllIn,
    /// `fraction` of equity.
    FixedFraction,
    /// Notional = equity x target volatility / realized volatility, at most `fraction` of equity.
    VolatilityTarget,
}

/// `[sizing]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SizingConfig {
    /// The method.
    pub method: SizingMethod,
    /// Fraction of equity (fixed_fraction), or the cap on it (volatility_target).
    pub fraction: f64,
    /// Annualised volatility aimed at (volatility_target).
    pub target_volatility: f64,
    /// Bars of close-to-close returns behind the realized volatility (volatility_target).
    pub lookback: usize,
}

impl Default for SizingConfig {
    fn default() -> Self {
        Self {
            method: SizingMethod::AllIn,
            fraction: 1.0,
            target_volatility: 0.15,
            lookback: 20,
        }
    }
}

impl SizingConfig {
    /// Checks every range.
    ///
    /// # Errors
    /// Returns the first key out of range.
    pub fn validate(&self) -> Result<(), RangeError> {
        let c = self;
        check(
            c.fraction > 0.0 && c.fraction <= 100.0,
            "sizing.fraction",
            || {
                format!(
                    "a positive fraction of equity (at most 100), found {:?}",
                    c.fraction
                )
            },
        )?;
        check(
            c.target_volatility > 0.0 && c.target_volatility.is_finite(),
            "sizing.target_volatility",
            || {
                format!(
                    "a positive annualised volatility, found {:?}",
                    c.target_volatility
                )
            },
        )?;
        check(
            (2..=MAX_LOOKBACK).contains(&c.lookback),
            "sizing.lookback",
            || format!("2 to {MAX_LOOKBACK} bars, found {:?}", c.lookback),
        )
    }
}

/// `[risk]`: pre-trade limits and the drawdown kill switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Largest |position value| per instrument, as a fraction of equity.
    pub max_position_fraction: f64,
    /// Largest sum of |position values|, as a fraction of equity.
    pub max_gross_exposure: f64,
    /// Drawdown from the equity peak that flattens every position and stops trading (1 = never).
    pub max_drawdown: f64,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            max_position_fraction: 1.0,
            max_gross_exposure: 1.0,
            max_drawdown: 1.0,
        }
    }
}

impl RiskConfig {
    /// Checks every range.
    ///
    /// # Errors
    /// Returns the first key out of range.
    pub fn validate(&self) -> Result<(), RangeError> {
        let c = self;
        check(
            c.max_position_fraction > 0.0 && c.max_position_fraction.is_finite(),
            "risk.max_position_fraction",
            || {
                format!(
                    "a positive fraction of equity, found {:?}",
                    c.max_position_fraction
                )
            },
        )?;
        check(
            c.max_gross_exposure > 0.0 && c.max_gross_exposure.is_finite(),
            "risk.max_gross_exposure",
            || {
                format!(
                    "a positive fraction of equity, found {:?}",
                    c.max_gross_exposure
                )
            },
        )?;
        check(
            c.max_drawdown > 0.0 && c.max_drawdown <= 1.0,
            "risk.max_drawdown",
            || format!("a fraction in (0, 1], found {:?}", c.max_drawdown),
        )
    }
}

/// Everything the engine needs besides data and a strategy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EngineSpec {
    /// Broker rules.
    pub broker: BrokerConfig,
    /// Sizing rules.
    pub sizing: SizingConfig,
    /// Risk limits.
    pub risk: RiskConfig,
    /// The exchange's time zone (`[data] timezone`): where a DAY order's day ends, and what a
    /// strategy reads as local time ([`crate::Ctx::timezone`]).
    #[serde(default)]
    pub timezone: Zone,
}

impl EngineSpec {
    /// Checks every range.
    ///
    /// # Errors
    /// Returns the first key out of range.
    pub fn validate(&self) -> Result<(), RangeError> {
        self.broker.validate()?;
        self.sizing.validate()?;
        self.risk.validate()
    }
}
