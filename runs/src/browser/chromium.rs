//! Chromium as a child process, and the DevTools Protocol connection that drives it.
//!
//! The connection is a synchronous websocket with a read timeout per wait, so no call can block
//! past the shared deadline. Flattened sessions let one socket carry both browser commands and
//! the page's commands and events.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// The one deadline every wait shares.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    pub(super) at: Instant,
    total: Duration,
}

impl Deadline {
    pub(super) fn new(total: Duration) -> Self {
        Self {
            at: Instant::now() + total,
            total,
        }
    }

    pub(super) fn expired(&self, what: &str) -> anyhow::Error {
        anyhow!(
            "timed out after {} s waiting for {what} (see --timeout-secs)",
            self.total.as_secs()
        )
    }
}

/// A running Chromium with its throw-away profile. Dropping it stops the browser (politely,
/// then by force) and then removes the profile, on success and error paths alike.
pub(super) struct Browser {
    child: Child,
    cdp: Option<Cdp>,
    /// The last lines Chromium wrote to stderr, for errors when it fails to start.
    stderr: Arc<Mutex<VecDeque<String>>>,
    urls: mpsc::Receiver<String>,
    // Declared last: fields drop in order, so the profile goes only after the browser is gone.
    profile: Profile,
}

impl Browser {
    /// Starts Chromium; the returned guard owns it from here on.
    pub(super) fn launch() -> Result<Self> {
        let binary = find_chromium()?;
        let profile = Profile::create()?;
        let mut child = Command::new(&binary)
            .args([
                "--headless=new",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-crash-reporter",
                "--hide-scrollbars",
                "--mute-audio",
                // A report must not reach the network; any attempt is recorded by CDP anyway,
                // this only keeps it from going out (or waiting on DNS) while checking.
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    anyhow!("cannot start {}: {e}; {INSTALL}", binary.display())
                } else {
                    anyhow!("cannot start {}: {e}", binary.display())
                }
            })?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, urls) = mpsc::channel();
        if let Some(pipe) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            // Drains stderr for the browser's whole life: a full pipe would block Chromium.
            std::thread::spawn(move || read_stderr(pipe, &tx, &tail));
        }
        Ok(Self {
            child,
            cdp: None,
            stderr,
            urls,
            profile,
        })
    }

    /// Connects to the browser's DevTools endpoint, once it has announced it.
    pub(super) fn connect(&mut self, deadline: &Deadline) -> Result<&mut Cdp> {
        if self.cdp.is_none() {
            let url = self.devtools_url(deadline)?;
            self.cdp = Some(Cdp::connect(&url, deadline)?);
        }
        self.cdp
            .as_mut()
            .ok_or_else(|| anyhow!("no DevTools connection"))
    }

    /// Reads the endpoint from the `DevTools listening on ws://...` line, or else from the
    /// `DevToolsActivePort` file Chromium writes into the profile.
    fn devtools_url(&mut self, deadline: &Deadline) -> Result<String> {
        let port_file = self.profile.0.join("DevToolsActivePort");
        loop {
            let now = Instant::now();
            if now >= deadline.at {
                return Err(deadline.expired("chromium to start"));
            }
            match self
                .urls
                .recv_timeout((deadline.at - now).min(Duration::from_millis(100)))
            {
                Ok(url) => return Ok(url),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // stderr closed: the browser has exited (or is about to).
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                    let status = self
                        .child
                        .try_wait()
                        .ok()
                        .flatten()
                        .map_or_else(|| "closed its stderr".to_owned(), |s| s.to_string());
                    bail!(
                        "chromium exited before it was ready ({status}){}",
                        self.tail()
                    );
                }
            }
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next())
                    && port.parse::<u16>().is_ok()
                {
                    return Ok(format!("ws://127.0.0.1:{port}{path}"));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "chromium exited before it was ready ({status}){}",
                    self.tail()
                );
            }
        }
    }

    fn tail(&self) -> String {
        let lines = self.stderr.lock().map(|t| t.clone()).unwrap_or_default();
        if lines.is_empty() {
            String::new()
        } else {
            let lines: Vec<String> = lines.into_iter().collect();
            format!("; its last output:\n{}", lines.join("\n"))
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Browser.close lets Chromium stop its helper processes itself; a kill of the main
        // process can leave them to notice on their own.
        let closing = self
            .cdp
            .as_mut()
            .is_some_and(|cdp| cdp.send(None, "Browser.close", json!({})).is_ok());
        let grace = Instant::now() + Duration::from_secs(if closing { 3 } else { 0 });
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < grace => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        self.cdp = None;
    }
}

/// Forwards the DevTools URL line and keeps the last lines for error messages.
fn read_stderr(
    pipe: std::process::ChildStderr,
    urls: &mpsc::Sender<String>,
    tail: &Mutex<VecDeque<String>>,
) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        if let Some(url) = text.strip_prefix("DevTools listening on ") {
            let _ = urls.send(url.trim().to_owned());
        }
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == 20 {
                tail.pop_front();
            }
            tail.push_back(text);
        }
    }
}

const INSTALL: &str = "install Debian's chromium package (apt-get install chromium) or set \
                       QUANT_CHROMIUM to a Chromium or Chrome binary";

/// Returns `$QUANT_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH, else Debian's
/// `/usr/bin/chromium`.
fn find_chromium() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("QUANT_CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .chain([PathBuf::from("/usr/bin/chromium")])
        .find(|path| path.is_file())
        .ok_or_else(|| anyhow!("chromium not found on the PATH: {INSTALL}"))
}

/// A fresh Chromium profile folder, removed on drop: a shared profile would leak state (cache,
/// storage, a lock) between checks and between parallel tests.
struct Profile(PathBuf);

