//! Risk and return metrics of an equity curve, with empyrical's conventions.
//!
//! `summary.json`, sweep rankings and the HTML report all quote these figures, and users check
//! them against pyfolio / empyrical, so each formula follows empyrical (DESIGN.md, "Metric
//! conventions") and the tests pin them to empyrical's output on GOOG daily closes.
//! Returns are simple per-period returns of equity; annualisation uses the bar frequency, which
//! [`infer_periods_per_year`] derives from the timestamps when the config does not set it.
//! The tear-sheet figures of quantstats and pyfolio (Kelly fraction, probabilistic Sharpe, ulcer
//! index, streaks, rolling beta) follow the same conventions.
//! A ratio that is undefined (too few returns, zero risk) is `NaN` rather than 0 or infinity, so
//! "no risk taken" never ranks as a great score; JSON output writes `NaN` as `null`.

pub use crate::annualisation::{Annualisation, annualisation, infer_periods_per_year};

/// The headline metrics of one equity curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReturnMetrics {
    /// Last equity over first, minus 1.
    pub total_return: f64,
    /// Compound annual growth rate ([`cagr`]).
    pub cagr: f64,
    /// Annualised sample standard deviation of returns ([`annual_volatility`]).
    pub annual_volatility: f64,
    /// Annualised Sharpe ratio, risk-free rate 0 ([`sharpe`]).
    pub sharpe: f64,
    /// Annualised Sortino ratio, required return 0 ([`sortino`]).
    pub sortino: f64,
    /// Worst peak-to-trough fall of equity, a negative fraction ([`max_drawdown`]).
    pub max_drawdown: f64,
    /// Longest peak-to-recovery stretch, in periods ([`max_drawdown_duration`]).
    pub max_drawdown_duration: usize,
    /// CAGR over the absolute max drawdown ([`calmar`]).
    pub calmar: f64,
    /// 5th percentile of returns ([`var_95`]).
    pub var_95: f64,
    /// Mean of the returns in the lowest 5% ([`cvar_95`]).
    pub cvar_95: f64,
    /// R² of a linear fit to cumulative log returns ([`stability`]).
    pub stability: f64,
    /// Gains over losses at a threshold of 0 ([`omega`]).
    pub omega: f64,
    /// 95th over 5th percentile of returns, in absolute value ([`tail_ratio`]).
    pub tail_ratio: f64,
    /// Skewness of returns, biased, as scipy's default ([`skew`]).
    pub skew: f64,
    /// Excess (Fisher) kurtosis of returns, biased, as scipy's default ([`kurtosis`]).
    pub kurtosis: f64,
}

impl ReturnMetrics {
    /// Returns every metric of `equity` (one value per bar), annualised with `periods_per_year`,
    /// with a risk-free rate of 0.
    pub fn from_equity(equity: &[f64], periods_per_year: f64) -> Self {
        Self::with_risk_free(equity, periods_per_year, 0.0)
    }

    /// As [`ReturnMetrics::from_equity`], with Sharpe and Sortino measured on returns in excess
    /// of `risk_free` (an annual rate, turned into a per-period one by [`per_period_rate`]).
    pub fn with_risk_free(equity: &[f64], periods_per_year: f64, risk_free: f64) -> Self {
        let r = simple_returns(equity);
        let rf = per_period_rate(risk_free, periods_per_year);
        // One sort serves VaR, CVaR and the tail ratio.
        let sorted_r = sorted(&r);
        let cagr = cagr(&r, periods_per_year);
        let max_drawdown = max_drawdown(equity);
        Self {
            total_return: total_return(equity),
            cagr,
            annual_volatility: annual_volatility(&r, periods_per_year),
            sharpe: excess_sharpe(&r, periods_per_year, rf),
            sortino: excess_sortino(&r, periods_per_year, rf),
            max_drawdown,
            max_drawdown_duration: max_drawdown_duration(equity),
            calmar: calmar_of(cagr, max_drawdown),
            var_95: percentile_of_sorted(&sorted_r, 5.0),
            cvar_95: cvar_95_of_sorted(&sorted_r),
            stability: stability(&r),
            omega: omega(&r),
            tail_ratio: tail_ratio_of_sorted(&sorted_r),
            skew: skew(&r),
            kurtosis: kurtosis(&r),
        }
    }
}

/// Returns the simple returns `e[t] / e[t-1] - 1`; one fewer than the equity points.
pub fn simple_returns(equity: &[f64]) -> Vec<f64> {
    equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

/// Returns last equity over first, minus 1 (`NaN` for an empty curve).
pub fn total_return(equity: &[f64]) -> f64 {
    match (equity.first(), equity.last()) {
        (Some(first), Some(last)) => last / first - 1.0,
        _ => f64::NAN,
    }
}

/// Returns the compound annual growth rate `prod(1 + r)^(ppy / N) - 1` (`NaN` without returns).
pub fn cagr(returns: &[f64], periods_per_year: f64) -> f64 {
    if returns.is_empty() {
        return f64::NAN;
    }
    let growth: f64 = returns.iter().map(|r| 1.0 + r).product();
    // Written as empyrical does, `ending ** (1 / years)`, to agree to the last bits.
    growth.powf(1.0 / (returns.len() as f64 / periods_per_year)) - 1.0
}

/// Returns `std(r, ddof = 1) * sqrt(ppy)` (`NaN` with fewer than 2 returns).
pub fn annual_volatility(returns: &[f64], periods_per_year: f64) -> f64 {
    sample_std(returns) * periods_per_year.sqrt()
}

/// Returns the Sharpe ratio `mean(r) / std(r, ddof = 1) * sqrt(ppy)` with a risk-free rate of 0.
///
/// `NaN` with fewer than 2 returns or a zero standard deviation.
pub fn sharpe(returns: &[f64], periods_per_year: f64) -> f64 {
    excess_sharpe(returns, periods_per_year, 0.0)
}

/// Returns the per-period rate that compounds to `annual` over `periods_per_year` periods,
/// `(1 + annual)^(1 / ppy) - 1`, as quantstats and empyrical de-annualise a risk-free rate.
pub fn per_period_rate(annual: f64, periods_per_year: f64) -> f64 {
    if annual == 0.0 {
        // Exactly 0, so a run without a risk-free rate keeps its figures to the last bit.
        0.0
    } else {
        (1.0 + annual).powf(1.0 / periods_per_year) - 1.0
    }
}

/// Returns the Sharpe ratio of returns in excess of `rf` a period:
/// `mean(r - rf) / std(r - rf, ddof = 1) * sqrt(ppy)`.
pub fn excess_sharpe(returns: &[f64], periods_per_year: f64, rf: f64) -> f64 {
    sharpe_of(
        returns.len(),
        || returns.iter().map(|r| r - rf),
        periods_per_year,
    )
}

/// [`excess_sharpe`] of the simple returns of `equity` over `risk_free` a year, computed as they
/// are needed rather than stored: the same operations in the same order, so the same value to
/// the last bit.
pub fn sharpe_of_equity(equity: &[f64], periods_per_year: f64, risk_free: f64) -> f64 {
    let rf = per_period_rate(risk_free, periods_per_year);
    let returns = || equity.windows(2).map(move |w| w[1] / w[0] - 1.0 - rf);
    sharpe_of(equity.len().saturating_sub(1), returns, periods_per_year)
}

/// The Sharpe ratio of `n` values that `values` yields afresh on each call (two passes, as
/// `mean` and `sample_std` do).
fn sharpe_of<I: Iterator<Item = f64>>(
    n: usize,
    values: impl Fn() -> I,
    periods_per_year: f64,
) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    let m = values().sum::<f64>() / n as f64;
    let ss: f64 = values().map(|v| (v - m).powi(2)).sum();
    let std = (ss / (n - 1) as f64).sqrt();
    if std == 0.0 || std.is_nan() {
        return f64::NAN;
    }
    m / std * periods_per_year.sqrt()
}

