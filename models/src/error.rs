//! The error type of the machine-learning module: one enum, so callers can tell bad configs,
//! bad data and failed tensor work apart.

use std::path::PathBuf;

/// Everything that can go wrong while building datasets, training, evaluating, saving or loading
/// a model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// A config value out of its valid range.
    #[error("invalid `{field}`: expected {expected}")]
    Config {
        /// The config key.
        field: &'static str,
        /// What a valid value looks like, and what was given.
        expected: String,
    },
    /// Input arrays whose sizes do not fit together.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// The expected size.
        expected: String,
        /// The size given.
        got: String,
    },
    /// Fewer rows than one window (plus the label horizon) needs.
    #[error("too little data: {rows} rows, but one sample needs at least {needed} ({why})")]
    TooLittleData {
        /// Rows given.
        rows: usize,
        /// Rows needed.
        needed: usize,
        /// What the rows are needed for.
        why: String,
    },
    /// Data from which no sample could be built.
    #[error("no samples: {reason}")]
    NoSamples {
        /// Why every candidate sample was dropped.
        reason: String,
    },
    /// A feature column the model needs that the pipeline does not produce.
    #[error("unknown feature column `{name}`: expected one of {available:?}")]
    UnknownColumn {
        /// The missing column.
        name: String,
        /// The pipeline's columns.
        available: Vec<String>,
    },
    /// A saved model whose feature pipeline differs from the one it is used with.
    #[error(
        "feature pipeline mismatch at column {position}: the model expects {expected}, the \
         pipeline gives {found}"
    )]
    PipelineMismatch {
        /// Index of the first differing column.
        position: usize,
        /// The model's column there (or "no column").
        expected: String,
        /// The pipeline's column there (or "no column").
        found: String,
    },
    /// A saved model whose files changed after saving.
    #[error("model in {} fails its integrity check: model_id {stored} was saved, the files hash to {computed}", dir.display())]
    ModelIdMismatch {
        /// The model directory.
        dir: PathBuf,
        /// The id in `model.json`.
        stored: String,
        /// The id of the files as read.
        computed: String,
    },
    /// Reading or writing a model file.
    #[error("cannot access {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A malformed `model.json`.
    #[error("invalid model metadata in {}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A training guard that failed (too few samples, a missing class), with
    /// `[training] guards = "error"`.
    #[error("{message} (`training.{key}`; `training.guards = \"warn\"` trains anyway)")]
    Guard {
        /// The `[training]` key that sets the guard.
        key: &'static str,
        /// What failed, with the figures.
        message: String,
    },
    /// A tensor operation that failed inside candle.
    #[error("tensor operation failed")]
    Candle(#[from] candle_core::Error),
}

/// The module's result type.
pub type Result<T, E = MlError> = std::result::Result<T, E>;

/// Returns a config error for `field`.
pub(crate) fn config_error(field: &'static str, expected: impl Into<String>) -> MlError {
    MlError::Config {
        field,
        expected: expected.into(),
    }
}