impl Profile {
    fn create() -> Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("quant-chromium-{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Self(dir)),
                // Left behind by an earlier process with the same id.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", dir.display()));
                }
            }
        }
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        // Helper processes may still be writing for a moment after the browser exits.
        for _ in 0..10 {
            match std::fs::remove_dir_all(&self.0) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return,
            }
        }
        eprintln!("warning: cannot remove {}", self.0.display());
    }
}

/// A DevTools Protocol connection: numbered commands, their responses, and the events that
/// arrive in between (kept in order for the caller).
pub(super) struct Cdp {
    socket: WebSocket<TcpStream>,
    next_id: u64,
    /// The page session all page commands go to (flattened sessions share one socket).
    pub(super) session: Option<String>,
    pub(super) events: VecDeque<Value>,
}

impl Cdp {
    fn connect(url: &str, deadline: &Deadline) -> Result<Self> {
        let host = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| anyhow!("unexpected DevTools URL {url}"))?;
        let addr = host
            .to_socket_addrs()
            .with_context(|| format!("bad DevTools address {host}"))?
            .next()
            .ok_or_else(|| anyhow!("bad DevTools address {host}"))?;
        let remaining = deadline
            .at
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| deadline.expired("the DevTools connection"))?;
        let stream = TcpStream::connect_timeout(&addr, remaining)
            .with_context(|| format!("cannot connect to chromium at {host}"))?;
        stream.set_read_timeout(Some(remaining))?;
        stream.set_write_timeout(Some(remaining))?;
        stream.set_nodelay(true)?;
        // A full-page screenshot arrives as one base64 message of tens of MB.
        let config = WebSocketConfig::default()
            .max_message_size(Some(512 << 20))
            .max_frame_size(Some(512 << 20));
        let (socket, _) = tungstenite::client::client_with_config(url, stream, Some(config))
            .map_err(|e| anyhow!("websocket handshake with chromium failed: {e}"))?;
        Ok(Self {
            socket,
            next_id: 0,
            session: None,
            events: VecDeque::new(),
        })
    }

    /// Sends a command to `session` (the browser itself when `None`); returns its id.
    fn send(&mut self, session: Option<String>, method: &str, params: Value) -> Result<u64> {
        self.next_id += 1;
        let mut message = json!({ "id": self.next_id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::String(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .with_context(|| format!("cannot send {method} to chromium"))?;
        Ok(self.next_id)
    }

    /// Runs a command in the page session and returns its result.
    pub(super) fn call(
        &mut self,
        method: &str,
        params: Value,
        deadline: &Deadline,
    ) -> Result<Value> {
        let session = self.session.clone();
        self.call_in(session, method, params, deadline)
    }

    /// Runs a browser-level command and returns its result.
    pub(super) fn call_browser(
        &mut self,
        method: &str,
        params: Value,
        deadline: &Deadline,
    ) -> Result<Value> {
        self.call_in(None, method, params, deadline)
    }

    fn call_in(
        &mut self,
        session: Option<String>,
        method: &str,
        params: Value,
        deadline: &Deadline,
    ) -> Result<Value> {
        let id = self.send(session, method, params)?;
        loop {
            let message = self
                .read_before(deadline.at)?
                .ok_or_else(|| deadline.expired(&format!("chromium to answer {method}")))?;
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    bail!(
                        "chromium refused {method}: {}",
                        error["message"].as_str().unwrap_or("unknown error")
                    );
                }
                return Ok(message["result"].clone());
            }
            self.keep(message)?;
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub(super) fn evaluate(&mut self, expression: &str, deadline: &Deadline) -> Result<Value> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
            deadline,
        )?;
        if let Some(details) = result.get("exceptionDetails") {
            bail!(
                "the page check script threw: {}",
                details["exception"]["description"]
                    .as_str()
                    .or_else(|| details["text"].as_str())
                    .unwrap_or("unknown error")
            );
        }
        Ok(result["result"]["value"].clone())
    }

    /// Returns the next page event, failing at the deadline.
    pub(super) fn next_event(&mut self, deadline: &Deadline, what: &str) -> Result<Value> {
        self.event_before(deadline.at)?
            .ok_or_else(|| deadline.expired(what))
    }

    /// Returns the next page event, or `None` once `until` has passed.
    pub(super) fn event_before(&mut self, until: Instant) -> Result<Option<Value>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            match self.read_before(until)? {
                Some(message) => self.keep(message)?,
                None => return Ok(None),
            }
        }
    }

    /// Queues events of the page session; stray responses and other sessions' events are
    /// dropped, but the page going away ends the check.
    fn keep(&mut self, message: Value) -> Result<()> {
        let ours =
            self.session.is_some() && message["sessionId"].as_str() == self.session.as_deref();
        match message["method"].as_str() {
            Some("Target.detachedFromTarget")
                if message["params"]["sessionId"].as_str() == self.session.as_deref() =>
            {
                bail!("the page closed or crashed while being checked")
            }
            Some("Inspector.targetCrashed") if ours => {
                bail!("the page crashed while being checked")
            }
            Some(_) if ours => self.events.push_back(message),
            _ => {}
        }
        Ok(())
    }

    /// Reads the next JSON message, or `None` once `until` has passed.
    fn read_before(&mut self, until: Instant) -> Result<Option<Value>> {
        loop {
            let Some(remaining) = until
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
            else {
                return Ok(None);
            };
            self.socket.get_mut().set_read_timeout(Some(remaining))?;
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str())
                        .map(Some)
                        .context("chromium sent invalid JSON");
                }
                Ok(Message::Close(_)) => bail!("chromium closed the DevTools connection"),
                Ok(_) => {}
                // The read timeout: try again, and give up above once `until` has passed.
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e).context("lost the DevTools connection to chromium"),
            }
        }
    }
}
