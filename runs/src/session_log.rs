//! What a paper or live session tells while it runs: its feed's notices as log events, a status
//! line (redrawn on a terminal, logged every `[live] status_every_s` otherwise), and its results
//! rewritten every `[live] refresh_results_s` so a long session can be looked at before it stops.

use crate::backfill::GapLog;
use crate::config::{LiveConfig, LoadedConfig};
use crate::data::LoadedData;
use crate::run_dir::{OutArgs, RunDir};
use anyhow::Result;
use engine::BacktestOutcome;
use live::feed::Notice;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Logs a feed notice: the human text as the message, what it is about as fields.
pub(crate) fn notice(notice: &Notice) {
    let message = crate::paper::describe(notice);
    match notice {
        Notice::Connected { url } => tracing::info!(url = %url, "{message}"),
        Notice::Reconnecting { after } => {
            tracing::info!(after_ms = after.as_millis() as u64, "{message}");
        }
        Notice::Disconnected { .. } => tracing::warn!(notice = "disconnected", "{message}"),
        Notice::MissingBars(_) => tracing::warn!(notice = "missing_bars", "{message}"),
        Notice::Gap { instrument, .. } => {
            tracing::warn!(notice = "gap", instrument = %instrument, "{message}");
        }
        Notice::Duplicate { instrument, .. } => {
            tracing::warn!(notice = "duplicate", instrument = %instrument, "{message}");
        }
        Notice::Rejected { instrument, .. } => {
            tracing::warn!(notice = "rejected", instrument = %instrument, "{message}");
        }
        Notice::Malformed { .. } => tracing::warn!(notice = "malformed", "{message}"),
    }
}

/// A session's state at one moment, for the status line.
pub(crate) struct Status<'a> {
    pub(crate) connected: bool,
    pub(crate) since_event: Duration,
    pub(crate) events: usize,
    pub(crate) gaps: &'a GapLog,
    pub(crate) open_positions: usize,
    pub(crate) equity: f64,
    pub(crate) pnl: f64,
}

impl<'a> Status<'a> {
    /// The status of a session holding `portfolio`.
    pub(crate) fn of(
        portfolio: &engine::Portfolio,
        connected: bool,
        since_event: Duration,
        events: usize,
        gaps: &'a GapLog,
    ) -> Self {
        Self {
            connected,
            since_event,
            events,
            gaps,
            open_positions: portfolio
                .positions()
                .iter()
                .filter(|x| x.qty != 0.0)
                .count(),
            equity: portfolio.equity(),
            pnl: portfolio.equity() - portfolio.initial_cash(),
        }
    }

    fn text(&self) -> String {
        format!(
            "{} | last event {:.1}s ago | {} events{} | {} open positions | equity {:.2} | P&L \
             {:+.2}",
            if self.connected {
                "connected"
            } else {
                "disconnected"
            },
            self.since_event.as_secs_f64(),
            self.events,
            self.gaps.status(),
            self.open_positions,
            self.equity,
            self.pnl
        )
    }
}

/// When and how the status line is shown: redrawn in place every second on a terminal, logged
/// as an event every `status_every_s` elsewhere (a file, a pipe, a container's log), where a
/// line rewritten with `\r` would pile up unreadably.
pub(crate) struct StatusLine {
    terminal: bool,
    every: Duration,
    last: Instant,
}

impl StatusLine {
    /// `redraw`: whether the session draws a line in place on a terminal (paper does; live logs
    /// its status only).
    pub(crate) fn new(live: &LiveConfig, redraw: bool) -> Self {
        let terminal = redraw && std::io::stderr().is_terminal();
        Self {
            terminal,
            every: if terminal {
                Duration::from_secs(1)
            } else {
                Duration::from_secs_f64(live.status_every_s)
            },
            last: Instant::now(),
        }
    }

    /// Whether a status line is due; the caller then gathers it and calls [`StatusLine::show`].
    pub(crate) fn due(&self) -> bool {
        self.last.elapsed() >= self.every
    }

    pub(crate) fn show(&mut self, status: &Status<'_>) {
        self.last = Instant::now();
        if self.terminal {
            eprint!("\r{}   ", status.text());
        } else {
            tracing::info!(
                connected = status.connected,
                events = status.events,
                open_positions = status.open_positions,
                // Cents, as the text shows them.
                equity = (status.equity * 100.0).round() / 100.0,
                pnl = (status.pnl * 100.0).round() / 100.0,
                "status: {}",
                status.text()
            );
        }
    }

