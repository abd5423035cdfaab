//! `[[features]]` tables as serde reads them: one flat table per feature, so an unknown key is
//! refused at load with its line, and a key that exists but does not apply to the feature's kind
//! is refused when the pipeline is built, naming the feature and the key. Code reads a table's
//! kind and parameters as a typed [`FeatureKind`].

use super::FeatureKind;
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
    /// The zone whose midnight starts a session (`vwap` in `session` mode); UTC when unset. A
    /// run fills it in from `[data] timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<market_data::Zone>,
}

impl FeatureConfig {
    /// Returns the table of a feature named `name` computing `kind` over `input` (a bar field or
    /// another feature's output).
    pub fn of(name: &str, input: &str, kind: FeatureKind) -> Self {
        let mut table = Self {
            name: name.into(),
            input: Some(input.into()),
            ..Self::default()
        };
        kind.write(&mut table);
        table
    }

    /// The parameter keys: every key but `name`, `kind`, `input`, `inputs`, `on_nan` and
    /// `max_gap`, which every kind accepts.
    pub(crate) const PARAMS: [&'static str; 10] = [
        "period",
        "fast",
        "slow",
        "signal",
        "width",
        "min",
        "max",
        "mode",
        "fit_until",
        "timezone",
    ];

    /// Returns the parameter keys set in this table.
    pub(crate) fn set_params(&self) -> Vec<&'static str> {
        let set = [
            self.period.is_some(),
            self.fast.is_some(),
            self.slow.is_some(),
            self.signal.is_some(),
            self.width.is_some(),
            self.min.is_some(),
            self.max.is_some(),
            self.mode.is_some(),
            self.fit_until.is_some(),
            self.timezone.is_some(),
        ];
        Self::PARAMS
            .into_iter()
            .zip(set)
            .filter_map(|(key, on)| on.then_some(key))
            .collect()
    }
}