/// Returns the Sortino ratio `mean(r) * ppy / (sqrt(mean(min(r, 0)²)) * sqrt(ppy))`.
///
/// The downside mean runs over all N returns, as in empyrical. `NaN` without returns or without
/// a single loss, where empyrical would give infinity (not representable in JSON).
pub fn sortino(returns: &[f64], periods_per_year: f64) -> f64 {
    excess_sortino(returns, periods_per_year, 0.0)
}

/// Returns the Sortino ratio of returns in excess of `rf` a period, as empyrical's
/// `sortino_ratio(required_return = rf)`: both the mean and the downside are of `r - rf`.
pub fn excess_sortino(returns: &[f64], periods_per_year: f64, rf: f64) -> f64 {
    let squares: f64 = returns.iter().map(|r| (r - rf).min(0.0).powi(2)).sum();
    let downside = (squares / returns.len() as f64).sqrt() * periods_per_year.sqrt();
    if downside == 0.0 || downside.is_nan() {
        return f64::NAN;
    }
    let excess_mean = returns.iter().map(|r| r - rf).sum::<f64>() / returns.len() as f64;
    excess_mean * periods_per_year / downside
}

/// Returns `e[t] / max(e[..=t]) - 1` for each point: 0 at a peak, negative below it.
pub fn drawdown_series(equity: &[f64]) -> Vec<f64> {
    let mut drawdown = RunningDrawdown::default();
    equity.iter().map(|&e| drawdown.push(e)).collect()
}

/// [`drawdown_series`] one point at a time, for a curve read in chunks.
#[derive(Debug, Clone, Copy)]
pub struct RunningDrawdown {
    peak: f64,
}

impl Default for RunningDrawdown {
    fn default() -> Self {
        Self {
            peak: f64::NEG_INFINITY,
        }
    }
}

impl RunningDrawdown {
    /// Returns the drawdown of the next point `e` from the running peak.
    pub fn push(&mut self, e: f64) -> f64 {
        self.peak = self.peak.max(e);
        e / self.peak - 1.0
    }
}

/// Returns the worst drawdown of `equity`, a fraction <= 0 (0 for an empty curve).
///
/// The first value counts as a peak, so a curve that only falls still has a drawdown.
pub fn max_drawdown(equity: &[f64]) -> f64 {
    // `drawdown_series` folded as it goes: the same values, without the buffer.
    let mut peak = f64::NEG_INFINITY;
    equity.iter().fold(0.0, |worst: f64, &e| {
        peak = peak.max(e);
        worst.min(e / peak - 1.0)
    })
}

/// Returns the longest stretch, in periods, from a peak until equity first gets back to it,
/// or until the last point when it never does; 0 when equity never falls below a peak.
pub fn max_drawdown_duration(equity: &[f64]) -> usize {
    let (mut peak, mut peak_at, mut longest) = (f64::NEG_INFINITY, 0, 0);
    for (t, &e) in equity.iter().enumerate() {
        if e >= peak {
            // Every point since `peak_at` was below the peak, so this closes that stretch
            // (a distance of 1 means there was none).
            if t - peak_at > 1 {
                longest = longest.max(t - peak_at);
            }
            (peak, peak_at) = (e, t);
        }
    }
    let unrecovered = equity.len().saturating_sub(1) - peak_at;
    longest.max(unrecovered)
}

/// Returns the Calmar ratio, CAGR over `|max_drawdown|` of `equity` (`NaN` without a drawdown).
pub fn calmar(equity: &[f64], periods_per_year: f64) -> f64 {
    calmar_of(
        cagr(&simple_returns(equity), periods_per_year),
        max_drawdown(equity),
    )
}

fn calmar_of(cagr: f64, max_drawdown: f64) -> f64 {
    if max_drawdown < 0.0 {
        cagr / max_drawdown.abs()
    } else {
        f64::NAN
    }
}

/// Returns the q-th percentile (`q` in 0..=100) with numpy's default 'linear' interpolation
/// (`NaN` for no values).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    percentile_of_sorted(&sorted(values), q)
}

/// [`percentile`] of values already sorted ascending.
fn percentile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (sorted.len() - 1) as f64 * (q / 100.0).clamp(0.0, 1.0);
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let (a, b, t) = (sorted[lo], sorted[hi], pos - lo as f64);
    // numpy's lerp: from the nearer end, which keeps the result monotone in `t`.
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

/// Returns the 95% value at risk: the 5th percentile of returns (negative = loss).
pub fn var_95(returns: &[f64]) -> f64 {
    percentile(returns, 5.0)
}

/// Returns the 95% conditional value at risk as empyrical computes it: with
/// `k = floor((N - 1) * 0.05)`, the mean of the `k + 1` smallest returns (`NaN` without returns).
pub fn cvar_95(returns: &[f64]) -> f64 {
    cvar_95_of_sorted(&sorted(returns))
}

/// [`cvar_95`] of returns already sorted ascending.
fn cvar_95_of_sorted(sorted: &[f64]) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((sorted.len() - 1) as f64 * 0.05) as usize;
    mean(&sorted[..=k])
}

