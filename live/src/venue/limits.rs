//! Rate limits: a token bucket that paces requests to the venue (wall-clock time, on the
//! connection's side), and a per-minute order count that refuses orders (event time, on the
//! engine's side, so that replaying a journal refuses the same orders again).

use market_data::Timestamp;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A token bucket: up to `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Returns a full bucket.
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_second,
            tokens: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    /// Takes a token at `now`; returns how long to wait before sending when the bucket was
    /// empty (the token is then owed, and the next caller waits longer).
    pub fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

/// Counts orders over the last minute of event time.
#[derive(Debug, Clone)]
pub struct OrderWindow {
    max: usize,
    times: VecDeque<Timestamp>,
}

const MINUTE_NS: i64 = 60_000_000_000;

impl OrderWindow {
    /// Returns a window admitting `max` orders per minute.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            times: VecDeque::with_capacity(max.min(1024)),
        }
    }

    /// Admits an order at `now` when fewer than `max` were admitted in the minute before it.
    pub fn admit(&mut self, now: Timestamp) -> bool {
        while self
            .times
            .front()
            .is_some_and(|t| now.0.saturating_sub(t.0) >= MINUTE_NS)
        {
            self.times.pop_front();
        }
        if self.times.len() >= self.max {
            return false;
        }
        self.times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_paces_past_its_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2, 10.0);
        assert_eq!(bucket.take(start), Duration::ZERO);
        assert_eq!(bucket.take(start), Duration::ZERO);
        let wait = bucket.take(start);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // After a second it is full again, not fuller.
        let later = start + Duration::from_secs(1);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert_eq!(bucket.take(later), Duration::ZERO);
        assert!(bucket.take(later) > Duration::ZERO);
    }

    #[test]
    fn the_window_admits_max_orders_per_minute() {
        let mut window = OrderWindow::new(2);
        let s = |secs: i64| Timestamp(secs * 1_000_000_000);
        assert!(window.admit(s(0)));
        assert!(window.admit(s(30)));
        assert!(!window.admit(s(59)));
        assert!(window.admit(s(60)));
        assert!(!window.admit(s(61)));
        assert!(window.admit(s(90)));
    }
}
