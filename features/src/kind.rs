//! What a feature computes: [`FeatureKind`], one variant per kind with exactly the parameters it
//! takes. A `[[features]]` table is read into it once ([`FeatureKind::parse`]); the indicator
//! constructors then check the values' ranges ([`FeatureKind::build`]).

use super::FeatureConfig;
use super::kernel::Kernel;
use super::spec::FeatureError;
use super::transforms::{Clip, Diff, Lag, Standardize};
use crate::indicators::{self as ind, EmaSeed, RsiSmoothing};
use engine::RangeError;
use market_data::Timestamp;

/// A feature kind with its parameters, defaults filled in. Each field is the `[[features]]` key
/// of the same name, documented on [`FeatureConfig`] (`seed`, `smoothing`, `log` and `rolling`
/// are its `mode`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)] // the fields: see above
pub enum FeatureKind {
    /// Simple moving average.
    Sma { period: usize },
    /// Exponential moving average, seeded with the first value or an SMA.
    Ema { period: usize, seed: EmaSeed },
    /// Linearly weighted moving average.
    Wma { period: usize },
    /// Relative strength index, `ta` (Wilder) or `classic` smoothing.
    Rsi {
        period: usize,
        smoothing: RsiSmoothing,
    },
    /// MACD line, signal and histogram.
    Macd {
        fast: usize,
        slow: usize,
        signal: usize,
    },
    /// Bollinger bands `width` standard deviations around an SMA.
    Bollinger { period: usize, width: f64 },
    /// Average true range.
    Atr { period: usize },
    /// Stochastic oscillator %K over `period`, %D its `signal`-bar SMA.
    Stochastic { period: usize, signal: usize },
    /// Rate of change over `period` bars, as a fraction (the simple return).
    Roc { period: usize },
    /// Simple or log return over `period` bars.
    Returns { period: usize, log: bool },
    /// Rolling standard deviation.
    Volatility { period: usize },
    /// Rolling z-score.
    ZScore { period: usize },
    /// Rolling minimum.
    Min { period: usize },
    /// Rolling maximum.
    Max { period: usize },
    /// Volume-weighted average price: over each UTC day (`None`) or a rolling window.
    Vwap {
        rolling: Option<usize>,
        /// Session mode: the zone whose midnight starts a session.
        zone: market_data::Zone,
    },
    /// On-balance volume.
    Obv,
    /// Rolling correlation of two inputs.
    Correlation { period: usize },
    /// The input `period` bars ago.
    Lag { period: usize },
    /// The input minus its value `period` bars ago.
    Diff { period: usize },
    /// The input bounded to `[min, max]`.
    Clip { min: f64, max: f64 },
    /// Standardised with running statistics, ready after `period` values.
    Standardize { period: usize },
    /// Standardised with statistics fitted on values stamped before `fit_until`, then frozen.
    FrozenStandardize { fit_until: Timestamp },
}

/// Every kind's name in `kind = "..."`, with the keys it takes besides `name`, `kind`,
/// `input(s)`, `on_nan` and `max_gap`.
pub const KINDS: &[(&str, &[&str])] = &[
    ("sma", &["period"]),
    ("ema", &["period", "mode"]),
    ("wma", &["period"]),
    ("rsi", &["period", "mode"]),
    ("macd", &["fast", "slow", "signal"]),
    ("bollinger", &["period", "width"]),
    ("atr", &["period"]),
    ("stochastic", &["period", "signal"]),
    ("roc", &["period"]),
    ("returns", &["period", "mode"]),
    ("volatility", &["period"]),
    ("zscore", &["period"]),
    ("min", &["period"]),
    ("max", &["period"]),
    ("vwap", &["period", "mode", "timezone"]),
    ("obv", &[]),
    ("correlation", &["period"]),
    ("lag", &["period"]),
    ("diff", &["period"]),
    ("clip", &["min", "max"]),
    ("standardize", &["period", "mode", "fit_until"]),
];

const EMA_SEEDS: &[(&str, EmaSeed)] = &[("first", EmaSeed::First), ("sma", EmaSeed::Sma)];
const RSI_SMOOTHINGS: &[(&str, RsiSmoothing)] =
    &[("ta", RsiSmoothing::Ta), ("classic", RsiSmoothing::Classic)];
const RETURN_MODES: &[(&str, bool)] = &[("simple", false), ("log", true)];
const VWAP_MODES: &[(&str, bool)] = &[("session", false), ("rolling", true)];
const STANDARDIZE_MODES: &[(&str, bool)] = &[("online", false), ("frozen", true)];

