//! A mock venue for the live router's tests: the Binance WebSocket API subset the router
//! speaks, on 127.0.0.1 only. It checks every signature, keeps orders and balances, fills
//! market orders at a price the test sets (whole, or in parts), fills resting orders when the
//! test says, and misbehaves on request: rejects, lost requests, late acknowledgements and
//! dropped connections.

use futures_util::{SinkExt, StreamExt};
use live::venue::{Secret, sign, signed_payload};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_tungstenite::tungstenite::Message;

/// The key and secret the mock venue knows.
pub(crate) const KEY: &str = "mockKey0123456789";
pub(crate) const SECRET: &str = "mockSecretNhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjIn";

/// An order at the mock venue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MockOrder {
    pub(crate) symbol: String,
    pub(crate) client_id: String,
    pub(crate) side: String,
    pub(crate) kind: String,
    pub(crate) qty: f64,
    pub(crate) price: f64,
    pub(crate) executed: f64,
    pub(crate) quote: f64,
    pub(crate) status: String,
}

impl MockOrder {
    fn json(&self) -> Value {
        json!({
            "symbol": self.symbol, "clientOrderId": self.client_id, "side": self.side,
            "type": self.kind, "status": self.status, "origQty": self.qty.to_string(),
            "executedQty": self.executed.to_string(),
            "cummulativeQuoteQty": self.quote.to_string(), "price": self.price.to_string(),
        })
    }

    fn open(&self) -> bool {
        self.status == "NEW" || self.status == "PARTIALLY_FILLED"
    }
}

/// What the test controls.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) orders: Vec<MockOrder>,
    pub(crate) balances: BTreeMap<String, f64>,
    /// Market orders fill here.
    pub(crate) price: f64,
    /// Commission rate, charged in USDT.
    pub(crate) commission: f64,
    /// The next request is answered with this text instead (a malformed message).
    pub(crate) garbage_next: Option<String>,
    /// The next order.place is refused with this code and message.
    pub(crate) reject_next: Option<(i64, String)>,
    /// This many next order.place requests are lost: neither done nor answered.
    pub(crate) lose_places: usize,
    /// Answers to order.place wait this long (the order is placed at once).
    pub(crate) ack_delay: Duration,
    /// order.place requests received, lost ones included.
    pub(crate) places_received: usize,
    /// Requests whose signature or key was wrong.
    pub(crate) bad_signatures: usize,
    subscribers: Vec<UnboundedSender<Out>>,
    connections: Vec<UnboundedSender<Out>>,
}

#[derive(Debug)]
enum Out {
    Text(String),
    Close,
}

/// A running mock venue.
pub(crate) struct MockVenue {
    pub(crate) port: u16,
    pub(crate) state: Arc<Mutex<State>>,
}

impl MockVenue {
    /// Starts on a free loopback port with these balances.
    pub(crate) fn start(balances: &[(&str, f64)], price: f64, commission: f64) -> Self {
        let state = Arc::new(Mutex::new(State {
            balances: balances
                .iter()
                .map(|(a, q)| ((*a).to_owned(), *q))
                .collect(),
            price,
            commission,
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                while let Ok((tcp, _)) = listener.accept().await {
                    tokio::spawn(connection(shared.clone(), tcp));
                }
            });
        });
        Self { port, state }
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Fills `qty` of a resting order at `price`, as a trade at the venue.
    pub(crate) fn fill(&self, client_id: &str, qty: f64, price: f64) {
        self.with(|s| {
            let at = s
                .orders
                .iter()
                .position(|o| o.client_id == client_id)
                .unwrap();
            trade(s, at, qty, price);
        });
    }

    /// Drops every connection, as a network failure would.
    pub(crate) fn disconnect(&self) {
        self.with(|s| {
            for c in s.connections.drain(..) {
                let _ = c.send(Out::Close);
            }
            s.subscribers.clear();
        });
    }

    pub(crate) fn balance(&self, asset: &str) -> f64 {
        self.with(|s| s.balances.get(asset).copied().unwrap_or(0.0))
    }
}

fn base(symbol: &str) -> &str {
    symbol.strip_suffix("USDT").unwrap_or(symbol)
}

/// Books a trade of order `at` and reports it to subscribers.
fn trade(s: &mut State, at: usize, qty: f64, price: f64) {
    let fee = s.commission * qty * price;
    let o = &mut s.orders[at];
    o.executed += qty;
    o.quote += qty * price;
    o.status = if o.executed >= o.qty - 1e-12 {
        "FILLED".into()
    } else {
        "PARTIALLY_FILLED".into()
    };
    let sign = if o.side == "BUY" { 1.0 } else { -1.0 };
    let o = o.clone();
    *s.balances.entry(base(&o.symbol).to_owned()).or_default() += sign * qty;
    *s.balances.entry("USDT".into()).or_default() -= sign * qty * price + fee;
    let report = execution(&o, "TRADE", qty, price, fee);
    publish(s, &report);
}

fn execution(o: &MockOrder, exec_type: &str, qty: f64, price: f64, fee: f64) -> String {
    json!({"subscriptionId": 0, "event": {
        "e": "executionReport", "E": 1_700_000_000_000_i64, "s": o.symbol, "c": o.client_id,
        "S": o.side, "o": o.kind, "x": exec_type, "X": o.status, "r": "NONE",
        "l": qty.to_string(), "L": price.to_string(), "n": fee.to_string(), "N": "USDT",
        "T": 1_700_000_000_000_i64, "C": ""
    }})
    .to_string()
}

