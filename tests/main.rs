//! End-to-end tests: the `quant` binary on shipped and broken configs, and the public APIs against
//! independently computed reference results.

// Helpers outside `#[test]` functions unwrap too: allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, missing_docs)]

mod backfill;
mod bad_input;
pub(crate) mod browser;
pub(crate) mod configs;
mod data;
mod determinism;
mod explain;
mod features;
mod feed;
mod fetch;
mod live;
mod lookahead;
mod metrics;
mod ml;
mod paper;
mod parity;
mod pretrain;
mod report;
mod result_files;
mod rules;
mod shell;
mod starter;
mod support;
mod sweep;
mod venue;
