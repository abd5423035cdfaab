//! `quant feed replay`: serves a bar or trade file as a Binance-format websocket feed on
//! 127.0.0.1, so paper trading can be tried and tested without a network.
//!
//! The server is one replay, not one per client: a cursor shared by every connection says which
//! message goes out next, so a client that reconnects continues where the feed is now, as with a
//! live venue, and a message lost with a dropped connection stays lost (the client's gap
//! detection must see it). When the replay ends the connection stays open with pings, because a
//! live feed never ends. Hidden `--fault-*` flags make the server misbehave once, on purpose, at
//! a given message, for the feed client's resilience tests.

mod replay;

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use replay::Replay;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

/// Unpaced messages are queued with `feed()` and flushed this often: a flush per message is
/// about 4x slower on loopback (STACK.md).
const FLUSH_EVERY: usize = 256;
/// A connection silent this long gets a ping, so client watchdogs see the feed is alive while
/// paced messages are far apart and after the replay has ended.
const PING_EVERY: Duration = Duration::from_secs(2);
/// What `--fault-malformed-at` sends: JSON cut short.
const MALFORMED: &str = r#"{"stream":"x@kline_1m","data":{"#;
/// How long a dropped connection waits for the client to close its side (see `hold`).
const DROP_LINGER: Duration = Duration::from_secs(10);

/// Options of `quant feed`.
#[derive(Debug, clap::Args)]
pub struct FeedArgs {
    #[command(subcommand)]
    command: FeedCommand,
}

#[derive(Debug, clap::Subcommand)]
enum FeedCommand {
    /// Serves a bar or trade file as a Binance-format websocket feed on 127.0.0.1.
    ///
    /// Clients connect to ws://127.0.0.1:<port>/stream?streams=<symbol>@kline_<interval> (bars)
    /// or <symbol>@trade (trades). Each bar is one final kline ("x":true) in the combined-stream
    /// envelope. Every connection shares one cursor: a client that reconnects continues from the
    /// next unsent message. After the last message the connection stays open with pings. Prints
    /// `listening on ws://127.0.0.1:<port>` once ready.
    Replay(ReplayArgs),
}

/// What the data file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// OHLCV bars (CSV, Parquet or Arrow), served as klines.
    Bars,
    /// Trade prints (Parquet or Arrow), served as trades with consecutive ids.
    Trades,
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// The data: a bar file (CSV, Parquet, Arrow) or, with --kind trades, a trade file.
    data: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one (the `listening on` line names it).
    #[arg(long)]
    port: u16,
    /// Plays X seconds of data time per second (60: one-minute bars at one a second); 0 sends
    /// as fast as the client reads.
    #[arg(long, default_value_t = 0.0)]
    speed: f64,
    /// The bar interval written in the stream name and klines (1m, 1h, 1d...); default: the
    /// median spacing of the bars.
    #[arg(long)]
    interval: Option<String>,
    /// The symbol (lower-cased in the stream name, upper-cased in messages); default: the file
    /// stem, or the instrument column of a multi-instrument file.
    #[arg(long)]
    symbol: Option<String>,
    /// What the file holds.
    #[arg(long, value_enum, default_value_t = Kind::Bars)]
    kind: Kind,
    #[command(flatten)]
    faults: FaultArgs,
}

/// Misbehaviour for tests, each firing once at a message index of the whole replay (0-based).
#[derive(Debug, Clone, Default, clap::Args)]
struct FaultArgs {
    /// Drops the TCP connection (no close frame) before message N, which is lost.
    #[arg(long, hide = true, value_name = "N")]
    fault_drop_at: Option<usize>,
    /// Stops sending on the connection before message N and keeps it open silently; the next
    /// connection continues with message N.
    #[arg(long, hide = true, value_name = "N")]
    fault_stall_at: Option<usize>,
    /// Sends truncated JSON before message N.
    #[arg(long, hide = true, value_name = "N")]
    fault_malformed_at: Option<usize>,
    /// Sends a well-formed kline of stream `nosuch@kline_1m` before message N.
    #[arg(long, hide = true, value_name = "N")]
    fault_unknown_at: Option<usize>,
    /// Sends message N twice.
    #[arg(long, hide = true, value_name = "N")]
    fault_duplicate_at: Option<usize>,
    /// Sends message N+1 before message N.
    #[arg(long, hide = true, value_name = "N")]
    fault_swap_at: Option<usize>,
}