/// Returns the stability of the curve: R² of an OLS fit of `cumsum(ln(1 + r))` against time.
///
/// `NaN` with fewer than 2 returns; 0 for a flat curve, as scipy's `linregress` reports.
pub fn stability(returns: &[f64]) -> f64 {
    if returns.len() < 2 {
        return f64::NAN;
    }
    let y: Vec<f64> = returns
        .iter()
        .scan(0.0, |acc, r| {
            *acc += r.ln_1p();
            Some(*acc)
        })
        .collect();
    let (mx, my) = ((y.len() - 1) as f64 / 2.0, mean(&y));
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in y.iter().enumerate() {
        let (dx, dy) = (x as f64 - mx, y - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if syy == 0.0 {
        0.0
    } else {
        (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0).powi(2)
    }
}

/// Returns the Omega ratio at a threshold of 0: the sum of gains over the sum of losses
/// (`NaN` without losses).
pub fn omega(returns: &[f64]) -> f64 {
    let gains: f64 = returns.iter().filter(|&&r| r > 0.0).sum();
    let losses: f64 = -returns.iter().filter(|&&r| r < 0.0).sum::<f64>();
    if losses > 0.0 {
        gains / losses
    } else {
        f64::NAN
    }
}

/// Returns `|percentile(r, 95)| / |percentile(r, 5)|` (`NaN` when undefined or infinite).
pub fn tail_ratio(returns: &[f64]) -> f64 {
    tail_ratio_of_sorted(&sorted(returns))
}

/// [`tail_ratio`] of returns already sorted ascending.
fn tail_ratio_of_sorted(sorted: &[f64]) -> f64 {
    let ratio = percentile_of_sorted(sorted, 95.0).abs() / percentile_of_sorted(sorted, 5.0).abs();
    if ratio.is_finite() { ratio } else { f64::NAN }
}

/// Returns the skewness of returns, `m3 / m2^1.5` with population (biased) central moments:
/// scipy's `stats.skew` default (`bias=True`), which empyrical and pyfolio use.
///
/// `NaN` without returns or when the returns do not vary (scipy's own zero-variance test).
pub fn skew(returns: &[f64]) -> f64 {
    match central_moments(returns) {
        Some((m2, m3, _)) => m3 / m2.powf(1.5),
        None => f64::NAN,
    }
}

/// Returns the excess (Fisher) kurtosis of returns, `m4 / m2² - 3` with population (biased)
/// central moments: scipy's `stats.kurtosis` default (`fisher=True, bias=True`), so a normal
/// distribution scores 0.
///
/// `NaN` without returns or when the returns do not vary.
pub fn kurtosis(returns: &[f64]) -> f64 {
    match central_moments(returns) {
        Some((m2, _, m4)) => m4 / (m2 * m2) - 3.0,
        None => f64::NAN,
    }
}

/// The 2nd, 3rd and 4th population central moments, or `None` when they cannot scale a ratio:
/// no values, or a variance that scipy treats as zero (`m2 <= (1e-15 * mean)²`, float64's
/// resolution), so rounding noise in a constant series never yields a huge skew.
fn central_moments(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let m = mean(values);
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for v in values {
        let d = v - m;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
    (m2 > (1e-15 * m).powi(2) && m2.is_finite()).then_some((m2, m3, m4))
}

/// A strategy's figures relative to a benchmark, with empyrical's conventions (risk-free 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelativeMetrics {
    /// Annualised alpha: `(1 + mean(r - beta * b))^ppy - 1`, as empyrical's `alpha`.
    pub alpha: f64,
    /// `cov(r, b) / var(b)` (both with ddof 1, so the ratio equals empyrical's ddof 0 one).
    pub beta: f64,
    /// `mean(r - b) / std(r - b, ddof = 1) * sqrt(ppy)`.
    pub information_ratio: f64,
    /// `std(r - b, ddof = 1) * sqrt(ppy)`.
    pub tracking_error: f64,
}

impl RelativeMetrics {
    /// Returns the figures of `equity` against `benchmark` (two curves on the same steps; a
    /// longer one is cut to the shorter), annualised with `periods_per_year`.
    ///
    /// Each is `NaN` when undefined: fewer than 2 returns, a benchmark that never moves (beta,
    /// alpha), or active returns that never vary (information ratio).
    pub fn from_equity(equity: &[f64], benchmark: &[f64], periods_per_year: f64) -> Self {
        let n = equity.len().min(benchmark.len());
        let r = simple_returns(&equity[..n]);
        let b = simple_returns(&benchmark[..n]);
        Self::from_returns(&r, &b, periods_per_year)
    }

    /// Returns the figures of returns `r` against benchmark returns `b`, paired by position.
    pub fn from_returns(r: &[f64], b: &[f64], periods_per_year: f64) -> Self {
        Self::with_risk_free(r, b, periods_per_year, 0.0)
    }

    /// As [`RelativeMetrics::from_returns`], with alpha measured on excess returns as
    /// empyrical's `alpha(risk_free = rf)`: `(1 + mean((r - rf) - beta (b - rf)))^ppy - 1`,
    /// `rf` a per-period rate ([`per_period_rate`]). Beta, the information ratio and the
    /// tracking error do not move with a constant rate.
    pub fn with_risk_free(r: &[f64], b: &[f64], periods_per_year: f64, rf: f64) -> Self {
        let n = r.len().min(b.len());
        let (r, b) = (&r[..n], &b[..n]);
        let undefined = Self {
            alpha: f64::NAN,
            beta: f64::NAN,
            information_ratio: f64::NAN,
            tracking_error: f64::NAN,
        };
        if n < 2 {
            return undefined;
        }
        let (mr, mb) = (mean(r), mean(b));
        let (mut cov, mut var_b) = (0.0, 0.0);
        for (x, y) in r.iter().zip(b) {
            cov += (x - mr) * (y - mb);
            var_b += (y - mb) * (y - mb);
        }
        let ddof1 = (n - 1) as f64;
        let (cov, var_b) = (cov / ddof1, var_b / ddof1);
        let beta = if var_b > 0.0 { cov / var_b } else { f64::NAN };
        let excess: Vec<f64> = (r.iter().zip(b))
            .map(|(x, y)| (x - rf) - beta * (y - rf))
            .collect();
        let alpha = (1.0 + mean(&excess)).powf(periods_per_year) - 1.0;
        let active: Vec<f64> = r.iter().zip(b).map(|(x, y)| x - y).collect();
        let active_std = sample_std(&active);
        let information_ratio = if active_std > 0.0 {
            mean(&active) / active_std * periods_per_year.sqrt()
        } else {
            f64::NAN
        };
        Self {
            alpha,
            beta,
            information_ratio,
            tracking_error: active_std * periods_per_year.sqrt(),
        }
    }
}

/// Returns the payoff ratio of trade P&Ls: the mean winning P&L over the absolute mean losing
/// P&L (trades at exactly 0 count as neither). `NaN` without a winning or without a losing trade.
pub fn payoff_ratio(pnls: &[f64]) -> f64 {
    let mean_of = |keep: fn(f64) -> bool| {
        let kept: Vec<f64> = pnls.iter().copied().filter(|&p| keep(p)).collect();
        mean(&kept)
    };
    let (win, loss) = (mean_of(|p| p > 0.0), mean_of(|p| p < 0.0));
    if win.is_nan() || loss.is_nan() {
        f64::NAN
    } else {
        win / loss.abs()
    }
}

/// Returns the annualised Sharpe ratio of each trailing `window` of returns: element `t` covers
/// `returns[t + 1 - window..=t]`, as [`sharpe`] would compute it. `NaN` before the first full
/// window, where the window's returns do not vary, or when `window < 2`.
pub fn rolling_sharpe(returns: &[f64], window: usize, periods_per_year: f64) -> Vec<f64> {
    let mut w = RollingMeanVar::new(window);
    (returns.iter())
        .map(|&r| window_sharpe(w.push(r), periods_per_year))
        .collect()
}

/// Returns the annualised volatility of each trailing `window` of returns, aligned as in
/// [`rolling_sharpe`] (`NaN` before the first full window or when `window < 2`).
pub fn rolling_volatility(returns: &[f64], window: usize, periods_per_year: f64) -> Vec<f64> {
    let mut w = RollingMeanVar::new(window);
    (returns.iter())
        .map(|&r| window_volatility(w.push(r), periods_per_year))
        .collect()
}

/// Returns the annualised Sharpe ratio of a window's (mean, sample variance), as
/// [`RollingMeanVar::push`] gives them: `NaN` unless the variance is positive.
pub fn window_sharpe((mean, var): (f64, f64), periods_per_year: f64) -> f64 {
    if var > 0.0 {
        mean / var.sqrt() * periods_per_year.sqrt()
    } else {
        f64::NAN
    }
}

/// Returns the annualised volatility of a window's (mean, sample variance).
pub fn window_volatility((_, var): (f64, f64), periods_per_year: f64) -> f64 {
    var.sqrt() * periods_per_year.sqrt()
}

/// Mean and sample variance of each trailing window of a series handed in one value at a time
/// ([`RollingMeanVar::push`]), in O(1) a value whatever the window, holding the window alone.
///
/// A minute-bar year holds ~100k returns and a month-long window ~8k, so recomputing every
/// window would cost ~10^9 operations. Sums slide instead, shifted by a value of the window to
/// limit cancellation and recomputed exactly once per window length so rounding cannot build up.
/// A window of identical returns (a flat stretch with no position) gets a variance of exactly 0,
/// not rounding noise that would read as an enormous Sharpe ratio.
#[derive(Debug, Clone)]
pub struct RollingMeanVar {
    /// The last `window` values; value `t` at `t % window`.
    ring: Vec<f64>,
    /// Values pushed so far.
    seen: usize,
    shift: f64,
    s1: f64,
    s2: f64,
    /// How many values in a row equal the last one.
    run: usize,
    /// The window in order, for the rare direct measure.
    ordered: Vec<f64>,
}

impl RollingMeanVar {
    /// Returns an empty window of `window` values (never full when `window < 2`).
    pub fn new(window: usize) -> Self {
        Self {
            ring: vec![0.0; if window < 2 { 0 } else { window }],
            seen: 0,
            shift: 0.0,
            s1: 0.0,
            s2: 0.0,
            run: 0,
            ordered: Vec::new(),
        }
    }

    /// Adds the next value and returns the (mean, sample variance) of the window ending with
    /// it: `NaN`s until the window is full.
    pub fn push(&mut self, v: f64) -> (f64, f64) {
        let window = self.ring.len();
        if window == 0 {
            return (f64::NAN, f64::NAN);
        }
        let t = self.seen;
        self.seen += 1;
        self.run = if t > 0 && v == self.ring[(t - 1) % window] {
            self.run + 1
        } else {
            1
        };
        // Value `t - window`, which leaves the window as `v` enters it.
        let leaving = std::mem::replace(&mut self.ring[t % window], v);
        let Some(start) = (t + 1).checked_sub(window) else {
            return (f64::NAN, f64::NAN);
        };
        let w = window as f64;
        if start.is_multiple_of(window) {
            // The ring holds the window in order.
            self.shift = self.ring[0];
            (self.s1, self.s2) = (0.0, 0.0);
            for x in &self.ring {
                let y = x - self.shift;
                self.s1 += y;
                self.s2 += y * y;
            }
        } else {
            let (y_in, y_out) = (v - self.shift, leaving - self.shift);
            self.s1 += y_in - y_out;
            self.s2 += y_in * y_in - y_out * y_out;
        }
        if self.run >= window {
            return (v, 0.0);
        }
        let var = (self.s2 - self.s1 * self.s1 / w) / (w - 1.0);
        if var > 0.0 {
            (self.shift + self.s1 / w, var)
        } else {
            // Cancellation ate a tiny but real variance: measure this window directly.
            let oldest = start % window;
            self.ordered.clear();
            self.ordered.extend_from_slice(&self.ring[oldest..]);
            self.ordered.extend_from_slice(&self.ring[..oldest]);
            (mean(&self.ordered), sample_std(&self.ordered).powi(2))
        }
    }
}

/// Returns the Kelly fraction of per-period returns, as quantstats' `kelly_criterion`:
/// `p - (1 - p) / payoff`, with `p` the share of winning periods among those that moved and
/// `payoff` the mean gain over the absolute mean loss. `NaN` without a gain or without a loss.
pub fn kelly(returns: &[f64]) -> f64 {
    let moved = returns.iter().filter(|r| **r != 0.0).count();
    let wins = returns.iter().filter(|r| **r > 0.0).count();
    let payoff = payoff_ratio(returns);
    if moved == 0 || payoff.is_nan() {
        return f64::NAN;
    }
    let p = wins as f64 / moved as f64;
    p - (1.0 - p) / payoff
}

/// Returns the probability that the true Sharpe ratio exceeds 0 given the observed one, per
/// Bailey and López de Prado (2012): `Φ(SR sqrt(n - 1) / sqrt(1 - γ3 SR + (γ4 - 1) / 4 SR²))`,
/// with SR the per-period (not annualised) Sharpe ratio of returns in excess of `rf` a period,
/// γ3 their skewness and γ4 their (non-excess) kurtosis, population moments as [`skew`].
///
/// `NaN` with fewer than 2 returns, returns that never vary, or a negative variance estimate
/// (extreme skew).
pub fn probabilistic_sharpe(returns: &[f64], rf: f64) -> f64 {
    let sr = excess_sharpe(returns, 1.0, rf);
    let Some((m2, m3, m4)) = central_moments(returns) else {
        return f64::NAN;
    };
    let (g3, g4) = (m3 / m2.powf(1.5), m4 / (m2 * m2));
    sharpe_above(sr, returns.len(), g3, g4, 0.0)
}

/// Returns the probability that the true Sharpe ratio exceeds `benchmark` given an observed
/// per-period Sharpe ratio `sr` over `n` returns of skewness `skew` (γ3) and kurtosis
/// `kurtosis` (γ4, not excess: 3 for a normal distribution):
/// `Φ((SR - SR*) sqrt(n - 1) / sqrt(1 - γ3 SR + (γ4 - 1) / 4 SR²))` (Bailey and López de
/// Prado 2012). [`probabilistic_sharpe`] is this
/// against 0; the deflated Sharpe ratio is this against the best of many trials by chance.
///
/// `NaN` with fewer than 2 returns, an undefined input or a negative variance estimate.
pub fn sharpe_above(sr: f64, n: usize, skew: f64, kurtosis: f64, benchmark: f64) -> f64 {
    let variance = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr;
    if n < 2 || variance.is_nan() || variance <= 0.0 || sr.is_nan() || benchmark.is_nan() {
        return f64::NAN;
    }
    normal_cdf((sr - benchmark) * ((n - 1) as f64).sqrt() / variance.sqrt())
}

/// Returns the ulcer index of `equity`: `sqrt(mean(drawdown²))` over every point, drawdowns as
/// fractions below the running peak ([`drawdown_series`]); 0 for a curve that never falls,
/// `NaN` for an empty one.
pub fn ulcer_index(equity: &[f64]) -> f64 {
    let dd = drawdown_series(equity);
    (dd.iter().map(|d| d * d).sum::<f64>() / dd.len() as f64).sqrt()
}

/// Returns the longest runs of consecutive gaining and of consecutive losing periods (a period
/// that does not move ends both), as quantstats' `consecutive_wins` and `consecutive_losses`.
pub fn longest_streaks(returns: &[f64]) -> (usize, usize) {
    let (mut wins, mut losses, mut best_wins, mut best_losses) = (0, 0, 0, 0);
    for r in returns {
        wins = if *r > 0.0 { wins + 1 } else { 0 };
        losses = if *r < 0.0 { losses + 1 } else { 0 };
        best_wins = best_wins.max(wins);
        best_losses = best_losses.max(losses);
    }
    (best_wins, best_losses)
}

/// Returns the beta of each trailing `window` of returns `r` against `b` (paired by position):
/// element `t` is `cov(r, b) / var(b)` over `t + 1 - window..=t`. `NaN` before the first full
/// window, where `b` does not vary within the window, or when `window < 2`.
pub fn rolling_beta(r: &[f64], b: &[f64], window: usize) -> Vec<f64> {
    let mut beta = RollingBeta::new(window);
    r.iter().zip(b).map(|(&r, &b)| beta.push(r, b)).collect()
}

/// [`rolling_beta`] one pair of returns at a time, holding the window alone.
///
/// Recomputed per window from scratch every `window` steps and slid in between, so a year of
/// minute bars costs O(n), not O(n x window), and rounding cannot build up.
#[derive(Debug, Clone)]
pub struct RollingBeta {
    /// The last `window` pairs (r, b); pair `t` at `t % window`.
    ring: Vec<(f64, f64)>,
    seen: usize,
    sr: f64,
    sb: f64,
    sbb: f64,
    srb: f64,
}

impl RollingBeta {
    /// Returns an empty window of `window` pairs (never full when `window < 2`).
    pub fn new(window: usize) -> Self {
        Self {
            ring: vec![(0.0, 0.0); if window < 2 { 0 } else { window }],
            seen: 0,
            sr: 0.0,
            sb: 0.0,
            sbb: 0.0,
            srb: 0.0,
        }
    }

    /// Adds the next returns of the strategy (`r`) and of the benchmark (`b`) and returns the
    /// beta of the window ending with them (`NaN` as [`rolling_beta`] says).
    pub fn push(&mut self, r: f64, b: f64) -> f64 {
        let window = self.ring.len();
        if window == 0 {
            return f64::NAN;
        }
        let t = self.seen;
        self.seen += 1;
        let (ro, bo) = std::mem::replace(&mut self.ring[t % window], (r, b));
        let Some(start) = (t + 1).checked_sub(window) else {
            return f64::NAN;
        };
        if start.is_multiple_of(window) {
            (self.sr, self.sb, self.sbb, self.srb) = (0.0, 0.0, 0.0, 0.0);
            for &(r, b) in &self.ring {
                self.sr += r;
                self.sb += b;
                self.sbb += b * b;
                self.srb += r * b;
            }
        } else {
            self.sr += r - ro;
            self.sb += b - bo;
            self.sbb += b * b - bo * bo;
            self.srb += r * b - ro * bo;
        }
        let w = window as f64;
        let var_b = self.sbb - self.sb * self.sb / w;
        // Below rounding of the sums: the benchmark did not move in this window.
        if var_b > 1e-12 * self.sbb {
            (self.srb - self.sr * self.sb / w) / var_b
        } else {
            f64::NAN
        }
    }
}

/// The standard normal distribution function, through the complementary error function of
/// Numerical Recipes (`erfcc`, fractional error below 1.2e-7 everywhere).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ]
    .iter()
    .rev()
    .fold(0.0, |acc, c| c + t * acc);
    let erfc = t * (-z * z + poly).exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn sample_std(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_sharpe_and_drawdown_equal_the_buffered_ones_bit_for_bit() {
        let mut e = 100.0;
        let equity: Vec<f64> = (0..5_000)
            .map(|i| {
                e *= 1.0 + ((i * 7_919 % 101) as f64 - 50.0) * 1e-4;
                e
            })
            .collect();
        for n in [0, 1, 2, 3, 5_000] {
            let curve = &equity[..n];
            let buffered = sharpe(&simple_returns(curve), 252.0);
            let fused = sharpe_of_equity(curve, 252.0, 0.0);
            assert!(
                buffered.to_bits() == fused.to_bits() || (buffered.is_nan() && fused.is_nan()),
                "{n}: {buffered} vs {fused}"
            );
            // With a risk-free rate, the same as the excess Sharpe of the stored returns.
            let rf = per_period_rate(0.04, 252.0);
            let buffered = excess_sharpe(&simple_returns(curve), 252.0, rf);
            let fused = sharpe_of_equity(curve, 252.0, 0.04);
            assert!(
                (buffered - fused).abs() <= 1e-12 || (buffered.is_nan() && fused.is_nan()),
                "{n}: {buffered} vs {fused}"
            );
            let worst = drawdown_series(curve).into_iter().fold(0.0, f64::min);
            assert_eq!(max_drawdown(curve).to_bits(), worst.to_bits(), "{n}");
        }
    }

    /// GOOG daily close-to-close returns, 2004-08-20..2013-03-01 (2147 values).
    fn goog_returns() -> Vec<f64> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/reference/returns_goog.csv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
            .collect()
    }

    fn assert_rel(actual: f64, expected: f64, what: &str) {
        let rel = ((actual - expected) / expected).abs();
        assert!(rel <= 1e-12, "{what}: {actual} vs {expected} (rel {rel:e})");
    }

    fn assert_nan(value: f64, what: &str) {
        assert!(value.is_nan(), "{what}: expected NaN, got {value}");
    }

    #[test]
    fn goog_matches_empyrical() {
        let r = goog_returns();
        assert_eq!(r.len(), 2147);
        let equity: Vec<f64> = std::iter::once(100.0)
            .chain(r.iter().scan(100.0, |w, r| {
                *w *= 1.0 + r;
                Some(*w)
            }))
            .collect();
        let m = ReturnMetrics::from_equity(&equity, 252.0);
        // Source: /work/shared/reference/metrics_goog.json, "metrics_empyrical"
        // (empyrical-reloaded 0.7.1, numpy 2.4.6).
        assert_rel(m.cagr, 0.2770806653191571, "annual_return");
        assert_rel(
            m.annual_volatility,
            0.34405786161892116,
            "annual_volatility",
        );
        assert_rel(m.sharpe, 0.8815185699129495, "sharpe_ratio");
        assert_rel(m.sortino, 1.3541673631507354, "sortino_ratio");
        assert_rel(m.max_drawdown, -0.65294759972499, "max_drawdown");
        assert_rel(m.calmar, 0.4243536011708422, "calmar_ratio");
        assert_rel(m.var_95, -0.030780025087434947, "value_at_risk");
        assert_rel(m.cvar_95, -0.04808958498266026, "conditional_value_at_risk");
        assert_rel(m.stability, 0.5646345614482037, "stability_of_timeseries");
        assert_rel(m.omega, 1.17971987977187, "omega_ratio");
        assert_rel(m.tail_ratio, 1.038012893300152, "tail_ratio");
        let growth: f64 = r.iter().map(|r| 1.0 + r).product();
        assert_rel(m.total_return, growth - 1.0, "total_return");
        // The free functions on returns agree with the equity path.
        assert_rel(
            sharpe(&r, 252.0),
            0.8815185699129495,
            "sharpe on raw returns",
        );
        assert_rel(calmar(&equity, 252.0), m.calmar, "calmar fn");
    }

    #[test]
    fn flat_curve_has_no_risk_and_undefined_ratios() {
        let m = ReturnMetrics::from_equity(&[100.0; 5], 252.0);
        assert_eq!(
            (m.total_return, m.cagr, m.annual_volatility),
            (0.0, 0.0, 0.0)
        );
        assert_eq!((m.max_drawdown, m.max_drawdown_duration), (0.0, 0));
        assert_eq!((m.var_95, m.cvar_95, m.stability), (0.0, 0.0, 0.0));
        for (v, what) in [
            (m.sharpe, "sharpe"),
            (m.sortino, "sortino"),
            (m.calmar, "calmar"),
        ] {
            assert_nan(v, what);
        }
        assert_nan(m.omega, "omega");
        assert_nan(m.tail_ratio, "tail_ratio");
    }

    #[test]
    fn rising_curve_has_no_drawdown() {
        let equity = [100.0, 101.0, 103.0, 106.0, 110.0];
        let m = ReturnMetrics::from_equity(&equity, 4.0);
        assert_rel(m.total_return, 0.1, "total_return");
        // Four returns at four periods a year: one year, so CAGR is the total return.
        assert_rel(m.cagr, 0.1, "cagr");
        assert_eq!((m.max_drawdown, m.max_drawdown_duration), (0.0, 0));
        assert!(m.sharpe > 0.0);
        assert_eq!(drawdown_series(&equity), vec![0.0; 5]);
        assert_nan(m.sortino, "sortino without losses");
        assert_nan(m.calmar, "calmar without drawdown");
        assert_nan(m.omega, "omega without losses");
    }

    #[test]
    fn known_drawdown_and_duration() {
        let equity = [100.0, 120.0, 90.0, 60.0, 100.0, 130.0, 125.0];
        assert_eq!(
            drawdown_series(&equity),
            vec![
                0.0,
                0.0,
                -0.25,
                -0.5,
                100.0 / 120.0 - 1.0,
                0.0,
                125.0 / 130.0 - 1.0
            ]
        );
        assert_eq!(max_drawdown(&equity), -0.5);
        // Peak 120 at t = 1, regained by 130 at t = 5.
        assert_eq!(max_drawdown_duration(&equity), 4);
        // Never regained: the stretch runs to the last point.
        assert_eq!(max_drawdown_duration(&[100.0, 120.0, 90.0, 100.0]), 2);
        // Equalling the peak counts as regaining it; the later open stretch is longer.
        assert_eq!(
            max_drawdown_duration(&[100.0, 90.0, 100.0, 95.0, 94.0, 93.0]),
            3
        );
        // The starting value is a peak.
        assert_eq!(max_drawdown(&[100.0, 80.0, 90.0]), 80.0 / 100.0 - 1.0);
        assert_eq!(max_drawdown_duration(&[100.0, 80.0, 90.0]), 2);
        // Calmar: CAGR 25% (two periods a year, one year) over a 50% drawdown.
        assert_eq!(calmar(&[100.0, 50.0, 125.0], 2.0), 0.5);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [4.0, 1.0, 3.0, 2.0];
        // np.percentile([1, 2, 3, 4], q) for q = 5, 50, 95, 0, 100.
        assert_rel(percentile(&v, 5.0), 1.15, "p5");
        assert_eq!(percentile(&v, 50.0), 2.5);
        assert_rel(percentile(&v, 95.0), 3.85, "p95");
        assert_eq!((percentile(&v, 0.0), percentile(&v, 100.0)), (1.0, 4.0));
        // N = 41: k = int(40 * 0.05) = 2, the mean of the 3 smallest.
        let r: Vec<f64> = (0..41).map(|i| f64::from(i) - 10.0).collect();
        assert_eq!(cvar_95(&r), -9.0);
        assert_eq!(var_95(&r), -8.0);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        for equity in [&[][..], &[100.0][..]] {
            let m = ReturnMetrics::from_equity(equity, 252.0);
            assert_eq!((m.max_drawdown, m.max_drawdown_duration), (0.0, 0));
            for v in [
                m.cagr,
                m.annual_volatility,
                m.sharpe,
                m.sortino,
                m.var_95,
                m.cvar_95,
            ] {
                assert!(v.is_nan());
            }
            assert!(m.stability.is_nan() && m.omega.is_nan() && m.tail_ratio.is_nan());
        }
        assert_nan(total_return(&[]), "total_return of nothing");
        assert_eq!(total_return(&[100.0]), 0.0);
        // Two points: a CAGR and a drawdown exist, a sample deviation does not.
        let m = ReturnMetrics::from_equity(&[100.0, 90.0], 252.0);
        assert_eq!((m.max_drawdown_duration, m.var_95), (1, m.cvar_95));
        assert_nan(m.sharpe, "sharpe of one return");
    }

    #[test]
    fn moments_of_a_two_point_distribution() {
        // p = 0.6 at +10%, q = 0.4 at -10%: skew (q - p) / sqrt(pq), excess kurtosis
        // (1 - 6pq) / pq, whatever the two values.
        let r = [0.1, -0.1, 0.1, 0.1, -0.1];
        let (p, q): (f64, f64) = (0.6, 0.4);
        assert_rel(skew(&r), (q - p) / (p * q).sqrt(), "skew");
        assert_rel(kurtosis(&r), (1.0 - 6.0 * p * q) / (p * q), "kurtosis");
        // Symmetric: no skew; uniform on four points: excess kurtosis -1.36.
        assert!(skew(&[1.0, 2.0, 3.0]).abs() < 1e-15);
        assert_rel(
            kurtosis(&[1.0, 2.0, 3.0, 4.0]),
            2.5625 / 1.5625 - 3.0,
            "uniform",
        );
        for flat in [&[][..], &[0.01][..], &[0.01; 9][..]] {
            assert_nan(skew(flat), "skew of no spread");
            assert_nan(kurtosis(flat), "kurtosis of no spread");
        }
    }

    #[test]
    fn relative_metrics_of_a_levered_benchmark() {
        // r = 2b + 0.001: beta 2, alpha 0.001 a period.
        let b = [0.01, -0.02, 0.015, 0.005, -0.01];
        let r: Vec<f64> = b.iter().map(|x| 2.0 * x + 0.001).collect();
        let m = RelativeMetrics::from_returns(&r, &b, 252.0);
        let mb = b.iter().sum::<f64>() / 5.0;
        let sd = (b.iter().map(|x| (x - mb).powi(2)).sum::<f64>() / 4.0).sqrt();
        assert_rel(m.beta, 2.0, "beta");
        assert_rel(m.alpha, 1.001f64.powf(252.0) - 1.0, "alpha");
        assert_rel(m.tracking_error, sd * 252.0f64.sqrt(), "tracking error");
        assert_rel(
            m.information_ratio,
            (mb + 0.001) / sd * 252.0f64.sqrt(),
            "information ratio",
        );
        let same = RelativeMetrics::from_returns(&b, &b, 252.0);
        assert_eq!((same.beta, same.tracking_error), (1.0, 0.0));
        assert_nan(
            same.information_ratio,
            "information ratio of the benchmark itself",
        );
        let flat = RelativeMetrics::from_returns(&b, &[0.0; 5], 252.0);
        assert_nan(flat.beta, "beta on a flat benchmark");
        assert_nan(flat.alpha, "alpha on a flat benchmark");
        assert_nan(
            RelativeMetrics::from_returns(&[0.1], &[0.2], 252.0).beta,
            "one",
        );
    }

    #[test]
    fn payoff_ratio_needs_wins_and_losses() {
        assert_rel(
            payoff_ratio(&[30.0, -10.0, 50.0, -20.0, 0.0]),
            40.0 / 15.0,
            "payoff",
        );
        assert_nan(payoff_ratio(&[-1.0, -2.0]), "no wins");
        assert_nan(payoff_ratio(&[1.0]), "no losses");
        assert_nan(payoff_ratio(&[]), "no trades");
    }

    #[test]
    fn rolling_windows_equal_plain_loops() {
        // Varying returns, then a flat stretch longer than the window, then varying again:
        // long enough for several exact recomputations of the sliding sums.
        let r: Vec<f64> = (0..1_000)
            .map(|i| {
                if (400..520).contains(&i) {
                    0.0
                } else {
                    ((i * 7_919 % 101) as f64 - 50.0) * 1e-4 + 3e-4
                }
            })
            .collect();
        let w = 50;
        let (sharpes, vols) = (
            rolling_sharpe(&r, w, 252.0),
            rolling_volatility(&r, w, 252.0),
        );
        assert_eq!((sharpes.len(), vols.len()), (r.len(), r.len()));
        for t in 0..r.len() {
            if t + 1 < w {
                assert!(sharpes[t].is_nan() && vols[t].is_nan(), "{t}");
                continue;
            }
            let window = &r[t + 1 - w..=t];
            let m = window.iter().sum::<f64>() / w as f64;
            let sd = (window.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (w - 1) as f64).sqrt();
            if sd == 0.0 {
                assert!(sharpes[t].is_nan(), "{t}: flat window has no Sharpe");
                assert_eq!(vols[t], 0.0, "{t}");
            } else {
                let expected = m / sd * 252.0f64.sqrt();
                assert!(
                    (sharpes[t] - expected).abs() <= 1e-9 * expected.abs(),
                    "{t}"
                );
                let expected = sd * 252.0f64.sqrt();
                assert!((vols[t] - expected).abs() <= 1e-9 * expected, "{t}");
            }
        }
        assert!(sharpes[469].is_nan() && !sharpes[600].is_nan());
        assert!(
            rolling_sharpe(&r[..10], 50, 252.0)
                .iter()
                .all(|x| x.is_nan())
        );
        assert!(rolling_sharpe(&r, 1, 252.0).iter().all(|x| x.is_nan()));
    }

    #[test]
    fn rolling_beta_equals_a_plain_loop_per_window() {
        // Long enough for many exact recomputations and slides, with a flat benchmark stretch.
        let r: Vec<f64> = (0..1_000)
            .map(|i| ((i * 7_919 % 101) as f64 - 50.0) * 1e-4)
            .collect();
        let b: Vec<f64> = (0..1_000)
            .map(|i| {
                if (300..420).contains(&i) {
                    0.002
                } else {
                    ((i * 104_729 % 97) as f64 - 48.0) * 1e-4
                }
            })
            .collect();
        let w = 50;
        let betas = rolling_beta(&r, &b, w);
        assert_eq!(betas.len(), r.len());
        for t in 0..r.len() {
            if t + 1 < w {
                assert!(betas[t].is_nan(), "{t}");
                continue;
            }
            let (rw, bw) = (&r[t + 1 - w..=t], &b[t + 1 - w..=t]);
            let (mr, mb) = (rw.iter().sum::<f64>() / 50.0, bw.iter().sum::<f64>() / 50.0);
            let cov: f64 = rw.iter().zip(bw).map(|(x, y)| (x - mr) * (y - mb)).sum();
            let var: f64 = bw.iter().map(|y| (y - mb).powi(2)).sum();
            if var < 1e-20 {
                assert!(betas[t].is_nan(), "{t}: a flat benchmark has no beta");
            } else {
                let expected = cov / var;
                assert!(
                    (betas[t] - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                    "{t}: {} vs {expected}",
                    betas[t]
                );
            }
        }
        assert!(betas[415].is_nan() && !betas[300].is_nan());
    }

    /// Twelve returns of a strategy and of a benchmark for the tear-sheet figures.
    const R: [f64; 12] = [
        0.01, -0.02, 0.015, 0.0, 0.03, -0.01, 0.005, -0.025, 0.02, 0.01, 0.012, -0.004,
    ];
    const B: [f64; 12] = [
        0.008, -0.015, 0.01, 0.002, 0.02, -0.012, 0.0, -0.02, 0.018, 0.006, 0.01, -0.006,
    ];

    fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
        let rel = ((actual - expected) / expected).abs();
        assert!(
            rel <= tolerance,
            "{what}: {actual} vs {expected} (rel {rel:e})"
        );
    }

    /// Expected values computed independently in plain Python 3.12 (`statistics`, `math`),
    /// following quantstats / empyrical and Bailey & López de Prado:
    /// rf = (1 + 0.04) ** (1 / 252) - 1; ex = [x - rf for x in R];
    /// sharpe = mean(ex) / stdev(ex) * sqrt(252); sortino = mean(ex) /
    /// sqrt(sum(min(x, 0) ** 2 for x in ex) / 12) * sqrt(252); kelly = p - (1 - p) / payoff over
    /// the 11 returns that moved; PSR = NormalDist().cdf(sr sqrt(11) / sqrt(1 - g3 sr +
    /// (g4 - 1) / 4 sr^2)) with population moments; ulcer = sqrt(mean(dd^2)) of the equity
    /// 100 * cumprod(1 + R) with its starting point; alpha = (1 + mean(ex - beta exb)) ** 252 - 1.
    #[test]
    fn tear_sheet_figures_match_independent_computation() {
        let rf = per_period_rate(0.04, 252.0);
        assert_close(rf, 0.000_155_649_862_791_262_8, 1e-12, "per-period rate");
        assert_close(
            excess_sharpe(&R, 252.0, rf),
            3.362_265_273_600_324_5,
            1e-12,
            "sharpe",
        );
        assert_close(
            excess_sortino(&R, 252.0, rf),
            5.535_521_073_907_819_6,
            1e-12,
            "sortino",
        );
        assert_close(kelly(&R), 0.268_270_944_741_532_96, 1e-12, "kelly");
        // The normal distribution function is good to 1.2e-7.
        assert_close(
            probabilistic_sharpe(&R, rf),
            0.750_358_691_038_745_4,
            1e-6,
            "psr",
        );
        let equity: Vec<f64> = std::iter::once(100.0)
            .chain(R.iter().scan(100.0, |e, r| {
                *e *= 1.0 + r;
                Some(*e)
            }))
            .collect();
        assert_close(
            ulcer_index(&equity),
            0.011_108_639_129_644_363,
            1e-12,
            "ulcer",
        );
        assert_eq!(longest_streaks(&R), (3, 1));
        let m = RelativeMetrics::with_risk_free(&R, &B, 252.0, rf);
        assert_close(m.beta, 1.246_346_555_323_590_8, 1e-12, "beta");
        assert_close(m.alpha, 0.437_294_574_419_330_2, 1e-10, "alpha");
        let expected = [
            1.429_640_718_562_874_1,
            1.330_645_161_290_322_5,
            1.250_000_000_000_000_2,
            1.314_655_172_413_793_4,
            1.234_137_055_837_563_3,
            1.166_965_888_689_407_6,
            1.192_007_797_270_955_3,
            1.181_159_420_289_855_4,
        ];
        let rolling = rolling_beta(&R, &B, 5);
        assert!(rolling[..4].iter().all(|x| x.is_nan()));
        for (t, (a, e)) in rolling[4..].iter().zip(expected).enumerate() {
            assert_close(*a, e, 1e-9, &format!("rolling beta {t}"));
        }
        // Undefined: no losses, a flat benchmark, one return, a flat curve.
        assert_nan(kelly(&[0.01, 0.02]), "kelly without losses");
        assert!(rolling_beta(&R, &[0.01; 12], 5).iter().all(|x| x.is_nan()));
        assert_nan(probabilistic_sharpe(&[0.01], 0.0), "psr of one return");
        assert_eq!(ulcer_index(&[100.0; 4]), 0.0);
        assert_nan(ulcer_index(&[]), "ulcer of nothing");
        // A zero rate leaves the figures exactly as without one.
        let plain = ReturnMetrics::from_equity(&equity, 252.0);
        assert_eq!(plain, ReturnMetrics::with_risk_free(&equity, 252.0, 0.0));
        assert_close(normal_cdf(0.0), 0.5, 1e-7, "Φ(0)");
        assert_close(normal_cdf(-1.959_963_984_540_054), 0.025, 1e-6, "Φ(-1.96)");
    }
}
