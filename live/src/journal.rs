//! The append-only journal of a live session: every market event the engine used, every order
//! and every fill, one line each, synced to disk at a set interval.
//!
//! The engine is deterministic, so the market events alone rebuild a session: after a crash the
//! journal's events are replayed into a fresh engine, which arrives at the same positions, cash
//! and working orders, and the orders and fills it produces on the way must equal the journaled
//! ones (a check, and the audit trail). A line cut short by a crash is dropped and reported.
//!
//! Lines are `M <event json>`, `O <order json>` and `F <fill json>`: plain text, so a journal
//! can be read with `grep` and `jq`. A model-driven strategy also journals `A <attribution
//! json>` (why the model predicted what it did when the order of that id was placed). A live
//! session also journals `V <update json>`, the news its venue sent (execution reports), and
//! `K <ts>` when an operator fired the kill switch, because those are inputs the events cannot
//! rebuild; they are replayed in their place among the events. Updates carry no credentials.

use engine::OrderAttribution;
use engine::{FillRecord, OrderRecord};
use market_data::MarketEvent;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A journal error: the file and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("journal {}: {message}", path.display())]
pub struct JournalError {
    /// The journal file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// What a journal held when it was opened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// The market events, in the order they were used.
    pub events: Vec<MarketEvent>,
    /// The orders, as journaled (JSON).
    pub orders: Vec<String>,
    /// The fills, as journaled (JSON).
    pub fills: Vec<String>,
    /// The order attributions, as journaled (JSON).
    pub attributions: Vec<String>,
    /// Inputs besides market events, in order, each with the number of market events
    /// journaled before it.
    pub inputs: Vec<(usize, Input)>,
    /// Bytes of a last line cut short by a crash, dropped.
    pub torn_bytes: u64,
}

/// An input of a live session besides market events.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A venue update, as journaled (JSON).
    Update(String),
    /// The kill switch fired (an operator's signal or flag file).
    Kill,
}

/// An open journal, appending.
#[derive(Debug)]
pub struct Journal {
    file: BufWriter<File>,
    path: PathBuf,
    sync_every: Duration,
    last_sync: Instant,
    /// The line being written (reused: journaling allocates nothing per line).
    line: Vec<u8>,
    syncer: Syncer,
    /// Lines written since the last sync was asked for.
    unsynced: bool,
    /// The file naming the session that holds the lock, removed on close.
    holder: PathBuf,
}

/// Syncs the journal to disk on a thread of its own, so the engine never waits for the disk
/// (an fsync takes milliseconds); the engine only hands each interval's lines to the kernel.
#[derive(Debug)]
struct Syncer {
    requests: Option<crossbeam_channel::Sender<()>>,
    failure: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    fn start(file: File) -> Self {
        // One pending request is enough: a sync covers every line written before it.
        let (requests, pending) = crossbeam_channel::bounded::<()>(1);
        let failure = std::sync::Arc::new(std::sync::Mutex::new(None));
        let report = failure.clone();
        let thread = std::thread::spawn(move || {
            while pending.recv().is_ok() {
                if let Err(e) = file.sync_data()
                    && let Ok(mut slot) = report.lock()
                {
                    *slot = Some(format!("cannot sync: {e}"));
                }
            }
        });
        Self {
            requests: Some(requests),
            failure,
            thread: Some(thread),
        }
    }

