//! How the engine sees a feature pipeline: per instrument, one row of named values, updated with
//! each bar before the strategy decides. The pipeline itself lives in `strategies`; the engine
//! only drives it, so the same features reach a strategy in backtests and live.

use market_data::{Bar, InstrumentIdx};

/// A source of per-instrument feature values, updated bar by bar.
pub trait FeatureSource: Send + std::fmt::Debug {
    /// Returns the column names, in the order of `values`.
    fn columns(&self) -> &[String];

    /// Feeds one completed bar of one instrument.
    ///
    /// # Errors
    /// Returns an error when a feature refuses its input (e.g. a NaN with `on_nan = "error"`).
    fn update(
        &mut self,
        instrument: InstrumentIdx,
        bar: &Bar,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// Feeds the bars of one time step, at most one per instrument. Each instrument's features
    /// depend on its own bars only, so a source may spread instruments over threads; the
    /// default feeds them one by one.
    ///
    /// # Errors
    /// As [`FeatureSource::update`].
    fn update_step(
        &mut self,
        bars: &[(InstrumentIdx, Bar)],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        for (instrument, bar) in bars {
            self.update(*instrument, bar)?;
        }
        Ok(())
    }

    /// Returns the instrument's current values (NaN where a feature is not ready).
    fn values(&self, instrument: InstrumentIdx) -> &[f64];
}
