//! Range checks shared by the indicators' `validate` functions.
//!
//! Every indicator has the same three associated functions: `validate(args)` checks the
//! arguments `new(args)` takes and returns the engine's `RangeError` (the key, e.g. `period`,
//! and what was expected); `new(args)` assumes valid arguments and cannot fail; `try_new(args)`
//! does both. The feature pipeline can validate a config without building anything.

use engine::RangeError;

/// The longest window any indicator keeps: 10 M bars (19 years of one-minute bars, 80 MB of
/// f64 per buffer). Longer ones are refused before anything is allocated, so an absurd period
/// is an error, not an allocation failure that ends the process.
pub const MAX_WINDOW: usize = 10_000_000;

/// Checks that a window length `key` is at least `min` bars and at most [`MAX_WINDOW`].
pub(crate) fn bars_at_least(key: &str, min: usize, found: usize) -> Result<(), RangeError> {
    if found > MAX_WINDOW {
        return Err(RangeError::new(
            key,
            format!("at most {MAX_WINDOW} bars, found {found}"),
        ));
    }
    if found >= min {
        Ok(())
    } else {
        let unit = if min == 1 { "bar" } else { "bars" };
        Err(RangeError::new(
            key,
            format!("at least {min} {unit}, found {found}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_key_and_the_bound() {
        assert_eq!(bars_at_least("period", 1, 1), Ok(()));
        let err = bars_at_least("period", 2, 1).unwrap_err();
        assert_eq!(err.to_string(), "`period`: at least 2 bars, found 1");
        assert_eq!(bars_at_least("period", 1, MAX_WINDOW), Ok(()));
        let err = bars_at_least("period", 1, MAX_WINDOW + 1).unwrap_err();
        assert_eq!(err.key, "period");
    }
}