impl FeatureKind {
    /// Reads a `[[features]]` table's kind and parameters, filling in defaults.
    ///
    /// # Errors
    /// Names the feature and key: an unknown kind, a key the kind does not take, a required key
    /// missing, an unknown mode, or a date that does not parse. Ranges are checked by
    /// [`FeatureKind::build`].
    pub fn parse(c: &FeatureConfig) -> Result<Self, FeatureError> {
        let err =
            |key: &'static str, message: String| FeatureError::new(&c.name, Some(key), message);
        let Some(&(name, takes)) = KINDS.iter().find(|(n, _)| *n == c.kind) else {
            let known: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
            return Err(err(
                "kind",
                format!(
                    "one of {}, found {}",
                    known.join(", "),
                    market_data::text::quoted(&c.kind)
                ),
            ));
        };
        if let Some(key) = c.set_params().into_iter().find(|k| !takes.contains(k)) {
            let takes = if takes.is_empty() {
                "no parameters".to_string()
            } else {
                takes.join(", ")
            };
            return Err(err(
                key,
                format!("no `{key}` for kind {name:?}, which takes {takes}"),
            ));
        }
        let required = |key: &'static str, value: Option<usize>| {
            value.ok_or_else(|| err(key, format!("`{key}` for kind {name:?}")))
        };
        let period = |default: usize| c.period.unwrap_or(default);
        Ok(match name {
            "sma" => Self::Sma {
                period: required("period", c.period)?,
            },
            "ema" => Self::Ema {
                period: required("period", c.period)?,
                seed: mode(c, name, EMA_SEEDS)?,
            },
            "wma" => Self::Wma {
                period: required("period", c.period)?,
            },
            "rsi" => Self::Rsi {
                period: period(14),
                smoothing: mode(c, name, RSI_SMOOTHINGS)?,
            },
            "macd" => Self::Macd {
                fast: c.fast.unwrap_or(12),
                slow: c.slow.unwrap_or(26),
                signal: c.signal.unwrap_or(9),
            },
            "bollinger" => Self::Bollinger {
                period: period(20),
                width: c.width.unwrap_or(2.0),
            },
            "atr" => Self::Atr { period: period(14) },
            "stochastic" => Self::Stochastic {
                period: period(14),
                signal: c.signal.unwrap_or(3),
            },
            "roc" => Self::Roc {
                period: required("period", c.period)?,
            },
            "returns" => Self::Returns {
                period: period(1),
                log: mode(c, name, RETURN_MODES)?,
            },
            "volatility" => Self::Volatility {
                period: required("period", c.period)?,
            },
            "zscore" => Self::ZScore {
                period: required("period", c.period)?,
            },
            "min" => Self::Min {
                period: required("period", c.period)?,
            },
            "max" => Self::Max {
                period: required("period", c.period)?,
            },
            "vwap" => match (mode(c, name, VWAP_MODES)?, c.period) {
                (true, _) if c.timezone.is_some() => {
                    return Err(err(
                        "timezone",
                        "no `timezone` for a rolling vwap (it has no sessions)".into(),
                    ));
                }
                (true, period) => Self::Vwap {
                    rolling: Some(
                        period
                            .ok_or_else(|| err("period", "`period` for a rolling vwap".into()))?,
                    ),
                    zone: market_data::Zone::UTC,
                },
                (false, None) => Self::Vwap {
                    rolling: None,
                    zone: c.timezone.unwrap_or_default(),
                },
                (false, Some(_)) => {
                    return Err(err(
                        "period",
                        "no `period` for a session vwap (it resets each day at midnight in \
                         `timezone`)"
                            .into(),
                    ));
                }
            },
            "obv" => Self::Obv,
            "correlation" => Self::Correlation {
                period: required("period", c.period)?,
            },
            "lag" => Self::Lag {
                period: required("period", c.period)?,
            },
            "diff" => Self::Diff { period: period(1) },
            "clip" => {
                if c.min.is_none() && c.max.is_none() {
                    return Err(err("min", "`min`, `max` or both for kind \"clip\"".into()));
                }
                Self::Clip {
                    min: c.min.unwrap_or(f64::NEG_INFINITY),
                    max: c.max.unwrap_or(f64::INFINITY),
                }
            }
            "standardize" => match (mode(c, name, STANDARDIZE_MODES)?, c.fit_until.as_deref()) {
                (false, None) => Self::Standardize { period: period(20) },
                (false, Some(_)) => {
                    return Err(err(
                        "fit_until",
                        "no `fit_until` for mode \"online\" (set mode = \"frozen\")".into(),
                    ));
                }
                (true, None) => {
                    return Err(err(
                        "fit_until",
                        "`fit_until` (end of the training window) for mode \"frozen\"".into(),
                    ));
                }
                (true, Some(text)) => {
                    if c.period.is_some() {
                        return Err(err(
                            "period",
                            "no `period` for mode \"frozen\" (the statistics use every value \
                             before `fit_until`)"
                                .into(),
                        ));
                    }
                    let fit_until = market_data::csv::parse_timestamp(text).ok_or_else(|| {
                        err(
                            "fit_until",
                            format!(
                                "a date or datetime such as \"2010-01-01\", found {}",
                                market_data::text::quoted(text)
                            ),
                        )
                    })?;
                    Self::FrozenStandardize { fit_until }
                }
            },
            other => unreachable!("kind {other:?} is listed in KINDS but not parsed"),
        })
    }

    /// Returns the kind's name in `kind = "..."`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sma { .. } => "sma",
            Self::Ema { .. } => "ema",
            Self::Wma { .. } => "wma",
            Self::Rsi { .. } => "rsi",
            Self::Macd { .. } => "macd",
            Self::Bollinger { .. } => "bollinger",
            Self::Atr { .. } => "atr",
            Self::Stochastic { .. } => "stochastic",
            Self::Roc { .. } => "roc",
            Self::Returns { .. } => "returns",
            Self::Volatility { .. } => "volatility",
            Self::ZScore { .. } => "zscore",
            Self::Min { .. } => "min",
            Self::Max { .. } => "max",
            Self::Vwap { .. } => "vwap",
            Self::Obv => "obv",
            Self::Correlation { .. } => "correlation",
            Self::Lag { .. } => "lag",
            Self::Diff { .. } => "diff",
            Self::Clip { .. } => "clip",
            Self::Standardize { .. } | Self::FrozenStandardize { .. } => "standardize",
        }
    }

    /// Returns the inputs the kind reads when the table names none (none for `correlation`,
    /// whose two inputs must be named).
    pub fn default_inputs(&self) -> &'static [&'static str] {
        match self {
            Self::Atr { .. } | Self::Stochastic { .. } => &["high", "low", "close"],
            Self::Vwap { .. } => &["typical", "volume"],
            Self::Obv => &["close", "volume"],
            Self::Correlation { .. } => &[],
            _ => &["close"],
        }
    }

    /// Builds the indicator through its constructor, which checks the parameters' ranges (the
    /// one place they are checked).
    ///
    /// # Errors
    /// A parameter out of range, named as the table's key (`period`, `signal`, ...).
    pub fn build(&self) -> Result<Kernel, RangeError> {
        self.construct().map_err(|mut e| {
            // The constructors name their own arguments: the stochastic's `k` and `d` are the
            // table's `period` and `signal`, a standardiser's `min_count` its `period`.
            e.key = match e.key.as_str() {
                key @ ("fast" | "slow" | "signal" | "width" | "min" | "max") => key,
                "d" => "signal",
                _ => "period",
            }
            .into();
            e
        })
    }

    fn construct(&self) -> Result<Kernel, RangeError> {
        Ok(match *self {
            Self::Sma { period } => Kernel::Sma(ind::Sma::try_new(period)?),
            Self::Ema { period, seed } => Kernel::Ema(ind::Ema::try_new(period, seed)?),
            Self::Wma { period } => Kernel::Wma(ind::Wma::try_new(period)?),
            Self::Rsi { period, smoothing } => Kernel::Rsi(ind::Rsi::try_new(period, smoothing)?),
            Self::Macd { fast, slow, signal } => {
                Kernel::Macd(ind::Macd::try_new(fast, slow, signal)?)
            }
            Self::Bollinger { period, width } => {
                Kernel::Bollinger(ind::Bollinger::try_new(period, width)?)
            }
            Self::Atr { period } => Kernel::Atr(ind::Atr::try_new(period)?),
            Self::Stochastic { period, signal } => {
                Kernel::Stochastic(ind::Stochastic::try_new(period, signal)?)
            }
            Self::Roc { period } => Kernel::SimpleReturn(ind::Roc::try_new(period)?),
            Self::Returns { period, log: true } => {
                Kernel::LogReturn(ind::LogReturn::try_new(period)?)
            }
            Self::Returns { period, log: false } => {
                Kernel::SimpleReturn(ind::SimpleReturn::try_new(period)?)
            }
            Self::Volatility { period } => Kernel::Volatility(ind::Volatility::try_new(period)?),
            Self::ZScore { period } => Kernel::ZScore(ind::ZScore::try_new(period)?),
            Self::Min { period } => Kernel::Min(ind::RollingMin::try_new(period)?),
            Self::Max { period } => Kernel::Max(ind::RollingMax::try_new(period)?),
            Self::Vwap {
                rolling: Some(period),
                ..
            } => Kernel::Vwap(ind::Vwap::try_rolling(period)?),
            Self::Vwap {
                rolling: None,
                zone,
            } => Kernel::Vwap(ind::Vwap::session_in(zone)),
            Self::Obv => Kernel::Obv(ind::Obv::new()),
            Self::Correlation { period } => Kernel::Correlation(ind::Correlation::try_new(period)?),
            Self::Lag { period } => Kernel::Lag(Lag::try_new(period)?),
            Self::Diff { period } => Kernel::Diff(Diff::try_new(period)?),
            Self::Clip { min, max } => Kernel::Clip(Clip::try_new(min, max)?),
            Self::Standardize { period } => Kernel::Standardize(Standardize::try_online(period)?),
            Self::FrozenStandardize { fit_until } => {
                Kernel::Standardize(Standardize::frozen(fit_until))
            }
        })
    }

    /// Writes the kind and its parameters into a table (the inverse of [`FeatureKind::parse`];
    /// modes at their default are left out).
    pub(crate) fn write(&self, c: &mut FeatureConfig) {
        c.kind = self.name().into();
        match *self {
            Self::Sma { period }
            | Self::Wma { period }
            | Self::Atr { period }
            | Self::Roc { period }
            | Self::Volatility { period }
            | Self::ZScore { period }
            | Self::Min { period }
            | Self::Max { period }
            | Self::Correlation { period }
            | Self::Lag { period }
            | Self::Diff { period }
            | Self::Standardize { period } => c.period = Some(period),
            Self::Ema { period, seed } => {
                c.period = Some(period);
                c.mode = mode_name(EMA_SEEDS, seed);
            }
            Self::Rsi { period, smoothing } => {
                c.period = Some(period);
                c.mode = mode_name(RSI_SMOOTHINGS, smoothing);
            }
            Self::Macd { fast, slow, signal } => {
                (c.fast, c.slow, c.signal) = (Some(fast), Some(slow), Some(signal));
            }
            Self::Bollinger { period, width } => (c.period, c.width) = (Some(period), Some(width)),
            Self::Stochastic { period, signal } => {
                (c.period, c.signal) = (Some(period), Some(signal));
            }
            Self::Returns { period, log } => {
                c.period = Some(period);
                c.mode = mode_name(RETURN_MODES, log);
            }
            Self::Vwap { rolling, zone } => {
                c.period = rolling;
                c.mode = mode_name(VWAP_MODES, rolling.is_some());
                c.timezone = (zone != market_data::Zone::UTC).then_some(zone);
            }
            Self::Obv => {}
            Self::Clip { min, max } => {
                c.min = min.is_finite().then_some(min);
                c.max = max.is_finite().then_some(max);
            }
            Self::FrozenStandardize { fit_until } => {
                c.mode = mode_name(STANDARDIZE_MODES, true);
                c.fit_until = Some(fit_until.to_string());
            }
        }
    }
}

/// Returns the name of mode `value`, or none for the default (the first of `modes`).
fn mode_name<T: PartialEq>(modes: &[(&str, T)], value: T) -> Option<String> {
    let (name, _) = modes.iter().find(|(_, m)| *m == value)?;
    (*name != modes[0].0).then(|| name.to_string())
}

/// Returns the table's `mode`, or the kind's default (the first of `modes`).
fn mode<T: Copy>(c: &FeatureConfig, kind: &str, modes: &[(&str, T)]) -> Result<T, FeatureError> {
    match &c.mode {
        None => Ok(modes[0].1),
        Some(m) => modes
            .iter()
            .find(|(name, _)| name == m)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let names: Vec<&str> = modes.iter().map(|(n, _)| *n).collect();
                FeatureError::new(
                    &c.name,
                    Some("mode"),
                    format!(
                        "one of {} for kind {kind:?}, found {}",
                        names.join(", "),
                        market_data::text::quoted(m)
                    ),
                )
            }),
    }
}
