//! A fixed-capacity ring of the last `n` values, allocated once in `new`.
//!
//! Windowed indicators push one value per update and read back the value that fell out, so the
//! hot path never allocates and never shifts memory.

/// The last `capacity` values pushed, oldest first.
#[derive(Debug, Clone)]
pub(super) struct Ring {
    buf: Vec<f64>,
    /// Index of the oldest value.
    head: usize,
    len: usize,
}

impl Ring {
    /// Returns an empty ring holding up to `capacity` values (0 is treated as 1).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(1)],
            head: 0,
            len: 0,
        }
    }

    /// Adds `x` as the newest value and returns the value it evicted once the ring is full.
    #[inline(always)]
    pub(super) fn push(&mut self, x: f64) -> Option<f64> {
        let cap = self.buf.len();
        if self.len == cap {
            let old = std::mem::replace(&mut self.buf[self.head], x);
            self.head += 1;
            if self.head == cap {
                self.head = 0;
            }
            Some(old)
        } else {
            let mut slot = self.head + self.len;
            if slot >= cap {
                slot -= cap;
            }
            self.buf[slot] = x;
            self.len += 1;
            None
        }
    }

    /// Returns true when the last push completed a lap of the buffer: callers that keep running
    /// sums recompute them exactly here, so rounding error cannot build up (O(n) once per n
    /// updates keeps each update O(1) amortized).
    #[inline]
    pub(super) fn lap_done(&self) -> bool {
        self.is_full() && self.head == 0
    }

    /// Returns the values oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (back, front) = self.buf.split_at(self.head);
        front.iter().chain(back).take(self.len).copied()
    }

    /// Returns how many values it holds.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Returns true once it holds `capacity` values.
    #[inline]
    pub(super) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Returns its capacity.
    #[inline]
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Forgets every value, keeping the allocation.
    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_and_iterates_in_order() {
        let mut ring = Ring::new(3);
        assert_eq!(ring.push(1.0), None);
        assert_eq!(ring.push(2.0), None);
        assert_eq!(ring.push(3.0), None);
        assert!(ring.lap_done());
        assert_eq!(ring.push(4.0), Some(1.0));
        assert!(!ring.lap_done());
        assert_eq!(ring.iter().collect::<Vec<_>>(), [2.0, 3.0, 4.0]);
        ring.clear();
        assert_eq!(ring.len(), 0);
        assert_eq!(ring.push(9.0), None);
        assert_eq!(ring.iter().collect::<Vec<_>>(), [9.0]);
    }
}