impl FaultArgs {
    fn list(&self) -> Vec<(Fault, usize)> {
        [
            (Fault::Drop, self.fault_drop_at),
            (Fault::Stall, self.fault_stall_at),
            (Fault::Malformed, self.fault_malformed_at),
            (Fault::Unknown, self.fault_unknown_at),
            (Fault::Duplicate, self.fault_duplicate_at),
            (Fault::Swap, self.fault_swap_at),
        ]
        .into_iter()
        .filter_map(|(fault, at)| at.map(|at| (fault, at)))
        .collect()
    }
}

/// Runs `quant feed`.
///
/// # Errors
/// When the data cannot be read or the port cannot be bound; once serving, it never returns.
pub fn run(args: &FeedArgs) -> Result<()> {
    match &args.command {
        FeedCommand::Replay(a) => replay(a),
    }
}

/// Checks the options and loads the replay, warning of faults that can never fire.
fn prepare(args: &ReplayArgs, verbose: bool) -> Result<Arc<Shared>> {
    if !(args.speed.is_finite() && args.speed >= 0.0) {
        bail!("--speed: expected a number >= 0, found {}", args.speed);
    }
    let replay = Replay::load(args)?;
    let faults = args.faults.list();
    for (fault, at) in &faults {
        if *at >= replay.len() {
            eprintln!(
                "warning: --fault-{}-at {at} never fires: the replay has {} messages",
                fault.name(),
                replay.len()
            );
        }
    }
    Ok(Arc::new(Shared {
        replay,
        speed: args.speed,
        cursor: Mutex::new(Cursor {
            next: 0,
            faults,
            done: false,
        }),
        connections: AtomicU64::new(0),
        verbose,
    }))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

fn replay(args: &ReplayArgs) -> Result<()> {
    let shared = prepare(args, true)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        tokio::select! {
            served = serve(shared, args.port) => served,
            () = stop_requested() => Ok(()),
        }
    })
}

