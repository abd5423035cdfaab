//! Streaming indicators: O(1) per update, "not ready" (None) until warmed up, never a silent 0.

mod rolling;

pub use rolling::{RollingMean, RollingStd};
