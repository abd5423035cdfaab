//! Instrument names and their dense indices.
//!
//! Names (`InstrumentId`) live at the edges: configs, files, reports. Inside the engine every
//! instrument is an `InstrumentIdx` into preallocated vectors, so no event pays for a hash lookup.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The external name of an instrument, such as `GOOG` or `BTCUSDT`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstrumentId(pub String);

impl InstrumentId {
    /// Returns an id from any string-like name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// Returns the name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The dense index of an instrument within one run: `0..n_instruments`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct InstrumentIdx(pub u32);

impl InstrumentIdx {
    /// Returns the index as a `usize` for vector access.
    pub const fn get(self) -> usize {
        self.0 as usize
    }
}
