//! One dump downloaded and verified: the published checksum first, then the file into
//! `<file>.partial` (continued with a Range request when a partial exists), its SHA-256 checked,
//! and only then renamed into place beside a copy of the checksum it matched. A file already
//! there and matching its kept checksum is not fetched again.

use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What happened to a file, for the progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fetched whole.
    Downloaded {
        /// The file's size.
        bytes: u64,
    },
    /// Continued from a partial download.
    Resumed {
        /// Bytes the partial download held.
        from: u64,
        /// The file's size.
        bytes: u64,
    },
    /// Already downloaded and verified.
    Skipped {
        /// The file's size.
        bytes: u64,
    },
}

/// A blocking HTTP client for the dumps.
pub(crate) struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub(crate) fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            // ureq has no idle timeout, so a body gets a budget long enough for a month of
            // one-second klines (hundreds of MB) on a slow link; a stalled connection ends
            // within it, and what arrived is kept for the next run to continue.
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(30 * 60)))
            // Statuses are read here: a 404 means "not published", a 206 a resumed body.
            .http_status_as_error(false)
            .user_agent("quant")
            .build()
            .into();
        Self { agent }
    }

    fn get(&self, url: &str, from: u64) -> Result<ureq::http::Response<ureq::Body>, String> {
        let mut request = self.agent.get(url);
        if from > 0 {
            request = request.header("Range", format!("bytes={from}-"));
        }
        request.call().map_err(|e| {
            format!(
                "{url}: {}",
                crate::printable(&e.to_string(), crate::QUOTED_CHARS)
            )
        })
    }
}

/// Downloads `url` into `target` unless it is there already, verified against the checksum
/// published at `<url>.CHECKSUM`.
///
/// # Errors
/// A message naming the URL or file: not published (404), another HTTP status, a dropped
/// connection (with how much is kept for the next run), a malformed checksum file, or a checksum
/// mismatch with both hashes (the bad download is removed).
pub(crate) fn fetch(http: &Http, url: &str, target: &Path) -> Result<Outcome, String> {
    let name = file_name(target);
    let kept = sidecar(target);
    if let (Ok(meta), Ok(text)) = (std::fs::metadata(target), std::fs::read_to_string(&kept))
        && let Ok(expected) = parse_checksum(&text, &name)
        && sha256(target)? == expected
    {
        return Ok(Outcome::Skipped { bytes: meta.len() });
    }

    let checksum_url = format!("{url}.CHECKSUM");
    let published = get_text(http, &checksum_url)?;
    let expected = parse_checksum(&published, &name)
        .map_err(|problem| format!("{checksum_url}: {problem}"))?;

    let partial = with_suffix(target, ".partial");
    let outcome = download(http, url, &partial)?;
    let actual = sha256(&partial)?;
    if actual != expected {
        // A corrupt file cannot be resumed into a good one: start over next time.
        let _ = std::fs::remove_file(&partial);
        return Err(format!(
            "checksum mismatch for {name}: {checksum_url} publishes sha256 {expected}, the \
             downloaded file has sha256 {actual}; the download was removed and nothing was \
             written to the catalog"
        ));
    }
    // The checksum first: a file in place always has the checksum it was verified against.
    write_atomically(&kept, published.as_bytes())?;
    std::fs::rename(&partial, target).map_err(|e| io(target, &e))?;
    Ok(outcome)
}