/// Returns once SIGINT, SIGTERM or SIGHUP has been received; the caller then drops every
/// connection with the runtime.
async fn stop_requested() {
    while !crate::stop::is_requested() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Binds 127.0.0.1:`port` (loopback only: this is a test and demo server, never meant to be
/// reachable from outside).
fn bind(port: u16) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Accepts connections forever, one task each.
async fn serve(shared: Arc<Shared>, port: u16) -> Result<()> {
    let listener = TcpListener::from_std(bind(port)?)?;
    let port = listener.local_addr()?.port();
    eprintln!(
        "serving {} messages on {} (speed {})",
        shared.replay.len(),
        shared.replay.stream_names().join(", "),
        if shared.speed > 0.0 {
            format!("{}x", shared.speed)
        } else {
            "unpaced".into()
        }
    );
    // Tests and scripts read the port from this line, so it must reach them before any client
    // can connect.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on ws://127.0.0.1:{port}")?;
    stdout.flush()?;
    drop(stdout);
    accept(shared, listener).await
}

async fn accept(shared: Arc<Shared>, listener: TcpListener) -> Result<()> {
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                let shared = shared.clone();
                tokio::spawn(async move { connection(&shared, tcp).await });
            }
            Err(e) => {
                // Running out of file descriptors is transient: wait rather than spin or exit.
                eprintln!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// What a replay serves, for [`ReplayServer::start`]: `quant feed replay`'s options.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Seconds of data time played per second; 0 sends as fast as the client reads.
    pub speed: f64,
    /// The bar interval in the stream name (`1m`, `1d`); default: the bars' median spacing.
    pub interval: Option<String>,
    /// The symbol; default: the file stem.
    pub symbol: Option<String>,
    /// The file holds trades, served as trades (else bars, served as klines).
    pub trades: bool,
}

/// `quant feed replay` inside the calling process, on a thread of its own, for programs that
/// try paper trading without a network (the Python package's `quant.replay_feed`). It serves
/// until dropped, which closes every connection, and logs nothing.
pub struct ReplayServer {
    port: u16,
    streams: Vec<String>,
    messages: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ReplayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayServer")
            .field("port", &self.port)
            .field("streams", &self.streams)
            .finish_non_exhaustive()
    }
}

impl ReplayServer {
    /// Starts serving `data` on a free port of 127.0.0.1; ready for clients when it returns.
    ///
    /// # Errors
    /// As `quant feed replay`: the file cannot be read, a bad option, no port.
    pub fn start(data: &std::path::Path, options: ReplayOptions) -> Result<Self> {
        let args = ReplayArgs {
            data: data.to_path_buf(),
            port: 0,
            speed: options.speed,
            interval: options.interval,
            symbol: options.symbol,
            kind: if options.trades {
                Kind::Trades
            } else {
                Kind::Bars
            },
            faults: FaultArgs::default(),
        };
        let shared = prepare(&args, false)?;
        let listener = bind(0)?;
        let port = listener.local_addr()?.port();
        let streams = shared
            .replay
            .stream_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let messages = shared.replay.len();
        let runtime = runtime()?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("feed-replay".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => return eprintln!("feed replay: {e}"),
                    };
                    tokio::select! {
                        _ = accept(shared, listener) => {}
                        () = async {
                            while !stopping.load(Ordering::Relaxed) {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        } => {}
                    }
                });
            })?;
        Ok(Self {
            port,
            streams,
            messages,
            stop,
            thread: Some(thread),
        })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The stream names served (`goog@kline_1d`), as `[live] streams` lists them.
    pub fn streams(&self) -> &[String] {
        &self.streams
    }

    /// How many messages the replay sends before it only pings.
    pub fn messages(&self) -> usize {
        self.messages
    }

    /// Stops serving and closes every connection (also done on drop).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A misbehaviour the server can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Drop,
    Stall,
    Malformed,
    Unknown,
    Duplicate,
    Swap,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Stall => "stall",
            Fault::Malformed => "malformed",
            Fault::Unknown => "unknown",
            Fault::Duplicate => "duplicate",
            Fault::Swap => "swap",
        }
    }
}

/// What every connection shares.
struct Shared {
    replay: Replay,
    /// 0: unpaced.
    speed: f64,
    cursor: Mutex<Cursor>,
    connections: AtomicU64,
    /// Whether connections are logged on stderr (the command's server: yes; in-process: no).
    verbose: bool,
}

/// Where the replay is, and the faults still to fire.
struct Cursor {
    next: usize,
    faults: Vec<(Fault, usize)>,
    /// The end has been reported.
    done: bool,
}

impl Cursor {
    /// Returns true, once, when `fault` is due at message `i`.
    fn take(&mut self, fault: Fault, i: usize) -> bool {
        match self.faults.iter().position(|&f| f == (fault, i)) {
            Some(k) => {
                self.faults.swap_remove(k);
                true
            }
            None => false,
        }
    }
}

/// A text frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Replay message `i`.
    Message(usize),
    Malformed,
    /// A kline of an unknown stream, stamped like message `i`.
    Unknown(usize),
}

/// What a connection does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// Sends the frames claimed.
    Send,
    /// Drops the connection: message `i` is lost.
    Drop(usize),
    /// Falls silent before message `i`, which stays for the next connection.
    Stall(usize),
    /// The replay has ended; `first` for the connection that ended it.
    End { first: bool },
}

