//! Config values replaced at dotted keys (`strategy.params.fast`, `features.0.period`): a sweep
//! job's values, and `--set KEY=VALUE` on the command line. Both go through `set` and
//! `check_key`, so a `--set` is checked, and refused with the same words, as a sweep key.

use crate::config::LoadedConfig;
use anyhow::{Context, Result, bail};
use std::path::Path;

/// `--set KEY=VALUE`, for every command that reads a config.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SetArgs {
    /// Replace a config value: a dotted key and a TOML value, e.g. `--set strategy.params.fast=5`,
    /// `--set 'strategy.params.entry_long="close > sma"'`, `--set broker.allow_short=true`.
    /// Repeatable; checked like the file.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
}

impl SetArgs {
    /// Reads the config at `path` with every `--set` put in, then checks it as a whole (so
    /// `--set strategy.params.fast=30 --set strategy.params.slow=60` passes through no invalid
    /// state in between).
    ///
    /// # Errors
    /// The file's own errors; a `--set` that is not `KEY=VALUE`, whose value is not TOML, whose
    /// key the config does not have or whose value has the wrong type (naming the key and the
    /// keys there are); a value out of range (naming the `--set`).
    pub(crate) fn load(&self, path: &Path) -> Result<LoadedConfig> {
        let loaded = LoadedConfig::load(path)?;
        if self.set.is_empty() {
            return Ok(loaded);
        }
        let mut pairs = Vec::with_capacity(self.set.len());
        for text in &self.set {
            pairs.push(parse(text)?);
        }
        put_in(&loaded, pairs)
    }
}

/// Returns `loaded` with each (dotted key, value) put in, each checked on its own (the key is
/// one the config has, the value of its type), then the whole checked like the file.
///
/// # Errors
/// A key the config does not have or a value of the wrong type, naming the `--set`, the key and
/// the keys there are; a value out of range (naming the `--set`).
pub(crate) fn put_in(
    loaded: &LoadedConfig,
    pairs: Vec<(String, toml::Value)>,
) -> Result<LoadedConfig> {
    let base = loaded.table()?;
    let mut table = base.clone();
    let mut overrides = loaded.overrides.clone();
    for (key, value) in pairs {
        check_key(&base, &key, &value).map_err(|why| {
            anyhow::anyhow!(
                "invalid --set {key}={value} for {}: `{key}`: expected a config key taking values \
                 like {value}, but {why}",
                loaded.path.display()
            )
        })?;
        set(&mut table, &key, value.clone())?;
        overrides.push((key, value));
    }
    loaded.with_overrides(table, overrides)
}

/// Splits `KEY=VALUE` and reads the value as TOML.
fn parse(text: &str) -> Result<(String, toml::Value)> {
    let Some((key, value)) = text.split_once('=') else {
        bail!("invalid --set {text:?}: expected KEY=VALUE, e.g. --set strategy.params.fast=5");
    };
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        bail!(
            "invalid --set {text:?}: expected a dotted config key before '=', such as \
             strategy.params.fast"
        );
    }
    let value = value.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("value = {value}"))
        .ok()
        .and_then(|mut t| t.remove("value"));
    let Some(value) = parsed else {
        bail!(
            "invalid --set {text}: `{key}`: expected a TOML value (a number, true or false, a \
             \"quoted string\", [a, list]), found {}; quote text for the shell too: --set \
             '{key}=\"{value}\"'",
            market_data::text::quoted(value)
        );
    };
    Ok((key.to_string(), value))
}

/// Checks `key` on its own: with `value` put into `base`, the table must still read as a config
/// (the key is one the config has, the value of its type). Returns the reader's reason if not,
/// which lists the keys a table takes.
pub(crate) fn check_key(base: &toml::Table, key: &str, value: &toml::Value) -> Result<(), String> {
    let mut table = base.clone();
    set(&mut table, key, value.clone())
        .and_then(|()| {
            let config: Result<crate::config::BacktestConfig, _> =
                toml::Value::Table(table).try_into();
            config.map(drop).map_err(anyhow::Error::from)
        })
        .map_err(|e| e.to_string().trim_end().replace('\n', " "))
}

/// Puts `value` at dotted `key` in `table`, creating tables on the way (`features.0.period`
/// indexes arrays).
///
/// # Errors
/// When a part of the key is a value other than a table, or past the end of a list.
pub(crate) fn set(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_in(&mut root, &parts, 0, value);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

fn set_in(here: &mut toml::Value, parts: &[&str], depth: usize, value: toml::Value) -> Result<()> {
    let (part, last) = (parts[depth], depth + 1 == parts.len());
    let slot = match here {
        toml::Value::Table(t) => {
            if last {
                t.insert(part.to_string(), value);
                return Ok(());
            }
            t.entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        }
        toml::Value::Array(items) => {
            let len = items.len();
            let index = part
                .parse::<usize>()
                .ok()
                .filter(|i| *i < len)
                .with_context(|| {
                    format!(
                        "`{}` is a list of {len}: `{part}` is not an index of it",
                        parts[..depth].join(".")
                    )
                })?;
            if last {
                items[index] = value;
                return Ok(());
            }
            &mut items[index]
        }
        other => bail!(
            "`{}` is {}, not a table",
            parts[..depth].join("."),
            other.type_str()
        ),
    };
    set_in(slot, parts, depth + 1, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_creates_tables_and_indexes_arrays() {
        let mut t: toml::Table =
            toml::from_str("[strategy]\nname = \"x\"\n[[features]]\nperiod = 3\n").unwrap();
        set(&mut t, "broker.commission", toml::Value::Float(0.1)).unwrap();
        set(&mut t, "features.0.period", toml::Value::Integer(9)).unwrap();
        set(&mut t, "strategy.params.fast", toml::Value::Integer(5)).unwrap();
        assert_eq!(t["broker"]["commission"].as_float(), Some(0.1));
        assert_eq!(t["features"][0]["period"].as_integer(), Some(9));
        assert_eq!(t["strategy"]["params"]["fast"].as_integer(), Some(5));
        let err = set(&mut t, "strategy.name.x", toml::Value::Integer(1)).unwrap_err();
        assert!(
            err.to_string().contains("`strategy.name` is string"),
            "{err}"
        );
        let err = set(&mut t, "features.3.period", toml::Value::Integer(1)).unwrap_err();
        assert!(err.to_string().contains("not an index"), "{err}");
        set(&mut t, "seedless", toml::Value::Integer(1)).unwrap();
        assert_eq!(t["seedless"].as_integer(), Some(1));
    }

    #[test]
    fn set_values_are_toml() {
        let (key, value) = parse("strategy.params.fast=5").unwrap();
        assert_eq!((key.as_str(), value), ("strategy.params.fast", 5.into()));
        let (_, value) = parse("strategy.params.entry_long=\"close > sma\"").unwrap();
        assert_eq!(value.as_str(), Some("close > sma"));
        assert_eq!(parse("broker.allow_short=true").unwrap().1, true.into());
        let err = parse("strategy.name=buy_and_hold").unwrap_err().to_string();
        assert!(err.contains("expected a TOML value"), "{err}");
        assert!(err.contains("\"buy_and_hold\""), "{err}");
        let err = parse("fast").unwrap_err().to_string();
        assert!(err.contains("KEY=VALUE"), "{err}");
        let err = parse("strategy..fast=1").unwrap_err().to_string();
        assert!(err.contains("dotted config key"), "{err}");
    }
}
