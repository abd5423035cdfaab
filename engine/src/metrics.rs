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
//!
//! The figures read their series as columns ([`Column`]: a slice, or a long run's curve read
//! back from disk in chunks) in a few passes each, holding nothing as long as the series: sums
//! in one pass, deviations from their means in a second, percentiles by exact selection
//! (`crate::selection`). Sums run in the series' order, as summing a slice did, so a figure is
//! the same to the last bit however the series is chunked.

pub use crate::annualisation::{Annualisation, StampTally, annualisation, infer_periods_per_year};
use crate::column::{Column, Returns, zip_each};
use crate::selection::{OrderKey, select};

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
    pub fn from_equity(equity: &(impl Column<f64> + Sync + ?Sized), periods_per_year: f64) -> Self {
        Self::with_risk_free(equity, periods_per_year, 0.0)
    }

    /// As [`ReturnMetrics::from_equity`], with Sharpe and Sortino measured on returns in excess
    /// of `risk_free` (an annual rate, turned into a per-period one by [`per_period_rate`]).
    pub fn with_risk_free(
        equity: &(impl Column<f64> + Sync + ?Sized),
        periods_per_year: f64,
        risk_free: f64,
    ) -> Self {
        CurveFigures::of(equity, periods_per_year, risk_free).metrics
    }
}

/// Every figure of one equity curve that a run's summary quotes, computed together in a fixed
/// number of passes over the curve, however long: one for the sums, one for the deviations from
/// their means, and, on another thread meanwhile, the few of the percentiles' selection. Each
/// figure is summed in the order of its own function, so both give the same value to the last
/// bit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CurveFigures {
    /// The headline metrics.
    pub(crate) metrics: ReturnMetrics,
    /// [`probabilistic_sharpe`] of the returns.
    pub(crate) probabilistic_sharpe: f64,
    /// [`ulcer_index`] of the curve.
    pub(crate) ulcer_index: f64,
    /// [`kelly`] of the returns.
    pub(crate) kelly: f64,
    /// [`longest_streaks`] of the returns.
    pub(crate) longest_streaks: (usize, usize),
    /// The number of points of the curve.
    pub(crate) points: usize,
    /// The sum of its points, in order.
    pub(crate) equity_sum: f64,
    /// Its last point, if any.
    pub(crate) last: Option<f64>,
}

impl CurveFigures {
    /// Measures `equity`, annualised with `periods_per_year`, over an annual risk-free rate.
    pub(crate) fn of(
        equity: &(impl Column<f64> + Sync + ?Sized),
        periods_per_year: f64,
        risk_free: f64,
    ) -> Self {
        let rf = per_period_rate(risk_free, periods_per_year);
        // The percentiles need only the number of returns, one per step after the first: they
        // are selected on another thread while the passes of sums and deviations run.
        let (passes, tails) = rayon::join(
            || {
                // First pass: the curve's own figures and the sums over its returns.
                let (mut first, mut last) = (None, None);
                let (mut points, mut equity_sum) = (0, -0.0);
                let mut drawdowns = Drawdowns::default();
                let mut sums = ReturnSums::new(rf);
                let mut levels = LogLevels::default();
                each_step(equity, |e, r| {
                    first.get_or_insert(e);
                    last = Some(e);
                    points += 1;
                    equity_sum += e;
                    drawdowns.add(e);
                    if let Some(r) = r {
                        sums.add(r);
                        levels.add(r);
                    }
                });
                // Second pass: deviations from the means of the first.
                let mut deviations = Deviations::new(&sums);
                let mut fit = levels.fit();
                Column::each(&Returns(equity), |r| {
                    deviations.add(r);
                    fit.add(r);
                });
                (
                    first, last, points, equity_sum, drawdowns, sums, deviations, fit,
                )
            },
            || Tails::of(&Returns(equity), equity.len().saturating_sub(1)),
        );
        let (first, last, points, equity_sum, drawdowns, sums, deviations, fit) = passes;
        let cagr = sums.cagr(periods_per_year);
        let total_return = match (first, last) {
            (Some(first), Some(last)) => last / first - 1.0,
            _ => f64::NAN,
        };
        Self {
            metrics: ReturnMetrics {
                total_return,
                cagr,
                annual_volatility: deviations.sample_std() * periods_per_year.sqrt(),
                sharpe: deviations.sharpe(periods_per_year),
                sortino: sums.sortino(periods_per_year),
                max_drawdown: drawdowns.worst,
                max_drawdown_duration: drawdowns.longest(),
                calmar: calmar_of(cagr, drawdowns.worst),
                var_95: tails.var_95,
                cvar_95: tails.cvar_95,
                stability: fit.stability(),
                omega: sums.omega(),
                tail_ratio: tails.tail_ratio,
                skew: deviations.skew(),
                kurtosis: deviations.kurtosis(),
            },
            probabilistic_sharpe: deviations.probabilistic_sharpe(),
            ulcer_index: drawdowns.ulcer_index(),
            kelly: sums.kelly(),
            longest_streaks: sums.longest,
            points,
            equity_sum,
            last,
        }
    }
}

