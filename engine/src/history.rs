//! The recent bars of each instrument, for strategies that read more than features: a ring per
//! instrument, sized once from [`Strategy::bar_history`](crate::Strategy::bar_history), so keeping
//! it allocates nothing per bar.

use market_data::{Bar, InstrumentIdx};

/// Each instrument's last `len` bars.
#[derive(Debug, Clone)]
pub(crate) struct BarHistory {
    len: usize,
    /// `len` slots per instrument, each instrument's a ring.
    bars: Vec<Bar>,
    /// Bars pushed per instrument.
    pushed: Vec<u64>,
}

impl BarHistory {
    /// Keeps nothing.
    pub(crate) const EMPTY: Self = Self {
        len: 0,
        bars: Vec::new(),
        pushed: Vec::new(),
    };

    /// Returns rings of `len` bars for `instruments` instruments (nothing kept when `len` is 0).
    pub(crate) fn new(len: usize, instruments: usize) -> Self {
        let empty = Bar {
            ts: market_data::Timestamp(0),
            open: f64::NAN,
            high: f64::NAN,
            low: f64::NAN,
            close: f64::NAN,
            volume: f64::NAN,
        };
        Self {
            len,
            bars: vec![empty; len * instruments],
            pushed: vec![0; if len == 0 { 0 } else { instruments }],
        }
    }

    /// Records an instrument's new bar.
    #[inline]
    pub(crate) fn push(&mut self, instrument: InstrumentIdx, bar: &Bar) {
        if self.len == 0 {
            return;
        }
        let i = instrument.get();
        let slot = (self.pushed[i] % self.len as u64) as usize;
        self.bars[i * self.len + slot] = *bar;
        self.pushed[i] += 1;
    }

    /// Returns an instrument's window, newest bar first.
    pub(crate) fn window(&self, instrument: InstrumentIdx) -> BarWindow<'_> {
        let i = instrument.get();
        match self.pushed.get(i) {
            Some(&pushed) if self.len > 0 => BarWindow {
                ring: &self.bars[i * self.len..(i + 1) * self.len],
                pushed,
            },
            _ => BarWindow::default(),
        }
    }
}

/// A read-only view of one instrument's recent bars, newest first: `get(0)` is the bar being
/// handled, `get(1)` the one before it.
#[derive(Debug, Clone, Copy, Default)]
pub struct BarWindow<'a> {
    ring: &'a [Bar],
    pushed: u64,
}

impl<'a> BarWindow<'a> {
    /// Returns the number of bars held: at most the strategy's `bar_history`.
    pub fn len(&self) -> usize {
        self.pushed.min(self.ring.len() as u64) as usize
    }

    /// Returns true when no bar is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the bar `back` bars before the newest (0 is the newest), if held.
    #[inline]
    pub fn get(&self, back: usize) -> Option<&'a Bar> {
        if back >= self.len() {
            return None;
        }
        let newest = (self.pushed - 1) as usize;
        Some(&self.ring[(newest - back) % self.ring.len()])
    }

    /// Returns the bars held, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &'a Bar> + '_ {
        (0..self.len()).filter_map(|back| self.get(back))
    }
}

#[cfg(test)]
mod tests {
    use crate::strategy::{Ctx, EngineEvent, Intents, Strategy, StrategyError};
    use crate::{EngineSpec, run_backtest};
    use market_data::{Bar, BarSeries, InstrumentId, Timestamp};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Records the closes of the window it sees on each bar, newest first.
    struct Recorder {
        keep: usize,
        seen: Rc<RefCell<Vec<Vec<f64>>>>,
    }

    impl Strategy for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }

        fn bar_history(&self) -> usize {
            self.keep
        }

        fn on_event(
            &mut self,
            event: &EngineEvent,
            ctx: &Ctx<'_>,
            _: &mut Intents,
        ) -> Result<(), StrategyError> {
            if let Some((idx, bar)) = event.as_bar() {
                let window = ctx.bars(idx);
                if self.keep > 0 {
                    assert_eq!(
                        window.get(0),
                        Some(bar),
                        "the newest bar is the one handled"
                    );
                }
                self.seen
                    .borrow_mut()
                    .push(window.iter().map(|b| b.close).collect());
            }
            Ok(())
        }
    }

    fn series(closes: &[f64]) -> BarSeries {
        let bars = closes
            .iter()
            .enumerate()
            .map(|(i, &c)| Bar {
                ts: Timestamp::from_secs(86_400 * i as i64),
                open: c,
                high: c,
                low: c,
                close: c,
                volume: 1.0,
            })
            .collect();
        BarSeries::new(InstrumentId::new("X"), bars)
    }

    #[test]
    fn a_strategy_sees_its_last_bars_newest_first_and_none_after_the_current() {
        let data = [series(&[1.0, 2.0, 3.0, 4.0, 5.0])];
        let seen = Rc::new(RefCell::new(Vec::new()));
        let recorder = Recorder {
            keep: 3,
            seen: seen.clone(),
        };
        run_backtest(&EngineSpec::default(), &data, recorder).unwrap();
        assert_eq!(
            *seen.borrow(),
            [
                vec![1.0],
                vec![2.0, 1.0],
                vec![3.0, 2.0, 1.0],
                vec![4.0, 3.0, 2.0],
                vec![5.0, 4.0, 3.0],
            ]
        );
        // Keeping none: every window is empty.
        let seen = Rc::new(RefCell::new(Vec::new()));
        let none = Recorder {
            keep: 0,
            seen: seen.clone(),
        };
        run_backtest(&EngineSpec::default(), &data, none).unwrap();
        assert!(seen.borrow().iter().all(Vec::is_empty));
    }
}