impl Shared {
    /// Logs a connection's news on stderr, unless quiet.
    fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.verbose {
            eprintln!("{line}");
        }
    }

    /// Returns the next message's index, if any (pacing waits for its time before claiming it,
    /// so a client that leaves during the wait does not take it along).
    fn peek(&self) -> Option<usize> {
        let cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        (cursor.next < self.replay.len()).then_some(cursor.next)
    }

    /// Takes the next message (and any fault due there) for one connection, under the lock so
    /// two connections never send the same message.
    fn claim(&self, frames: &mut Vec<Frame>) -> Claim {
        frames.clear();
        let mut c = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        let (i, len) = (c.next, self.replay.len());
        if i >= len {
            let first = !c.done;
            c.done = true;
            return Claim::End { first };
        }
        if c.take(Fault::Stall, i) {
            return Claim::Stall(i);
        }
        if c.take(Fault::Drop, i) {
            c.next = i + 1;
            return Claim::Drop(i);
        }
        if c.take(Fault::Malformed, i) {
            frames.push(Frame::Malformed);
        }
        if c.take(Fault::Unknown, i) {
            frames.push(Frame::Unknown(i));
        }
        let swap = i + 1 < len && c.take(Fault::Swap, i);
        if swap {
            frames.push(Frame::Message(i + 1));
        }
        frames.push(Frame::Message(i));
        if c.take(Fault::Duplicate, i) {
            frames.push(Frame::Message(i));
        }
        c.next = i + 1 + usize::from(swap);
        Claim::Send
    }
}

/// Decodes `%XX` escapes of a query value (clients may escape `@` and `/`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The streams a `/stream?streams=a/b` request asks for; `None` for another path.
fn requested_streams(path: &str, query: Option<&str>) -> Option<Vec<String>> {
    if path.trim_end_matches('/') != "/stream" {
        return None;
    }
    let value = query
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("streams="))
        .unwrap_or_default();
    Some(
        percent_decode(value)
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

type Socket = WebSocketStream<TcpStream>;

/// Serves one client from handshake to the end, logging why it ended.
async fn connection(shared: &Shared, tcp: TcpStream) {
    let id = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
    let mut target: Option<(String, Option<String>)> = None;
    #[expect(
        clippy::result_large_err,
        reason = "tungstenite's `Callback` fixes the error type"
    )]
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let uri = request.uri();
        target = Some((uri.path().to_owned(), uri.query().map(str::to_owned)));
        Ok(response)
    };
    let ws = match tokio_tungstenite::accept_hdr_async(tcp, callback).await {
        Ok(ws) => ws,
        Err(e) => {
            shared.log(format_args!("connection {id}: handshake failed: {e}"));
            return;
        }
    };
    let (path, query) = target.unwrap_or_default();
    let mut conn = Connection {
        id,
        ws,
        wanted: vec![false; shared.replay.streams.len()],
        unflushed: 0,
        anchor: None,
        last_write: Instant::now(),
    };
    let served = shared.replay.stream_names().join("/");
    let Some(requested) = requested_streams(&path, query.as_deref()) else {
        let error = format!("unknown path {path}: connect to /stream?streams={served}");
        return conn.refuse(shared, &error).await;
    };
    let mut unknown = Vec::new();
    for name in &requested {
        match shared
            .replay
            .streams
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
        {
            Some(k) => conn.wanted[k] = true,
            None => unknown.push(name.as_str()),
        }
    }
    if !conn.wanted.contains(&true) {
        let error = format!(
            "unknown stream {}: this replay serves {served}",
            if requested.is_empty() {
                "(none requested)".to_owned()
            } else {
                requested.join("/")
            }
        );
        return conn.refuse(shared, &error).await;
    }
    if !unknown.is_empty() {
        shared.log(format_args!(
            "connection {id}: ignoring unknown streams {}",
            unknown.join("/")
        ));
    }
    shared.log(format_args!(
        "connection {id}: {} from message {}",
        requested.join("/"),
        shared.peek().unwrap_or(shared.replay.len())
    ));
    match conn.stream(shared).await {
        Ok(why) => shared.log(format_args!("connection {id}: {why}")),
        Err(e) => shared.log(format_args!("connection {id}: ended: {e}")),
    }
}