/// Calls `f` with every point of `equity` and the simple return into it (none for the first),
/// across chunk edges.
fn each_step(equity: &(impl Column<f64> + ?Sized), mut f: impl FnMut(f64, Option<f64>)) {
    let mut previous = None;
    Column::each(&equity, |e| {
        f(e, previous.map(|p| simple_return(p, e)));
        previous = Some(e);
    });
}

/// The simple return from `from` to `to`, `to / from - 1`: the one rule of every return of a
/// curve ([`Returns`], [`simple_returns`], the summary's passes).
#[inline]
pub(crate) fn simple_return(from: f64, to: f64) -> f64 {
    to / from - 1.0
}

/// Returns the simple returns `e[t] / e[t-1] - 1`; one fewer than the equity points.
pub fn simple_returns(equity: &[f64]) -> Vec<f64> {
    equity
        .windows(2)
        .map(|w| simple_return(w[0], w[1]))
        .collect()
}

/// Returns last equity over first, minus 1 (`NaN` for an empty curve).
pub fn total_return(equity: &(impl Column<f64> + ?Sized)) -> f64 {
    let (first, last) = Column::fold(&equity, (None, None), |(first, _), e| {
        (first.or(Some(e)), Some(e))
    });
    match (first, last) {
        (Some(first), Some(last)) => last / first - 1.0,
        _ => f64::NAN,
    }
}

/// Returns the compound annual growth rate `prod(1 + r)^(ppy / N) - 1` (`NaN` without returns).
pub fn cagr(returns: &(impl Column<f64> + ?Sized), periods_per_year: f64) -> f64 {
    ReturnSums::of(returns, 0.0).cagr(periods_per_year)
}

/// Returns `std(r, ddof = 1) * sqrt(ppy)` (`NaN` with fewer than 2 returns).
pub fn annual_volatility(returns: &(impl Column<f64> + ?Sized), periods_per_year: f64) -> f64 {
    sample_std(returns) * periods_per_year.sqrt()
}

/// Returns the Sharpe ratio `mean(r) / std(r, ddof = 1) * sqrt(ppy)` with a risk-free rate of 0.
///
/// `NaN` with fewer than 2 returns or a zero standard deviation.
pub fn sharpe(returns: &(impl Column<f64> + ?Sized), periods_per_year: f64) -> f64 {
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
/// `mean(r - rf) / std(r - rf, ddof = 1) * sqrt(ppy)` (two passes: the mean, then deviations).
pub fn excess_sharpe(returns: &(impl Column<f64> + ?Sized), periods_per_year: f64, rf: f64) -> f64 {
    Deviations::of(returns, &ReturnSums::of(returns, rf)).sharpe(periods_per_year)
}

/// [`excess_sharpe`] of the simple returns of `equity` over `risk_free` a year, computed as they
/// are needed rather than stored: the same operations in the same order, so the same value to
/// the last bit.
pub fn sharpe_of_equity(
    equity: &(impl Column<f64> + ?Sized),
    periods_per_year: f64,
    risk_free: f64,
) -> f64 {
    let rf = per_period_rate(risk_free, periods_per_year);
    excess_sharpe(&Returns(equity), periods_per_year, rf)
}

/// Returns the Sortino ratio `mean(r) * ppy / (sqrt(mean(min(r, 0)²)) * sqrt(ppy))`.
///
/// The downside mean runs over all N returns, as in empyrical. `NaN` without returns or without
/// a single loss, where empyrical would give infinity (not representable in JSON).
pub fn sortino(returns: &(impl Column<f64> + ?Sized), periods_per_year: f64) -> f64 {
    excess_sortino(returns, periods_per_year, 0.0)
}

/// Returns the Sortino ratio of returns in excess of `rf` a period, as empyrical's
/// `sortino_ratio(required_return = rf)`: both the mean and the downside are of `r - rf`.
pub fn excess_sortino(
    returns: &(impl Column<f64> + ?Sized),
    periods_per_year: f64,
    rf: f64,
) -> f64 {
    ReturnSums::of(returns, rf).sortino(periods_per_year)
}

/// Sums over returns in one pass, in the returns' order and from where `Iterator::sum` starts
/// (-0.0), so each figure is the one that summing a slice of them gave, to the last bit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReturnSums {
    /// The per-period risk-free rate of the excess figures.
    rf: f64,
    pub(crate) n: usize,
    /// Σ r.
    pub(crate) sum: f64,
    /// Σ (r - rf).
    excess: f64,
    /// Σ min(r - rf, 0)².
    downside: f64,
    /// Π (1 + r).
    growth: f64,
    /// Σ r over r > 0, and how many.
    pub(crate) gains: f64,
    pub(crate) wins: usize,
    /// Σ r over r < 0 (a sum <= 0), and how many.
    pub(crate) losses: f64,
    pub(crate) falls: usize,
    /// Returns exactly 0 (of either sign).
    unmoved: usize,
    /// The current runs of gains and of losses, and the longest of each.
    streak: (usize, usize),
    longest: (usize, usize),
}

impl ReturnSums {
    pub(crate) fn new(rf: f64) -> Self {
        Self {
            rf,
            n: 0,
            sum: -0.0,
            excess: -0.0,
            downside: -0.0,
            growth: 1.0,
            gains: -0.0,
            wins: 0,
            losses: -0.0,
            falls: 0,
            unmoved: 0,
            streak: (0, 0),
            longest: (0, 0),
        }
    }

