//! The backtest config file: read in two stages, as ripgrep reads its flags. Serde reads the TOML
//! into `BacktestConfig` (unknown keys and wrong types fail here, with their line), then `validate`
//! checks ranges and files and reports the line of the offending key.

use anyhow::{Context, Result, bail};
use engine::{BrokerConfig, EngineSpec, RangeError, RiskConfig, SizingConfig};
use features::{FeatureConfig, FeatureError};
use market_data::csv::OnInvalid;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use strategies::StrategyConfig;

/// A whole backtest config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BacktestConfig {
    /// Names the output folder.
    pub(crate) name: String,
    /// Seeds every random stream of the run.
    #[serde(default)]
    pub(crate) seed: u64,
    /// Where the bars come from.
    pub(crate) data: DataConfig,
    /// The strategy and its params; absent in a config that only computes features or trains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) strategy: Option<StrategyConfig>,
    /// Broker rules.
    #[serde(default)]
    pub(crate) broker: BrokerConfig,
    /// Sizing of `Auto` orders.
    #[serde(default)]
    pub(crate) sizing: SizingConfig,
    /// Shared cash or sleeves.
    #[serde(default)]
    pub(crate) portfolio: PortfolioConfig,
    /// Risk limits.
    #[serde(default)]
    pub(crate) risk: RiskConfig,
    /// Output location.
    #[serde(default)]
    pub(crate) output: OutputConfig,
    /// Annualisation override.
    #[serde(default)]
    pub(crate) metrics: MetricsConfig,
    /// The feature pipeline: `[[features]]` tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) features: Vec<FeatureConfig>,
    /// A parameter grid for `quant sweep`: dotted key -> list of values, plus `rank_by`.
    #[serde(default)]
    pub(crate) sweep: Option<toml::Table>,
    /// The model `quant train` fits: architecture, window, horizon, labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) model: Option<models::ModelConfig>,
    /// How `quant train` fits and evaluates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) training: Option<models::TrainingConfig>,
    /// The websocket feed `quant paper` trades on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) live: Option<LiveConfig>,
    /// How models are explained: drift threshold, permutation importance settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) explain: Option<models::explain::ExplainConfig>,
}

/// `[live]`: the feed and journal of a paper (or live) session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LiveConfig {
    /// `paper` (simulated fills on live prices) or `live` (orders to a venue).
    pub(crate) mode: LiveMode,
    /// The feed's message format.
    pub(crate) format: FeedFormat,
    /// `ws://` or `wss://` URL of the feed.
    pub(crate) url: String,
    /// Streams: `btcusdt@kline_1m`, `btcusdt@trade`, `btcusdt@bookTicker` (Binance);
    /// `market_trades:BTC-USD`, `ticker:BTC-USD`, `candles:BTC-USD` (Coinbase).
    pub(crate) streams: Vec<String>,
    /// The journal file; a restart resumes from it.
    pub(crate) journal: String,
    /// Seconds of silence after which the connection is dropped and reopened.
    #[serde(default = "default_stale_after")]
    pub(crate) stale_after_s: f64,
    /// An event stamped more than this many seconds after the wall clock is rejected (never
    /// traded, never moving the session's clock): a feed's bad timestamp must not end a session.
    #[serde(default = "default_max_clock_skew")]
    pub(crate) max_clock_skew_s: f64,
    /// Reconnection backoff.
    #[serde(default)]
    pub(crate) reconnect: ReconnectConfig,
    /// Milliseconds between journal syncs to disk (0: after every line).
    #[serde(default = "default_sync_ms")]
    pub(crate) sync_ms: u64,
    /// Events buffered between the feed and the engine.
    #[serde(default = "default_capacity")]
    pub(crate) channel_capacity: usize,
    /// Microseconds the engine thread polls for the next event before it sleeps. Waking a
    /// sleeping thread costs tens of microseconds: a session that must act within microseconds
    /// sets this above the feed's spacing between messages, at the cost of a busy core.
    #[serde(default = "default_spin_us")]
    pub(crate) spin_us: u64,
    /// Seconds between the status lines logged when stderr is not a terminal (a terminal gets
    /// the status line redrawn every second instead).
    #[serde(default = "default_status_every")]
    pub(crate) status_every_s: f64,
    /// Seconds between rewrites of the session's results and report while it runs, so a long
    /// session can be looked at before it stops (0: only when it stops).
    #[serde(default = "default_refresh_results")]
    pub(crate) refresh_results_s: f64,
    /// Where the bars a gap lost are fetched from (default: nowhere, gaps are only reported).
    #[serde(
        default,
        skip_serializing_if = "crate::backfill::BackfillConfig::is_off"
    )]
    pub(crate) backfill: crate::backfill::BackfillConfig,
    /// The venue orders go to (`quant live` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) venue: Option<VenueTable>,
    /// Limits and switches of live trading (`quant live` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) safety: Option<SafetyTable>,
}

