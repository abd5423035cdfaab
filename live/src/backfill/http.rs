//! A minimal blocking HTTP/1.1 GET, for the few REST calls a backfill makes: `http://` over
//! std's TCP, `https://` through the rustls (ring, webpki roots) the websocket feed already uses.
//! One request per connection (`Connection: close`), bounded in time and size, so a server that
//! stalls or streams without end cannot hold the feed.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The largest response accepted: a page of 1,000 klines is about 200 KB.
const MAX_RESPONSE: u64 = 16 << 20;

/// Returns the status code and body of `GET url`, waiting at most `timeout` for the connection
/// and for each read.
///
/// # Errors
/// A message naming what failed: the URL's form, the connection, TLS, or the response's form.
pub(crate) fn get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err("expected an http:// or https:// URL".into());
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]:8080` has a port, `[::1]` does not.
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("bad port {port:?}"))?,
        ),
        _ => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err("no host in the URL".into());
    }
    let address = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let tcp = TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let io = |e: std::io::Error| format!("{authority}: {e}");
    tcp.set_read_timeout(Some(timeout)).map_err(io)?;
    tcp.set_write_timeout(Some(timeout)).map_err(io)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: quant\r\nAccept: \
         application/json\r\nConnection: close\r\n\r\n"
    );
    let raw = if tls {
        let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
            .map_err(|e| format!("{host}: {e}"))?
            .to_owned();
        let connection = rustls::ClientConnection::new(tls_config()?, name)
            .map_err(|e| format!("TLS with {authority}: {e}"))?;
        exchange(rustls::StreamOwned::new(connection, tcp), &request).map_err(io)?
    } else {
        exchange(tcp, &request).map_err(io)?
    };
    parse(&raw)
}

/// The client config: the ring provider and the webpki roots, as tokio-tungstenite's `wss://`.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Sends the request and reads the whole response (until the server closes).
fn exchange(mut stream: impl Read + Write, request: &str) -> std::io::Result<Vec<u8>> {
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut raw = Vec::new();
    match stream.take(MAX_RESPONSE).read_to_end(&mut raw) {
        // A TLS server that closes without close_notify: what came is checked by `parse`.
        Err(e) if e.kind() == ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    Ok(raw)
}

/// Splits a response into its status code and body (de-chunked).
fn parse(raw: &[u8]) -> Result<(u16, String), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the response ended before its headers did")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|s| s.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            format!(
                "not an HTTP response: {}",
                crate::printable(status_line, crate::QUOTED_CHARS)
            )
        })?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let mut body = &raw[end + 4..];
    let chunked;
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        chunked = dechunk(body)?;
        body = &chunked;
    } else if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("bad Content-Length {length:?}"))?;
        body = body.get(..length).ok_or_else(|| {
            format!(
                "the response ended after {} of its {length} bytes",
                body.len()
            )
        })?;
    }
    let body = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    Ok((status, body.to_owned()))
}

/// Joins the chunks of a `Transfer-Encoding: chunked` body.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunked body ended inside a chunk size")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body
            .get(..size)
            .ok_or("a chunked body ended inside a chunk")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_length_and_chunked_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]trailing";
        assert_eq!(parse(plain).unwrap(), (200, "[]".into()));
        let chunked =
            b"HTTP/1.1 418 Teapot\r\ntransfer-encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        assert_eq!(parse(chunked).unwrap(), (418, "[1,2]".into()));
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse(b"SSH-2.0\r\n\r\n").is_err());
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[]";
        assert!(parse(short).unwrap_err().contains("2 of its 10"));
    }

    #[test]
    fn refuses_urls_it_cannot_use() {
        let t = Duration::from_millis(200);
        assert!(get("ftp://x/", t).unwrap_err().contains("http://"));
        assert!(get("http://:80/", t).unwrap_err().contains("no host"));
        assert!(
            get("http://127.0.0.1:99999/", t)
                .unwrap_err()
                .contains("port")
        );
    }
}
