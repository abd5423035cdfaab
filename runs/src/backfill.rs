//! `[live] backfill`: where a session fetches the bars a gap lost (the venue's REST API, or a
//! bar file or catalog), and the record of the gaps a session met, for the status line,
//! `summary.json` and the report.

use crate::config::{FeedFormat, LiveConfig, LoadedConfig};
use engine::RangeError;
use live::backfill::{BarFiles, BarSource, BinanceRest};
use live::feed::{Backfilled, BarGap, Notice};
use serde::{Deserialize, Serialize};

/// The REST API a `binance_rest` backfill asks when no `url` is written.
const BINANCE_REST: &str = "https://api.binance.com";

/// `[live] backfill = { source = ..., ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum BackfillConfig {
    /// Gaps are reported, their bars stay missing.
    #[default]
    Off,
    /// Binance's `GET /api/v3/klines` (format = "binance" only).
    BinanceRest {
        /// The API's base URL.
        #[serde(default = "default_binance_rest")]
        url: String,
        /// Seconds to wait for the connection and for each read.
        #[serde(default = "default_timeout")]
        timeout_s: f64,
    },
    /// A bar file (CSV, Parquet, Arrow), a folder of them, or a catalog, of any feed format.
    Bars {
        /// The file or folder.
        path: String,
    },
}

fn default_binance_rest() -> String {
    BINANCE_REST.into()
}

fn default_timeout() -> f64 {
    10.0
}

impl BackfillConfig {
    /// Whether the table is absent or `source = "off"`.
    pub(crate) fn is_off(&self) -> bool {
        *self == Self::Off
    }

    /// Checks the values, naming the key at fault.
    pub(crate) fn check(&self, live: &LiveConfig, loaded: &LoadedConfig) -> Result<(), RangeError> {
        match self {
            Self::Off => Ok(()),
            Self::BinanceRest { url, timeout_s } => {
                if live.format != FeedFormat::Binance {
                    return Err(RangeError::new(
                        "live.backfill",
                        "source = \"bars\" or \"off\" with format = \"coinbase\" (\"binance_rest\" \
                         asks Binance's klines endpoint)",
                    ));
                }
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(RangeError::new(
                        "live.backfill.url",
                        format!(
                            "an http:// or https:// URL, found {}",
                            market_data::text::quoted(url)
                        ),
                    ));
                }
                if !(timeout_s.is_finite() && (0.001..=600.0).contains(timeout_s)) {
                    return Err(RangeError::new(
                        "live.backfill.timeout_s",
                        format!("seconds from 0.001 to 600, found {timeout_s:?}"),
                    ));
                }
                Ok(())
            }
            Self::Bars { path } => {
                let resolved = loaded.resolve(path);
                if resolved.exists() {
                    Ok(())
                } else {
                    Err(RangeError::new(
                        "live.backfill.path",
                        format!(
                            "a bar file, a folder of them or a catalog, but {} does not exist",
                            resolved.display()
                        ),
                    ))
                }
            }
        }
    }

    /// The source to fetch from, if any.
    pub(crate) fn source(&self, loaded: &LoadedConfig) -> Option<Box<dyn BarSource>> {
        match self {
            Self::Off => None,
            Self::BinanceRest { url, timeout_s } => Some(Box::new(BinanceRest::new(
                url,
                std::time::Duration::from_secs_f64(*timeout_s),
            ))),
            Self::Bars { path } => Some(Box::new(BarFiles::new(&loaded.resolve(path)))),
        }
    }
}

/// The gaps a session met: shown on the status line, written to `summary.json` (`gaps`) and
/// noted in the report, so bars that never reached the strategy are never missed silently.
#[derive(Debug, Default, Clone)]
pub(crate) struct GapLog {
    gaps: Vec<BarGap>,
}

impl GapLog {
    /// Records a notice if it reports missing bars.
    pub(crate) fn record(&mut self, notice: &Notice) {
        if let Notice::MissingBars(gap) = notice {
            self.gaps.push(gap.clone());
        }
    }

    /// Gaps whose bars stay missing (backfill off or failed).
    fn unfilled(&self) -> usize {
        (self.gaps.iter())
            .filter(|g| !matches!(g.backfill, Backfilled::Filled { .. }))
            .count()
    }

    /// For the status line: empty without gaps.
    pub(crate) fn status(&self) -> String {
        match (self.gaps.len(), self.unfilled()) {
            (0, _) => String::new(),
            (n, 0) => format!(" | {n} gaps, backfilled"),
            (n, u) => format!(" | {n} gaps, {u} NOT FILLED"),
        }
    }

    /// `summary.json`'s `gaps`: one object per gap.
    pub(crate) fn json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = (self.gaps.iter())
            .map(|g| {
                let mut row = serde_json::json!({
                    "instrument": g.instrument,
                    "after": g.after.to_string(),
                    "before": g.before.to_string(),
                    "missing_intervals": g.missing,
                });
                let outcome = match &g.backfill {
                    Backfilled::Off => serde_json::json!({ "backfill": "off", "filled": 0 }),
                    Backfilled::Filled {
                        source,
                        bars,
                        rejected,
                    } => serde_json::json!({
                        "backfill": source,
                        "filled": bars,
                        "rejected": rejected,
                    }),
                    Backfilled::Failed { source, error } => serde_json::json!({
                        "backfill": source,
                        "filled": 0,
                        "error": error,
                    }),
                };
                if let (Some(row), serde_json::Value::Object(outcome)) =
                    (row.as_object_mut(), outcome)
                {
                    row.extend(outcome);
                }
                row
            })
            .collect();
        serde_json::Value::Array(rows)
    }

    /// Notes for the report: one per gap.
    pub(crate) fn notes(&self) -> Vec<String> {
        self.gaps.iter().map(describe).collect()
    }

    /// The closing line on stderr, if there were gaps.
    pub(crate) fn closing(&self) -> Option<String> {
        (!self.gaps.is_empty()).then(|| {
            format!(
                "{} gaps in the feed's bars, {} not filled (see `gaps` in summary.json)",
                self.gaps.len(),
                self.unfilled()
            )
        })
    }
}

/// One line about a gap and its backfill; text from elsewhere is escaped and cut.
pub(crate) fn describe(gap: &BarGap) -> String {
    let quote = |text: &str| live::printable(text, live::QUOTED_CHARS);
    let outcome = match &gap.backfill {
        Backfilled::Off => "not filled (no [live] backfill)".to_string(),
        Backfilled::Filled {
            source,
            bars,
            rejected: 0,
        } => format!("backfilled {bars} bars from {}", quote(source)),
        Backfilled::Filled {
            source,
            bars,
            rejected,
        } => format!(
            "backfilled {bars} bars from {} ({rejected} rejected)",
            quote(source)
        ),
        Backfilled::Failed { source, error } => format!(
            "NOT FILLED: the backfill (`live.backfill`, {}) failed: {}",
            quote(source),
            quote(error)
        ),
    };
    format!(
        "gap in {}: {} intervals missing between the bars at {} and {}; {outcome}",
        quote(&gap.instrument),
        gap.missing,
        gap.after,
        gap.before
    )
}