/// `[live.venue]`: a Binance-style WebSocket API and the names of the variables holding its
/// credentials (never the credentials themselves).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VenueTable {
    /// `ws://` or `wss://` URL of the WebSocket API.
    pub(crate) url: String,
    /// The environment variable holding the API key.
    pub(crate) api_key_env: String,
    /// The environment variable holding the API secret.
    pub(crate) api_secret_env: String,
    /// The asset cash is in; a stream's symbol is its base asset followed by this.
    #[serde(default = "default_quote_asset")]
    pub(crate) quote_asset: String,
    /// Starts every client order id (default: the config's name). A new journal needs a new
    /// prefix, or the venue's orders of the old session would be taken for the new one's.
    #[serde(default)]
    pub(crate) client_prefix: Option<String>,
    /// `recvWindow` of signed requests.
    #[serde(default = "default_recv_window")]
    pub(crate) recv_window_ms: u64,
    /// An order unacknowledged this long is looked up by client id, then sent again.
    #[serde(default = "default_ack_timeout")]
    pub(crate) ack_timeout_ms: u64,
    /// Sends of one order at most.
    #[serde(default = "default_max_attempts")]
    pub(crate) max_attempts: u32,
    /// Requests at once at most, then `per_second`.
    #[serde(default)]
    pub(crate) rate: RateTable,
    /// A venue position the engine does not hold: `adopt` it or `flatten` it.
    pub(crate) reconcile: ReconcilePolicy,
}

/// `[live.venue] rate = { burst, per_second }`: the token bucket pacing requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RateTable {
    /// Requests sent at once at most.
    pub(crate) burst: u32,
    /// Requests per second after that.
    pub(crate) per_second: f64,
}

impl Default for RateTable {
    fn default() -> Self {
        Self {
            burst: 10,
            per_second: 5.0,
        }
    }
}

/// `adopt` or `flatten`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReconcilePolicy {
    /// The engine takes the venue's positions as its own.
    Adopt,
    /// The venue's positions are traded back to the engine's; foreign orders are canceled.
    Flatten,
}

/// `[live.safety]`: limits on top of `[risk]`, and the switches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SafetyTable {
    /// Send nothing: trade the venue's feed with simulated fills, as `quant paper` does.
    #[serde(default)]
    pub(crate) dry_run: bool,
    /// Orders per minute at most.
    #[serde(default = "default_orders_per_minute")]
    pub(crate) max_orders_per_minute: usize,
    /// Quantity x price of one order at most (required: no live session without one).
    pub(crate) max_order_notional: f64,
    /// While this file exists the kill switch is on: cancel everything, flatten, stop.
    #[serde(default)]
    pub(crate) kill_file: Option<String>,
    /// Seconds the kill switch waits for the venue to confirm the cancels and closing fills.
    #[serde(default = "default_kill_wait")]
    pub(crate) kill_wait_s: f64,
}

fn default_quote_asset() -> String {
    "USDT".into()
}

fn default_recv_window() -> u64 {
    5000
}

fn default_ack_timeout() -> u64 {
    2000
}

fn default_max_attempts() -> u32 {
    3
}

fn default_orders_per_minute() -> usize {
    10
}

fn default_kill_wait() -> f64 {
    10.0
}

fn default_spin_us() -> u64 {
    200
}

fn default_status_every() -> f64 {
    60.0
}

fn default_refresh_results() -> f64 {
    300.0
}

fn default_jump_warning() -> f64 {
    market_data::quality::DEFAULT_JUMP_MULTIPLE
}

fn default_max_clock_skew() -> f64 {
    60.0
}

fn default_stale_after() -> f64 {
    30.0
}

fn default_sync_ms() -> u64 {
    1000
}

fn default_capacity() -> usize {
    65_536
}

/// `[live] reconnect = { initial_ms, max_ms }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ReconnectConfig {
    /// The first wait.
    pub(crate) initial_ms: u64,
    /// The longest wait.
    pub(crate) max_ms: u64,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            initial_ms: 250,
            max_ms: 30_000,
        }
    }
}

/// Paper or live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LiveMode {
    /// Simulated fills on live prices.
    Paper,
    /// Orders sent to a venue.
    Live,
}

/// A feed's message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FeedFormat {
    /// Binance combined streams.
    Binance,
    /// Coinbase Advanced Trade.
    Coinbase,
}

/// `[data]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataConfig {
    /// `csv`, `parquet`, `arrow`, `catalog` or `synthetic`.
    pub(crate) kind: DataKind,
    /// A file, a folder or a glob (csv, parquet, arrow); the catalog's root folder (catalog).
    pub(crate) path: Option<String>,
    /// Names per file (csv), or a count (synthetic).
    pub(crate) instruments: Option<Instruments>,
    /// What to do with invalid rows.
    #[serde(default)]
    pub(crate) on_invalid: OnInvalid,
    /// Warn of a close that moves more than this many times the instrument's recent bar range
    /// (a decimal point shifted, a unit changed); 0 turns the warnings off.
    #[serde(default = "default_jump_warning")]
    pub(crate) jump_warning: f64,
    /// The exchange's IANA time zone: where DAY orders' days end and what rules read as
    /// `hour`, `weekday`, ... (timestamps stay UTC).
    #[serde(default)]
    pub(crate) timezone: Option<market_data::Zone>,
    /// The market's trading calendar (`24/7`, `weekdays`, `us_equity`): which bars a paper or
    /// live session's feed expects, so a weekend or holiday is not a gap.
    pub(crate) calendar: Option<market_data::Calendar>,
    /// Bars per instrument (synthetic).
    pub(crate) bars: Option<usize>,
    /// Bar spacing such as `1m`, `1h`, `1d` (synthetic).
    pub(crate) interval: Option<String>,
    /// First bar's time (synthetic); the first instant read (files and catalogs).
    pub(crate) start: Option<String>,
    /// The first instant no longer read (files and catalogs): bars in `[start, end)` are used.
    pub(crate) end: Option<String>,
    /// Whether Parquet and Arrow files of one instrument each are streamed in shared mode (the
    /// default but for `ml_trend`, as catalogs are: only decoded chunks are held) rather than
    /// loaded, which keeps the bars for the report's buy-and-hold benchmark, position values
    /// and price charts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stream: Option<bool>,
    /// Replay ticks instead of bars: `["trades"]`, `["quotes"]` or both (catalogs).
    pub(crate) ticks: Option<Vec<TickKind>>,
    /// Bars built from the trades for the strategy and its features: `1m`, `ticks:100`,
    /// `volume:5000`, `dollar:1e6` (with `ticks`).
    pub(crate) resample: Option<String>,
    /// Price process (synthetic): `gbm`.
    pub(crate) model: Option<String>,
    /// Annual drift (synthetic).
    pub(crate) drift: Option<f64>,
    /// Annual volatility (synthetic).
    pub(crate) volatility: Option<f64>,
    /// First price (synthetic).
    pub(crate) initial_price: Option<f64>,
}

