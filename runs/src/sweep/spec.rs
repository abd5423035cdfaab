//! The `[sweep]` table, typed: the axes of the grid (dotted config keys with their values),
//! `rank_by`, `samples`, `keep` and `walk_forward`.
//!
//! The table mixes dotted keys with a few reserved names, which serde's derive cannot say, so it
//! is read by hand from the parsed TOML. Every error names the key and its line in the file.

use super::table::METRICS;
use crate::config::LoadedConfig;
use anyhow::Result;
use engine::Better;

/// Top-level config keys a sweep cannot vary: the data is loaded once and shared by every job.
const FIXED: &[(&str, &str)] = &[
    ("data", "the data is loaded once and shared by every job"),
    (
        "seed",
        "it seeds the data, which is loaded once for every job",
    ),
    ("sweep", "it is the sweep itself"),
];

/// Top-level tables whose keys make every job train its own model first.
const RETRAINED: &[&str] = &["model", "training"];

/// One varied config key and its values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    /// The dotted config key, e.g. `strategy.params.fast`.
    pub(crate) key: String,
    /// The key as written under `[sweep]` (one quoted key, or nested tables), to find its line.
    pub(crate) written: Vec<String>,
    /// The values, in the order given.
    pub(crate) values: Vec<toml::Value>,
}

impl Axis {
    /// Returns true when every value is a number, so the column is numeric.
    pub(crate) fn numeric(&self) -> bool {
        self.values
            .iter()
            .all(|v| matches!(v, toml::Value::Integer(_) | toml::Value::Float(_)))
    }

    /// Returns a value as a table cell: the number, or the text (strings unquoted).
    pub(crate) fn text(value: &toml::Value) -> String {
        match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// How runs are ordered: by one summary metric, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RankBy {
    /// The metric's name, e.g. `sharpe`.
    pub(crate) metric: String,
    /// Higher is better (the default); a leading `-` in the config means lower is better.
    pub(crate) descending: bool,
}

impl RankBy {
    /// Returns the setting as written: the metric, with `-` when lower is better.
    pub(crate) fn text(&self) -> String {
        if self.descending {
            self.metric.clone()
        } else {
            format!("-{}", self.metric)
        }
    }
}

/// `walk_forward = { train = 500, test = 100 }`: bars per in-sample and out-of-sample window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalkForward {
    /// Bars of each in-sample (training) window.
    pub(crate) train: usize,
    /// Bars of each out-of-sample window, and the step between windows.
    pub(crate) test: usize,
}

/// The typed `[sweep]` table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SweepSpec {
    /// The varied keys, sorted by key; the last varies fastest in job order.
    pub(crate) axes: Vec<Axis>,
    /// The ranking metric.
    pub(crate) rank_by: RankBy,
    /// Random search: this many distinct grid points, drawn with the config's seed.
    pub(crate) samples: Option<usize>,
    /// How many of the best runs get their full results written.
    pub(crate) keep: usize,
    /// Walk-forward optimisation windows.
    pub(crate) walk_forward: Option<WalkForward>,
}

/// Returns true when sweeping `key` makes each job train its own model.
pub(crate) fn retrains(key: &str) -> bool {
    RETRAINED.contains(&key.split('.').next().unwrap_or_default())
}

impl SweepSpec {
    /// Reads the `[sweep]` table of `loaded`.
    ///
    /// # Errors
    /// Names the key and line at fault: no table, a value that is neither a list nor a range, an
    /// empty list or range, a key that cannot be swept, a bad setting.
    pub(crate) fn parse(loaded: &LoadedConfig) -> Result<Self> {
        let Some(table) = &loaded.config.sweep else {
            anyhow::bail!(
                "{} has no [sweep] table: add one, e.g. \"strategy.params.fast\" = [5, 10, 20]",
                loaded.path.display()
            );
        };
        let mut spec = Self {
            axes: Vec::new(),
            rank_by: RankBy {
                metric: "sharpe".into(),
                descending: true,
            },
            samples: None,
            keep: 3,
            walk_forward: None,
        };
        for (name, value) in table {
            let written = vec![name.clone()];
            match name.as_str() {
                "rank_by" => spec.rank_by = rank_by(loaded, value)?,
                "samples" => spec.samples = Some(count(loaded, name, value, 1)?),
                "keep" => spec.keep = count(loaded, name, value, 0)?,
                "walk_forward" => spec.walk_forward = Some(walk_forward(loaded, value)?),
                _ => axes(loaded, &written, value, &mut spec.axes)?,
            }
        }
        if spec.axes.is_empty() {
            anyhow::bail!(
                "invalid sweep in {}: [sweep] varies no key: add one, e.g. \"strategy.params.fast\" = [5, 10, 20]",
                loaded.path.display()
            );
        }
        spec.axes.sort_by(|a, b| a.key.cmp(&b.key));
        if let Some(axis) = spec.axes.iter().find(|a| retrains(&a.key)) {
            let why = if spec.walk_forward.is_some() {
                Some(
                    "no `walk_forward` beside it: a walk-forward sweep would retrain the model per \
                     window; without it each job trains its own model and its ml_trend backtest \
                     trades it out of sample",
                )
            } else if !matches!(
                loaded.config.strategy,
                Some(strategies::StrategyConfig::MlTrend(_))
            ) {
                Some(
                    "an ml_trend [strategy]: the key sets the model each job trains and trades, \
                     and no other strategy trades one",
                )
            } else {
                None
            };
            if let Some(why) = why {
                return Err(error(loaded, &axis.written, &axis.key, why));
            }
        }
        if let Some(twice) = spec.axes.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(error(
                loaded,
                &twice[1].written,
                &twice[1].key,
                "each key once, but it is given twice",
            ));
        }
        Ok(spec)
    }

    /// Returns the keys of the axes, in column order.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.axes.iter().map(|a| a.key.clone()).collect()
    }
}