    fn of(returns: &(impl Column<f64> + ?Sized), rf: f64) -> Self {
        let mut sums = Self::new(rf);
        Column::each(&returns, |r| sums.add(r));
        sums
    }

    #[inline]
    pub(crate) fn add(&mut self, r: f64) {
        self.n += 1;
        self.sum += r;
        let excess = r - self.rf;
        self.excess += excess;
        self.downside += excess.min(0.0).powi(2);
        self.growth *= 1.0 + r;
        if r > 0.0 {
            self.gains += r;
            self.wins += 1;
        } else if r < 0.0 {
            self.losses += r;
            self.falls += 1;
        } else if r == 0.0 {
            self.unmoved += 1;
        }
        // A period that does not move ends both streaks.
        self.streak.0 = if r > 0.0 { self.streak.0 + 1 } else { 0 };
        self.streak.1 = if r < 0.0 { self.streak.1 + 1 } else { 0 };
        self.longest.0 = self.longest.0.max(self.streak.0);
        self.longest.1 = self.longest.1.max(self.streak.1);
    }

    fn mean(&self) -> f64 {
        self.sum / self.n as f64
    }

    fn excess_mean(&self) -> f64 {
        self.excess / self.n as f64
    }

    fn cagr(&self, periods_per_year: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        // Written as empyrical does, `ending ** (1 / years)`, to agree to the last bits.
        self.growth.powf(1.0 / (self.n as f64 / periods_per_year)) - 1.0
    }

    fn sortino(&self, periods_per_year: f64) -> f64 {
        let downside = (self.downside / self.n as f64).sqrt() * periods_per_year.sqrt();
        if downside == 0.0 || downside.is_nan() {
            return f64::NAN;
        }
        self.excess_mean() * periods_per_year / downside
    }

    fn omega(&self) -> f64 {
        let losses = -self.losses;
        if losses > 0.0 {
            self.gains / losses
        } else {
            f64::NAN
        }
    }

    /// The mean gain over the absolute mean loss.
    pub(crate) fn payoff(&self) -> f64 {
        let (win, loss) = (
            self.gains / self.wins as f64,
            self.losses / self.falls as f64,
        );
        if win.is_nan() || loss.is_nan() {
            f64::NAN
        } else {
            win / loss.abs()
        }
    }

    fn kelly(&self) -> f64 {
        // `NaN` moves too, as it is not 0.
        let moved = self.n - self.unmoved;
        let payoff = self.payoff();
        if moved == 0 || payoff.is_nan() {
            return f64::NAN;
        }
        let p = self.wins as f64 / moved as f64;
        p - (1.0 - p) / payoff
    }
}

/// Sums of the deviations from the means of a [`ReturnSums`]: a second pass, in the same order.
#[derive(Debug, Clone, Copy)]
struct Deviations {
    n: usize,
    rf: f64,
    mean: f64,
    excess_mean: f64,
    /// Σ (r - mean)², Σ (r - mean)³, Σ (r - mean)⁴.
    squares: f64,
    cubes: f64,
    fourths: f64,
    /// Σ (r - rf - excess mean)².
    excess_squares: f64,
}

impl Deviations {
    fn new(sums: &ReturnSums) -> Self {
        Self {
            n: sums.n,
            rf: sums.rf,
            mean: sums.mean(),
            excess_mean: sums.excess_mean(),
            // From 0.0 where `Iterator::sum` starts from -0.0: the same, as every term is >= +0.
            squares: 0.0,
            cubes: 0.0,
            fourths: 0.0,
            excess_squares: -0.0,
        }
    }

    fn of(returns: &(impl Column<f64> + ?Sized), sums: &ReturnSums) -> Self {
        let mut deviations = Self::new(sums);
        Column::each(&returns, |r| deviations.add(r));
        deviations
    }

    #[inline]
    fn add(&mut self, r: f64) {
        let d = r - self.mean;
        let d2 = d * d;
        self.squares += d2;
        self.cubes += d2 * d;
        self.fourths += d2 * d2;
        self.excess_squares += (r - self.rf - self.excess_mean).powi(2);
    }

    /// The sample (ddof 1) standard deviation.
    fn sample_std(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        (self.squares / (self.n - 1) as f64).sqrt()
    }

    /// The Sharpe ratio of the excess returns, annualised with `periods_per_year`.
    fn sharpe(&self, periods_per_year: f64) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        let std = (self.excess_squares / (self.n - 1) as f64).sqrt();
        if std == 0.0 || std.is_nan() {
            return f64::NAN;
        }
        self.excess_mean / std * periods_per_year.sqrt()
    }

    /// The 2nd, 3rd and 4th population central moments, or `None` when they cannot scale a
    /// ratio: no values, or a variance that scipy treats as zero (`m2 <= (1e-15 * mean)²`,
    /// float64's resolution), so rounding noise in a constant series never yields a huge skew.
    fn central_moments(&self) -> Option<(f64, f64, f64)> {
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        let (m2, m3, m4) = (self.squares / n, self.cubes / n, self.fourths / n);
        (m2 > (1e-15 * self.mean).powi(2) && m2.is_finite()).then_some((m2, m3, m4))
    }

    fn skew(&self) -> f64 {
        match self.central_moments() {
            Some((m2, m3, _)) => m3 / m2.powf(1.5),
            None => f64::NAN,
        }
    }

    fn kurtosis(&self) -> f64 {
        match self.central_moments() {
            Some((m2, _, m4)) => m4 / (m2 * m2) - 3.0,
            None => f64::NAN,
        }
    }

    fn probabilistic_sharpe(&self) -> f64 {
        let sr = self.sharpe(1.0);
        let Some((m2, m3, m4)) = self.central_moments() else {
            return f64::NAN;
        };
        let (g3, g4) = (m3 / m2.powf(1.5), m4 / (m2 * m2));
        sharpe_above(sr, self.n, g3, g4, 0.0)
    }
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
pub fn max_drawdown(equity: &(impl Column<f64> + ?Sized)) -> f64 {
    Drawdowns::of(equity).worst
}