impl BacktestConfig {
    /// Starts the sessions of session VWAPs at the exchange's midnight (`[data] timezone`, or
    /// the calendar's), unless a feature names its own `timezone`.
    fn anchor_sessions(&mut self) {
        let zone = self.data.zone();
        if zone == market_data::Zone::UTC {
            return; // the features' own default: their tables stay as written
        }
        for f in &mut self.features {
            if f.kind == "vwap" && f.mode.as_deref() != Some("rolling") && f.timezone.is_none() {
                f.timezone = Some(zone);
            }
        }
    }
}

impl DataConfig {
    /// The exchange's zone: `timezone`, else the calendar's (New York for us_equity), else UTC.
    pub(crate) fn zone(&self) -> market_data::Zone {
        self.timezone
            .or(self.calendar.map(market_data::Calendar::zone))
            .unwrap_or_default()
    }
}

/// Where bars come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DataKind {
    /// CSV files, one instrument per file.
    Csv,
    /// Parquet files: one instrument per file, or an `instrument` column.
    Parquet,
    /// Arrow IPC files (file or stream format), laid out as Parquet ones.
    Arrow,
    /// A catalog folder, `<path>/bars/<instrument>/<part>.parquet`, streamed in bounded memory.
    Catalog,
    /// Generated geometric Brownian motion.
    Synthetic,
    /// Bars handed over in memory by a program embedding the engine (the Python package's
    /// `data=`); nothing to read.
    Memory,
}

impl DataKind {
    /// The kind's name in configs.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            DataKind::Csv => "csv",
            DataKind::Parquet => "parquet",
            DataKind::Arrow => "arrow",
            DataKind::Catalog => "catalog",
            DataKind::Synthetic => "synthetic",
            DataKind::Memory => "memory",
        }
    }
}

/// A kind of tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TickKind {
    /// Trade prints.
    Trades,
    /// Top-of-book quotes.
    Quotes,
}

/// `instruments`: names (csv) or a count (synthetic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Instruments {
    /// How many to generate.
    Count(usize),
    /// One name per file, in file order.
    Names(Vec<String>),
}

/// `[portfolio]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PortfolioConfig {
    /// How instruments share cash.
    pub(crate) mode: PortfolioMode,
    /// Sleeves only: each instrument's share of the capital, relative (normalised by their sum);
    /// equal shares when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) weights: Option<std::collections::BTreeMap<String, f64>>,
}

/// How instruments share cash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PortfolioMode {
    /// One loop, one cash balance.
    #[default]
    Shared,
    /// Independent per-instrument runs, combined afterwards.
    Sleeves,
}

/// `[output]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct OutputConfig {
    /// Parent folder of `<name>/`.
    pub(crate) dir: PathBuf,
    /// Whether to write `report.html` and `report.json`.
    pub(crate) report: bool,
    /// The benchmark: buy and hold of an instrument of the run, or of a series read from a
    /// file and not traded (default: of every instrument of the run, in equal shares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) benchmark: Option<BenchmarkConfig>,
    /// The formats of the tables (`["parquet", "csv"]`); unset: Parquet, and CSV for tables
    /// of up to [`report::DEFAULT_CSV_MAX_ROWS`] rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) formats: Option<Vec<report::Format>>,
}

impl OutputConfig {
    /// Returns the formats the tables are written in.
    pub(crate) fn formats(&self) -> report::Formats {
        self.formats
            .as_deref()
            .map_or_else(report::Formats::default, report::Formats::listed)
    }
}

/// `[output] benchmark`: `"GOOG"` or `{ path = "data/SPY.csv" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "an instrument of the run (\"GOOG\") or a file of bars ({ path = \"data/SPY.csv\" })"
)]
pub(crate) enum BenchmarkConfig {
    /// Buy and hold of this instrument of the run.
    Instrument(String),
    /// Buy and hold of the bars in a file (CSV, Parquet or Arrow, read as `[data]` reads them).
    File(BenchmarkFile),
}

