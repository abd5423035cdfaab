//! What tags a run's Parquet files: its id, the hash of the config it ran, its strategy (and,
//! added by `report`, the version), so a file copied out of its folder still names its run.

use crate::config::LoadedConfig;
use crate::sweep::grid::StableHash;
use report::RunInfo;

/// Returns the tags of run `run_id` of `loaded`, whose resolved config (with every `--set` and
/// sweep value put in) serialises to `config_json`.
pub(crate) fn run_info(
    loaded: &LoadedConfig,
    config_json: &serde_json::Value,
    run_id: String,
) -> RunInfo {
    RunInfo {
        run_id,
        config_hash: config_hash(config_json),
        strategy: loaded.strategy_name().to_string(),
        formats: loaded.config.output.formats(),
        streamed: false,
    }
}

/// Returns a stable hash (16 hex digits, the same on every machine and build) of the resolved
/// config as `summary.json` stores it: equal configs give equal hashes, whatever file or `--set`
/// they came from.
pub(crate) fn config_hash(config_json: &serde_json::Value) -> String {
    let mut h = StableHash::default();
    h.bytes(config_json.to_string().as_bytes());
    h.hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_config_and_nothing_else() {
        let a = serde_json::json!({ "name": "x", "broker": { "initial_cash": 10000.0 } });
        let b = serde_json::json!({ "name": "x", "broker": { "initial_cash": 10001.0 } });
        assert_eq!(config_hash(&a), config_hash(&a.clone()));
        assert_ne!(config_hash(&a), config_hash(&b));
        assert_eq!(config_hash(&a).len(), 16);
    }
}