fn publish(s: &mut State, text: &str) {
    s.subscribers
        .retain(|tx| tx.send(Out::Text(text.to_owned())).is_ok());
}

fn error(id: &Value, code: i64, msg: &str) -> String {
    json!({"id": id, "status": 400, "error": {"code": code, "msg": msg}}).to_string()
}

fn ok(id: &Value, result: Value) -> String {
    json!({"id": id, "status": 200, "result": result}).to_string()
}

async fn connection(state: Arc<Mutex<State>>, tcp: tokio::net::TcpStream) {
    // As a venue does: replies go out at once, not held back for the client's ACK.
    let _ = tcp.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = unbounded_channel::<Out>();
    state.lock().unwrap().connections.push(tx.clone());
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(Out::Close) | None => return,
            },
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let (reply, delay) = handle(&state, &tx, text.as_str());
                    if let Some(reply) = reply {
                        if delay.is_zero() {
                            let _ = tx.send(Out::Text(reply));
                        } else {
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(delay).await;
                                let _ = tx.send(Out::Text(reply));
                            });
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

/// Answers one request: the reply (if any) and how long to hold it.
fn handle(
    state: &Arc<Mutex<State>>,
    tx: &UnboundedSender<Out>,
    text: &str,
) -> (Option<String>, Duration) {
    let request: Value = serde_json::from_str(text).unwrap();
    let id = request["id"].clone();
    let method = request["method"].as_str().unwrap_or_default();
    let params = request["params"].as_object().cloned().unwrap_or_default();
    let mut s = state.lock().unwrap();
    let signed: BTreeMap<&str, String> = params
        .iter()
        .filter(|(k, _)| *k != "signature")
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let expected = sign(&Secret::new(SECRET), &signed_payload(&signed));
    if params.get("signature").and_then(Value::as_str) != Some(expected.as_str())
        || params.get("apiKey").and_then(Value::as_str) != Some(KEY)
    {
        s.bad_signatures += 1;
        let reply = error(&id, -1022, "Signature for this request is not valid.");
        return (Some(reply), Duration::ZERO);
    }
    if let Some(garbage) = s.garbage_next.take() {
        return (Some(garbage), Duration::ZERO);
    }
    let p = |name: &str| params.get(name).and_then(Value::as_str).unwrap_or_default();
    let num = |name: &str| p(name).parse::<f64>().unwrap_or(0.0);
    let find = |s: &State| {
        s.orders
            .iter()
            .position(|o| o.client_id == p("origClientOrderId"))
    };
    let reply = match method {
        "userDataStream.subscribe.signature" => {
            s.subscribers.push(tx.clone());
            ok(&id, json!({"subscriptionId": 0}))
        }
        "order.place" => {
            s.places_received += 1;
            if s.lose_places > 0 {
                s.lose_places -= 1;
                return (None, Duration::ZERO);
            }
            if let Some((code, msg)) = s.reject_next.take() {
                return (Some(error(&id, code, &msg)), Duration::ZERO);
            }
            let client_id = p("newClientOrderId").to_owned();
            if s.orders
                .iter()
                .any(|o| o.client_id == client_id && o.open())
            {
                return (
                    Some(error(&id, -2010, "Duplicate order sent.")),
                    Duration::ZERO,
                );
            }
            let order = MockOrder {
                symbol: p("symbol").into(),
                client_id,
                side: p("side").into(),
                kind: p("type").into(),
                qty: num("quantity"),
                price: num("price"),
                executed: 0.0,
                quote: 0.0,
                status: "NEW".into(),
            };
            s.orders.push(order.clone());
            let at = s.orders.len() - 1;
            publish(&mut s, &execution(&order, "NEW", 0.0, 0.0, 0.0));
            if order.kind == "MARKET" {
                let price = s.price;
                trade(&mut s, at, order.qty, price);
            }
            let delay = s.ack_delay;
            return (
                Some(ok(&id, json!({"clientOrderId": order.client_id}))),
                delay,
            );
        }
        "order.cancel" => match find(&s) {
            Some(at) if s.orders[at].open() => {
                s.orders[at].status = "CANCELED".into();
                let o = s.orders[at].clone();
                let mut report: Value =
                    serde_json::from_str(&execution(&o, "CANCELED", 0.0, 0.0, 0.0)).unwrap();
                // A cancel's report names the cancel request in `c` and the order in `C`.
                report["event"]["c"] = json!("cancel-request");
                report["event"]["C"] = json!(o.client_id);
                publish(&mut s, &report.to_string());
                ok(&id, o.json())
            }
            _ => error(&id, -2011, "Unknown order sent."),
        },
        "order.status" => match find(&s) {
            Some(at) => ok(&id, s.orders[at].json()),
            None => error(&id, -2013, "Order does not exist."),
        },
        "openOrders.status" => {
            let open: Vec<Value> = s
                .orders
                .iter()
                .filter(|o| o.open())
                .map(MockOrder::json)
                .collect();
            ok(&id, Value::Array(open))
        }
        "account.status" => {
            let balances: Vec<Value> = s
                .balances
                .iter()
                .map(|(a, q)| json!({"asset": a, "free": q.to_string(), "locked": "0"}))
                .collect();
            ok(&id, json!({"balances": balances}))
        }
        other => error(&id, -1100, &format!("unknown method {other}")),
    };
    (Some(reply), Duration::ZERO)
}