/// A benchmark read from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BenchmarkFile {
    /// The file; relative paths as `[data] path`.
    pub(crate) path: PathBuf,
    /// Its name in the report (default: the file's stem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
}

impl BenchmarkConfig {
    /// Returns the instrument of the run it names, if it names one.
    pub(crate) fn instrument(&self) -> Option<&str> {
        match self {
            Self::Instrument(name) => Some(name),
            Self::File(_) => None,
        }
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("results"),
            benchmark: None,
            formats: None,
            report: true,
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MetricsConfig {
    /// Periods per year for annualisation; inferred from the bar spacing when absent.
    pub(crate) periods_per_year: Option<f64>,
    /// Annual risk-free rate (0.04 for 4%) entering Sharpe, Sortino and alpha.
    pub(crate) risk_free: f64,
}

impl MetricsConfig {
    /// Returns how the engine measures a run's figures.
    pub(crate) fn spec(&self) -> engine::MetricsSpec {
        engine::MetricsSpec {
            periods_per_year: self.periods_per_year,
            risk_free: self.risk_free,
        }
    }
}

/// A config loaded from a file, with its text kept for locating keys in messages.
#[derive(Debug, Clone)]
pub(crate) struct LoadedConfig {
    /// The file.
    pub(crate) path: PathBuf,
    /// Its text.
    pub(crate) source: String,
    /// What it says.
    pub(crate) config: BacktestConfig,
    /// The `--set` values put in, as (dotted key, value): messages about those keys name the
    /// `--set` instead of a line of the file, and [`LoadedConfig::table`] puts them in again.
    pub(crate) overrides: Vec<(String, toml::Value)>,
    /// The name of a strategy object run in place of `[strategy]` (a host program's, such as a
    /// Python class), for the summary and the report.
    pub(crate) strategy_label: Option<String>,
}

impl LoadedConfig {
    /// Reads, parses and validates a config file.
    ///
    /// # Errors
    /// Names the file, and the key and line at fault, with what was expected.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let source = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::from_source(path, source)
    }

    /// Parses and validates a config's text, as if read from `path`.
    ///
    /// # Errors
    /// As [`LoadedConfig::load`].
    pub(crate) fn from_source(path: &Path, source: String) -> Result<Self> {
        let mut config: BacktestConfig =
            toml::from_str(&source).map_err(|e| toml_error(path, &source, &e))?;
        config.anchor_sessions();
        let loaded = Self {
            path: path.to_path_buf(),
            source,
            config,
            overrides: Vec::new(),
            strategy_label: None,
        };
        loaded.validate()?;
        Ok(loaded)
    }

    /// Returns this file's config with its values replaced by `table` (the file's table with
    /// sweep overrides applied), checked like a loaded file.
    ///
    /// # Errors
    /// Names the key at fault and what was expected; lines are those of the original file.
    pub(crate) fn with_table(&self, table: toml::Table) -> Result<Self> {
        self.with_overrides(table, self.overrides.clone())
    }

    /// Returns this file's config with its values replaced by `table`, the file's table with
    /// `overrides` (from `--set`) put in, checked like a loaded file.
    ///
    /// # Errors
    /// As [`LoadedConfig::with_table`]; a key set by `--set` is named as such.
    pub(crate) fn with_overrides(
        &self,
        table: toml::Table,
        overrides: Vec<(String, toml::Value)>,
    ) -> Result<Self> {
        let mut config: BacktestConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e| toml_error(&self.path, "", &e))?;
        config.anchor_sessions();
        let loaded = Self {
            path: self.path.clone(),
            source: self.source.clone(),
            config,
            overrides,
            strategy_label: self.strategy_label.clone(),
        };
        loaded.validate()?;
        Ok(loaded)
    }

    /// Returns the config as a TOML table: the file's, with the `--set` values put in.
    ///
    /// # Errors
    /// When the file cannot be re-read as TOML (it was read once already).
    pub(crate) fn table(&self) -> Result<toml::Table> {
        let mut table: toml::Table = toml::from_str(&self.source)
            .with_context(|| format!("invalid config {}", self.path.display()))?;
        for (key, value) in &self.overrides {
            crate::overrides::set(&mut table, key, value.clone())?;
        }
        Ok(table)
    }

    /// Returns the strategy, or says that this command needs one (a config may leave it out to
    /// compute features or train a model).
    ///
    /// # Errors
    /// When the config has no `[strategy]` table.
    pub(crate) fn strategy(&self) -> Result<&StrategyConfig> {
        self.config.strategy.as_ref().with_context(|| {
            format!(
                "invalid config {}: no [strategy] table: this command runs a strategy, so the \
                 config needs one, e.g. [strategy] name = \"sma_crossover\" (`quant strategies` \
                 lists them; only `quant features` and `quant train` run without)",
                self.path.display()
            )
        })
    }

    /// Returns the strategy's name, or "none" for a config without one.
    pub(crate) fn strategy_name(&self) -> &str {
        if let Some(label) = &self.strategy_label {
            return label;
        }
        self.config
            .strategy
            .as_ref()
            .map_or("none", StrategyConfig::name)
    }

    /// Returns the engine's part of the config.
    pub(crate) fn engine_spec(&self) -> EngineSpec {
        let c = &self.config;
        EngineSpec {
            broker: c.broker.clone(),
            sizing: c.sizing.clone(),
            risk: c.risk.clone(),
            timezone: c.data.zone(),
        }
    }

