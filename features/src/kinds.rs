//! The feature kinds: which parameters each takes, their ranges and defaults, its default inputs,
//! and how to build its indicator.

use super::FeatureConfig;
use super::spec::FeatureError;
use super::transforms::{Clip, Diff, Lag, Standardize};
use crate::indicators::{self as ind, Indicator};
use engine::RangeError;

/// One feature kind.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// Its name in `kind = "..."`.
    pub name: &'static str,
    /// The parameters it takes (besides name, kind, input(s), on_nan, max_gap).
    pub params: &'static [&'static str],
    /// The parameters it requires.
    pub required: &'static [&'static str],
    /// Its inputs when the table names none.
    pub default_inputs: &'static [&'static str],
    /// Allowed `mode` values, the first being the default.
    pub modes: &'static [&'static str],
}

const CLOSE: &[&str] = &["close"];
const HLC: &[&str] = &["high", "low", "close"];

/// Every feature kind.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "sma",
        params: &["period"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "ema",
        params: &["period", "mode"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &["first", "sma"],
    },
    Kind {
        name: "wma",
        params: &["period"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "rsi",
        params: &["period", "mode"],
        required: &[],
        default_inputs: CLOSE,
        modes: &["ta", "classic"],
    },
    Kind {
        name: "macd",
        params: &["fast", "slow", "signal"],
        required: &[],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "bollinger",
        params: &["period", "width"],
        required: &[],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "atr",
        params: &["period"],
        required: &[],
        default_inputs: HLC,
        modes: &[],
    },
    Kind {
        name: "stochastic",
        params: &["period", "signal"],
        required: &[],
        default_inputs: HLC,
        modes: &[],
    },
    Kind {
        name: "roc",
        params: &["period"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "returns",
        params: &["period", "mode"],
        required: &[],
        default_inputs: CLOSE,
        modes: &["simple", "log"],
    },
    Kind {
        name: "volatility",
        params: &["period"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "zscore",
        params: &["period"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "min",
        params: &["period"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "max",
        params: &["period"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "vwap",
        params: &["period", "mode"],
        required: &[],
        default_inputs: &["typical", "volume"],
        modes: &["session", "rolling"],
    },
    Kind {
        name: "obv",
        params: &[],
        required: &[],
        default_inputs: &["close", "volume"],
        modes: &[],
    },
    Kind {
        name: "correlation",
        params: &["period"],
        required: &["period"],
        default_inputs: &[],
        modes: &[],
    },
    Kind {
        name: "lag",
        params: &["period"],
        required: &["period"],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "diff",
        params: &["period"],
        required: &[],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "clip",
        params: &["min", "max"],
        required: &[],
        default_inputs: CLOSE,
        modes: &[],
    },
    Kind {
        name: "standardize",
        params: &["period", "mode", "fit_until"],
        required: &[],
        default_inputs: CLOSE,
        modes: &["online", "frozen"],
    },
];

fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Returns a kind's default inputs (none for an unknown kind).
pub(crate) fn default_inputs(name: &str) -> &'static [&'static str] {
    kind(name).map_or(&[], |k| k.default_inputs)
}

/// Checks that every parameter set applies to the kind, required ones are present and the mode
/// fits; [`build_indicator`] then checks the values' ranges.
pub(crate) fn check_params(c: &FeatureConfig) -> Result<(), FeatureError> {
    let err =
        |key: &'static str, message: String| Err(FeatureError::new(&c.name, Some(key), message));
    let Some(k) = kind(&c.kind) else {
        let known: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        return err(
            "kind",
            format!("one of {}, found {:?}", known.join(", "), c.kind),
        );
    };
    for key in c.set_params() {
        if !k.params.contains(&key) {
            let takes = if k.params.is_empty() {
                "no parameters".to_string()
            } else {
                k.params.join(", ")
            };
            return err(
                key,
                format!("no `{key}` for kind {:?}, which takes {takes}", k.name),
            );
        }
    }
    for key in k.required {
        if !c.set_params().contains(key) {
            return err(key, format!("`{key}` for kind {:?}", k.name));
        }
    }
    if k.name == "clip" && c.min.is_none() && c.max.is_none() {
        return err("min", "`min`, `max` or both for kind \"clip\"".into());
    }
    let mode = mode(c, k)?;
    match (k.name, mode) {
        ("vwap", "rolling") if c.period.is_none() => {
            return err("period", "`period` for a rolling vwap".into());
        }
        ("vwap", "session") if c.period.is_some() => {
            return err(
                "period",
                "no `period` for a session vwap (it resets each UTC day)".into(),
            );
        }
        ("standardize", "frozen") if c.fit_until.is_none() => {
            return err(
                "fit_until",
                "`fit_until` (end of the training window) for mode \"frozen\"".into(),
            );
        }
        ("standardize", "online") if c.fit_until.is_some() => {
            return err(
                "fit_until",
                "no `fit_until` for mode \"online\" (set mode = \"frozen\")".into(),
            );
        }
        _ => {}
    }
    // Ranges are the indicator's constructor's to check: see `build_indicator`.
    Ok(())
}

/// Returns the config's mode, or the kind's default.
fn mode(c: &FeatureConfig, k: &Kind) -> Result<&'static str, FeatureError> {
    match &c.mode {
        None => Ok(k.modes.first().copied().unwrap_or("")),
        Some(m) => k.modes.iter().copied().find(|x| x == m).ok_or_else(|| {
            FeatureError::new(
                &c.name,
                Some("mode"),
                format!(
                    "one of {} for kind {:?}, found {m:?}",
                    k.modes.join(", "),
                    k.name
                ),
            )
        }),
    }
}

/// Runs one kernel of `N` inputs and `OUT` outputs on the value row (see [`Kernel::step`]).
/// The counts are constants, so the loads, checks and slices compile to straight-line code.
#[inline(always)]
fn step_with<const N: usize, const OUT: usize, K: Indicator>(
    kernel: &mut K,
    ts: market_data::Timestamp,
    inputs: &[usize; super::runner::MAX_INPUTS],
    row: &mut [f64],
    first: usize,
) -> bool {
    let mut input = [0.0; N];
    let mut finite = true;
    for (x, &at) in input.iter_mut().zip(inputs) {
        *x = row[at];
        finite &= x.is_finite();
    }
    if finite {
        kernel.update(ts, &input, &mut row[first..first + OUT]);
    }
    finite
}

/// Declares `Kernel`, an enum of every indicator with its input and output counts, and
/// forwards `Indicator` to the variant with a `match`: the pipeline's hot loop then calls
/// kernels directly (inlinable) instead of through a vtable, one jump per feature per bar.
macro_rules! kernels {
    ($($variant:ident($ty:ty, $inputs:literal, $outputs:literal)),* $(,)?) => {
        /// One feature's indicator, any kind.
        ///
        /// `repr(u8)`: an explicit tag byte, so the hot loop's `match` is one byte load and a
        /// jump table; without it the tag hides in a niche of a variant's field and takes a
        /// dozen instructions to decode per feature per bar.
        #[derive(Debug, Clone)]
        #[repr(u8)]
        pub enum Kernel {
            $(
                #[doc = concat!("A [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
            /// A `bollinger` and a `zscore` feature over the same input and window, fused by
            /// the pipeline (never built from a config on its own), with the value-row slot of
            /// the z-score's column.
            BandsAndZScore(ind::BandsAndZScore, usize),
        }

        impl Kernel {
            /// Reads the kernel's inputs from `row` at the slots `inputs` and, when they are all
            /// finite, updates it and writes its outputs to `row[first..]`, returning true. A
            /// non-finite input leaves everything untouched and returns false.
            #[inline(always)]
            pub(crate) fn step(
                &mut self,
                ts: market_data::Timestamp,
                inputs: &[usize; super::runner::MAX_INPUTS],
                row: &mut [f64],
                first: usize,
            ) -> bool {
                match self {
                    // Fused bands and z-score: the bands' columns at `first`, the z-score's
                    // column elsewhere.
                    Kernel::BandsAndZScore(k, zscore_slot) => {
                        let x = row[inputs[0]];
                        if !x.is_finite() {
                            return false;
                        }
                        let ([mid, upper, lower, percent_b, width], z) = k
                            .update(x)
                            .map_or(([f64::NAN; 5], f64::NAN), |(b, z)| {
                                ([b.mid, b.upper, b.lower, b.percent_b, b.width], z)
                            });
                        row[first..first + 5].copy_from_slice(&[mid, upper, lower, percent_b, width]);
                        row[*zscore_slot] = z;
                        true
                    }
                    $(Kernel::$variant(k) => {
                        step_with::<$inputs, $outputs, _>(k, ts, inputs, row, first)
                    })*
                }
            }

            /// Returns the slot of a fused z-score's column (outside `first..`), if any.
            pub(crate) fn zscore_slot(&self) -> Option<usize> {
                match self {
                    Kernel::BandsAndZScore(_, slot) => Some(*slot),
                    _ => None,
                }
            }

            /// Returns the input and output counts the hot loop assumes for this kind.
            #[cfg(test)]
            pub(crate) fn declared_arity(&self) -> (usize, usize) {
                match self {
                    $(Kernel::$variant(_) => ($inputs, $outputs),)*
                    Kernel::BandsAndZScore(..) => (1, 6),
                }
            }
        }

        impl Indicator for Kernel {
            #[inline]
            fn inputs(&self) -> usize {
                match self { $(Kernel::$variant(k) => Indicator::inputs(k),)* Kernel::BandsAndZScore(k, _) => Indicator::inputs(k) }
            }
            #[inline]
            fn outputs(&self) -> &'static [&'static str] {
                match self { $(Kernel::$variant(k) => Indicator::outputs(k),)* Kernel::BandsAndZScore(k, _) => Indicator::outputs(k) }
            }
            #[inline]
            fn update(&mut self, ts: market_data::Timestamp, input: &[f64], out: &mut [f64]) {
                match self { $(Kernel::$variant(k) => Indicator::update(k, ts, input, out),)* Kernel::BandsAndZScore(k, _) => Indicator::update(k, ts, input, out) }
            }
            fn reset(&mut self) {
                match self { $(Kernel::$variant(k) => Indicator::reset(k),)* Kernel::BandsAndZScore(k, _) => Indicator::reset(k) }
            }
            fn warmup(&self) -> usize {
                match self { $(Kernel::$variant(k) => Indicator::warmup(k),)* Kernel::BandsAndZScore(k, _) => Indicator::warmup(k) }
            }
        }
    };
}

// Each kind with its input and output counts (a test checks them against the indicators).
kernels!(
    Sma(ind::Sma, 1, 1),
    Ema(ind::Ema, 1, 1),
    Wma(ind::Wma, 1, 1),
    Rsi(ind::Rsi, 1, 1),
    Macd(ind::Macd, 1, 3),
    Bollinger(ind::Bollinger, 1, 5),
    Atr(ind::Atr, 3, 1),
    Stochastic(ind::Stochastic, 3, 2),
    SimpleReturn(ind::SimpleReturn, 1, 1),
    LogReturn(ind::LogReturn, 1, 1),
    Volatility(ind::Volatility, 1, 1),
    ZScore(ind::ZScore, 1, 1),
    Min(ind::RollingMin, 1, 1),
    Max(ind::RollingMax, 1, 1),
    Vwap(ind::Vwap, 2, 1),
    Obv(ind::Obv, 2, 1),
    Correlation(ind::Correlation, 2, 1),
    Lag(Lag, 1, 1),
    Diff(Diff, 1, 1),
    Clip(Clip, 1, 1),
    Standardize(Standardize, 1, 1),
);

/// Builds the indicator a config describes, through its constructor, which checks the
/// arguments' ranges (the one place they are checked).
///
/// # Errors
/// Names the feature and the key out of range, or an unknown kind.
pub fn build_indicator(c: &FeatureConfig) -> Result<Kernel, FeatureError> {
    let Some(k) = kind(&c.kind) else {
        return Err(FeatureError::new(
            &c.name,
            Some("kind"),
            format!("a known kind, found {:?}", c.kind),
        ));
    };
    let mode = mode(c, k)?;
    let period = |default: usize| c.period.unwrap_or(default);
    // The constructors name their own arguments; the stochastic's `k` and `d` are the
    // config's `period` and `signal`.
    let range = |e: RangeError| {
        let key = match e.key.as_str() {
            "fast" => "fast",
            "slow" => "slow",
            "signal" | "d" => "signal",
            "width" => "width",
            "min" => "min",
            "max" => "max",
            _ => "period",
        };
        FeatureError::new(&c.name, Some(key), e.expected)
    };
    Ok(match k.name {
        "sma" => Kernel::Sma(ind::Sma::try_new(period(20)).map_err(range)?),
        "ema" => Kernel::Ema(
            ind::Ema::try_new(
                period(20),
                if mode == "sma" {
                    ind::EmaSeed::Sma
                } else {
                    ind::EmaSeed::First
                },
            )
            .map_err(range)?,
        ),
        "wma" => Kernel::Wma(ind::Wma::try_new(period(20)).map_err(range)?),
        "rsi" => Kernel::Rsi(
            ind::Rsi::try_new(
                period(14),
                if mode == "classic" {
                    ind::RsiSmoothing::Classic
                } else {
                    ind::RsiSmoothing::Ta
                },
            )
            .map_err(range)?,
        ),
        "macd" => Kernel::Macd(
            ind::Macd::try_new(
                c.fast.unwrap_or(12),
                c.slow.unwrap_or(26),
                c.signal.unwrap_or(9),
            )
            .map_err(range)?,
        ),
        "bollinger" => Kernel::Bollinger(
            ind::Bollinger::try_new(period(20), c.width.unwrap_or(2.0)).map_err(range)?,
        ),
        "atr" => Kernel::Atr(ind::Atr::try_new(period(14)).map_err(range)?),
        "stochastic" => Kernel::Stochastic(
            ind::Stochastic::try_new(period(14), c.signal.unwrap_or(3)).map_err(range)?,
        ),
        "roc" => Kernel::SimpleReturn(ind::Roc::try_new(period(10)).map_err(range)?),
        "returns" if mode == "log" => {
            Kernel::LogReturn(ind::LogReturn::try_new(period(1)).map_err(range)?)
        }
        "returns" => Kernel::SimpleReturn(ind::SimpleReturn::try_new(period(1)).map_err(range)?),
        "volatility" => Kernel::Volatility(ind::Volatility::try_new(period(20)).map_err(range)?),
        "zscore" => Kernel::ZScore(ind::ZScore::try_new(period(20)).map_err(range)?),
        "min" => Kernel::Min(ind::RollingMin::try_new(period(20)).map_err(range)?),
        "max" => Kernel::Max(ind::RollingMax::try_new(period(20)).map_err(range)?),
        "vwap" if mode == "rolling" => {
            Kernel::Vwap(ind::Vwap::try_rolling(period(20)).map_err(range)?)
        }
        "vwap" => Kernel::Vwap(ind::Vwap::session()),
        "obv" => Kernel::Obv(ind::Obv::new()),
        "correlation" => Kernel::Correlation(ind::Correlation::try_new(period(20)).map_err(range)?),
        "lag" => Kernel::Lag(Lag::try_new(period(1)).map_err(range)?),
        "diff" => Kernel::Diff(Diff::try_new(period(1)).map_err(range)?),
        "clip" => Kernel::Clip(
            Clip::try_new(
                c.min.unwrap_or(f64::NEG_INFINITY),
                c.max.unwrap_or(f64::INFINITY),
            )
            .map_err(range)?,
        ),
        "standardize" => match c
            .fit_until
            .as_deref()
            .and_then(market_data::csv::parse_timestamp)
        {
            Some(until) if mode == "frozen" => Kernel::Standardize(Standardize::frozen(until)),
            _ => Kernel::Standardize(Standardize::try_online(period(20)).map_err(range)?),
        },
        other => {
            return Err(FeatureError::new(
                &c.name,
                Some("kind"),
                format!("a known kind, found {other:?}"),
            ));
        }
    })
}