/// Returns an error naming the file, the line of `[sweep]`'s key `written`, the config key and
/// what was expected.
pub(crate) fn error(
    loaded: &LoadedConfig,
    written: &[String],
    key: &str,
    expected: impl std::fmt::Display,
) -> anyhow::Error {
    match locate(&loaded.source, written) {
        Some((line, column)) => anyhow::anyhow!(
            "invalid sweep in {}: line {line}, column {column}: `{key}`: expected {expected}",
            loaded.path.display()
        ),
        None => anyhow::anyhow!(
            "invalid sweep in {}: `{key}`: expected {expected}",
            loaded.path.display()
        ),
    }
}

/// Returns the 1-based (line, column) of `[sweep]`'s key path `written` (or of the deepest part
/// of it that exists).
fn locate(source: &str, written: &[String]) -> Option<(usize, usize)> {
    let root = toml::de::DeTable::parse(source).ok()?;
    let (_, sweep) = root
        .get_ref()
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == "sweep")?;
    let mut table = sweep.get_ref().as_table()?;
    let mut found = None;
    for part in written {
        let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part) else {
            break;
        };
        found = Some(key.span().start);
        match value.get_ref().as_table() {
            Some(inner) => table = inner,
            None => break,
        }
    }
    let offset = found?;
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    Some((line, offset - before.rfind('\n').map_or(0, |i| i + 1) + 1))
}

fn rank_by(loaded: &LoadedConfig, value: &toml::Value) -> Result<RankBy> {
    let written = ["rank_by".to_string()];
    let expected = || {
        format!(
            "the name of a summary metric ({}), with a leading '-' when lower is better",
            METRICS.iter().map(|m| m.key).collect::<Vec<_>>().join(", ")
        )
    };
    let Some(text) = value.as_str() else {
        return Err(error(
            loaded,
            &written,
            "sweep.rank_by",
            format!("{}, found {value}", expected()),
        ));
    };
    let (metric, descending) = match text.strip_prefix('-') {
        Some(rest) => (rest, false),
        None => (text, true),
    };
    let Some(declared) = METRICS.iter().find(|m| m.key == metric) else {
        return Err(error(
            loaded,
            &written,
            "sweep.rank_by",
            format!("{}, found {text:?}", expected()),
        ));
    };
    match (declared.better, descending) {
        (Better::Lower, true) => eprintln!(
            "warning: sweep.rank_by = {text:?} ranks the highest {metric} first, but lower is \
             better; \"-{metric}\" ranks the lowest first"
        ),
        (Better::Higher, false) => eprintln!(
            "warning: sweep.rank_by = {text:?} ranks the lowest {metric} first, but higher is \
             better; \"{metric}\" ranks the highest first"
        ),
        _ => {}
    }
    Ok(RankBy {
        metric: metric.to_string(),
        descending,
    })
}

fn count(loaded: &LoadedConfig, name: &str, value: &toml::Value, min: i64) -> Result<usize> {
    match value.as_integer() {
        Some(n) if n >= min => Ok(n as usize),
        _ => Err(error(
            loaded,
            &[name.to_string()],
            &format!("sweep.{name}"),
            format!("a whole number of at least {min}, found {value}"),
        )),
    }
}