    fn validate(&self) -> Result<()> {
        let c = &self.config;
        if c.name.trim().is_empty() || c.name.contains(['/', '\\']) || c.name.starts_with('.') {
            return Err(self.range(RangeError::new(
                "name",
                format!(
                    "a folder name (no slashes, not starting with '.'), found {}",
                    market_data::text::quoted(&c.name)
                ),
            )));
        }
        if !(c.data.jump_warning.is_finite() && c.data.jump_warning >= 0.0) {
            return Err(self.range(RangeError::new(
                "data.jump_warning",
                format!(
                    "a multiple of the recent bar range, 0 or more (0: no warnings), found {:?}",
                    c.data.jump_warning
                ),
            )));
        }
        if let Some(strategy) = &c.strategy {
            strategy.validate().map_err(|e| self.range(e))?;
        }
        if let Some(strategies::StrategyConfig::Rules(rules)) = &c.strategy {
            if rules.shorts() && !c.broker.allow_short {
                return Err(self.range(RangeError::new(
                    "strategy.params.entry_short",
                    "`[broker] allow_short = true` for a short entry rule",
                )));
            }
            if rules.rotates_several() && c.sizing.method == engine::SizingMethod::AllIn {
                return Err(self.range(RangeError::new(
                    "sizing.method",
                    "\"fixed_fraction\" or \"volatility_target\" for a rotation holding several \
                     instruments (each holding gets 1/top of one position's size; \"all_in\" would \
                     give each a share of what cash is left)",
                )));
            }
            // Rules compile in microseconds: do it now, so a broken rule stops the command
            // before any data is read.
            self.build_strategy()?;
        }
        self.engine_spec().validate().map_err(|e| self.range(e))?;
        if let Some(weights) = &c.portfolio.weights {
            if c.portfolio.mode != PortfolioMode::Sleeves {
                return Err(self.range(RangeError::new(
                    "portfolio.weights",
                    "no weights with mode = \"shared\" (they split capital between sleeves: set mode = \"sleeves\")",
                )));
            }
            if let Some((name, w)) = weights.iter().find(|(_, w)| !(w.is_finite() && **w > 0.0)) {
                return Err(self.range(RangeError::new(
                    format!("portfolio.weights.{name}"),
                    format!("a positive weight, found {w:?}"),
                )));
            }
        }
        if let Some(explain) = &c.explain {
            explain.validate().map_err(|e| match e {
                models::MlError::Config { field, expected } => {
                    self.range(RangeError::new(field, expected))
                }
                other => anyhow::anyhow!("{}: {other}", self.path.display()),
            })?;
        }
        if let Some(p) = c.metrics.periods_per_year
            && !(p > 0.0 && p.is_finite())
        {
            return Err(self.range(RangeError::new(
                "metrics.periods_per_year",
                format!("a positive number, found {p:?}"),
            )));
        }
        let rf = c.metrics.risk_free;
        if !(rf.is_finite() && rf > -1.0 && rf < 1.0) {
            return Err(self.range(RangeError::new(
                "metrics.risk_free",
                format!("an annual rate in (-1, 1), such as 0.04, found {rf:?}"),
            )));
        }
        if let Some(live) = &c.live {
            let checks = [
                (
                    "live.url",
                    live.url.starts_with("ws://") || live.url.starts_with("wss://"),
                    format!(
                        "a ws:// or wss:// URL, found {}",
                        market_data::text::quoted(&live.url)
                    ),
                ),
                (
                    "live.streams",
                    !live.streams.is_empty(),
                    "at least one stream".to_string(),
                ),
                (
                    "live.stale_after_s",
                    live.stale_after_s.is_finite() && live.stale_after_s > 0.0,
                    format!(
                        "a positive number of seconds, found {:?}",
                        live.stale_after_s
                    ),
                ),
                (
                    "live.status_every_s",
                    live.status_every_s.is_finite() && live.status_every_s > 0.0,
                    format!(
                        "a positive number of seconds, found {:?}",
                        live.status_every_s
                    ),
                ),
                (
                    "live.refresh_results_s",
                    live.refresh_results_s.is_finite() && live.refresh_results_s >= 0.0,
                    format!(
                        "seconds, 0 or more (0: only when the session stops), found {:?}",
                        live.refresh_results_s
                    ),
                ),
                (
                    "live.max_clock_skew_s",
                    live.max_clock_skew_s.is_finite()
                        && (0.0..=86_400.0 * 365.0).contains(&live.max_clock_skew_s),
                    format!(
                        "seconds from 0 to a year, found {:?}",
                        live.max_clock_skew_s
                    ),
                ),
                (
                    "live.reconnect",
                    live.reconnect.initial_ms > 0
                        && live.reconnect.max_ms >= live.reconnect.initial_ms,
                    format!(
                        "0 < initial_ms <= max_ms, found {} and {}",
                        live.reconnect.initial_ms, live.reconnect.max_ms
                    ),
                ),
                (
                    "live.channel_capacity",
                    live.channel_capacity > 0,
                    "at least 1".to_string(),
                ),
            ];
            let venue = live.venue.as_ref();
            let safety = live.safety.as_ref();
            let checks = checks.into_iter().chain([
                (
                    "live.venue.url",
                    venue.is_none_or(|v| v.url.starts_with("ws://") || v.url.starts_with("wss://")),
                    format!(
                        "a ws:// or wss:// URL, found {}",
                        market_data::text::quoted(
                            venue.map(|v| v.url.as_str()).unwrap_or_default()
                        )
                    ),
                ),
                // The value itself is never shown: it may be a credential pasted by mistake, and
                // echoed it would reach the terminal, logs and summary.json.
                (
                    "live.venue.api_key_env",
                    venue.is_none_or(|v| live::venue::is_variable_name(&v.api_key_env)),
                    "the NAME of the environment variable holding the API key (upper case, \
                     digits, _; at most 40), not the key itself (the value is not shown)"
                        .to_string(),
                ),
                (
                    "live.venue.api_secret_env",
                    venue.is_none_or(|v| live::venue::is_variable_name(&v.api_secret_env)),
                    "the NAME of the environment variable holding the API secret (upper case, \
                     digits, _; at most 40), not the secret itself (the value is not shown)"
                        .to_string(),
                ),
                (
                    "live.venue.ack_timeout_ms",
                    venue.is_none_or(|v| v.ack_timeout_ms > 0),
                    "at least 1".to_string(),
                ),
                (
                    "live.venue.max_attempts",
                    venue.is_none_or(|v| v.max_attempts > 0),
                    "at least 1".to_string(),
                ),
                (
                    "live.venue.rate",
                    venue.is_none_or(|v| {
                        v.rate.burst > 0 && v.rate.per_second.is_finite() && v.rate.per_second > 0.0
                    }),
                    "burst >= 1 and per_second > 0".to_string(),
                ),
                (
                    "live.venue.client_prefix",
                    venue
                        .and_then(|v| v.client_prefix.as_deref())
                        .is_none_or(|p| {
                            !p.is_empty()
                                && p.len() <= 16
                                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        }),
                    "1 to 16 letters, digits or _".to_string(),
                ),
                (
                    "live.safety.max_order_notional",
                    safety.is_none_or(|s| {
                        s.max_order_notional.is_finite() && s.max_order_notional > 0.0
                    }),
                    "a positive amount of the quote asset".to_string(),
                ),
                (
                    "live.safety.max_orders_per_minute",
                    safety.is_none_or(|s| s.max_orders_per_minute > 0),
                    "at least 1".to_string(),
                ),
                (
                    "live.safety.kill_wait_s",
                    safety.is_none_or(|s| s.kill_wait_s.is_finite() && s.kill_wait_s >= 0.0),
                    "a number of seconds >= 0".to_string(),
                ),
            ]);
            if let Some((key, _, expected)) = checks.into_iter().find(|(_, ok, _)| !ok) {
                return Err(self.range(RangeError::new(key, expected)));
            }
            live.backfill.check(live, self).map_err(|e| self.range(e))?;
        }
        let d = &c.data;
        match d.kind {
            DataKind::Memory => {}
            DataKind::Csv | DataKind::Parquet | DataKind::Arrow | DataKind::Catalog => {
                let kind = d.kind.name();
                if d.path.is_none() {
                    return Err(self.range(RangeError::new(
                        "data",
                        format!("a `path` for kind = \"{kind}\" (a file, folder or glob)"),
                    )));
                }
                if matches!(d.instruments, Some(Instruments::Count(_))) {
                    return Err(self.range(RangeError::new(
                        "data.instruments",
                        format!("a list of names for kind = \"{kind}\""),
                    )));
                }
                let synthetic_only = [
                    ("bars", d.bars.is_some()),
                    ("interval", d.interval.is_some()),
                    ("model", d.model.is_some()),
                    ("drift", d.drift.is_some()),
                    ("volatility", d.volatility.is_some()),
                    ("initial_price", d.initial_price.is_some()),
                ];
                if let Some((key, _)) = synthetic_only.iter().find(|(_, set)| *set) {
                    return Err(self.range(RangeError::new(
                        format!("data.{key}"),
                        format!(
                            "no such key for kind = \"{kind}\" (it applies to kind = \"synthetic\")"
                        ),
                    )));
                }
                if let Some(ticks) = &d.ticks {
                    if d.kind == DataKind::Csv {
                        return Err(self.range(RangeError::new(
                            "data.ticks",
                            "no ticks for kind = \"csv\" (convert them to Parquet with `quant \
                             data convert`)",
                        )));
                    }
                    if ticks.is_empty() {
                        return Err(self.range(RangeError::new(
                            "data.ticks",
                            "[\"trades\"], [\"quotes\"] or both",
                        )));
                    }
                    if ticks.len() > 1 && d.kind != DataKind::Catalog {
                        return Err(self.range(RangeError::new(
                            "data.ticks",
                            format!(
                                "one kind of tick for kind = \"{kind}\" (one record kind per \
                                 file); trades and quotes together come from a catalog"
                            ),
                        )));
                    }
                }
                if let Some(rule) = &d.resample {
                    let trades = d
                        .ticks
                        .as_ref()
                        .is_some_and(|t| t.contains(&TickKind::Trades));
                    if !trades {
                        return Err(self.range(RangeError::new(
                            "data.resample",
                            "ticks that include trades (`ticks = [\"trades\"]`): bars are built \
                             from trades",
                        )));
                    }
                    if let Err(e) = rule.parse::<market_data::resample::BarRule>() {
                        return Err(self.range(RangeError::new("data.resample", e.to_string())));
                    }
                }
                if d.on_invalid == OnInvalid::Skip && d.kind != DataKind::Csv {
                    return Err(self.range(RangeError::new(
                        "data.on_invalid",
                        format!(
                            "\"error\" for kind = \"{kind}\": typed columnar files are not \
                             repaired row by row (skipping applies to CSV)"
                        ),
                    )));
                }
            }
            DataKind::Synthetic => {
                if d.ticks.is_some() || d.resample.is_some() {
                    return Err(self.range(RangeError::new(
                        if d.ticks.is_some() {
                            "data.ticks"
                        } else {
                            "data.resample"
                        },
                        "no ticks for kind = \"synthetic\" (generate them with `quant data \
                         synth --kind trades`)",
                    )));
                }
                if d.end.is_some() {
                    return Err(self.range(RangeError::new(
                        "data.end",
                        "no end for kind = \"synthetic\" (set `bars`)",
                    )));
                }
                if d.path.is_some() {
                    return Err(self.range(RangeError::new(
                        "data.path",
                        "no path for kind = \"synthetic\"",
                    )));
                }
                if let Some(model) = &d.model
                    && model != "gbm"
                {
                    return Err(self.range(RangeError::new(
                        "data.model",
                        format!("\"gbm\", found {}", market_data::text::quoted(model)),
                    )));
                }
            }
        }
        Ok(())
    }