/// One client's socket and its place in the pacing.
struct Connection {
    id: u64,
    ws: Socket,
    /// Per stream of the replay: whether this client asked for it.
    wanted: Vec<bool>,
    unflushed: usize,
    /// When this connection sent its first paced message, and that message's time (ms): pacing
    /// restarts with each connection, so a reconnect does not get a burst of the time it missed.
    anchor: Option<(Instant, i64)>,
    last_write: Instant,
}

impl Connection {
    /// Sends the replay until the connection ends; returns how it ended.
    async fn stream(&mut self, shared: &Shared) -> Result<String, WsError> {
        let mut frames = Vec::with_capacity(4);
        let mut idle_claims = 0u32;
        loop {
            if shared.speed > 0.0
                && let Some(i) = shared.peek()
            {
                let t = shared.replay.time_ms(i);
                let (start, t0) = *self.anchor.get_or_insert((Instant::now(), t));
                let secs = (t - t0).max(0) as f64 / 1000.0 / shared.speed;
                // A wait too long to represent is a wait forever.
                let due = Duration::try_from_secs_f64(secs)
                    .ok()
                    .and_then(|d| start.checked_add(d));
                if due.is_none_or(|due| due > Instant::now()) {
                    self.flush().await?;
                    if !self.wait(due).await? {
                        return Ok("closed by the client".into());
                    }
                }
            }
            match shared.claim(&mut frames) {
                Claim::End { first } => {
                    self.flush().await?;
                    if first {
                        shared.log(format_args!(
                            "replay done: {} messages",
                            shared.replay.len()
                        ));
                    }
                    self.wait(None).await?;
                    return Ok("closed by the client after the end".into());
                }
                Claim::Stall(i) => {
                    self.flush().await?;
                    eprintln!("connection {}: fault: stalling before message {i}", self.id);
                    hold(&self.ws).await;
                    return Ok("stalled connection closed by the client".into());
                }
                Claim::Drop(i) => {
                    self.flush().await?;
                    eprintln!(
                        "connection {}: fault: dropping the connection before message {i}",
                        self.id
                    );
                    // FIN without a close frame. Unread bytes from the client at close would
                    // turn it into a reset, which can discard messages the client has not read
                    // yet, so the socket is drained until the client closes its side.
                    let _ = self.ws.get_mut().shutdown().await;
                    let _ = tokio::time::timeout(DROP_LINGER, hold(&self.ws)).await;
                    return Ok(format!("dropped before message {i} (fault)"));
                }
                Claim::Send => {
                    let before = self.unflushed;
                    for &frame in &frames {
                        let text = match frame {
                            Frame::Message(i) if self.wanted[shared.replay.stream_of(i)] => {
                                shared.replay.render(i)
                            }
                            Frame::Message(_) => continue,
                            Frame::Malformed => MALFORMED.to_owned(),
                            Frame::Unknown(i) => shared.replay.render_unknown(i),
                        };
                        self.ws.feed(Message::text(text)).await?;
                        self.unflushed += 1;
                    }
                    if self.unflushed >= FLUSH_EVERY || (shared.speed > 0.0 && self.unflushed > 0) {
                        self.flush().await?;
                    } else if self.unflushed == before {
                        // Messages of streams this client did not ask for are claimed without
                        // an await: yield now and then so other connections keep running.
                        idle_claims += 1;
                        if idle_claims.is_multiple_of(1024) {
                            tokio::task::yield_now().await;
                        }
                    }
                }
            }
        }
    }

    async fn flush(&mut self) -> Result<(), WsError> {
        if self.unflushed > 0 {
            self.ws.flush().await?;
            self.unflushed = 0;
            self.last_write = Instant::now();
        }
        Ok(())
    }

