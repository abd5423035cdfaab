//! `[[features]]` tables as serde reads them: one flat table per feature, so an unknown key is
//! refused at load with its line, and a key that exists but does not apply to the feature's kind
//! is refused when the pipeline is built, naming the feature and the key.

use serde::{Deserialize, Serialize};

/// One `[[features]]` table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// Names the feature's column(s): `<name>`, or `<name>_<output>` for several outputs.
    pub name: String,
    /// What it computes: an indicator (`sma`, `ema`, `rsi`, `macd`, ...) or a transform (`lag`,
    /// `diff`, `clip`, `standardize`).
    pub kind: String,
    /// Its input: a bar field (`open`, `high`, `low`, `close`, `volume`, `typical`) or another
    /// feature (`rsi`, or `macd.signal` for one output of several). Default `close`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Several inputs, for kinds that read more than one (`correlation`, or overriding the
    /// default high/low/close of `atr` and `stochastic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// Window length in bars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<usize>,
    /// Fast EMA length (`macd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<usize>,
    /// Slow EMA length (`macd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<usize>,
    /// Signal EMA length (`macd`), or %D smoothing (`stochastic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<usize>,
    /// Band width in standard deviations (`bollinger`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// Lower bound (`clip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Upper bound (`clip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// A variant of the kind: `ema` seeding `first` | `sma`; `rsi` smoothing `ta` | `classic`;
    /// `vwap` `session` | `rolling`; `returns` `simple` | `log`; `standardize` `online` | `frozen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `standardize` with `mode = "frozen"`: statistics are fitted on bars stamped before this
    /// date (the feature is not ready until then) and frozen afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_until: Option<String>,
    /// What a NaN input does: `reset` (not ready, then a fresh warm-up; the default) or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_nan: Option<String>,
    /// A gap longer than this between bars (`"3d"`, `"2h"`) resets the feature like a NaN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_gap: Option<String>,
}

impl FeatureConfig {
    /// Returns a feature of `kind` named `name` over `input` with a `period`.
    pub fn new(name: &str, kind: &str, input: &str, period: usize) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            input: Some(input.into()),
            period: Some(period),
            ..Self::default()
        }
    }

    /// Returns the keys set in this table besides `name`, `kind`, `input`, `inputs`, `on_nan`
    /// and `max_gap`, which every kind accepts.
    pub(crate) fn set_params(&self) -> Vec<&'static str> {
        let set = [
            ("period", self.period.is_some()),
            ("fast", self.fast.is_some()),
            ("slow", self.slow.is_some()),
            ("signal", self.signal.is_some()),
            ("width", self.width.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("mode", self.mode.is_some()),
            ("fit_until", self.fit_until.is_some()),
        ];
        set.iter().filter(|(_, on)| *on).map(|(k, _)| *k).collect()
    }
}