    /// Turns a range error into a message naming the file, the key's line and what was expected.
    pub(crate) fn range(&self, error: RangeError) -> anyhow::Error {
        anyhow::anyhow!(
            "invalid config {}: {}`{}`: expected {}",
            self.path.display(),
            self.at(&error.key),
            error.key,
            error.expected
        )
    }

    /// Says where the value of dotted `key` was given: `--set KEY=VALUE: ` when a `--set` gave
    /// it (or the table holding it), else `line L, column C: ` in the file, else nothing.
    fn at(&self, key: &str) -> String {
        let set = self.overrides.iter().rev().find(|(k, _)| {
            key == k || key.starts_with(&format!("{k}.")) || k.starts_with(&format!("{key}."))
        });
        if let Some((k, value)) = set {
            return format!("--set {k}={value}: ");
        }
        locate(&self.source, key).map_or(String::new(), |(l, c)| format!("line {l}, column {c}: "))
    }

    /// Builds the config's strategy with its feature pipeline (and models), reading the paths
    /// it names relative to the current folder or else to the config file.
    ///
    /// # Errors
    /// Names the feature (with its line) or the model directory at fault.
    pub(crate) fn build_strategy(&self) -> Result<strategies::BuiltStrategy> {
        let strategy = self
            .strategy()?
            .with_paths_resolved(|p| self.resolve(p).to_string_lossy().into_owned());
        strategy
            .build(&self.config.features)
            .map_err(|e| self.build_error(e))
    }