    /// Waits until `until` (forever with `None`), answering the client and pinging it when the
    /// connection has been silent for [`PING_EVERY`]; returns false once the client has closed.
    async fn wait(&mut self, until: Option<Instant>) -> Result<bool, WsError> {
        loop {
            let ping_at = self.last_write + PING_EVERY;
            let wake = until.map_or(ping_at, |u| u.min(ping_at));
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {
                    let now = Instant::now();
                    if until.is_some_and(|u| now >= u) {
                        return Ok(true);
                    }
                    if now >= ping_at {
                        self.ws.send(Message::Ping(Default::default())).await?;
                        self.last_write = now;
                    }
                }
                message = self.ws.next() => match message {
                    None | Some(Ok(Message::Close(_))) => {
                        // tungstenite queued the close reply; send it.
                        let _ = self.ws.flush().await;
                        return Ok(false);
                    }
                    Some(Err(e)) => return Err(e),
                    // tungstenite queued the pong; send it now.
                    Some(Ok(Message::Ping(_))) => self.ws.flush().await?,
                    // Clients have nothing to say to a replay.
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    /// Sends `{"error": ..}` and closes.
    async fn refuse(mut self, shared: &Shared, error: &str) {
        shared.log(format_args!("connection {}: refused: {error}", self.id));
        let text = serde_json::json!({ "error": error }).to_string();
        let sent = self.ws.send(Message::text(text)).await;
        if sent.is_ok() && self.ws.close(None).await.is_ok() {
            // Read until the client acknowledges the close, as the handshake asks.
            let drain = async { while let Some(Ok(_)) = self.ws.next().await {} };
            let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
        }
    }
}

/// Keeps a connection open without a byte sent until the client closes it. The raw socket is
/// read rather than the websocket, since tungstenite would answer pings while reading.
async fn hold(ws: &Socket) {
    let tcp = ws.get_ref();
    let mut sink = [0u8; 4096];
    loop {
        if tcp.readable().await.is_err() {
            return;
        }
        match tcp.try_read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replay::tests::bars_replay;
    use super::*;
    use market_data::Bar;

    #[test]
    fn faults_fire_once_at_their_message() {
        let bars = vec![Bar::default(); 6];
        let shared = Shared {
            replay: bars_replay(&bars, 1),
            speed: 0.0,
            cursor: Mutex::new(Cursor {
                next: 0,
                faults: vec![
                    (Fault::Stall, 1),
                    (Fault::Duplicate, 1),
                    (Fault::Swap, 2),
                    (Fault::Malformed, 4),
                    (Fault::Drop, 5),
                ],
                done: false,
            }),
            connections: AtomicU64::new(0),
            verbose: false,
        };
        let mut frames = Vec::new();
        let mut seen = Vec::new();
        loop {
            let claim = shared.claim(&mut frames);
            seen.push((claim, frames.clone()));
            if matches!(claim, Claim::End { .. }) {
                break;
            }
        }
        use Frame::{Malformed, Message as M};
        let send = |f: &[Frame]| (Claim::Send, f.to_vec());
        assert_eq!(
            seen,
            vec![
                send(&[M(0)]),
                (Claim::Stall(1), vec![]),
                send(&[M(1), M(1)]),
                send(&[M(3), M(2)]),
                send(&[Malformed, M(4)]),
                (Claim::Drop(5), vec![]),
                (Claim::End { first: true }, vec![]),
            ]
        );
        assert_eq!(shared.claim(&mut frames), Claim::End { first: false });
    }

    #[test]
    fn stream_requests_are_parsed() {
        assert_eq!(
            requested_streams("/stream", Some("streams=goog@kline_1d/msft%40trade")),
            Some(vec!["goog@kline_1d".to_owned(), "msft@trade".to_owned()])
        );
        assert_eq!(requested_streams("/stream", None), Some(vec![]));
        assert_eq!(requested_streams("/ws/goog@trade", None), None);
    }
}