    /// Ends the line drawn in place, so what follows starts on a line of its own.
    pub(crate) fn close(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

/// Where a session's results go, and their rewrites while it runs. The first write makes the
/// run's folder; later ones (and the final one) rewrite the same folder. A rewrite works on a
/// copy of what the engine recorded (taken between two events) on a thread of its own, so the
/// event loop waits only for the copy, and the session's state is never touched.
pub(crate) struct Results {
    out: OutArgs,
    /// `<output.dir>/<name>`, where a new run's folder is made (unless `--out`).
    base: PathBuf,
    dir: Option<RunDir>,
    every: Option<Duration>,
    last: Instant,
    /// The rewrite under way: how long the event loop waited for its copy, and the writing took.
    writing: Option<JoinHandle<Result<(Duration, Duration)>>>,
}

impl Results {
    pub(crate) fn new(out: OutArgs, loaded: &LoadedConfig, live: &LiveConfig) -> Self {
        Self {
            out,
            base: loaded.config.output.dir.join(&loaded.config.name),
            dir: None,
            every: (live.refresh_results_s > 0.0)
                .then(|| Duration::from_secs_f64(live.refresh_results_s)),
            last: Instant::now(),
            writing: None,
        }
    }

    /// Whether a rewrite is due (and the previous one done: rewrites never queue up).
    pub(crate) fn due(&mut self) -> bool {
        if self.writing.as_ref().is_some_and(|w| !w.is_finished()) {
            return false;
        }
        self.collect();
        self.every.is_some_and(|every| self.last.elapsed() >= every)
    }

    /// Rewrites the results from `snapshot()`'s copy of the session, in the background.
    pub(crate) fn refresh(
        &mut self,
        loaded: &LoadedConfig,
        snapshot: impl FnOnce() -> BacktestOutcome,
        gaps: &GapLog,
    ) {
        self.last = Instant::now();
        // The only part the event loop waits for.
        let outcome = snapshot();
        let copy = self.last.elapsed();
        if outcome.curve.is_empty() {
            // Nothing traded yet (the feed not connected): no folder for an empty run.
            return;
        }
        let dir = match self.dir() {
            Ok(dir) => dir.clone(),
            Err(error) => {
                tracing::warn!("results not refreshed: {error:#}");
                return;
            }
        };
        let (loaded, gaps) = (loaded.clone(), gaps.clone());
        self.writing = Some(std::thread::spawn(move || {
            let started = Instant::now();
            let data = LoadedData::default();
            crate::output::write_into(&loaded, &outcome, None, &data, &dir, Some(&gaps), None)?;
            Ok((copy, started.elapsed()))
        }));
    }

    /// Writes the final results (after any rewrite under way) and prints the summary.
    ///
    /// # Errors
    /// The folder cannot be made or a result file cannot be written.
    pub(crate) fn finish(
        mut self,
        loaded: &LoadedConfig,
        outcome: &BacktestOutcome,
        gaps: &GapLog,
    ) -> Result<()> {
        // Waited for, so a late rewrite can never replace the final files.
        self.collect();
        let dir = self.dir()?;
        let data = LoadedData::default();
        crate::output::write_into(
            loaded,
            outcome,
            None,
            &data,
            dir,
            Some(gaps),
            Some("events"),
        )
    }

    /// The run's folder, made on the first write.
    fn dir(&mut self) -> Result<&RunDir> {
        let dir = match self.dir.take() {
            Some(dir) => dir,
            None => self.out.create(&self.base)?,
        };
        Ok(self.dir.insert(dir))
    }

    /// Logs how the last rewrite went.
    fn collect(&mut self) {
        let Some(writing) = self.writing.take() else {
            return;
        };
        match writing.join() {
            Ok(Ok((copy, took))) => tracing::info!(
                copy_us = copy.as_micros() as u64,
                write_ms = took.as_millis() as u64,
                "results refreshed: copied in {copy:.1?}, written in {took:.1?}"
            ),
            Ok(Err(error)) => tracing::warn!("results not refreshed: {error:#}"),
            Err(_) => tracing::warn!("results not refreshed: the writer panicked"),
        }
    }
}