    /// Checks that `[output] benchmark`, if it names an instrument, names one of the run's.
    ///
    /// # Errors
    /// Names the key, its line, the name and the instruments there are.
    pub(crate) fn check_benchmark<'a>(
        &self,
        instruments: impl Iterator<Item = &'a str>,
    ) -> Result<()> {
        let Some(benchmark) = (self.config.output.benchmark.as_ref()).and_then(|b| b.instrument())
        else {
            return Ok(());
        };
        let names: Vec<&str> = instruments.collect();
        if names.contains(&benchmark) {
            return Ok(());
        }
        let mut listed: Vec<String> = names.iter().take(20).map(|n| format!("{n:?}")).collect();
        if names.len() > 20 {
            listed.push(format!("and {} more", names.len() - 20));
        }
        Err(self.range(RangeError::new(
            "output.benchmark",
            format!(
                "an instrument of the run ({}), found {}",
                listed.join(", "),
                market_data::text::quoted(benchmark)
            ),
        )))
    }

    /// Checks that the strategy can act within `bars` bars (the longest series of the run).
    ///
    /// # Errors
    /// Names the rule (with its line) that reads a feature never ready within the data.
    pub(crate) fn check_reachable(&self, bars: usize) -> Result<()> {
        self.strategy()?
            .check_reachable(&self.config.features, bars)
            .map_err(|e| self.build_error(e))
    }

    /// Turns a strategy build error into a message naming the file, the line and the key.
    fn build_error(&self, e: strategies::BuildError) -> anyhow::Error {
        match e {
            strategies::BuildError::Feature(e) => self.feature_error(&e),
            strategies::BuildError::Rule(e) => {
                let key = format!("strategy.params.{}", e.key);
                let expression = (self.config.strategy.as_ref())
                    .and_then(|s| s.rule_text(e.key))
                    .unwrap_or_default();
                let at = match locate_in_string(&self.source, &key, expression, e.column) {
                    Some((l, c)) if !self.at(&key).starts_with("--set") => {
                        format!("line {l}, column {c}: ")
                    }
                    _ => self.at(&key),
                };
                anyhow::anyhow!(
                    "invalid config {}: {at}`{key}`, column {} of the expression: expected {}",
                    self.path.display(),
                    e.column,
                    e.message
                )
            }
            strategies::BuildError::Model(e) => {
                let line = locate(&self.source, "strategy.params.model")
                    .map_or(String::new(), |(l, c)| format!("line {l}, column {c}: "));
                anyhow::anyhow!(
                    "invalid config {}: {line}`strategy.params.model`: {e} (train it with \
                     `quant train CONFIG` first)",
                    self.path.display()
                )
            }
        }
    }

    /// Turns a feature error into a message naming the file, the feature's table and line, the
    /// key and what was expected.
    pub(crate) fn feature_error(&self, error: &FeatureError) -> anyhow::Error {
        let index = self
            .config
            .features
            .iter()
            .position(|f| f.name == error.feature);
        let line = index.and_then(|i| locate_feature(&self.source, i, error.key));
        let key = error.key.map_or(String::new(), |k| format!(" `{k}`"));
        match line {
            Some((line, column)) => anyhow::anyhow!(
                "invalid config {}: line {line}, column {column}: feature {:?}{key}: expected {}",
                self.path.display(),
                error.feature,
                error.message
            ),
            None => anyhow::anyhow!(
                "invalid config {}: feature {:?}{key}: expected {}",
                self.path.display(),
                error.feature,
                error.message
            ),
        }
    }

    /// Resolves a path written in the config: relative to the current folder, or else to the
    /// config file's folder.
    pub(crate) fn resolve(&self, written: &str) -> PathBuf {
        let direct = PathBuf::from(written);
        if direct.is_absolute() || direct.exists() || glob_base_exists(&direct) {
            return direct;
        }
        let beside = self.path.parent().unwrap_or(Path::new(".")).join(written);
        if beside.exists() || glob_base_exists(&beside) {
            beside
        } else {
            direct
        }
    }
}

