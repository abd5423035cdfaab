//! Runs the program once more with a tuned environment, which only its start-up can set.
//!
//! - glibc gives large freed buffers back to the kernel (munmap, heap trimming) and faults fresh
//!   zeroed pages in on the next allocation. Backtests allocate result buffers of megabytes per
//!   run, so sleeves and sweeps spent their time in page faults, contending for the kernel's
//!   page allocator on every core: 64 sleeves of 100,000 bars took 390 ms on 1 thread and
//!   235 ms on 2 (1.65x); with freed blocks kept for reuse, about 365 ms and 175 ms (2.1x).
//!   `GLIBC_TUNABLES` sets that policy, read by glibc only when a process starts.
//! - candle 0.11 reads the CPU count from `/proc/cpuinfo` on every matrix product unless
//!   `RAYON_NUM_THREADS` is set (about 30 us a call, ten times a small model's inference).
//!
//! Setting either from inside the process would need `unsafe` (the environment is shared with
//! other threads), which the workspace forbids. A variable the user already set is kept.

use std::process::{Command, ExitCode};

/// Marks the child, so it does not launch again.
const LAUNCHED: &str = "QUANT_LAUNCHED";

/// Serve blocks up to 256 MiB from glibc's heaps and never trim them, so freed memory is reused.
/// Larger blocks (whole datasets) are still mapped on their own. With no mapping threshold at
/// all, batch feature computation stopped scaling (1.5x on 2 cores instead of 1.97x): blocks
/// beyond a thread heap's 64 MiB then go through the main heap, shared by all threads.
const MALLOC_TUNABLES: &str =
    "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=4294967295";

/// Runs this program again with the tuned environment and returns its exit code; `None` when
/// this is already that run, or when it cannot start (then the caller just goes on).
pub(crate) fn relaunch() -> Option<ExitCode> {
    if std::env::var_os(LAUNCHED).is_some() || !cfg!(target_os = "linux") {
        return None;
    }
    // A live session stays one process: SIGTERM sent to the pid a supervisor knows must reach
    // the session's kill switch, not end a launcher and orphan the session still trading.
    // The subcommand is the first argument that is neither a flag nor a flag's number.
    let subcommand = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-') && a.parse::<u16>().is_err());
    if subcommand.as_deref() == Some("live") {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let mut command = Command::new(exe);
    command.args(std::env::args_os().skip(1)).env(LAUNCHED, "1");
    if std::env::var_os("GLIBC_TUNABLES").is_none() {
        command.env("GLIBC_TUNABLES", MALLOC_TUNABLES);
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        command.env("RAYON_NUM_THREADS", cores.to_string());
    }
    let status = command.status().ok()?;
    // A child ended by a signal has no code: report failure.
    Some(ExitCode::from(
        status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1)),
    ))
}
