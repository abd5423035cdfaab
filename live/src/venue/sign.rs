//! Request signing of the Binance API: HMAC-SHA256 of the request's parameters written as a
//! query string (`name=value` joined by `&`), keyed with the API secret, in lowercase hex.
//!
//! The websocket API signs its parameters sorted by name (every parameter but `signature`
//! itself); [`signed_payload`] writes them so, and [`sign`] signs any payload.

use super::secret::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Returns the lowercase hex HMAC-SHA256 of `payload` keyed with `secret`.
pub fn sign(secret: &Secret, payload: &str) -> String {
    // HMAC takes a key of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(payload.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Returns the parameters as the signed query string: sorted by name, `name=value` joined
/// by `&`.
pub fn signed_payload(params: &BTreeMap<&str, String>) -> String {
    let mut payload = String::with_capacity(256);
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            payload.push('&');
        }
        payload.push_str(name);
        payload.push('=');
        payload.push_str(value);
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example request of Binance's API documentation ("SIGNED endpoint examples"), whose
    /// published signature was also checked with
    /// `echo -n "$QUERY" | openssl dgst -sha256 -hmac "$SECRET"`.
    #[test]
    fn signature_matches_the_published_example() {
        let secret =
            Secret::new("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j");
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&\
                     recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign(&secret, query),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn parameters_are_signed_sorted_by_name() {
        let params = BTreeMap::from([
            ("timestamp", "2".to_owned()),
            ("apiKey", "k".to_owned()),
            ("symbol", "BTCUSDT".to_owned()),
        ]);
        assert_eq!(
            signed_payload(&params),
            "apiKey=k&symbol=BTCUSDT&timestamp=2"
        );
    }
}
