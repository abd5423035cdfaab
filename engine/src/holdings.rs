//! What was held after each time step: one row per step per *held* instrument (quantity and the
//! mark it was valued at), as parallel columns.
//!
//! Sparse rather than dense per instrument, so a book of many instruments that holds a few at a
//! time costs a few rows per step, and a flat step costs nothing. Together with the equity
//! curve's cash, the rows of a step add up to its equity: cash + sum(quantity x price).

use crate::portfolio::Position;
use market_data::{InstrumentIdx, Timestamp};

/// Held positions after each step, as parallel columns sorted by (step, instrument).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Holdings {
    /// The step (an index into the equity curve) of each row.
    pub step: Vec<usize>,
    /// The instrument held.
    pub instrument: Vec<InstrumentIdx>,
    /// Its signed quantity (negative when short).
    pub qty: Vec<f64>,
    /// The price it was valued at: its mark after the step.
    pub price: Vec<f64>,
}

impl Holdings {
    /// Returns empty holdings with room for `rows` rows, so recording does not allocate while
    /// the book holds about that many.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            step: Vec::with_capacity(rows),
            instrument: Vec::with_capacity(rows),
            qty: Vec::with_capacity(rows),
            price: Vec::with_capacity(rows),
        }
    }

    /// Records the non-zero positions after step `step`; returns whether any was held.
    pub fn record(&mut self, step: usize, positions: &[Position]) -> bool {
        let before = self.len();
        for (i, p) in positions.iter().enumerate() {
            if p.qty != 0.0 {
                self.push(step, InstrumentIdx(i as u32), p.qty, p.mark);
            }
        }
        self.len() > before
    }

    /// Records step `step` again (after closing positions at the end), replacing its rows.
    pub fn replace_last(&mut self, step: usize, positions: &[Position]) {
        let keep = self.step.partition_point(|s| *s < step);
        self.truncate(keep);
        self.record(step, positions);
    }

    /// Returns the number of rows.
    pub fn len(&self) -> usize {
        self.step.len()
    }

    /// Returns true when nothing was ever held.
    pub fn is_empty(&self) -> bool {
        self.step.is_empty()
    }

    /// Returns the rows of step `step` (a range of row indices).
    pub fn rows_of(&self, step: usize) -> std::ops::Range<usize> {
        let from = self.step.partition_point(|s| *s < step);
        let to = from + self.step[from..].partition_point(|s| *s == step);
        from..to
    }

    fn push(&mut self, step: usize, instrument: InstrumentIdx, qty: f64, price: f64) {
        self.step.push(step);
        self.instrument.push(instrument);
        self.qty.push(qty);
        self.price.push(price);
    }

    /// Removes every row, keeping the columns' capacity.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    fn truncate(&mut self, rows: usize) {
        self.step.truncate(rows);
        self.instrument.truncate(rows);
        self.qty.truncate(rows);
        self.price.truncate(rows);
    }

    /// Returns the holdings of independent books (sleeves) on the union of their steps `ts`:
    /// each sleeve is given as (its steps' timestamps, its holdings, its first instrument index
    /// in the combined book). A sleeve with no step at a time holds what it held after its last
    /// step before, as the combined equity counts it, and nothing before its first step.
    pub fn combine(ts: &[Timestamp], sleeves: &[(&[Timestamp], &Holdings, u32)]) -> Self {
        let rows = sleeves.iter().map(|s| s.1.len()).sum();
        let mut out = Self::with_capacity(rows);
        // Per sleeve: its steps stamped at or before the current time, and its first row of the
        // step before that (rows are sorted by step, so both only move forward).
        let mut next_step = vec![0; sleeves.len()];
        let mut first_row = vec![0; sleeves.len()];
        for (step, t) in ts.iter().enumerate() {
            for (k, &(stamps, held, offset)) in sleeves.iter().enumerate() {
                while stamps.get(next_step[k]).is_some_and(|s| s <= t) {
                    next_step[k] += 1;
                }
                let Some(own) = next_step[k].checked_sub(1) else {
                    continue;
                };
                while held.step.get(first_row[k]).is_some_and(|s| *s < own) {
                    first_row[k] += 1;
                }
                let mut row = first_row[k];
                while held.step.get(row) == Some(&own) {
                    let instrument = InstrumentIdx(held.instrument[row].0 + offset);
                    out.push(step, instrument, held.qty[row], held.price[row]);
                    row += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(qty: f64, mark: f64) -> Position {
        Position {
            qty,
            mark,
            ..Position::default()
        }
    }

    #[test]
    fn records_only_held_instruments_and_replaces_the_last_step() {
        let mut h = Holdings::with_capacity(4);
        assert!(!h.record(0, &[held(0.0, 1.0), held(0.0, 2.0)]));
        assert!(h.record(1, &[held(3.0, 1.5), held(0.0, 2.0)]));
        assert!(h.record(2, &[held(3.0, 1.6), held(-2.0, 2.5)]));
        assert_eq!(h.step, [1, 2, 2]);
        assert_eq!(
            h.instrument,
            [InstrumentIdx(0), InstrumentIdx(0), InstrumentIdx(1)]
        );
        assert_eq!(h.rows_of(2), 1..3);
        assert_eq!(h.rows_of(0), 0..0);
        h.replace_last(2, &[held(0.0, 1.6), held(0.0, 2.5)]);
        assert_eq!(h.step, [1]);
    }

    #[test]
    fn sleeves_hold_their_last_positions_between_their_own_steps() {
        let stamp = |xs: &[i64]| xs.iter().map(|x| Timestamp(*x)).collect::<Vec<_>>();
        let (a_ts, b_ts, all) = (stamp(&[10, 30]), stamp(&[20, 30]), stamp(&[10, 20, 30]));
        let mut a = Holdings::default();
        a.record(0, &[held(1.0, 5.0)]);
        let mut b = Holdings::default();
        b.record(0, &[held(2.0, 7.0)]);
        b.record(1, &[held(4.0, 8.0)]);
        let c = Holdings::combine(&all, &[(&a_ts, &a, 0), (&b_ts, &b, 1)]);
        // a holds at 10 and (carried) at 20, nothing at 30; b from 20 on, as instrument 1.
        assert_eq!(c.step, [0, 1, 1, 2]);
        assert_eq!(
            c.instrument,
            [0, 0, 1, 1].map(InstrumentIdx).to_vec(),
            "instruments offset by the sleeves before"
        );
        assert_eq!(c.qty, [1.0, 1.0, 2.0, 4.0]);
        assert_eq!(c.price, [5.0, 5.0, 7.0, 8.0]);
    }
}
