//! The Binance Spot WebSocket API, the subset the live router speaks: signed requests
//! (`order.place`, `order.cancel`, `order.status`, `openOrders.status`, `account.status`,
//! `userDataStream.subscribe.signature`), their responses, and the user data stream's
//! `executionReport` events. Text in, text out: no I/O here.
//!
//! Every request is `{"id", "method", "params"}`; signed ones carry `apiKey`, `timestamp`,
//! `recvWindow` and `signature` (see `sign`). Responses echo the id with an HTTP-like `status`
//! and a `result` or an `error {code, msg}`. Numbers arrive as decimal strings.

use super::secret::Credentials;
use super::sign::{sign, signed_payload};
use engine::{OrderKind, TimeInForce};
use market_data::Side;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Venue error code: the order (looked up by client order id) does not exist.
pub const NO_SUCH_ORDER: i64 = -2013;

/// Returns a signed request: the parameters plus `apiKey`, `timestamp` and `recvWindow`,
/// signed over all of them sorted by name.
pub fn signed_request(
    id: u64,
    method: &str,
    mut params: BTreeMap<&'static str, String>,
    credentials: &Credentials,
    timestamp_ms: i64,
    recv_window_ms: u64,
) -> String {
    params.insert("apiKey", credentials.api_key.expose().to_owned());
    params.insert("timestamp", timestamp_ms.to_string());
    params.insert("recvWindow", recv_window_ms.to_string());
    let signature = sign(&credentials.secret, &signed_payload(&params));
    let mut object = serde_json::Map::new();
    for (name, value) in params {
        object.insert(name.to_owned(), serde_json::Value::String(value));
    }
    object.insert("signature".into(), serde_json::Value::String(signature));
    serde_json::json!({ "id": id, "method": method, "params": object }).to_string()
}

/// A new order, in the venue's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    /// The venue's symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit, stop or stop-limit.
    pub kind: OrderKind,
    /// GTC or IOC.
    pub tif: TimeInForce,
    /// Units of the base asset.
    pub qty: f64,
    /// The deterministic client order id.
    pub client_id: String,
}

impl NewOrder {
    /// Returns the `order.place` parameters, or `None` for what the venue cannot take (a DAY
    /// time in force).
    pub fn params(&self) -> Option<BTreeMap<&'static str, String>> {
        let mut p = BTreeMap::new();
        p.insert("symbol", self.symbol.clone());
        p.insert("side", side_text(self.side).to_owned());
        p.insert("quantity", decimal(self.qty));
        p.insert("newClientOrderId", self.client_id.clone());
        // Fills come from the user data stream only, so the response needs no fills.
        p.insert("newOrderRespType", "ACK".to_owned());
        let tif = match self.tif {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Day => return None,
        };
        let kind = match self.kind {
            OrderKind::Market => "MARKET",
            OrderKind::Limit { price } => {
                p.insert("price", decimal(price.0));
                p.insert("timeInForce", tif.to_owned());
                "LIMIT"
            }
            OrderKind::Stop { trigger } => {
                p.insert("stopPrice", decimal(trigger.0));
                "STOP_LOSS"
            }
            OrderKind::StopLimit { trigger, limit } => {
                p.insert("stopPrice", decimal(trigger.0));
                p.insert("price", decimal(limit.0));
                p.insert("timeInForce", tif.to_owned());
                "STOP_LOSS_LIMIT"
            }
        };
        p.insert("type", kind.to_owned());
        Some(p)
    }
}

/// Returns `BUY` or `SELL`.
pub fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Writes a number as the venue reads it: plain decimal, never an exponent.
pub fn decimal(x: f64) -> String {
    // Rust's `Display` for f64 is the shortest text that reads back exactly, without exponent.
    format!("{x}")
}

/// A venue error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VenueError {
    /// The venue's code (negative).
    pub code: i64,
    /// The venue's message.
    pub msg: String,
}

/// A response to a request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// 200 on success.
    pub status: u16,
    /// The result, on success.
    #[serde(default)]
    pub result: serde_json::Value,
    /// The error, on failure.
    pub error: Option<VenueError>,
}

/// An order as `order.status` and `openOrders.status` describe it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueOrder {
    /// The symbol.
    pub symbol: String,
    /// The client order id.
    pub client_order_id: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// `NEW`, `PARTIALLY_FILLED`, `FILLED`, `CANCELED`, `REJECTED`, `EXPIRED`, ...
    pub status: String,
    /// Units ordered.
    #[serde(deserialize_with = "number")]
    pub orig_qty: f64,
    /// Units filled so far.
    #[serde(deserialize_with = "number")]
    pub executed_qty: f64,
    /// Quote asset spent or received so far (the venue's spelling).
    #[serde(deserialize_with = "number")]
    pub cummulative_quote_qty: f64,
}

/// One asset of `account.status`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Balance {
    /// The asset, e.g. `BTC`.
    pub asset: String,
    /// Available.
    #[serde(deserialize_with = "number")]
    pub free: f64,
    /// Held by open orders.
    #[serde(deserialize_with = "number")]
    pub locked: f64,
}

/// The `result` of `account.status`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Account {
    /// Every asset held.
    pub balances: Vec<Balance>,
}

