//! `quant report-check`: opens an HTML report in headless Chromium and checks it as a reader's
//! browser would see it.
//!
//! The reports promise to be self-contained pages that open from disk, so the check is done in a
//! real browser rather than by parsing the HTML: only the browser knows whether a script threw,
//! whether anything was fetched, and whether a chart drew anything. Chromium is driven over the
//! Chrome DevTools Protocol (JSON over a websocket) with the synchronous `tungstenite` client, so
//! the binary needs neither an async runtime nor a downloaded driver, only Debian's `chromium`.
//!
//! Every wait has a deadline (the command's `--timeout-secs` overall), so CI never hangs, and a
//! guard stops Chromium and removes its throw-away profile on every exit path.

mod chromium;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use chromium::{Browser, Cdp, Deadline};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of `quant report-check`.
#[derive(Debug, clap::Args)]
pub struct ReportCheckArgs {
    /// The HTML page to check, e.g. results/sma-crossover-goog/report.html.
    file: PathBuf,
    /// Also save a full-page PNG screenshot here.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Give up after this many seconds in all: start-up, load, checks and screenshot.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_secs: u64,
}

/// Returns `{ checked, empty, failed }`: every `svg.chart` except `.empty` placeholders must hold
/// a shape with a non-zero extent; `failed` lists the `data-chart` names of those that do not.
const CHART_CHECK: &str = r#"(() => {
  const shapes = 'path, polyline, polygon, rect, circle';
  const failed = [];
  let checked = 0, empty = 0;
  document.querySelectorAll('svg.chart').forEach((svg, i) => {
    if (svg.classList.contains('empty')) { empty++; return; }
    checked++;
    const drawn = Array.from(svg.querySelectorAll(shapes)).some((el) => {
      try { const b = el.getBBox(); return b.width > 0 || b.height > 0; } catch (e) { return false; }
    });
    if (!drawn) failed.push(svg.getAttribute('data-chart') || ('svg.chart #' + (i + 1)));
  });
  return { checked, empty, failed };
})()"#;

/// Exercises the zoomable charts (`svg.zoom`) as a reader's mouse would, with dispatched events
/// on the first: a wheel must narrow its time window (`data-view`) and every zoomable chart's
/// alike, a drag must move it, alike, a double-click and the Reset button must show the whole run
/// again (no `data-view`), and a hover at the plot's right edge must show a tooltip. Returns
/// `{ charts, failed, tip }`: `tip` is that tooltip's rows joined by " | " (the last point's date
/// and values), which the caller prints so a test can compare it with the data.
const ZOOM_CHECK: &str = r#"(() => {
  const svgs = Array.from(document.querySelectorAll('svg.zoom'));
  if (!svgs.length) return { charts: 0, failed: [], tip: '' };
  const failed = [];
  const views = () => svgs.map((s) => s.getAttribute('data-view'));
  const linked = (what) => { const v = views(); if (v.some((x) => x !== v[0])) failed.push(what + ' not linked: ' + v.join(' | ')); };
  const svg = svgs[0], d = JSON.parse(svg.nextElementSibling.textContent);
  const r = svg.getBoundingClientRect(), w = svg.viewBox.baseVal.width;
  const cx = (u) => r.left + u / w * r.width, cy = r.top + r.height / 2, mid = cx((d.g[0] + d.g[1]) / 2);
  const mouse = (type, x, target) => (target || svg).dispatchEvent(new MouseEvent(type,
    { clientX: x, clientY: cy, button: 0, bubbles: true, cancelable: true }));
  const wheel = () => svg.dispatchEvent(new WheelEvent('wheel',
    { clientX: mid, clientY: cy, deltaY: -100, bubbles: true, cancelable: true }));
  wheel();
  const zoomed = views()[0];
  if (!zoomed) failed.push('a wheel over the chart did not zoom');
  else {
    const [a, b] = zoomed.split(',').map(Number);
    if (!(b - a < (d.x[1] - d.x[0]) * 0.9)) failed.push('a wheel did not narrow the window: ' + zoomed);
    linked('zoom');
    mouse('mousedown', mid); mouse('mousemove', mid + r.width / 10, window); mouse('mouseup', mid, window);
    const panned = views()[0];
    if (!panned || panned === zoomed) failed.push('a drag did not pan: ' + panned);
    linked('pan');
  }
  mouse('dblclick', mid);
  if (views().some((v) => v !== null)) failed.push('a double-click did not reset: ' + views().join(' | '));
  wheel();
  const button = svg.parentNode.querySelector('button.zctl');
  if (!button) failed.push('no Reset zoom button');
  else { button.click(); if (views().some((v) => v !== null)) failed.push('the Reset zoom button did not reset'); }
  // Mouse positions are whole pixels: the first one past the plot's right edge, its last point.
  mouse('mousemove', Math.ceil(cx(d.g[1])));
  const tip = svg.parentNode.querySelector('.ztip');
  const rows = tip && !tip.hidden ? Array.from(tip.children).map((e) => e.textContent) : [];
  if (!rows.length) failed.push('no tooltip on hover');
  svg.dispatchEvent(new MouseEvent('mouseleave'));
  return { charts: svgs.length, failed, tip: rows.join(' | ') };
})()"#;

