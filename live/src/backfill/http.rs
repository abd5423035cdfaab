//! The blocking HTTP GET a backfill makes, through `ureq`: bounded in time and size, so a server
//! that stalls or streams without end cannot hold the feed.

use std::time::Duration;

/// The largest response accepted: a page of 1,000 klines is about 200 KB.
const MAX_RESPONSE: u64 = 16 << 20;

/// Returns the status code and body of `GET url`, waiting at most `timeout` in all.
///
/// # Errors
/// A message naming what failed: the URL's form, the connection, TLS, or the response's form.
pub(crate) fn get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("expected an http:// or https:// URL".into());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        // The caller reads an error status with its body (Binance explains a 4xx in JSON).
        .http_status_as_error(false)
        .user_agent("quant")
        .build()
        .into();
    let mut response = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| crate::printable(&e.to_string(), crate::QUOTED_CHARS))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_string()
        .map_err(|e| crate::printable(&e.to_string(), crate::QUOTED_CHARS))?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_urls_it_cannot_use() {
        let t = Duration::from_millis(200);
        assert!(get("ftp://x/", t).unwrap_err().contains("http://"));
        assert!(get("http://:80/", t).is_err());
        assert!(get("http://127.0.0.1:99999/", t).is_err());
    }
}