/// An `executionReport` of the user data stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Execution {
    /// The symbol.
    #[serde(rename = "s")]
    pub symbol: String,
    /// The client order id (of the cancel request, for a cancel).
    #[serde(rename = "c")]
    pub client_id: String,
    /// The original client order id, set on cancels.
    #[serde(rename = "C", default)]
    pub orig_client_id: String,
    /// `BUY` or `SELL`.
    #[serde(rename = "S")]
    pub side: String,
    /// Execution type: `NEW`, `TRADE`, `CANCELED`, `REJECTED`, `EXPIRED`, ...
    #[serde(rename = "x")]
    pub exec_type: String,
    /// Order status after it.
    #[serde(rename = "X")]
    pub status: String,
    /// Reject reason (`NONE` unless rejected).
    #[serde(rename = "r", default)]
    pub reject_reason: String,
    /// Units of this trade.
    #[serde(rename = "l", deserialize_with = "number")]
    pub last_qty: f64,
    /// Price of this trade.
    #[serde(rename = "L", deserialize_with = "number")]
    pub last_price: f64,
    /// Commission of this trade.
    #[serde(rename = "n", deserialize_with = "number_or_null", default)]
    pub commission: f64,
    /// The asset the commission was charged in.
    #[serde(rename = "N", default)]
    pub commission_asset: Option<String>,
    /// Transaction time, ms since the epoch.
    #[serde(rename = "T")]
    pub time_ms: i64,
}

impl Execution {
    /// Returns the client order id of the order this is about: the original one for a cancel.
    pub fn order_client_id(&self) -> &str {
        if self.orig_client_id.is_empty() {
            &self.client_id
        } else {
            &self.orig_client_id
        }
    }
}

/// A message from the venue.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The answer to a request.
    Response(Response),
    /// An execution report.
    Execution(Box<Execution>),
    /// Another user data event (balance updates): not needed, balances are queried.
    OtherEvent(String),
}

/// Reads one message. The error says what was expected.
pub fn parse(text: &str) -> Result<Incoming, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let event = value.get("event").filter(|_| value.get("id").is_none());
    if let Some(event) = event {
        let kind = event.get("e").and_then(|e| e.as_str()).unwrap_or_default();
        if kind != "executionReport" {
            return Ok(Incoming::OtherEvent(kind.to_owned()));
        }
        return Execution::deserialize(event)
            .map(|e| Incoming::Execution(Box::new(e)))
            .map_err(|e| format!("an executionReport with s, c, S, x, X, l, L, T ({e})"));
    }
    Response::deserialize(&value)
        .map(Incoming::Response)
        .map_err(|e| {
            format!("a response with a numeric id and a status, or a user data event ({e})")
        })
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        Text(String),
        Number(f64),
    }
    match Num::deserialize(d)? {
        Num::Number(x) => Ok(x),
        Num::Text(t) => t
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("a decimal number, found {t:?}"))),
    }
}

fn number_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "number")] f64);
    Ok(Option::<Wrap>::deserialize(d)?.map_or(0.0, |w| w.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::secret::Secret;
    use market_data::Price;

    #[test]
    fn a_limit_order_is_signed_over_its_sorted_parameters() {
        let creds = Credentials {
            api_key: Secret::new("KEY"),
            secret: Secret::new("SECRET"),
        };
        let order = NewOrder {
            symbol: "BTCUSDT".into(),
            side: Side::Buy,
            kind: OrderKind::Limit { price: Price(0.1) },
            tif: TimeInForce::Gtc,
            qty: 1.0,
            client_id: "s-1".into(),
        };
        let text = signed_request(7, "order.place", order.params().unwrap(), &creds, 5, 5000);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["id"], 7);
        let params = value["params"].as_object().unwrap();
        assert_eq!(params["price"], "0.1");
        assert_eq!(params["timeInForce"], "GTC");
        let payload = "apiKey=KEY&newClientOrderId=s-1&newOrderRespType=ACK&price=0.1&\
                       quantity=1&recvWindow=5000&side=BUY&symbol=BTCUSDT&timeInForce=GTC&\
                       timestamp=5&type=LIMIT";
        assert_eq!(params["signature"], sign(&creds.secret, payload));
        assert!(!text.contains("SECRET"));
    }

    #[test]
    fn day_orders_are_not_for_this_venue() {
        let order = NewOrder {
            symbol: "X".into(),
            side: Side::Sell,
            kind: OrderKind::Market,
            tif: TimeInForce::Day,
            qty: 1.0,
            client_id: "c".into(),
        };
        assert!(order.params().is_none());
    }

    #[test]
    fn messages_parse_or_say_what_was_expected() {
        let report = r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1,"s":"BTCUSDT",
            "c":"s-1","S":"BUY","o":"LIMIT","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE",
            "l":"0.5","L":"100.5","n":"0.05","N":"USDT","T":1700000000000,"C":""}}"#;
        let Incoming::Execution(e) = parse(report).unwrap() else {
            panic!("not an execution")
        };
        assert_eq!((e.last_qty, e.last_price, e.commission), (0.5, 100.5, 0.05));
        let error = r#"{"id":3,"status":400,"error":{"code":-2010,"msg":"insufficient"}}"#;
        let Incoming::Response(r) = parse(error).unwrap() else {
            panic!("not a response")
        };
        assert_eq!(r.error.unwrap().code, -2010);
        assert!(parse("{\"id\":\"x\"}").unwrap_err().contains("numeric id"));
        assert!(parse("{nope").unwrap_err().contains("not JSON"));
    }
}
