//! Stopping a command cleanly: SIGINT, SIGTERM and SIGHUP are treated alike.
//!
//! [`install`] replaces the signals' default action (ending the process at once, mid-write) with
//! a flag that long-running commands poll at safe points: a paper or live session stops
//! trading and writes its results, a sweep finishes the jobs it is running (they are journaled,
//! so re-running it resumes) and starts no more, training stops after the current fold, the
//! replay feed server closes its connections. The binary then exits with 128 + the signal's
//! number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP), as a shell would report. A second
//! signal ends the process at once, for a command that does not stop soon enough, except in a
//! live session ([`OnRepeat::Ignore`]), whose kill switch must finish flattening.
//!
//! Commands that have nothing to save midway (a backtest, training, data tools) do not install
//! it: the signal's default action ends them at once, and they write their files only at the end.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

/// The first signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C at a terminal.
    Interrupt,
    /// What `kill`, `timeout`, systemd and Kubernetes send.
    Terminate,
    /// The terminal or the supervising session went away.
    Hangup,
}

impl StopSignal {
    /// The signal's number.
    pub fn number(self) -> i32 {
        match self {
            Self::Hangup => 1,
            Self::Interrupt => 2,
            Self::Terminate => 15,
        }
    }

    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hangup => "SIGHUP",
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    /// The exit status of a process it stopped: 128 + its number.
    pub fn exit_status(self) -> u8 {
        match self {
            Self::Hangup => 129,
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }

    fn from_number(n: i32) -> Option<Self> {
        match n {
            1 => Some(Self::Hangup),
            2 => Some(Self::Interrupt),
            15 => Some(Self::Terminate),
            _ => None,
        }
    }
}

/// What a second stop signal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRepeat {
    /// Ends the process at once.
    Exit,
    /// Nothing more: the command is already stopping and must finish doing so.
    Ignore,
}

/// Starts watching for SIGINT, SIGTERM and SIGHUP (once per process; later calls do nothing).
///
/// # Errors
/// When the signal handlers cannot be registered or the watching thread cannot start.
pub fn install(on_repeat: OnRepeat) -> std::io::Result<()> {
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // Registered here, on the caller's thread, so no signal is missed between this call's
    // return and the watching thread's start.
    let mut streams = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        std::io::Result::Ok([
            (StopSignal::Interrupt, signal(SignalKind::interrupt())?),
            (StopSignal::Terminate, signal(SignalKind::terminate())?),
            (StopSignal::Hangup, signal(SignalKind::hangup())?),
        ])
    })?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                loop {
                    let [(a, sa), (b, sb), (c, sc)] = &mut streams;
                    let signal = tokio::select! {
                        _ = sa.recv() => *a,
                        _ = sb.recv() => *b,
                        _ = sc.recv() => *c,
                    };
                    let first = RECEIVED
                        .compare_exchange(0, signal.number(), Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok();
                    match (first, on_repeat) {
                        (true, OnRepeat::Exit) => eprintln!(
                            "{}: stopping (send it again to stop at once)",
                            signal.name()
                        ),
                        (true, OnRepeat::Ignore) => eprintln!("{}: stopping", signal.name()),
                        (false, OnRepeat::Exit) => {
                            eprintln!("{}: stopping now", signal.name());
                            std::process::exit(i32::from(signal.exit_status()));
                        }
                        (false, OnRepeat::Ignore) => {
                            eprintln!("{}: already stopping", signal.name());
                        }
                    }
                }
            });
        })?;
    let _ = INSTALLED.set(());
    Ok(())
}

/// Returns the first stop signal received, if any.
pub fn requested() -> Option<StopSignal> {
    StopSignal::from_number(RECEIVED.load(Ordering::SeqCst))
}

/// Returns whether a stop signal was received.
pub fn is_requested() -> bool {
    RECEIVED.load(Ordering::SeqCst) != 0
}