/// Returns the longest stretch, in periods, from a peak until equity first gets back to it,
/// or until the last point when it never does; 0 when equity never falls below a peak.
pub fn max_drawdown_duration(equity: &(impl Column<f64> + ?Sized)) -> usize {
    Drawdowns::of(equity).longest()
}

/// The drawdowns of a curve folded point by point: the worst, their squares, the longest.
#[derive(Debug, Clone, Copy)]
struct Drawdowns {
    /// The drawdown from the running peak, as `drawdown_series`.
    running: RunningDrawdown,
    /// The worst drawdown so far (from 0, as a fold over the series starts).
    worst: f64,
    /// Σ drawdown², in order.
    squares: f64,
    points: usize,
    /// The peak the duration measures from (`e >= peak`), where it was, the longest stretch.
    high: f64,
    high_at: usize,
    longest_closed: usize,
}

impl Default for Drawdowns {
    fn default() -> Self {
        Self {
            running: RunningDrawdown::default(),
            worst: 0.0,
            squares: -0.0,
            points: 0,
            high: f64::NEG_INFINITY,
            high_at: 0,
            longest_closed: 0,
        }
    }
}

impl Drawdowns {
    fn of(equity: &(impl Column<f64> + ?Sized)) -> Self {
        let mut drawdowns = Self::default();
        Column::each(&equity, |e| drawdowns.add(e));
        drawdowns
    }

    #[inline]
    fn add(&mut self, e: f64) {
        let drawdown = self.running.push(e);
        self.worst = self.worst.min(drawdown);
        self.squares += drawdown * drawdown;
        let t = self.points;
        if e >= self.high {
            // Every point since `high_at` was below the peak, so this closes that stretch
            // (a distance of 1 means there was none).
            if t - self.high_at > 1 {
                self.longest_closed = self.longest_closed.max(t - self.high_at);
            }
            (self.high, self.high_at) = (e, t);
        }
        self.points += 1;
    }

    /// The longest stretch below a peak, the last one open until the last point.
    fn longest(&self) -> usize {
        let unrecovered = self.points.saturating_sub(1) - self.high_at;
        self.longest_closed.max(unrecovered)
    }

    /// `sqrt(mean(drawdown²))` (`NaN` without points).
    fn ulcer_index(&self) -> f64 {
        (self.squares / self.points as f64).sqrt()
    }
}