fn walk_forward(loaded: &LoadedConfig, value: &toml::Value) -> Result<WalkForward> {
    let written = ["walk_forward".to_string()];
    let bad = |why: String| error(loaded, &written, "sweep.walk_forward", why);
    let Some(table) = value.as_table() else {
        return Err(bad(format!(
            "a table {{ train = BARS, test = BARS }}, found {value}"
        )));
    };
    if let Some(extra) = table
        .keys()
        .find(|k| !["train", "test"].contains(&k.as_str()))
    {
        return Err(bad(format!(
            "only `train` and `test` (bars), found `{extra}`"
        )));
    }
    let bars = |name: &str| match table.get(name).and_then(toml::Value::as_integer) {
        Some(n) if n >= 2 => Ok(n as usize),
        _ => Err(bad(format!(
            "`{name}`: a number of bars of at least 2, found {}",
            table
                .get(name)
                .map_or_else(|| "nothing".to_string(), ToString::to_string)
        ))),
    };
    Ok(WalkForward {
        train: bars("train")?,
        test: bars("test")?,
    })
}

/// Adds the axes of `[sweep]` entry `written` (a list, a range, or a table of further keys).
fn axes(
    loaded: &LoadedConfig,
    written: &[String],
    value: &toml::Value,
    out: &mut Vec<Axis>,
) -> Result<()> {
    let key = written.join(".");
    let bad = |expected: String| error(loaded, written, &key, expected);
    // A nested table is read down to its leaves first, so messages name the whole key.
    if let toml::Value::Table(table) = value
        && !is_range(table)
    {
        for (name, inner) in table {
            let mut path = written.to_vec();
            path.push(name.clone());
            axes(loaded, &path, inner, out)?;
        }
        return Ok(());
    }
    let first = key.split('.').next().unwrap_or_default();
    if let Some((_, why)) = FIXED.iter().find(|(name, _)| *name == first) {
        return Err(bad(format!(
            "a key outside [{first}], which cannot be swept: {why}"
        )));
    }
    if key.split('.').any(str::is_empty) {
        return Err(bad(
            "a dotted config key such as \"strategy.params.fast\"".into()
        ));
    }
    let values = match value {
        toml::Value::Array(values) if values.is_empty() => {
            return Err(bad(
                "a non-empty list of values, found an empty list (the grid would be empty)".into(),
            ));
        }
        toml::Value::Array(values) => values.clone(),
        toml::Value::Table(table) => range(table).map_err(bad)?,
        other => {
            return Err(bad(format!(
                "a list of values or a range {{ from, to, step }}, found {other}"
            )));
        }
    };
    out.push(Axis {
        key,
        written: written.to_vec(),
        values,
    });
    Ok(())
}

fn is_range(table: &toml::Table) -> bool {
    ["from", "to", "step"]
        .iter()
        .any(|k| table.contains_key(*k))
}