/// Fetches `url` into `partial`, continuing it when it holds a start of the file.
fn download(http: &Http, url: &str, partial: &Path) -> Result<Outcome, String> {
    let have = std::fs::metadata(partial).map_or(0, |m| m.len());
    let mut response = http.get(url, have)?;
    let status = response.status().as_u16();
    let from = match status {
        // The rest of the file (a server sending another range fails the checksum).
        206 if have > 0 => have,
        // The server ignored the Range and sends the whole file.
        200 => 0,
        // The partial is as long as the file or longer: it cannot be continued.
        416 if have > 0 => {
            std::fs::remove_file(partial).map_err(|e| io(partial, &e))?;
            return download(http, url, partial);
        }
        404 => return Err(not_published(url)),
        _ => return Err(format!("{url}: HTTP status {status}")),
    };
    let mut file = if from > 0 {
        OpenOptions::new().append(true).open(partial)
    } else {
        File::create(partial)
    }
    .map_err(|e| io(partial, &e))?;
    let mut body = response.body_mut().as_reader();
    // Unbuffered writes: whatever arrived is on disk if the process is stopped, so a signal or a
    // dropped connection leaves a partial file the next run continues.
    let mut buffer = vec![0_u8; 64 << 10];
    let mut received = 0_u64;
    loop {
        let n = match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(format!(
                    "{url}: the connection failed after {received} bytes ({}); the {} bytes \
                     received are kept in {}: run the command again to resume",
                    crate::printable(&e.to_string(), crate::QUOTED_CHARS),
                    from + received,
                    partial.display()
                ));
            }
        };
        file.write_all(&buffer[..n]).map_err(|e| io(partial, &e))?;
        received += n as u64;
    }
    let bytes = from + received;
    Ok(if from > 0 {
        Outcome::Resumed { from, bytes }
    } else {
        Outcome::Downloaded { bytes }
    })
}

fn get_text(http: &Http, url: &str) -> Result<String, String> {
    let mut response = http.get(url, 0)?;
    match response.status().as_u16() {
        200 => {}
        404 => return Err(not_published(url)),
        status => return Err(format!("{url}: HTTP status {status}")),
    }
    response
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .map_err(|e| {
            format!(
                "{url}: {}",
                crate::printable(&e.to_string(), crate::QUOTED_CHARS)
            )
        })
}

fn not_published(url: &str) -> String {
    format!(
        "{url}: not found (HTTP 404); Binance publishes a month's dump after the month ends and \
         a day's the next day, for symbols and intervals it lists"
    )
}

/// Reads a `.CHECKSUM` file, `<sha256 in hex>  <file name>`, for the file `name`.
fn parse_checksum(text: &str, name: &str) -> Result<String, String> {
    let mut fields = text.split_whitespace();
    let (Some(hash), Some(file), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(format!(
            "expected \"<sha256>  {name}\", found {:?}",
            crate::printable(text.trim(), crate::QUOTED_CHARS)
        ));
    };
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "expected a SHA-256 of 64 hex digits, found {:?}",
            crate::printable(hash, crate::QUOTED_CHARS)
        ));
    }
    if file != name {
        return Err(format!(
            "the checksum is of {:?}, not {name}",
            crate::printable(file, crate::QUOTED_CHARS)
        ));
    }
    Ok(hash.to_ascii_lowercase())
}

fn sha256(path: &Path) -> Result<String, String> {
    let mut file = File::open(path).map_err(|e| io(path, &e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 64 << 10];
    loop {
        let n = file.read(&mut buffer).map_err(|e| io(path, &e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temp = with_suffix(path, ".tmp");
    std::fs::write(&temp, bytes).map_err(|e| io(&temp, &e))?;
    std::fs::rename(&temp, path).map_err(|e| io(path, &e))
}

/// Where the checksum a file was verified against is kept: `<file>.CHECKSUM`, as published.
pub(crate) fn sidecar(target: &Path) -> PathBuf {
    with_suffix(target, ".CHECKSUM")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    path.with_file_name(format!("{}{suffix}", file_name(path)))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

fn io(path: &Path, e: &std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_files_are_read_strictly() {
        let hash = "ab".repeat(32);
        let name = "BTCUSDT-1m-2024-01.zip";
        assert_eq!(
            parse_checksum(&format!("{hash}  {name}\n"), name),
            Ok(hash.clone())
        );
        assert!(
            parse_checksum(&format!("{hash}  other.zip"), name)
                .unwrap_err()
                .contains("other.zip")
        );
        assert!(
            parse_checksum("xyz  BTCUSDT-1m-2024-01.zip", name)
                .unwrap_err()
                .contains("64 hex")
        );
        assert!(parse_checksum("<html>not found</html>", name).is_err());
    }
}
