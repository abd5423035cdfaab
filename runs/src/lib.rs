//! Runs: what the `quant` commands do, as a library. Backtests of a config, feature tables,
//! parameter sweeps and walk-forward optimisation, model training, paper and live sessions,
//! market data tools, the replay feed server, report pages and end-to-end benchmarks.
//!
//! Each command is a module with an options struct (its command-line arguments, derived with
//! clap so the binary and a library user share one definition) and a `run` function. The
//! `quant` binary only parses arguments and calls these.
//!
//! Owns: loading a config file ([`config`]) and its data, wiring the crates into runs, and
//! printing progress and headline figures.
//! Never holds: trading, fill, feature, model or rendering logic; those live in `engine`,
//! `features`, `models`, `strategies`, `report` and `live`.

#![forbid(unsafe_code)]

pub mod backtest;
pub mod bench;
pub mod browser;
pub mod config;
pub mod data_tools;
pub mod embedded;
pub mod features_file;
pub mod feed_server;
pub mod live;
pub mod overrides;
pub mod paper;
pub mod report_pages;
pub mod run_dir;
pub mod starter;
pub mod stop;
pub mod sweep;
pub mod train;

mod backfill;
mod benchmark;
mod data;
mod instrument_scores;
mod model_card;
mod model_plan;
mod output;
mod pretrain;
mod run_info;
mod runner;
mod session_log;
