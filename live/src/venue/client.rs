//! The venue connection: one websocket to a Binance-style WebSocket API, on a single-threaded
//! tokio runtime of its own (as the feed is), between the router's commands and the engine
//! thread's channel.
//!
//! It subscribes to the user data stream on the same connection, so execution reports and
//! responses share one ordered stream. Requests are paced by a token bucket. An order that is
//! not acknowledged within `ack_timeout` is looked up by its client order id before anything
//! else: only when the venue does not have it is it sent again (under the same id), so a lost
//! request or a slow acknowledgement never makes two orders. On a dropped connection it
//! reconnects with exponential backoff and says so; the engine then reconciles before trading.
//! Nothing it logs or reports holds the key or the secret (venue text is redacted).

use super::binance::{
    Account, Execution, Incoming, NO_SUCH_ORDER, VenueOrder, parse, signed_request,
};
use super::limits::TokenBucket;
use super::reconcile::Snapshot;
use super::router::Command;
use super::secret::Credentials;
use crossbeam_channel::{Receiver, Sender, unbounded};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_tungstenite::tungstenite::Message;

/// How to reach the venue and how patient to be with it.
#[derive(Debug, Clone, PartialEq)]
pub struct VenueConfig {
    /// `ws://` or `wss://` URL of the WebSocket API.
    pub url: String,
    /// `recvWindow` of signed requests, in milliseconds.
    pub recv_window_ms: u64,
    /// How long an order may go unacknowledged before it is looked up.
    pub ack_timeout: Duration,
    /// Sends of one order at most (the first included).
    pub max_attempts: u32,
    /// Requests sent at once at most...
    pub burst: u32,
    /// ...and per second after that.
    pub requests_per_second: f64,
    /// A connection silent this long is dropped and reopened.
    pub stale_after: Duration,
    /// The first wait before reconnecting; it doubles on each failure...
    pub reconnect_initial: Duration,
    /// ...up to this bound.
    pub reconnect_max: Duration,
}

/// What the connection tells the engine thread.
#[derive(Debug, Clone, PartialEq)]
pub enum VenueEvent {
    /// Connected and subscribed to the user data stream: reconcile before trading.
    Connected,
    /// The connection ended; it is being reopened.
    Disconnected(String),
    /// An execution report.
    Execution(Box<Execution>),
    /// The venue refused an order (by client order id).
    Rejected {
        /// The client order id.
        client_id: String,
        /// The venue's code.
        code: i64,
        /// The venue's reason.
        message: String,
    },
    /// The answer to a snapshot command.
    Snapshot(Snapshot),
    /// Something to log.
    Notice(String),
}

/// A running venue connection.
#[derive(Debug)]
pub struct Venue {
    commands: UnboundedSender<Command>,
    events: Receiver<VenueEvent>,
    stop: Arc<(AtomicBool, Notify)>,
    thread: Option<JoinHandle<()>>,
}

impl Venue {
    /// Connects on a thread of its own.
    pub fn start(config: VenueConfig, credentials: Credentials) -> Self {
        let (commands, inbox) = unbounded_channel();
        let (tx, events) = unbounded();
        let stop = Arc::new((AtomicBool::new(false), Notify::new()));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(run(config, credentials, inbox, &tx, &stop)),
                    Err(e) => {
                        let _ = tx.send(VenueEvent::Disconnected(format!(
                            "cannot start the venue runtime: {e}"
                        )));
                    }
                }
            })
        };
        Self {
            commands,
            events,
            stop,
            thread: Some(thread),
        }
    }

    /// Returns the sender the router puts commands on.
    pub fn commands(&self) -> UnboundedSender<Command> {
        self.commands.clone()
    }

    /// Returns what the connection reports.
    pub fn events(&self) -> &Receiver<VenueEvent> {
        &self.events
    }
}