/// Returns the Calmar ratio, CAGR over `|max_drawdown|` of `equity` (`NaN` without a drawdown).
pub fn calmar(equity: &(impl Column<f64> + ?Sized), periods_per_year: f64) -> f64 {
    calmar_of(
        cagr(&Returns(equity), periods_per_year),
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
/// (`NaN` for no values). Exact, in bounded memory: the two values it interpolates are selected
/// by passes over the column rather than by sorting it.
pub fn percentile(values: &(impl Column<f64> + ?Sized), q: f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let at = Percentile::of(n, q);
    let v = select(values, &[at.lo, at.hi]);
    at.interpolate(v[0], v[1])
}

/// Where numpy's 'linear' percentile reads n sorted values: the ranks either side and the
/// weight of the upper one.
#[derive(Debug, Clone, Copy)]
struct Percentile {
    lo: usize,
    hi: usize,
    t: f64,
}

impl Percentile {
    /// The q-th percentile (`q` in 0..=100) of `n` > 0 values.
    fn of(n: usize, q: f64) -> Self {
        let pos = (n - 1) as f64 * (q / 100.0).clamp(0.0, 1.0);
        let lo = pos.floor() as usize;
        Self {
            lo,
            hi: (lo + 1).min(n - 1),
            t: pos - lo as f64,
        }
    }

    /// The percentile from the values at `lo` (`a`) and `hi` (`b`).
    fn interpolate(&self, a: f64, b: f64) -> f64 {
        // numpy's lerp: from the nearer end, which keeps the result monotone in `t`.
        if self.t >= 0.5 {
            b - (b - a) * (1.0 - self.t)
        } else {
            a + (b - a) * self.t
        }
    }
}

/// VaR 95, CVaR 95 and the tail ratio of returns, from one selection of the ranks they read.
#[derive(Debug, Clone, Copy)]
struct Tails {
    var_95: f64,
    cvar_95: f64,
    tail_ratio: f64,
}

impl Tails {
    /// The tails of the `n` values of `returns`.
    fn of(returns: &(impl Column<f64> + ?Sized), n: usize) -> Self {
        if n == 0 {
            return Self {
                var_95: f64::NAN,
                cvar_95: f64::NAN,
                tail_ratio: f64::NAN,
            };
        }
        let (p5, p95, k) = (
            Percentile::of(n, 5.0),
            Percentile::of(n, 95.0),
            cvar_rank(n),
        );
        let v = select(returns, &[p5.lo, p5.hi, p95.lo, p95.hi, k]);
        let var_95 = p5.interpolate(v[0], v[1]);
        Self {
            var_95,
            cvar_95: mean_of_smallest(returns, k + 1, v[4]),
            tail_ratio: tail_ratio_of(p95.interpolate(v[2], v[3]), var_95),
        }
    }
}

/// Returns the 95% value at risk: the 5th percentile of returns (negative = loss).
pub fn var_95(returns: &(impl Column<f64> + ?Sized)) -> f64 {
    percentile(returns, 5.0)
}

/// Returns the 95% conditional value at risk as empyrical computes it: with
/// `k = floor((N - 1) * 0.05)`, the mean of the `k + 1` smallest returns (`NaN` without returns).
pub fn cvar_95(returns: &(impl Column<f64> + ?Sized)) -> f64 {
    Tails::of(returns, returns.len()).cvar_95
}

/// The rank of the largest of the returns CVaR 95 averages.
fn cvar_rank(n: usize) -> usize {
    ((n - 1) as f64 * 0.05) as usize
}

/// Returns the mean of the `count` smallest values of a column whose `count`-th smallest
/// (`total_cmp`'s order) is `kth`: one pass sums the values below it, and `kth` fills the rest.
///
/// Summed in the column's order, not the sorted one, so it may differ in the last bits from the
/// mean of a sorted prefix; `NaN` and infinities come out as they would there.
fn mean_of_smallest(values: &(impl Column<f64> + ?Sized), count: usize, kth: f64) -> f64 {
    let bound = kth.key();
    let (mut below, mut sum) = (0, -0.0);
    Column::each(&values, |v| {
        if v.key() < bound {
            below += 1;
            sum += v;
        }
    });
    // Saturating: a column that hands out more values than before must not panic.
    (sum + count.saturating_sub(below) as f64 * kth) / count as f64
}

/// Returns the stability of the curve: R² of an OLS fit of `cumsum(ln(1 + r))` against time.
///
/// `NaN` with fewer than 2 returns; 0 for a flat curve, as scipy's `linregress` reports.
/// Two passes: the levels' mean, then the fit's sums (the levels computed again, the same way).
pub fn stability(returns: &(impl Column<f64> + ?Sized)) -> f64 {
    let mut levels = LogLevels::default();
    Column::each(&returns, |r| levels.add(r));
    let mut fit = levels.fit();
    Column::each(&returns, |r| fit.add(r));
    fit.stability()
}

/// `ln(1 + r)`, the log growth of a return: 0 for a return of 0 without calling the logarithm
/// (a run out of the market has one every bar), the same value `ln_1p` gives.
fn log_growth(r: f64) -> f64 {
    if r == 0.0 { r } else { r.ln_1p() }
}

/// The first pass of [`stability`]: the levels `cumsum(ln(1 + r))` and their sum.
#[derive(Debug, Clone, Copy)]
struct LogLevels {
    level: f64,
    sum: f64,
    n: usize,
}

impl Default for LogLevels {
    fn default() -> Self {
        Self {
            level: 0.0,
            sum: -0.0,
            n: 0,
        }
    }
}

impl LogLevels {
    #[inline]
    fn add(&mut self, r: f64) {
        self.level += log_growth(r);
        self.sum += self.level;
        self.n += 1;
    }

    /// The second pass, around these means.
    fn fit(&self) -> LevelFit {
        LevelFit {
            n: self.n,
            mx: self.n.saturating_sub(1) as f64 / 2.0,
            my: self.sum / self.n as f64,
            level: 0.0,
            x: 0,
            sxx: 0.0,
            sxy: 0.0,
            syy: 0.0,
        }
    }
}

/// The second pass of [`stability`]: the sums of the least-squares fit.
#[derive(Debug, Clone, Copy)]
struct LevelFit {
    n: usize,
    mx: f64,
    my: f64,
    level: f64,
    x: usize,
    sxx: f64,
    sxy: f64,
    syy: f64,
}

impl LevelFit {
    #[inline]
    fn add(&mut self, r: f64) {
        self.level += log_growth(r);
        let (dx, dy) = (self.x as f64 - self.mx, self.level - self.my);
        self.sxx += dx * dx;
        self.sxy += dx * dy;
        self.syy += dy * dy;
        self.x += 1;
    }

    fn stability(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else if self.syy == 0.0 {
            0.0
        } else {
            (self.sxy / (self.sxx * self.syy).sqrt())
                .clamp(-1.0, 1.0)
                .powi(2)
        }
    }
}

/// Returns the Omega ratio at a threshold of 0: the sum of gains over the sum of losses
/// (`NaN` without losses).
pub fn omega(returns: &(impl Column<f64> + ?Sized)) -> f64 {
    ReturnSums::of(returns, 0.0).omega()
}

/// Returns `|percentile(r, 95)| / |percentile(r, 5)|` (`NaN` when undefined or infinite).
pub fn tail_ratio(returns: &(impl Column<f64> + ?Sized)) -> f64 {
    Tails::of(returns, returns.len()).tail_ratio
}

fn tail_ratio_of(p95: f64, p5: f64) -> f64 {
    let ratio = p95.abs() / p5.abs();
    if ratio.is_finite() { ratio } else { f64::NAN }
}

/// Returns the skewness of returns, `m3 / m2^1.5` with population (biased) central moments:
/// scipy's `stats.skew` default (`bias=True`), which empyrical and pyfolio use.
///
/// `NaN` without returns or when the returns do not vary (scipy's own zero-variance test).
pub fn skew(returns: &(impl Column<f64> + ?Sized)) -> f64 {
    Deviations::of(returns, &ReturnSums::of(returns, 0.0)).skew()
}

/// Returns the excess (Fisher) kurtosis of returns, `m4 / m2² - 3` with population (biased)
/// central moments: scipy's `stats.kurtosis` default (`fisher=True, bias=True`), so a normal
/// distribution scores 0.
///
/// `NaN` without returns or when the returns do not vary.
pub fn kurtosis(returns: &(impl Column<f64> + ?Sized)) -> f64 {
    Deviations::of(returns, &ReturnSums::of(returns, 0.0)).kurtosis()
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
    pub fn from_equity(
        equity: &(impl Column<f64> + ?Sized),
        benchmark: &[f64],
        periods_per_year: f64,
    ) -> Self {
        Self::of_equity(equity, benchmark, periods_per_year, 0.0)
    }

    /// As [`RelativeMetrics::from_equity`] with a per-period risk-free rate `rf` (as
    /// [`RelativeMetrics::with_risk_free`]), the returns of both computed as they are read.
    pub fn of_equity(
        equity: &(impl Column<f64> + ?Sized),
        benchmark: &[f64],
        periods_per_year: f64,
        rf: f64,
    ) -> Self {
        let n = equity.len().min(benchmark.len()).saturating_sub(1);
        let pairs = |f: &mut dyn FnMut(f64, f64)| {
            let mut previous: Option<(f64, f64)> = None;
            zip_each(equity, benchmark, |e, b| {
                if let Some((pe, pb)) = previous {
                    f(simple_return(pe, e), simple_return(pb, b));
                }
                previous = Some((e, b));
            });
        };
        Self::of_pairs(n, pairs, periods_per_year, rf)
    }

    /// Returns the figures of returns `r` against benchmark returns `b`, paired by position.
    pub fn from_returns(r: &(impl Column<f64> + ?Sized), b: &[f64], periods_per_year: f64) -> Self {
        Self::with_risk_free(r, b, periods_per_year, 0.0)
    }

    /// As [`RelativeMetrics::from_returns`], with alpha measured on excess returns as
    /// empyrical's `alpha(risk_free = rf)`: `(1 + mean((r - rf) - beta (b - rf)))^ppy - 1`,
    /// `rf` a per-period rate ([`per_period_rate`]). Beta, the information ratio and the
    /// tracking error do not move with a constant rate.
    pub fn with_risk_free(
        r: &(impl Column<f64> + ?Sized),
        b: &[f64],
        periods_per_year: f64,
        rf: f64,
    ) -> Self {
        let n = r.len().min(b.len());
        let pairs = |f: &mut dyn FnMut(f64, f64)| zip_each(r, b, f);
        Self::of_pairs(n, pairs, periods_per_year, rf)
    }

    /// The figures of `n` pairs of returns that `pairs` hands to its argument afresh on each
    /// call, in three passes (means; deviations; excess over beta), each summed in order.
    fn of_pairs(
        n: usize,
        pairs: impl Fn(&mut dyn FnMut(f64, f64)),
        periods_per_year: f64,
        rf: f64,
    ) -> Self {
        if n < 2 {
            return Self {
                alpha: f64::NAN,
                beta: f64::NAN,
                information_ratio: f64::NAN,
                tracking_error: f64::NAN,
            };
        }
        let count = n as f64;
        let (mut sr, mut sb, mut active) = (-0.0, -0.0, ReturnSums::new(0.0));
        pairs(&mut |x, y| {
            sr += x;
            sb += y;
            active.add(x - y);
        });
        let (mr, mb) = (sr / count, sb / count);
        let (mut cov, mut var_b) = (0.0, 0.0);
        let mut active_deviations = Deviations::new(&active);
        pairs(&mut |x, y| {
            cov += (x - mr) * (y - mb);
            var_b += (y - mb) * (y - mb);
            active_deviations.add(x - y);
        });
        let ddof1 = (n - 1) as f64;
        let (cov, var_b) = (cov / ddof1, var_b / ddof1);
        let beta = if var_b > 0.0 { cov / var_b } else { f64::NAN };
        let mut excess = -0.0;
        pairs(&mut |x, y| excess += (x - rf) - beta * (y - rf));
        let alpha = (1.0 + excess / count).powf(periods_per_year) - 1.0;
        let active_std = active_deviations.sample_std();
        let information_ratio = if active_std > 0.0 {
            active.mean() / active_std * periods_per_year.sqrt()
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
pub fn payoff_ratio(pnls: &(impl Column<f64> + ?Sized)) -> f64 {
    ReturnSums::of(pnls, 0.0).payoff()
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
    /// The last `window` values, the oldest at `next` once full.
    ring: Vec<f64>,
    /// Where the next value goes (a cursor, not a division per value).
    next: usize,
    /// Whether a value was pushed, and whether `window` were.
    started: bool,
    full: bool,
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
            next: 0,
            started: false,
            full: false,
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
        let at = self.next;
        let before = at.checked_sub(1).unwrap_or(window - 1);
        self.run = if self.started && v == self.ring[before] {
            self.run + 1
        } else {
            1
        };
        self.started = true;
        // The value `window` steps back, which leaves the window as `v` enters it.
        let leaving = std::mem::replace(&mut self.ring[at], v);
        self.next = if at + 1 == window { 0 } else { at + 1 };
        self.full |= self.next == 0;
        if !self.full {
            return (f64::NAN, f64::NAN);
        }
        let w = window as f64;
        if self.next == 0 {
            // The ring holds the window in order: recomputed once per window length.
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
            let oldest = self.next;
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
pub fn kelly(returns: &(impl Column<f64> + ?Sized)) -> f64 {
    ReturnSums::of(returns, 0.0).kelly()
}

/// Returns the probability that the true Sharpe ratio exceeds 0 given the observed one, per
/// Bailey and López de Prado (2012): `Φ(SR sqrt(n - 1) / sqrt(1 - γ3 SR + (γ4 - 1) / 4 SR²))`,
/// with SR the per-period (not annualised) Sharpe ratio of returns in excess of `rf` a period,
/// γ3 their skewness and γ4 their (non-excess) kurtosis, population moments as [`skew`].
///
/// `NaN` with fewer than 2 returns, returns that never vary, or a negative variance estimate
/// (extreme skew).
pub fn probabilistic_sharpe(returns: &(impl Column<f64> + ?Sized), rf: f64) -> f64 {
    Deviations::of(returns, &ReturnSums::of(returns, rf)).probabilistic_sharpe()
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
pub fn ulcer_index(equity: &(impl Column<f64> + ?Sized)) -> f64 {
    Drawdowns::of(equity).ulcer_index()
}

/// Returns the longest runs of consecutive gaining and of consecutive losing periods (a period
/// that does not move ends both), as quantstats' `consecutive_wins` and `consecutive_losses`.
pub fn longest_streaks(returns: &(impl Column<f64> + ?Sized)) -> (usize, usize) {
    ReturnSums::of(returns, 0.0).longest
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
    /// The last `window` pairs (r, b), the oldest at `next` once full.
    ring: Vec<(f64, f64)>,
    /// Where the next pair goes.
    next: usize,
    /// Whether `window` pairs were pushed.
    full: bool,
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
            next: 0,
            full: false,
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
        let at = self.next;
        let (ro, bo) = std::mem::replace(&mut self.ring[at], (r, b));
        self.next = if at + 1 == window { 0 } else { at + 1 };
        self.full |= self.next == 0;
        if !self.full {
            return f64::NAN;
        }
        if self.next == 0 {
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

fn mean(values: &(impl Column<f64> + ?Sized)) -> f64 {
    ReturnSums::of(values, 0.0).mean()
}

fn sample_std(values: &(impl Column<f64> + ?Sized)) -> f64 {
    Deviations::of(values, &ReturnSums::of(values, 0.0)).sample_std()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::Chunked;

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

    /// The headline figures computed plainly from returns in memory and a sorted copy of them.
    fn plain_metrics(equity: &[f64], ppy: f64, rf: f64) -> ReturnMetrics {
        let r: Vec<f64> = equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let n = r.len() as f64;
        let mut sorted = r.clone();
        sorted.sort_by(f64::total_cmp);
        let pct = |q: f64| {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let pos = (sorted.len() - 1) as f64 * (q / 100.0);
            let (lo, t) = (pos.floor() as usize, pos - pos.floor());
            let (a, b) = (sorted[lo], sorted[(lo + 1).min(sorted.len() - 1)]);
            if t >= 0.5 {
                b - (b - a) * (1.0 - t)
            } else {
                a + (b - a) * t
            }
        };
        let m = r.iter().sum::<f64>() / n;
        let ss: f64 = r.iter().map(|x| (x - m) * (x - m)).sum();
        let std = if r.len() < 2 {
            f64::NAN
        } else {
            (ss / (n - 1.0)).sqrt()
        };
        let ex: Vec<f64> = r.iter().map(|x| x - rf).collect();
        let me = ex.iter().sum::<f64>() / n;
        let sde = (ex.iter().map(|x| (x - me) * (x - me)).sum::<f64>() / (n - 1.0)).sqrt();
        let sharpe = if r.len() < 2 || sde == 0.0 || sde.is_nan() {
            f64::NAN
        } else {
            me / sde * ppy.sqrt()
        };
        let down =
            (ex.iter().map(|x| x.min(0.0) * x.min(0.0)).sum::<f64>() / n).sqrt() * ppy.sqrt();
        let sortino = if down == 0.0 || down.is_nan() {
            f64::NAN
        } else {
            me * ppy / down
        };
        let growth: f64 = r.iter().map(|x| 1.0 + x).product();
        let cagr = if r.is_empty() {
            f64::NAN
        } else {
            growth.powf(1.0 / (n / ppy)) - 1.0
        };
        let mut peak = f64::NEG_INFINITY;
        let dd: Vec<f64> = equity
            .iter()
            .map(|&e| {
                peak = peak.max(e);
                e / peak - 1.0
            })
            .collect();
        let mdd = dd.iter().fold(0.0, |w: f64, &d| w.min(d));
        let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
        for x in &r {
            let (d, d2) = (x - m, (x - m) * (x - m));
            (m2, m3, m4) = (m2 + d2, m3 + d2 * d, m4 + d2 * d2);
        }
        let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
        let varies = !r.is_empty() && m2 > (1e-15 * m).powi(2) && m2.is_finite();
        let y: Vec<f64> = r
            .iter()
            .scan(0.0, |a, x| {
                *a += x.ln_1p();
                Some(*a)
            })
            .collect();
        let my = y.iter().sum::<f64>() / n;
        let mx = (n - 1.0) / 2.0;
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for (x, y) in y.iter().enumerate() {
            let (dx, dy) = (x as f64 - mx, y - my);
            (sxx, sxy, syy) = (sxx + dx * dx, sxy + dx * dy, syy + dy * dy);
        }
        let stability = if r.len() < 2 {
            f64::NAN
        } else if syy == 0.0 {
            0.0
        } else {
            (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0).powi(2)
        };
        let gains: f64 = r.iter().filter(|x| **x > 0.0).sum();
        let losses: f64 = -r.iter().filter(|x| **x < 0.0).sum::<f64>();
        let k = ((n - 1.0) * 0.05) as usize;
        let tail = pct(95.0).abs() / pct(5.0).abs();
        ReturnMetrics {
            total_return: equity.last().map_or(f64::NAN, |l| l / equity[0] - 1.0),
            cagr,
            annual_volatility: std * ppy.sqrt(),
            sharpe,
            sortino,
            max_drawdown: mdd,
            max_drawdown_duration: max_drawdown_duration(equity),
            calmar: if mdd < 0.0 {
                cagr / mdd.abs()
            } else {
                f64::NAN
            },
            var_95: pct(5.0),
            cvar_95: if r.is_empty() {
                f64::NAN
            } else {
                sorted[..=k].iter().sum::<f64>() / (k + 1) as f64
            },
            stability,
            omega: if losses > 0.0 {
                gains / losses
            } else {
                f64::NAN
            },
            tail_ratio: if tail.is_finite() { tail } else { f64::NAN },
            skew: if varies { m3 / m2.powf(1.5) } else { f64::NAN },
            kurtosis: if varies {
                m4 / (m2 * m2) - 3.0
            } else {
                f64::NAN
            },
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn metrics_over_chunks_equal_plain_sums_and_a_sorted_copy(
            returns in proptest::collection::vec(
                proptest::prop_oneof![
                    12 => -0.05..0.05f64,
                    4 => proptest::prelude::Just(0.0),
                    2 => proptest::prelude::Just(0.01),
                    1 => proptest::prelude::Just(-1.0),
                    1 => proptest::prelude::Just(f64::NAN),
                    1 => proptest::prelude::Just(f64::INFINITY),
                ],
                0..300,
            ),
            rf in proptest::prop_oneof![proptest::prelude::Just(0.0), proptest::prelude::Just(0.04)],
        ) {
            let equity: Vec<f64> = std::iter::once(100.0)
                .chain(returns.iter().scan(100.0, |e, r| { *e *= 1.0 + r; Some(*e) }))
                .collect();
            let expected = plain_metrics(&equity, 252.0, per_period_rate(rf, 252.0));
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            for size in [1, 7, 64, equity.len()] {
                let m = ReturnMetrics::with_risk_free(&Chunked(equity.clone(), size), 252.0, rf);
                for (what, a, b) in [
                    ("total_return", m.total_return, expected.total_return),
                    ("cagr", m.cagr, expected.cagr),
                    ("volatility", m.annual_volatility, expected.annual_volatility),
                    ("sharpe", m.sharpe, expected.sharpe),
                    ("sortino", m.sortino, expected.sortino),
                    ("max_drawdown", m.max_drawdown, expected.max_drawdown),
                    ("calmar", m.calmar, expected.calmar),
                    ("var_95", m.var_95, expected.var_95),
                    ("stability", m.stability, expected.stability),
                    ("omega", m.omega, expected.omega),
                    ("tail_ratio", m.tail_ratio, expected.tail_ratio),
                    ("skew", m.skew, expected.skew),
                    ("kurtosis", m.kurtosis, expected.kurtosis),
                ] {
                    proptest::prop_assert!(same(a, b), "{} in chunks of {}: {} vs {}", what, size, a, b);
                }
                proptest::prop_assert_eq!(m.max_drawdown_duration, expected.max_drawdown_duration);
                // CVaR sums in the curve's order, not the sorted one: the last bits may differ.
                let (a, b) = (m.cvar_95, expected.cvar_95);
                proptest::prop_assert!(same(a, b) || (a - b).abs() <= 1e-12 * b.abs(), "cvar {} vs {}", a, b);
            }
        }
    }
}