    /// Asks for a sync; returns the failure of an earlier one, if any.
    fn request(&self) -> Option<String> {
        if let Some(requests) = &self.requests {
            let _ = requests.try_send(());
        }
        self.failure.lock().ok().and_then(|mut slot| slot.take())
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Journal {
    /// Opens the journal at `path` (creating it and its folder if missing), returning what it
    /// held; new lines are appended and synced at least every `sync_every`.
    ///
    /// # Errors
    /// The file cannot be created, read or repaired, or a complete line does not parse (the
    /// journal is damaged other than by a crash).
    pub fn open(path: &Path, sync_every: Duration) -> Result<(Self, Recovered), JournalError> {
        let fail = |message: String| JournalError {
            path: path.to_path_buf(),
            message,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| fail(format!("cannot create: {e}")))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| fail(format!("cannot open: {e}")))?;
        // One session per journal: two appending at once interleave their lines beyond repair.
        let holder = path.with_file_name(format!(
            "{}.lock",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ));
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let who = std::fs::read_to_string(&holder).unwrap_or_default();
                let who = who.trim();
                return Err(fail(format!(
                    "in use by another session{}: stop it first, or give this one another journal",
                    if who.is_empty() {
                        String::new()
                    } else {
                        format!(" ({who})")
                    }
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(fail(format!("cannot lock: {e}")));
            }
        }
        let _ = std::fs::write(
            &holder,
            format!(
                "process {} since unix time {}\n",
                std::process::id(),
                unix_seconds()
            ),
        );
        let (recovered, good_len) = read(&file, path)?;
        // Drop a torn last line so the next one starts on a line of its own.
        file.set_len(good_len)
            .and_then(|()| file.seek(SeekFrom::End(0)).map(|_| ()))
            .and_then(|()| file.sync_all())
            .map_err(|e| fail(format!("cannot repair: {e}")))?;
        let syncer = Syncer::start(
            file.try_clone()
                .map_err(|e| fail(format!("cannot open for syncing: {e}")))?,
        );
        Ok((
            Self {
                file: BufWriter::new(file),
                path: path.to_path_buf(),
                sync_every,
                last_sync: Instant::now(),
                line: Vec::with_capacity(256),
                syncer,
                unsynced: false,
                holder,
            },
            recovered,
        ))
    }

    fn write(&mut self, tag: u8, value: &impl Serialize) -> Result<(), JournalError> {
        self.line.clear();
        self.line.extend_from_slice(&[tag, b' ']);
        let result = serde_json::to_writer(&mut self.line, value);
        result.map_err(|e| self.error(e.to_string()))?;
        self.line.push(b'\n');
        let result = self.file.write_all(&self.line);
        result.map_err(|e| self.error(format!("cannot append: {e}")))?;
        self.unsynced = true;
        self.tick()
    }

    /// Hands the lines written since the last sync to the disk when `sync_every` has passed:
    /// called with each line, and by the session when it is idle, so the last lines before a
    /// quiet spell do not wait in memory for a next one.
    ///
    /// # Errors
    /// The file cannot be flushed, or an earlier sync failed.
    pub fn tick(&mut self) -> Result<(), JournalError> {
        if !self.unsynced || self.last_sync.elapsed() < self.sync_every {
            return Ok(());
        }
        self.last_sync = Instant::now();
        self.unsynced = false;
        let result = self.file.flush();
        result.map_err(|e| self.error(format!("cannot append: {e}")))?;
        match self.syncer.request() {
            Some(failure) => Err(self.error(failure)),
            None => Ok(()),
        }
    }

    fn error(&self, message: String) -> JournalError {
        JournalError {
            path: self.path.clone(),
            message,
        }
    }

    /// Appends a market event (before the engine uses it).
    ///
    /// # Errors
    /// The line cannot be written.
    pub fn market(&mut self, event: &MarketEvent) -> Result<(), JournalError> {
        self.write(b'M', event)
    }

    /// Appends an order as it was placed.
    ///
    /// # Errors
    /// The line cannot be written.
    pub fn order(&mut self, order: &OrderRecord) -> Result<(), JournalError> {
        self.write(b'O', order)
    }

    /// Appends why the model predicted what it did when an order was placed.
    ///
    /// # Errors
    /// The line cannot be written.
    pub fn attribution(&mut self, attribution: &OrderAttribution) -> Result<(), JournalError> {
        self.write(b'A', attribution)
    }

    /// Appends a fill.
    ///
    /// # Errors
    /// The line cannot be written.
    pub fn fill(&mut self, fill: &FillRecord) -> Result<(), JournalError> {
        self.write(b'F', fill)
    }

    /// Appends a venue update (before the engine uses it).
    ///
    /// # Errors
    /// The line cannot be written.
    pub fn update(&mut self, update: &impl Serialize) -> Result<(), JournalError> {
        self.write(b'V', update)
    }

    /// Appends the firing of the kill switch at `ts` (before the engine acts on it), and syncs:
    /// the orders it causes follow from it on replay.
    ///
    /// # Errors
    /// The line cannot be written or synced.
    pub fn kill(&mut self, ts: market_data::Timestamp) -> Result<(), JournalError> {
        self.write(b'K', &ts)?;
        self.sync()
    }

    /// Flushes and syncs everything written so far to disk, waiting for the disk.
    ///
    /// # Errors
    /// The file cannot be flushed or synced.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.last_sync = Instant::now();
        self.unsynced = false;
        let result = self
            .file
            .flush()
            .and_then(|()| self.file.get_ref().sync_data());
        result.map_err(|e| self.error(format!("cannot sync: {e}")))
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // The lock itself goes with the file; the note of who held it goes too.
        let _ = std::fs::remove_file(&self.holder);
    }
}

/// Returns the wall clock in whole seconds since 1970 (for the lock holder's note).
fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads every complete line; returns them and the length of the file up to the last one.
fn read(file: &File, path: &Path) -> Result<(Recovered, u64), JournalError> {
    let mut recovered = Recovered::default();
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let (mut good, mut number) = (0u64, 0usize);
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| JournalError {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        if n == 0 {
            break;
        }
        number += 1;
        if !line.ends_with('\n') {
            // Cut short by a crash mid-write: everything before it is intact.
            recovered.torn_bytes = n as u64;
            break;
        }
        let text = line.trim_end();
        let bad = |what: &str| JournalError {
            path: path.to_path_buf(),
            message: format!("line {number}: {what}: {text:?}"),
        };
        match text.split_once(' ') {
            Some(("M", json)) => recovered.events.push(
                serde_json::from_str(json)
                    .map_err(|e| bad(&format!("not a market event ({e})")))?,
            ),
            Some(("O", json)) => recovered.orders.push(json.to_owned()),
            Some(("F", json)) => recovered.fills.push(json.to_owned()),
            Some(("A", json)) => recovered.attributions.push(json.to_owned()),
            Some(("V", json)) => recovered
                .inputs
                .push((recovered.events.len(), Input::Update(json.to_owned()))),
            Some(("K", _)) => recovered.inputs.push((recovered.events.len(), Input::Kill)),
            _ => return Err(bad("expected a line starting with M, O, F, A, V or K")),
        }
        good += n as u64;
    }
    Ok((recovered, good))
}

/// Returns the JSON a journal line holds for a fill, for comparing a replay with the journal.
pub(crate) fn fill_json(fill: &FillRecord) -> String {
    serde_json::to_string(fill).unwrap_or_default()
}

/// Returns the JSON a journal line holds for an order.
pub(crate) fn order_json(order: &OrderRecord) -> String {
    serde_json::to_string(order).unwrap_or_default()
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn a_second_session_on_one_journal_is_refused_naming_the_first() {
        let dir = std::env::temp_dir().join(format!("quant-journal-lock-{}", std::process::id()));
        let path = dir.join("journal");
        let (first, _) = Journal::open(&path, Duration::from_millis(100)).unwrap();
        let err = Journal::open(&path, Duration::from_millis(100)).unwrap_err();
        assert!(err.message.contains("in use by another session"), "{err}");
        assert!(
            err.message
                .contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        drop(first);
        // Closed, it is free again, and the note of its holder is gone.
        let (again, _) = Journal::open(&path, Duration::from_millis(100)).unwrap();
        drop(again);
        assert!(!dir.join("journal.lock").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_reach_the_file_when_idle_without_waiting_for_a_next_line() {
        let dir = std::env::temp_dir().join(format!("quant-journal-idle-{}", std::process::id()));
        let path = dir.join("journal");
        let (mut journal, _) = Journal::open(&path, Duration::from_millis(20)).unwrap();
        journal.kill(market_data::Timestamp(0)).unwrap(); // synced at once
        journal.update(&"a venue update").unwrap(); // within sync_every: still buffered
        let len = || std::fs::metadata(&path).unwrap().len();
        let before = len();
        std::thread::sleep(Duration::from_millis(30));
        journal.tick().unwrap();
        assert!(len() > before, "the idle tick wrote the buffered line");
        drop(journal);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