impl Drop for Venue {
    fn drop(&mut self) {
        self.stop.0.store(true, Ordering::SeqCst);
        self.stop.1.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn run(
    config: VenueConfig,
    credentials: Credentials,
    mut inbox: UnboundedReceiver<Command>,
    tx: &Sender<VenueEvent>,
    stop: &(AtomicBool, Notify),
) {
    // rustls needs a process-wide crypto provider; another part may have installed one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut delay = config.reconnect_initial;
    let mut link = Link {
        config: &config,
        credentials: &credentials,
        tx,
        bucket: TokenBucket::new(config.burst, config.requests_per_second),
        next_id: 1,
        waiting: HashMap::new(),
        places: HashMap::new(),
        snapshot: None,
    };
    while !stop.0.load(Ordering::SeqCst) {
        // Nagle's algorithm off: a request is one small frame, and holding it back for the
        // venue's delayed ACK cost 40 ms per order on loopback.
        let connecting =
            tokio_tungstenite::connect_async_with_config(config.url.as_str(), None, true);
        let reason = match connecting.await {
            Ok((mut ws, _)) => {
                delay = config.reconnect_initial;
                link.session(&mut ws, &mut inbox, stop).await
            }
            Err(e) => Some(format!("cannot connect to {}: {e}", config.url)),
        };
        let Some(reason) = reason else {
            return; // stopped, or the engine is gone
        };
        // What was in flight is settled by the reconciliation after reconnecting.
        link.waiting.clear();
        link.places.clear();
        link.snapshot = None;
        if tx
            .send(VenueEvent::Disconnected(credentials.redact(&reason)))
            .is_err()
        {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.1.notified() => return,
        }
        delay = (delay * 2).min(config.reconnect_max);
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a request id is waiting for.
#[derive(Debug, Clone)]
enum Waiting {
    Subscribe,
    Place(String),
    /// A lookup of an order whose placement went unanswered.
    PlaceStatus(String),
    Cancel(String),
    Account,
    OpenOrders,
    /// A lookup for a snapshot.
    Status(String),
}

/// An order placed and not yet acknowledged.
#[derive(Debug)]
struct Placing {
    order: super::binance::NewOrder,
    deadline: Instant,
    attempts: u32,
    looking_up: bool,
}

/// A snapshot being gathered.
#[derive(Debug, Default)]
struct Gathering {
    snapshot: Snapshot,
    pending: usize,
}

struct Link<'a> {
    config: &'a VenueConfig,
    credentials: &'a Credentials,
    tx: &'a Sender<VenueEvent>,
    bucket: TokenBucket,
    next_id: u64,
    waiting: HashMap<u64, Waiting>,
    places: HashMap<String, Placing>,
    snapshot: Option<Gathering>,
}

impl Link<'_> {
    /// Runs one connection; returns why it ended, or `None` to stop for good.
    async fn session(
        &mut self,
        ws: &mut Socket,
        inbox: &mut UnboundedReceiver<Command>,
        stop: &(AtomicBool, Notify),
    ) -> Option<String> {
        if let Err(e) = self
            .request(
                ws,
                "userDataStream.subscribe.signature",
                BTreeMap::new(),
                Waiting::Subscribe,
            )
            .await
        {
            return Some(e);
        }
        let mut tick =
            tokio::time::interval((self.config.ack_timeout / 4).max(Duration::from_millis(5)));
        // Silence is measured from the last message heard, not per wait: the loop wakes for its
        // own ticks and commands, which must not restart the count. Halfway, a ping asks a
        // quiet but healthy venue for a pong.
        let mut heard = tokio::time::Instant::now();
        let mut pinged = false;
        loop {
            let ping_at = heard + self.config.stale_after / 2;
            let silent_at = heard + self.config.stale_after;
            let outcome = tokio::select! {
                () = stop.1.notified() => return None,
                command = inbox.recv() => match command {
                    Some(command) => self.command(ws, command).await,
                    None => return None,
                },
                message = ws.next() => {
                    heard = tokio::time::Instant::now();
                    pinged = false;
                    match message {
                        Some(Ok(Message::Text(text))) => self.incoming(ws, text.as_str()).await,
                        Some(Ok(Message::Close(frame))) => {
                            Err(format!("venue closed the connection ({frame:?})"))
                        }
                        Some(Ok(_)) => Ok(()),
                        Some(Err(e)) => Err(format!("venue connection failed: {e}")),
                        None => Err("venue connection ended".to_owned()),
                    }
                },
                () = tokio::time::sleep_until(ping_at), if !pinged => {
                    pinged = true;
                    ws.send(Message::Ping(Vec::new().into()))
                        .await
                        .map_err(|e| format!("venue connection failed: {e}"))
                },
                () = tokio::time::sleep_until(silent_at) => Err(format!(
                    "venue silent for {:?}: dropping the connection",
                    self.config.stale_after
                )),
                _ = tick.tick() => self.check_deadlines(ws).await,
            };
            if let Err(reason) = outcome {
                return Some(reason);
            }
            if stop.0.load(Ordering::SeqCst) {
                return None;
            }
        }
    }

    /// Signs and sends a request, paced by the token bucket.
    async fn request(
        &mut self,
        ws: &mut Socket,
        method: &str,
        params: BTreeMap<&'static str, String>,
        waiting: Waiting,
    ) -> Result<(), String> {
        let wait = self.bucket.take(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let id = self.next_id;
        self.next_id += 1;
        let text = signed_request(
            id,
            method,
            params,
            self.credentials,
            now_ms(),
            self.config.recv_window_ms,
        );
        self.waiting.insert(id, waiting);
        ws.send(Message::Text(text.into()))
            .await
            .map_err(|e| format!("cannot send {method}: {e}"))
    }

    fn report(&self, event: VenueEvent) -> Result<(), String> {
        self.tx
            .send(event)
            .map_err(|_| "the engine is gone".to_owned())
    }

    async fn command(&mut self, ws: &mut Socket, command: Command) -> Result<(), String> {
        match command {
            Command::Place(order) => self.place(ws, order, 1).await,
            Command::Cancel { symbol, client_id } => {
                let params =
                    BTreeMap::from([("symbol", symbol), ("origClientOrderId", client_id.clone())]);
                self.request(ws, "order.cancel", params, Waiting::Cancel(client_id))
                    .await
            }
            Command::Snapshot { orders } => {
                self.snapshot = Some(Gathering {
                    snapshot: Snapshot::default(),
                    pending: 2 + orders.len(),
                });
                self.request(ws, "account.status", BTreeMap::new(), Waiting::Account)
                    .await?;
                self.request(
                    ws,
                    "openOrders.status",
                    BTreeMap::new(),
                    Waiting::OpenOrders,
                )
                .await?;
                for (symbol, client_id) in orders {
                    let params = BTreeMap::from([
                        ("symbol", symbol),
                        ("origClientOrderId", client_id.clone()),
                    ]);
                    self.request(ws, "order.status", params, Waiting::Status(client_id))
                        .await?;
                }
                Ok(())
            }
        }
    }

    async fn place(
        &mut self,
        ws: &mut Socket,
        order: super::binance::NewOrder,
        attempts: u32,
    ) -> Result<(), String> {
        let Some(params) = order.params() else {
            return self.report(VenueEvent::Rejected {
                client_id: order.client_id,
                code: 0,
                message: "the venue takes no DAY orders".into(),
            });
        };
        let client_id = order.client_id.clone();
        self.places.insert(
            client_id.clone(),
            Placing {
                order,
                deadline: Instant::now() + self.config.ack_timeout,
                attempts,
                looking_up: false,
            },
        );
        self.request(ws, "order.place", params, Waiting::Place(client_id))
            .await
    }

    /// Looks up orders whose acknowledgement is overdue.
    async fn check_deadlines(&mut self, ws: &mut Socket) -> Result<(), String> {
        let now = Instant::now();
        let overdue: Vec<(String, String)> = self
            .places
            .iter_mut()
            .filter(|(_, p)| !p.looking_up && p.deadline <= now)
            .map(|(id, p)| {
                p.looking_up = true;
                (id.clone(), p.order.symbol.clone())
            })
            .collect();
        for (client_id, symbol) in overdue {
            self.lookup(ws, client_id, symbol).await?;
        }
        Ok(())
    }

    async fn lookup(
        &mut self,
        ws: &mut Socket,
        client_id: String,
        symbol: String,
    ) -> Result<(), String> {
        let params = BTreeMap::from([("symbol", symbol), ("origClientOrderId", client_id.clone())]);
        self.request(ws, "order.status", params, Waiting::PlaceStatus(client_id))
            .await
    }

    async fn incoming(&mut self, ws: &mut Socket, text: &str) -> Result<(), String> {
        let response = match parse(text) {
            Ok(Incoming::Execution(execution)) => {
                return self.report(VenueEvent::Execution(execution));
            }
            Ok(Incoming::OtherEvent(_)) => return Ok(()),
            Ok(Incoming::Response(response)) => response,
            Err(expected) => {
                let raw = crate::printable(text, crate::QUOTED_CHARS);
                return self.report(VenueEvent::Notice(self.credentials.redact(&format!(
                    "venue: skipped a malformed message (expected {expected}): {raw}"
                ))));
            }
        };
        let Some(waiting) = self.waiting.remove(&response.id) else {
            return self.report(VenueEvent::Notice(format!(
                "venue: response to unknown request {}",
                response.id
            )));
        };
        let error = response
            .error
            .clone()
            .filter(|_| response.status != 200)
            .map(|e| (e.code, self.credentials.redact(&e.msg)));
        match (waiting, error) {
            (Waiting::Subscribe, None) => self.report(VenueEvent::Connected),
            (Waiting::Subscribe, Some((code, msg))) => Err(format!(
                "venue refused the user data subscription: {msg} ({code})"
            )),
            (Waiting::Place(client_id), None) => {
                self.places.remove(&client_id);
                Ok(())
            }
            (Waiting::Place(client_id), Some((code, msg))) => {
                if msg.contains("Duplicate") {
                    // A resend found the first send at the venue after all: look it up.
                    let symbol = self.places.get(&client_id).map(|p| p.order.symbol.clone());
                    if let Some(symbol) = symbol {
                        return self.lookup(ws, client_id, symbol).await;
                    }
                    return Ok(());
                }
                if self.places.remove(&client_id).is_none() {
                    return Ok(()); // settled by a lookup already
                }
                self.report(VenueEvent::Rejected {
                    client_id,
                    code,
                    message: msg,
                })
            }
            (Waiting::PlaceStatus(client_id), None) => {
                // The venue has it: the acknowledgement was late or lost, not the order.
                self.places.remove(&client_id);
                Ok(())
            }
            (Waiting::PlaceStatus(client_id), Some((NO_SUCH_ORDER, _))) => {
                let Some(placing) = self.places.remove(&client_id) else {
                    return Ok(());
                };
                if placing.attempts >= self.config.max_attempts {
                    return self.report(VenueEvent::Rejected {
                        client_id,
                        code: NO_SUCH_ORDER,
                        message: format!("not acknowledged after {} sends", placing.attempts),
                    });
                }
                self.report(VenueEvent::Notice(format!(
                    "venue: order {client_id} not acknowledged and not at the venue: sending it \
                     again"
                )))?;
                self.place(ws, placing.order, placing.attempts + 1).await
            }
            (Waiting::PlaceStatus(client_id), Some((code, msg))) => {
                // The lookup itself failed: try it again at the next deadline.
                if let Some(placing) = self.places.get_mut(&client_id) {
                    placing.looking_up = false;
                    placing.deadline = Instant::now() + self.config.ack_timeout;
                }
                self.report(VenueEvent::Notice(format!(
                    "venue: lookup of {client_id} failed: {msg} ({code})"
                )))
            }
            (Waiting::Cancel(_), None) => Ok(()),
            (Waiting::Cancel(client_id), Some((code, msg))) => self.report(VenueEvent::Notice(
                format!("venue: cancel of {client_id} refused: {msg} ({code})"),
            )),
            (Waiting::Account, error) => {
                let account = match error {
                    None => serde_json::from_value::<Account>(response.result)
                        .map_err(|e| format!("an account.status result with balances ({e})")),
                    Some((code, msg)) => Err(format!("{msg} ({code})")),
                };
                self.gathered(
                    |s| account.map(|a| s.balances = a.balances),
                    "account.status",
                )
            }
            (Waiting::OpenOrders, error) => {
                let open =
                    match error {
                        None => serde_json::from_value::<Vec<VenueOrder>>(response.result).map_err(
                            |e| format!("an openOrders.status result, a list of orders ({e})"),
                        ),
                        Some((code, msg)) => Err(format!("{msg} ({code})")),
                    };
                self.gathered(|s| open.map(|o| s.open = o), "openOrders.status")
            }
            (Waiting::Status(client_id), error) => {
                let order = match error {
                    None => serde_json::from_value::<VenueOrder>(response.result)
                        .map(Some)
                        .map_err(|e| format!("an order.status result ({e})")),
                    Some((NO_SUCH_ORDER, _)) => Ok(None),
                    Some((code, msg)) => Err(format!("{msg} ({code})")),
                };
                self.gathered(
                    |s| order.map(|o| s.queried.push((client_id, o))),
                    "order.status",
                )
            }
        }
    }

    /// Adds one answer to the snapshot being gathered; sends it once complete. A failed part
    /// drops the connection, so reconciliation starts over after reconnecting.
    fn gathered(
        &mut self,
        add: impl FnOnce(&mut Snapshot) -> Result<(), String>,
        method: &str,
    ) -> Result<(), String> {
        let Some(gathering) = self.snapshot.as_mut() else {
            return Ok(());
        };
        add(&mut gathering.snapshot).map_err(|e| format!("reconciliation: {method}: {e}"))?;
        gathering.pending -= 1;
        if gathering.pending == 0
            && let Some(done) = self.snapshot.take()
        {
            return self.report(VenueEvent::Snapshot(done.snapshot));
        }
        Ok(())
    }
}