fn glob_base_exists(path: &Path) -> bool {
    path.to_str().is_some_and(|s| s.contains(['*', '?', '[']))
        && path.parent().is_some_and(Path::exists)
}

/// Turns a TOML reader's error into one line naming the file, the line and the column, with at
/// most a few hundred characters of what was written (the reader's own rendering quotes the
/// whole line, however long).
fn toml_error(path: &Path, source: &str, e: &toml::de::Error) -> anyhow::Error {
    // The line as written (cut), so the key at fault shows even when the message omits it.
    let at = e
        .span()
        .filter(|span| span.start <= source.len() && source.is_char_boundary(span.start))
        .map(|span| line_column(source, span.start))
        .map_or(String::new(), |(l, c)| {
            let written = source.lines().nth(l - 1).unwrap_or_default().trim();
            format!(
                "line {l}, column {c} (`{}`): ",
                market_data::text::printable(written, 120)
            )
        });
    anyhow::anyhow!(
        "invalid config {}: {at}{}",
        path.display(),
        market_data::text::printable(e.message(), 600)
    )
}

/// Returns the 1-based (line, column) of a dotted key's value in TOML text, or of the deepest
/// table on the way that exists.
pub(crate) fn locate(source: &str, dotted: &str) -> Option<(usize, usize)> {
    let root = toml::de::DeTable::parse(source).ok()?;
    let mut table = root.get_ref();
    let mut found = None;
    for part in dotted.split('.') {
        let (key, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
        found = Some(key.span().start);
        match value.get_ref().as_table() {
            Some(inner) => table = inner,
            None => break,
        }
    }
    Some(line_column(source, found?))
}

/// Returns the 1-based (line, column) in TOML text of character `column` (1-based) of the
/// string value at `dotted`, when the file holds `expression` there as written (no escapes);
/// else `None`.
fn locate_in_string(
    source: &str,
    dotted: &str,
    expression: &str,
    column: usize,
) -> Option<(usize, usize)> {
    let root = toml::de::DeTable::parse(source).ok()?;
    let mut table = root.get_ref();
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let (_, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
        if parts.peek().is_none() {
            let raw = source.get(value.span())?;
            let quotes = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
                3
            } else {
                1
            };
            if !raw.get(quotes..)?.starts_with(expression) {
                return None;
            }
            let within = expression
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(expression.len(), |(i, _)| i);
            return Some(line_column(source, value.span().start + quotes + within));
        }
        table = value.get_ref().as_table()?;
    }
    None
}

/// Returns the 1-based (line, column) of key `key` in the `index`-th `[[features]]` table (or of
/// its `name` when the key is absent).
fn locate_feature(source: &str, index: usize, key: Option<&str>) -> Option<(usize, usize)> {
    let root = toml::de::DeTable::parse(source).ok()?;
    let (_, features) = root
        .get_ref()
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == "features")?;
    let table = features
        .get_ref()
        .as_array()?
        .get(index)?
        .get_ref()
        .as_table()?;
    let find = |name: &str| {
        table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == name)
            .map(|(k, _)| k.span().start)
    };
    let offset = key.and_then(find).or_else(|| find("name"))?;
    Some(line_column(source, offset))
}

fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    (line, offset - before.rfind('\n').map_or(0, |i| i + 1) + 1)
}

/// Fails unless `path` exists, naming the config key that points at it.
pub(crate) fn require_exists(loaded: &LoadedConfig, key: &str, path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let error = RangeError::new(
        key,
        format!(
            "an existing file or folder, but {} does not exist",
            path.display()
        ),
    );
    bail!(loaded.range(error))
}

#[cfg(test)]
mod tests;
