//! The page around the charts and tables: head, inline style (screen and print), header with
//! notes, sections, and the small inline scripts that sort tables and zoom charts over time.
//!
//! Nothing is loaded from elsewhere: no fonts, images, style sheets or scripts by address, so the
//! page opens offline, as a mail attachment or from a file share, exactly as it was written.

use std::fmt::Write;

use super::format::escape;

const CSS: &str = "\
:root{color-scheme:light}\
body{margin:0;background:#f5f6f8;color:#1f2937;font:14px/1.45 system-ui,-apple-system,'Segoe UI',\
Roboto,Helvetica,Arial,sans-serif}\
main{max-width:1100px;margin:0 auto;padding:24px 20px}\
h1{font-size:22px;font-weight:600;margin:0 0 2px}\
h2{font-size:13px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:#4b5563;\
margin:0 0 12px}\
h3{font-size:13px;font-weight:600;margin:16px 0 6px;color:#374151}\
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;\
margin:0 0 16px}\
.sub{color:#6b7280;margin:0 0 12px}.note{color:#6b7280;font-size:12px;margin:6px 0}\
.notes{margin:0 0 16px;padding:8px 12px 8px 28px;background:#fffbeb;border:1px solid #fde68a;\
border-radius:8px;font-size:13px}\
nav{margin:0 0 16px;font-size:13px}nav a{color:#2563eb;margin-right:14px;text-decoration:none}\
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px;\
margin:0 0 16px}\
.kpis div{border-left:3px solid #e5e7eb;padding:2px 0 2px 10px}\
.kpis span{display:block;font-size:12px;color:#6b7280}\
.kpis b{font-size:17px;font-weight:600;font-variant-numeric:tabular-nums}\
.groups{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:8px 28px;\
align-items:start}\
caption{text-align:left;font-weight:600;color:#374151;padding:4px 0}\
figure{margin:0 0 14px}figcaption{font-size:13px;font-weight:600;color:#374151;margin:0 0 2px}\
svg.chart{display:block;width:100%;height:auto}\
svg.chart text{font-size:11px;fill:#4b5563}svg.chart text.key{fill:#1f2937}\
svg.chart .grid{stroke:#eef0f3;fill:none}svg.chart .frame{stroke:#9ca3af;fill:none}\
svg.empty text{font-style:italic;fill:#6b7280}\
figure{position:relative}svg.zoom{cursor:crosshair;touch-action:none}\
.zctl{margin-left:10px;font:inherit;font-size:11px;font-weight:400;padding:0 6px;color:#374151;\
background:#fff;border:1px solid #d1d5db;border-radius:4px;cursor:pointer}\
.ztip{position:absolute;top:28px;padding:4px 8px;background:#fff;border:1px solid #d1d5db;\
border-radius:4px;font-size:12px;font-variant-numeric:tabular-nums;white-space:nowrap;\
pointer-events:none;box-shadow:0 1px 3px rgba(0,0,0,.12)}\
.scroll{overflow:auto;max-height:560px}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13px}\
th,td{padding:4px 8px;text-align:right;white-space:nowrap;border-bottom:1px solid #f0f1f3}\
th:first-child,td:first-child{text-align:left}\
tbody th{font-weight:400;color:#4b5563}\
thead th{position:sticky;top:0;background:#fff;color:#6b7280;font-weight:600;\
border-bottom:1px solid #d1d5db}\
table.sortable thead th{cursor:pointer;user-select:none}\
th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}\
tr.group th{text-align:left;background:#f9fafb;color:#374151}\
td.neg{color:#b91c1c}\
@page{margin:12mm}\
@media print{body{background:#fff;font-size:12px}main{max-width:none;padding:0}\
section{border:0;border-radius:0;padding:0;margin:0 0 12px}nav{display:none}\
figure,.kpis,.groups,table.kv,tr{break-inside:avoid}h2,h3,figcaption{break-after:avoid}\
thead th{position:static}.scroll{max-height:none;overflow:visible}\
.zctl,.ztip,.zx{display:none}}";

/// Sorts a `table.sortable` on a header click: numbers (ignoring separators and `%`) by value
/// and before text, text as text, a second click reversing.
const SCRIPT: &str = "\
function sortKey(c){var t=c.textContent.trim(),n=t.replace(/[,%]/g,'');\
return /^-?\\d+(\\.\\d+)?$/.test(n)?[0,+n]:[1,t]}\
document.querySelectorAll('table.sortable').forEach(function(t){\
var hs=t.tHead.rows[0].cells;Array.prototype.forEach.call(hs,function(h,i){\
h.addEventListener('click',function(){\
var d=h.getAttribute('aria-sort')==='ascending'?-1:1;\
Array.prototype.forEach.call(hs,function(o){o.removeAttribute('aria-sort')});\
h.setAttribute('aria-sort',d>0?'ascending':'descending');\
var b=t.tBodies[0],r=Array.prototype.slice.call(b.rows);\
r.sort(function(x,y){var a=sortKey(x.cells[i]),c=sortKey(y.cells[i]);\
return d*(a[0]-c[0]||(a[1]<c[1]?-1:a[1]>c[1]?1:0))});\
r.forEach(function(e){b.appendChild(e)})})})});";

/// Zoom, pan and hover of the charts drawn zoomable (`svg.zoom`, see `Plot::zoom`); added only to
/// pages that have one.
const ZOOM: &str = include_str!("zoom.js");

/// A page being written: header first, then sections in order.
pub(super) struct Page {
    html: String,
}

impl Page {
    /// Starts a page with its title, a subtitle line and notes (explanations of n/a figures and
    /// empty charts; blank ones are skipped).
    pub(super) fn new(title: &str, subtitle: &str, notes: &[String]) -> Self {
        let title = escape(title);
        let mut html = String::with_capacity(256 * 1024);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{title}</title><style>{CSS}</style></head><body><main><header><h1>{title}</h1>"
        );
        if !subtitle.trim().is_empty() {
            let _ = write!(html, "<p class=\"sub\">{}</p>", escape(subtitle));
        }
        let notes: Vec<&String> = notes.iter().filter(|n| !n.trim().is_empty()).collect();
        if !notes.is_empty() {
            html.push_str("<ul class=\"notes\">");
            for note in notes {
                let _ = write!(html, "<li>{}</li>", escape(note));
            }
            html.push_str("</ul>");
        }
        html.push_str("</header>");
        Self { html }
    }

    /// Adds a line of in-page links: (section id, text).
    pub(super) fn nav(&mut self, links: &[(String, String)]) {
        self.html.push_str("<nav>");
        for (id, text) in links {
            let _ = write!(
                self.html,
                "<a href=\"#{}\">{}</a>",
                escape(id),
                escape(text)
            );
        }
        self.html.push_str("</nav>");
    }

    /// Adds a section with anchor `id`, a heading and its (already safe) HTML `body`.
    pub(super) fn section(&mut self, id: &str, heading: &str, body: &str) {
        let _ = write!(
            self.html,
            "<section id=\"{}\"><h2>{}</h2>{body}</section>",
            escape(id),
            escape(heading)
        );
    }

    /// Returns the finished page.
    pub(super) fn finish(mut self) -> String {
        let zoom = if self.html.contains("<svg class=\"chart zoom\"") {
            ZOOM
        } else {
            ""
        };
        let _ = writeln!(
            self.html,
            "</main><script>{SCRIPT}{zoom}</script></body></html>"
        );
        self.html
    }
}