/// Milliseconds from navigation start to the end of the load event, as the page measured it.
const LOAD_TIMING: &str = r#"(() => {
  const n = performance.getEntriesByType('navigation')[0];
  if (n) return n.loadEventEnd;
  const t = performance.timing;
  return t.loadEventEnd > 0 ? t.loadEventEnd - t.navigationStart : 0;
})()"#;

/// Events that arrive this long after the load event are still recorded: a script's timers or a
/// late fetch would otherwise slip through.
const SETTLE: Duration = Duration::from_millis(300);

/// Chromium renders taller captures as blank or fails them (its texture limit); longer pages are
/// cut to this height.
const MAX_SCREENSHOT_PX: f64 = 16_384.0;

/// Opens the page, runs the checks, prints a report; fails when the page has any problem.
pub fn run(args: &ReportCheckArgs) -> Result<()> {
    let deadline = Deadline::new(Duration::from_secs(args.timeout_secs));
    let file = std::fs::canonicalize(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let bytes = std::fs::metadata(&file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let url = file_url(&file);
    let mut browser = Browser::launch()?;
    let check = check_page(&mut browser, &url, args.screenshot.as_deref(), &deadline)?;
    drop(browser);
    print!("{}", check.report(&file, bytes));
    let problems = check.problems();
    if problems > 0 {
        bail!(
            "report check failed: {problems} problem(s) in {}",
            file.display()
        );
    }
    Ok(())
}

/// Opens `file` once in headless Chromium and returns the load time in milliseconds (navigation
/// to the load event) and the number of problems found, for benchmarks.
///
/// # Errors
/// Chromium cannot be started or the page cannot be loaded in time.
pub(crate) fn measure_load(file: &Path, timeout: Duration) -> Result<(f64, usize)> {
    let deadline = Deadline::new(timeout);
    let file =
        std::fs::canonicalize(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut browser = Browser::launch()?;
    let check = check_page(&mut browser, &file_url(&file), None, &deadline)?;
    Ok((check.load_ms, check.problems()))
}

/// What one page load showed.
#[derive(Debug, Default)]
struct Check {
    /// Wall time from sending the navigation to the load event.
    load_ms: f64,
    /// The page's own `loadEventEnd` (navigation timing), 0 when the page never reported it.
    timing_ms: f64,
    charts_checked: u64,
    charts_empty: u64,
    charts_failed: Vec<String>,
    /// Zoomable charts, what failed when they were exercised, and the hover tooltip's text.
    zoom_charts: u64,
    zoom_failed: Vec<String>,
    zoom_tip: String,
    console_errors: Vec<String>,
    warnings: Vec<String>,
    exceptions: Vec<String>,
    /// Every URL the page asked for; filtered against the page's own URL at the end, since
    /// Chromium reports the canonical form of that URL only once it has navigated.
    requested: Vec<String>,
    page_urls: Vec<String>,
    screenshot: Option<Screenshot>,
}

/// A saved full-page capture.
#[derive(Debug)]
struct Screenshot {
    path: PathBuf,
    bytes: u64,
    /// The captured area in CSS pixels.
    width: f64,
    height: f64,
    /// Whether the page was taller than the capture limit and was cut.
    cut: bool,
}

impl Check {
    /// Files a CDP event under what it reports; other events are of no interest.
    fn record(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str().unwrap_or_default() {
            "Runtime.consoleAPICalled" => {
                let text = console_text(params);
                match params["type"].as_str().unwrap_or_default() {
                    "error" | "assert" => self.console_errors.push(text),
                    "warning" => self.warnings.push(text),
                    _ => {}
                }
            }
            "Runtime.exceptionThrown" => {
                let d = &params["exceptionDetails"];
                let text = d["exception"]["description"]
                    .as_str()
                    .or_else(|| d["text"].as_str())
                    .unwrap_or("exception");
                let first = text.lines().next().unwrap_or(text);
                self.exceptions
                    .push(with_location(first, &d["url"], &d["lineNumber"]));
            }
            "Log.entryAdded" => {
                let entry = &params["entry"];
                let text = format!(
                    "[{}] {}",
                    entry["source"].as_str().unwrap_or("log"),
                    entry["text"].as_str().unwrap_or_default()
                );
                let text = with_location(&text, &entry["url"], &entry["lineNumber"]);
                match entry["level"].as_str().unwrap_or_default() {
                    "error" => self.console_errors.push(text),
                    "warning" => self.warnings.push(text),
                    _ => {}
                }
            }
            "Network.requestWillBeSent" => {
                if let Some(url) = params["request"]["url"].as_str() {
                    self.requested.push(url.to_owned());
                }
            }
            "Page.frameNavigated" if params["frame"]["parentId"].is_null() => {
                if let Some(url) = params["frame"]["url"].as_str() {
                    self.page_urls.push(url.to_owned());
                }
            }
            _ => {}
        }
    }

    /// Returns the requests that left the page: not the page itself, not inline data.
    fn network_requests(&self) -> Vec<&str> {
        let own = |url: &str| {
            let url = url.split('#').next().unwrap_or(url);
            self.page_urls
                .iter()
                .any(|page| page.split('#').next() == Some(url))
        };
        self.requested
            .iter()
            .map(String::as_str)
            .filter(|url| !own(url) && !url.starts_with("data:") && !url.starts_with("blob:"))
            .collect()
    }

    fn problems(&self) -> usize {
        self.console_errors.len()
            + self.exceptions.len()
            + self.network_requests().len()
            + self.charts_failed.len()
            + self.zoom_failed.len()
    }

    fn report(&self, file: &Path, bytes: u64) -> String {
        let requests = self.network_requests();
        let mut out = String::new();
        let _ = writeln!(out, "report-check {}", file.display());
        let _ = writeln!(out, "  page size         {:.1} KB", bytes as f64 / 1024.0);
        let _ = writeln!(
            out,
            "  load              {:.0} ms (navigation timing loadEventEnd {:.0} ms)",
            self.load_ms, self.timing_ms
        );
        let _ = writeln!(
            out,
            "  charts            {} checked, {} empty, {} without drawn content",
            self.charts_checked,
            self.charts_empty,
            self.charts_failed.len()
        );
        if self.zoom_charts > 0 {
            let _ = writeln!(
                out,
                "  zoom              {} linked charts, {} failed checks; hover at the end: {}",
                self.zoom_charts,
                self.zoom_failed.len(),
                self.zoom_tip
            );
        }
        let _ = writeln!(out, "  console errors    {}", self.console_errors.len());
        let _ = writeln!(out, "  exceptions        {}", self.exceptions.len());
        let _ = writeln!(out, "  network requests  {}", requests.len());
        let _ = writeln!(out, "  warnings          {}", self.warnings.len());
        if let Some(shot) = &self.screenshot {
            let _ = writeln!(
                out,
                "  screenshot        {} ({:.0}x{:.0} px{}, {:.1} KB)",
                shot.path.display(),
                shot.width,
                shot.height,
                if shot.cut { ", cut" } else { "" },
                shot.bytes as f64 / 1024.0
            );
        }
        let lines = [
            ("chart without drawn content", &self.charts_failed),
            ("zoom", &self.zoom_failed),
            ("console error", &self.console_errors),
            ("uncaught exception", &self.exceptions),
            ("warning (not a failure)", &self.warnings),
        ];
        for (what, items) in lines {
            for item in items {
                let _ = writeln!(out, "  - {what}: {item}");
            }
        }
        for url in &requests {
            let _ = writeln!(out, "  - network request: {url}");
        }
        let problems = self.problems();
        if problems == 0 {
            let _ = writeln!(out, "ok");
        } else {
            let _ = writeln!(out, "FAILED: {problems} problem(s)");
        }
        out
    }
}

/// Loads `url` in a fresh page target and runs every check on it.
fn check_page(
    browser: &mut Browser,
    url: &str,
    screenshot: Option<&Path>,
    deadline: &Deadline,
) -> Result<Check> {
    let cdp = browser.connect(deadline)?;
    let target = cdp.call_browser(
        "Target.createTarget",
        json!({ "url": "about:blank" }),
        deadline,
    )?;
    let target_id = target["targetId"]
        .as_str()
        .ok_or_else(|| anyhow!("Target.createTarget returned no targetId"))?;
    let attached = cdp.call_browser(
        "Target.attachToTarget",
        json!({ "targetId": target_id, "flatten": true }),
        deadline,
    )?;
    let session = attached["sessionId"]
        .as_str()
        .ok_or_else(|| anyhow!("Target.attachToTarget returned no sessionId"))?;
    cdp.session = Some(session.to_owned());
    for domain in ["Runtime", "Log", "Network", "Page"] {
        cdp.call(&format!("{domain}.enable"), json!({}), deadline)?;
    }
    let mut check = Check::default();
    // Events of about:blank, buffered while enabling, are not the report's.
    cdp.events.clear();

    let started = Instant::now();
    let navigated = cdp.call("Page.navigate", json!({ "url": url }), deadline)?;
    if let Some(error) = navigated["errorText"].as_str() {
        bail!("chromium cannot open {url}: {error}");
    }
    // A load event counts only once the main frame has committed to the report: about:blank's
    // own load event may still be in flight.
    let mut committed = false;
    loop {
        let event = cdp.next_event(deadline, "the page's load event")?;
        check.record(&event);
        match event["method"].as_str().unwrap_or_default() {
            "Page.frameNavigated" if event["params"]["frame"]["parentId"].is_null() => {
                committed = true;
            }
            "Page.loadEventFired" if committed => break,
            _ => {}
        }
    }
    check.load_ms = started.elapsed().as_secs_f64() * 1000.0;

    // loadEventEnd is written just after the load handlers return, so it can still read 0.
    loop {
        let timing = cdp.evaluate(LOAD_TIMING, deadline)?;
        check.timing_ms = timing.as_f64().unwrap_or(0.0);
        if check.timing_ms > 0.0 || started.elapsed() > Duration::from_secs(2) + SETTLE {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let charts = cdp.evaluate(CHART_CHECK, deadline)?;
    check.charts_checked = charts["checked"].as_u64().unwrap_or(0);
    check.charts_empty = charts["empty"].as_u64().unwrap_or(0);
    check.charts_failed = strings(&charts["failed"]);

    // Before the screenshot, which then shows the page as it opened: the check ends reset, with
    // the tooltip hidden.
    let zoom = cdp.evaluate(ZOOM_CHECK, deadline)?;
    check.zoom_charts = zoom["charts"].as_u64().unwrap_or(0);
    check.zoom_failed = strings(&zoom["failed"]);
    check.zoom_tip = zoom["tip"].as_str().unwrap_or_default().to_owned();

    if let Some(path) = screenshot {
        check.screenshot = Some(capture(cdp, path, deadline)?);
    }

    let settle = (Instant::now() + SETTLE).min(deadline.at);
    while let Some(event) = cdp.event_before(settle)? {
        check.record(&event);
    }
    Ok(check)
}

/// Returns a JSON array of strings as strings ("?" for any other value).
fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|n| n.as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Saves a PNG of the whole page.
fn capture(cdp: &mut Cdp, path: &Path, deadline: &Deadline) -> Result<Screenshot> {
    let metrics = cdp.call("Page.getLayoutMetrics", json!({}), deadline)?;
    let size = if metrics["cssContentSize"].is_object() {
        &metrics["cssContentSize"]
    } else {
        &metrics["contentSize"]
    };
    let width = size["width"].as_f64().unwrap_or(0.0).ceil().max(1.0);
    let full_height = size["height"].as_f64().unwrap_or(0.0).ceil().max(1.0);
    let height = full_height.min(MAX_SCREENSHOT_PX);
    let shot = cdp.call(
        "Page.captureScreenshot",
        json!({
            "format": "png",
            "captureBeyondViewport": true,
            "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
        }),
        deadline,
    )?;
    let data = shot["data"]
        .as_str()
        .ok_or_else(|| anyhow!("Page.captureScreenshot returned no data"))?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(data)
        .context("Page.captureScreenshot returned invalid base64")?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, &png).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Screenshot {
        path: path.to_owned(),
        bytes: png.len() as u64,
        width,
        height,
        cut: height < full_height,
    })
}

/// Returns a console call's arguments as text, with where it was made.
fn console_text(params: &Value) -> String {
    let args: Vec<String> = params["args"]
        .as_array()
        .map(|args| {
            args.iter()
                .map(|a| match &a["value"] {
                    Value::String(s) => s.clone(),
                    Value::Null => a["description"]
                        .as_str()
                        .or_else(|| a["unserializableValue"].as_str())
                        .or_else(|| a["type"].as_str())
                        .unwrap_or("?")
                        .to_owned(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let frame = &params["stackTrace"]["callFrames"][0];
    with_location(&args.join(" "), &frame["url"], &frame["lineNumber"])
}

/// Appends ` (url:line)` when the event says where it came from; CDP lines count from 0.
fn with_location(text: &str, url: &Value, line: &Value) -> String {
    match (url.as_str().filter(|u| !u.is_empty()), line.as_u64()) {
        (Some(url), Some(line)) => format!("{text} ({url}:{})", line + 1),
        (Some(url), None) => format!("{text} ({url})"),
        _ => text.to_owned(),
    }
}

/// Returns the `file://` URL of an absolute path, percent-encoding all but unreserved bytes.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            url.push(char::from(b));
        } else {
            let _ = write!(url, "%{b:02X}");
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_percent_encoded() {
        assert_eq!(
            file_url(Path::new("/tmp/a b/rép.html")),
            "file:///tmp/a%20b/r%C3%A9p.html"
        );
    }

    #[test]
    fn own_page_and_inline_data_are_not_network_requests() {
        let mut check = Check {
            page_urls: vec!["file:///tmp/r.html".into()],
            ..Check::default()
        };
        for url in [
            "file:///tmp/r.html",
            "file:///tmp/r.html#top",
            "data:image/png;base64,AAAA",
            "http://example.invalid/x.png",
            "file:///tmp/other.css",
        ] {
            check.record(&json!({
                "method": "Network.requestWillBeSent",
                "params": { "request": { "url": url } },
            }));
        }
        assert_eq!(
            check.network_requests(),
            ["http://example.invalid/x.png", "file:///tmp/other.css"]
        );
        assert_eq!(check.problems(), 2);
    }

    #[test]
    fn console_errors_and_warnings_are_told_apart() {
        let mut check = Check::default();
        for kind in ["error", "warning", "log"] {
            check.record(&json!({
                "method": "Runtime.consoleAPICalled",
                "params": {
                    "type": kind,
                    "args": [{ "type": "string", "value": "x" }, { "type": "number", "value": 2 }],
                    "stackTrace": { "callFrames": [{ "url": "file:///r.html", "lineNumber": 4 }] },
                },
            }));
        }
        assert_eq!(check.console_errors, ["x 2 (file:///r.html:5)"]);
        assert_eq!(check.warnings.len(), 1);
        assert_eq!(check.problems(), 1);
    }
}
