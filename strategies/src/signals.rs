//! `signals`: orders from entry and exit flags computed ahead of the run, one flag per bar (the
//! vectorbt-style `from_signals` of the Python package, for signals computed with numpy).
//!
//! On an instrument's i-th bar: an entry while flat (and no order working) is a market buy sized
//! by the config's sizing; an exit while long is a market sell of the whole position; a bar
//! flagged both ways does nothing, as vectorbt ignores such a conflict by default. Orders fill at
//! the next bar's open, like every strategy's.

use crate::state_for;
use engine::{Ctx, EngineEvent, Intents, Strategy, StrategyError};

/// Entry and exit flags of one instrument, one per bar in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// Enter long on this bar.
    pub entries: Vec<bool>,
    /// Leave the long position on this bar.
    pub exits: Vec<bool>,
}

/// The strategy: flags per instrument (by index), and how many bars of each it has seen.
#[derive(Debug, Clone)]
pub struct Signals {
    flags: Vec<Flags>,
    seen: Vec<usize>,
}

impl Signals {
    /// Returns the strategy over `flags[i]` for instrument index `i`; bars beyond an instrument's
    /// flags (or of an instrument without flags) do nothing.
    pub fn new(flags: Vec<Flags>) -> Self {
        Self {
            flags,
            seen: Vec::new(),
        }
    }
}

impl Strategy for Signals {
    fn name(&self) -> &str {
        "signals"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        let Some((idx, _)) = event.as_bar() else {
            return Ok(());
        };
        let seen = state_for(&mut self.seen, idx, || 0);
        let bar = *seen;
        *seen += 1;
        let Some(flags) = self.flags.get(idx.get()) else {
            return Ok(());
        };
        let flag = |v: &[bool]| v.get(bar).copied().unwrap_or(false);
        crate::long_only(idx, flag(&flags.entries), flag(&flags.exits), ctx, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{EngineSpec, Replay, backtest};
    use market_data::{Bar, BarSeries, InstrumentId, Side, Timestamp};

    #[test]
    fn flags_act_at_the_next_open_and_a_conflict_does_nothing() {
        // Opens 100, 101, ...: a fill's price names the bar it happened on.
        let bars: Vec<Bar> = (0..10)
            .map(|i| {
                let p = 100.0 + i as f64;
                Bar {
                    ts: Timestamp(i),
                    open: p,
                    high: p + 0.5,
                    low: p - 0.5,
                    close: p,
                    volume: 1.0,
                }
            })
            .collect();
        let series = [BarSeries::new(InstrumentId::new("X"), bars)];
        let on = |bars: &[usize]| (0..10).map(|i| bars.contains(&i)).collect::<Vec<bool>>();
        let flags = Flags {
            // Entry on bar 1; an exit while flat (bar 0) and a second entry while long (bar 2)
            // are ignored; exit on bar 4; bar 6 is flagged both ways; the last bar's entry has
            // no next bar to fill on.
            entries: on(&[1, 2, 6, 9]),
            exits: on(&[0, 4, 6]),
        };
        let outcome = backtest(
            &EngineSpec::default(),
            Replay::Bars(&series),
            Signals::new(vec![flags]),
            None,
        )
        .unwrap();
        let fills: Vec<(Side, f64)> = outcome.fills.iter().map(|f| (f.side, f.price)).collect();
        assert_eq!(fills, vec![(Side::Buy, 102.0), (Side::Sell, 105.0)]);
    }
}
