//! Errors writing a run's files (and reading back what it kept on disk).

use std::path::PathBuf;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A result file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing a result file failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading back what the run kept on disk failed.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing a Parquet file failed.
    #[error("cannot write {}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Building an Arrow batch failed.
    #[error("cannot build the {table} table")]
    Arrow {
        /// Which table.
        table: String,
        /// Why.
        #[source]
        source: arrow::error::ArrowError,
    },
}