/// Values of a range `{ from, to, step }`, `to` included; whole numbers when all three are.
fn range(table: &toml::Table) -> Result<Vec<toml::Value>, String> {
    if let Some(extra) = table
        .keys()
        .find(|k| !["from", "to", "step"].contains(&k.as_str()))
    {
        return Err(format!(
            "a range {{ from, to, step }}, found the key `{extra}` in it"
        ));
    }
    let get = |name: &str| table.get(name);
    let (Some(from), Some(to)) = (get("from"), get("to")) else {
        return Err("a range with both `from` and `to` (and an optional `step`, default 1)".into());
    };
    let step = get("step").cloned().unwrap_or(toml::Value::Integer(1));
    const MAX: usize = 1_000_000;
    if let (Some(from), Some(to), Some(step)) =
        (from.as_integer(), to.as_integer(), step.as_integer())
    {
        if step <= 0 {
            return Err(format!("a positive `step`, found {step}"));
        }
        if from > to {
            return Err(format!(
                "`from` at most `to`, found from = {from} > to = {to} (the grid would be empty)"
            ));
        }
        // In i128: the span of i64::MIN..=i64::MAX does not fit an i64.
        let n = (i128::from(to) - i128::from(from)) / i128::from(step) + 1;
        if n > MAX as i128 {
            return Err(format!("at most {MAX} values in a range, found {n}"));
        }
        let n = n as usize;
        return Ok((0..n as i64)
            .map(|i| toml::Value::Integer(from + i * step))
            .collect());
    }
    let number = |v: &toml::Value, name: &str| {
        v.as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("a number for `{name}`, found {v}"))
    };
    let (from, to, step) = (
        number(from, "from")?,
        number(to, "to")?,
        number(&step, "step")?,
    );
    if step <= 0.0 {
        return Err(format!("a positive `step`, found {step}"));
    }
    if from > to {
        return Err(format!(
            "`from` at most `to`, found from = {from} > to = {to} (the grid would be empty)"
        ));
    }
    let steps = ((to - from) / step + 1e-9).floor();
    if steps >= MAX as f64 {
        return Err(format!("at most {MAX} values in a range, found {steps}"));
    }
    // Rounded to the decimals written, so 0.1 steps give 0.3 and not 0.30000000000000004.
    let decimals = |x: f64| x.to_string().split('.').nth(1).map_or(0, str::len);
    let places = decimals(from).max(decimals(step)).min(15);
    Ok((0..=steps as usize)
        .map(|i| {
            let x = from + i as f64 * step;
            let rounded = format!("{x:.places$}").parse().unwrap_or(x);
            toml::Value::Float(rounded)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn integer_ranges_include_the_end() {
        let values = range(&table("from = 5\nto = 20\nstep = 5")).unwrap();
        assert_eq!(values, [5, 10, 15, 20].map(toml::Value::Integer).to_vec());
        let values = range(&table("from = 1\nto = 3")).unwrap();
        assert_eq!(values.len(), 3);
    }

    #[test]
    fn float_ranges_are_rounded_to_the_written_decimals() {
        let values = range(&table("from = 0.0\nto = 0.5\nstep = 0.1")).unwrap();
        let floats: Vec<f64> = values.iter().map(|v| v.as_float().unwrap()).collect();
        assert_eq!(floats, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5]);
        let values = range(&table("from = 0.001\nto = 0.004\nstep = 0.001")).unwrap();
        assert_eq!(values.len(), 4);
        assert_eq!(values[2].as_float(), Some(0.003));
    }

    #[test]
    fn empty_and_bad_ranges_say_why() {
        let err = range(&table("from = 20\nto = 10")).unwrap_err();
        assert!(err.contains("from = 20 > to = 10"), "{err}");
        let err = range(&table("from = 1\nto = 10\nstep = 0")).unwrap_err();
        assert!(err.contains("positive `step`"), "{err}");
        let err = range(&table("from = 1")).unwrap_err();
        assert!(err.contains("`to`"), "{err}");
        let err = range(&table("from = 1\nto = 2\nby = 1")).unwrap_err();
        assert!(err.contains("`by`"), "{err}");
    }

    /// A sweep over `model.*` or `training.*` keys trains a model per job; without an ml_trend
    /// strategy, or beside `walk_forward`, it is refused, naming the key and its line whether
    /// written dotted or as a nested table.
    #[test]
    fn model_and_training_keys_need_an_ml_trend_strategy_and_no_walk_forward() {
        let config = |strategy: &str, sweep: &str| {
            let base = format!(
                "name = \"x\"\n[data]\nkind = \"csv\"\npath = \"bars.csv\"\n\
                 [strategy]\nname = \"{strategy}\"\n"
            );
            let params = if strategy == "ml_trend" {
                "[strategy.params]\nmodel = \"m\"\n"
            } else {
                ""
            };
            LoadedConfig::from_source(
                std::path::Path::new("sweep.toml"),
                format!("{base}{params}{sweep}"),
            )
            .unwrap()
        };
        for (sweep, key, line) in [
            (
                "[sweep]\n\"training.epochs\" = [5, 10]\n",
                "training.epochs",
                8,
            ),
            ("[sweep]\n\"model.hidden\" = [8, 16]\n", "model.hidden", 8),
            ("[sweep]\nmodel.window = [4, 8]\n", "model.window", 8),
        ] {
            let err = SweepSpec::parse(&config("buy_and_hold", sweep))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("line {line}"))
                    && err.contains(&format!("`{key}`"))
                    && err.contains("an ml_trend [strategy]"),
                "{err}"
            );
            let spec = SweepSpec::parse(&config("ml_trend", sweep)).unwrap();
            assert!(spec.axes.iter().all(|a| retrains(&a.key)));
        }
        let walking =
            "[sweep]\n\"training.epochs\" = [5, 10]\nwalk_forward = { train = 100, test = 50 }\n";
        let err = SweepSpec::parse(&config("ml_trend", walking))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`training.epochs`") && err.contains("no `walk_forward`"),
            "{err}"
        );
        assert!(!retrains("strategy.params.entry") && !retrains("models.x"));
    }

    #[test]
    fn locates_quoted_and_nested_keys() {
        let source =
            "name = \"x\"\n[sweep]\n\"strategy.params.fast\" = [1]\nbroker.commission = [0.1]\n";
        assert_eq!(
            locate(source, &["strategy.params.fast".to_string()]),
            Some((3, 1))
        );
        assert_eq!(
            locate(source, &["broker".to_string(), "commission".to_string()]),
            Some((4, 8))
        );
    }
}
