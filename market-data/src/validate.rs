//! The checks every bar passes before the engine sees it, whatever file it came from.

use crate::csv::check_ohlc;
use crate::{Bar, RowProblem};

/// Returns the problem with one bar value, if any: prices must be finite and positive, volumes
/// finite and non-negative.
pub(crate) fn value_problem(value: f64, is_volume: bool) -> Option<RowProblem> {
    if !value.is_finite() {
        Some(RowProblem::NotFinite {
            value: value.to_string(),
        })
    } else if is_volume && value < 0.0 {
        Some(RowProblem::NegativeVolume { value })
    } else if !is_volume && value <= 0.0 {
        Some(RowProblem::NonPositivePrice { value })
    } else {
        None
    }
}

/// Returns the first broken OHLC relation of `bar` and the field to blame (`"high"` or `"low"`),
/// if any.
pub(crate) fn consistency_problem(bar: &Bar) -> Option<(&'static str, RowProblem)> {
    let (role, problem) = check_ohlc(bar.open, bar.high, bar.low, bar.close).err()?;
    Some((if role == 2 { "high" } else { "low" }, problem))
}

/// Returns true when every value of `bar` is acceptable and its OHLC relations hold: the cheap
/// check of the fast path, branch-free so decoding loops vectorise around it.
#[inline]
pub(crate) fn bar_is_valid(bar: &Bar) -> bool {
    let price = |p: f64| (p > 0.0) & (p < f64::INFINITY);
    price(bar.open)
        & price(bar.high)
        & price(bar.low)
        & price(bar.close)
        & (bar.volume >= 0.0)
        & (bar.volume < f64::INFINITY)
        & (bar.high >= bar.open.max(bar.close))
        & (bar.low <= bar.open.min(bar.close))
}
