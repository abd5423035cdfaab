//! SVG plotting: a plot frame with two [`Axis`], and the marks every chart is made of (lines,
//! areas, bars, rectangles, cells, markers, a legend).
//!
//! Charts are drawn here rather than by a JavaScript library so the page needs no network and
//! prints as it shows. Coordinates carry at most one decimal and lines over [`MAX_POINTS`] are
//! reduced to the min and max of each bucket, which bounds the page size for any run length
//! while keeping every peak and trough visible.

use std::fmt::Write;

use super::axis::Axis;
use super::format::escape;

// `write!` into a `String` cannot fail, so its `Result` is dropped with `let _`.

/// Width of every chart in SVG user units; the page scales it to the column.
pub(super) const WIDTH: f64 = 960.0;
/// Lines with more points than this are downsampled before drawing.
pub(super) const MAX_POINTS: usize = 2500;
/// Points kept by downsampling (the min and the max of half as many buckets).
const KEPT_POINTS: usize = 2000;
/// Points per series a zoomable chart embeds for redrawing when zoomed in: the full series up
/// to this many, else the min and max of half as many buckets. Five times the drawn resolution
/// shows finer detail down to a fifth of the range while a year of minute bars stays near 1 MB.
pub(super) const DETAIL_POINTS: usize = 10_000;
const RIGHT: f64 = 20.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 30.0;
const LEGEND_ROW: f64 = 18.0;
/// Approximate width of one character of 11-unit text, to size margins and legends.
const CHAR: f64 = 6.4;

/// Colour of the strategy's own series.
pub(super) const BLUE: &str = "#2563eb";
/// Colour of reference series (the benchmark).
pub(super) const GREY: &str = "#9ca3af";
/// Colour of gains and buys.
pub(super) const GREEN: &str = "#16a34a";
/// Colour of losses, drawdowns and sells.
pub(super) const RED: &str = "#dc2626";
/// Distinct colours for overlaid runs, in order.
pub(super) const PALETTE: [&str; 8] = [
    "#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#78716c",
];

/// A chart under construction: a frame with two axes, and the marks drawn so far.
pub(super) struct Plot {
    name: &'static str,
    attrs: String,
    title: String,
    height: f64,
    left: f64,
    top: f64,
    x: Axis,
    y: Axis,
    body: String,
    legend: Vec<(String, String)>,
    /// The JSON the page's script redraws a zoomable chart from (see [`Plot::zoom`]).
    zoom: Option<String>,
}

/// One series a zoomable chart embeds: what it is drawn as, and its points in detail.
pub(super) struct Detail<'a> {
    /// Legend text, shown in the hover tooltip.
    pub(super) name: &'a str,
    /// Stroke or fill colour.
    pub(super) color: &'a str,
    /// `l` line, `a` area down to 0, `u` buy markers (up), `d` sell markers (down).
    pub(super) kind: char,
    /// Stroke width of a line.
    pub(super) width: f64,
    /// (UTC ns, value) points in time order.
    pub(super) points: Vec<(f64, f64)>,
}

/// How a zoomable chart's tooltip shows a value: `text` formats it as the page's tables do (its
/// thousands separators are left to the script), then `unit` follows; the text divided by `per`
/// is the value again, for drawing.
#[derive(Clone, Copy)]
pub(super) struct Tip {
    pub(super) text: fn(f64) -> String,
    pub(super) unit: &'static str,
    pub(super) per: f64,
}

impl Plot {
    /// Starts a chart named `name` (its `data-chart`) of `height` units, titled `title`.
    pub(super) fn new(name: &'static str, title: &str, height: f64, x: Axis, y: Axis) -> Self {
        // The left margin fits the longest y label (category names are cut at 36 characters).
        let longest = y
            .ticks(usize::MAX)
            .iter()
            .map(|(_, label)| label.chars().count().min(36))
            .max()
            .unwrap_or(0);
        Self {
            name,
            attrs: String::new(),
            title: title.to_string(),
            height,
            left: (longest as f64 * CHAR + 16.0).clamp(44.0, 260.0),
            top: TOP,
            x,
            y,
            body: String::with_capacity(4096),
            legend: Vec::new(),
            zoom: None,
        }
    }

    /// Adds the attribute `name="value"` to the `<svg>` element (the value is escaped).
    pub(super) fn attr(mut self, name: &str, value: &str) -> Self {
        let _ = write!(self.attrs, " {name}=\"{}\"", escape(value));
        self
    }

    /// Adds a legend of (name, colour) entries above the plot; call before drawing marks, as it
    /// takes room from the plot area.
    pub(super) fn legend(mut self, entries: &[(&str, &str)]) -> Self {
        self.legend = entries
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect();
        let (mut x, mut rows) = (self.left, 1.0);
        for (name, _) in &self.legend {
            let w = legend_width(name);
            if x + w > WIDTH - RIGHT && x > self.left {
                (x, rows) = (self.left, rows + 1.0);
            }
            x += w;
        }
        self.top = TOP + LEGEND_ROW * rows;
        self
    }

    /// Makes the chart zoomable (see `page::ZOOM`): its marks are redrawn by the page's script
    /// from `series`, embedded as JSON after the `<svg>`. Values are embedded as the text the
    /// tooltip shows (`tip`), so a hovered value is the data's figure exactly as a table prints
    /// it; times as whole seconds, the first absolute and the rest as differences, to keep the
    /// page small. `reuse` names an earlier chart whose series this one draws (the log equity
    /// chart draws the equity chart's), so they are embedded once.
    pub(super) fn zoom(mut self, series: &[Detail<'_>], tip: Tip, reuse: Option<&str>) -> Self {
        let (
            Axis::Time { lo, hi },
            Axis::Value {
                lo: ylo,
                hi: yhi,
                log,
                ..
            },
        ) = (&self.x, &self.y)
        else {
            return self;
        };
        let mut json = String::with_capacity(64 + series.len() * DETAIL_POINTS * 16);
        let _ = write!(
            json,
            "{{\"g\":[{},{},{},{}],\"x\":[{},{}],\"y\":[{ylo},{yhi},{}],\"u\":{},\"m\":{}",
            self.left,
            WIDTH - RIGHT,
            self.top,
            self.bottom(),
            *lo as f64 / 1e9,
            *hi as f64 / 1e9,
            u8::from(*log),
            json_str(tip.unit),
            1.0 / tip.per,
        );
        if let Some(name) = reuse {
            let _ = write!(json, ",\"r\":{}}}", json_str(name));
            self.zoom = Some(json);
            return self;
        }
        json.push_str(",\"s\":[");
        for (k, s) in series.iter().enumerate() {
            let _ = write!(
                json,
                "{}{{\"n\":{},\"c\":{},\"k\":\"{}\",\"w\":{},\"t\":[",
                if k > 0 { "," } else { "" },
                json_str(s.name),
                json_str(s.color),
                s.kind,
                s.width
            );
            let mut last = 0;
            for (i, p) in s.points.iter().enumerate() {
                let t = (p.0 / 1e9).round() as i64;
                let _ = write!(json, "{}{}", if i > 0 { "," } else { "" }, t - last);
                last = t;
            }
            json.push_str("],\"v\":\"");
            for (i, p) in s.points.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                json.push_str(&(tip.text)(p.1).replace(',', ""));
            }
            json.push_str("\"}");
        }
        json.push_str("]}");
        self.zoom = Some(json);
        self
    }

    fn bottom(&self) -> f64 {
        self.height - BOTTOM
    }

    /// Returns the x pixel of data coordinate `v`.
    pub(super) fn px(&self, v: f64) -> f64 {
        self.left + self.x.frac(v) * (WIDTH - RIGHT - self.left)
    }

    /// Returns the y pixel of data coordinate `v` (categories run top-down).
    pub(super) fn py(&self, v: f64) -> f64 {
        let f = self.y.frac(v);
        let f = if matches!(self.y, Axis::Bands(_)) {
            1.0 - f
        } else {
            f
        };
        self.bottom() - f * (self.bottom() - self.top)
    }

    /// Returns the pixel extent (start, end) of band `i` on the x axis, less `pad` of its width
    /// on each side.
    fn band_x(&self, i: usize, pad: f64) -> (f64, f64) {
        let w = (WIDTH - RIGHT - self.left) / self.x.bands().max(1) as f64;
        let x = self.left + w * i as f64;
        (x + w * pad, x + w * (1.0 - pad))
    }

    /// Returns the pixel extent (top, bottom) of band `i` on the y axis, less `pad` each side.
    fn band_y(&self, i: usize, pad: f64) -> (f64, f64) {
        let h = (self.bottom() - self.top) / self.y.bands().max(1) as f64;
        let y = self.top + h * i as f64;
        (y + h * pad, y + h * (1.0 - pad))
    }

    /// Draws a line through `points` (data coordinates); points off the scale break it.
    pub(super) fn line(&mut self, points: &[(f64, f64)], color: &str, width: f64) {
        let d = self.path(points);
        if !d.contains(' ') {
            // One point draws no line; a dot shows where it is.
            if let Some(&(x, y)) = points
                .iter()
                .find(|p| self.px(p.0).is_finite() && self.py(p.1).is_finite())
            {
                let (px, py) = (self.px(x), self.py(y));
                self.rect(px - 2.0, py - 2.0, 4.0, 4.0, color);
            }
        } else {
            let _ = write!(
                self.body,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\" \
                 stroke-linejoin=\"round\"/>"
            );
        }
    }

    /// Draws `points` as a line with the area between it and `base` shaded.
    pub(super) fn area(&mut self, points: &[(f64, f64)], base: f64, color: &str) {
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return;
        };
        let line = self.path(points);
        let y0 = self.py(base);
        if line.is_empty() || !y0.is_finite() {
            return;
        }
        let mut d = String::with_capacity(line.len() + 32);
        d.push('M');
        push_xy(&mut d, self.px(first.0), y0);
        d.push(' ');
        d.push_str(line.trim_start_matches('M'));
        d.push(' ');
        push_xy(&mut d, self.px(last.0), y0);
        d.push('Z');
        let _ = write!(
            self.body,
            "<path d=\"{d}\" fill=\"{color}\" fill-opacity=\".18\" stroke=\"none\"/>"
        );
        self.line(points, color, 1.2);
    }

    /// Returns the path data of a polyline, starting a new subpath after a gap (a point that
    /// maps off the scale, such as a loss on a log axis); consecutive duplicates are dropped.
    /// Pairs after a moveto are implicit linetos, which keeps the data short.
    fn path(&self, points: &[(f64, f64)]) -> String {
        let mut d = String::with_capacity(points.len() * 12);
        let (mut pen_down, mut last) = (false, String::new());
        for &(x, y) in points {
            let (px, py) = (self.px(x), self.py(y));
            if !(px.is_finite() && py.is_finite()) {
                pen_down = false;
                continue;
            }
            let mut xy = String::new();
            push_xy(&mut xy, px, py);
            if pen_down && xy == last {
                continue;
            }
            d.push(if pen_down { ' ' } else { 'M' });
            d.push_str(&xy);
            pen_down = true;
            last = xy;
        }
        d
    }

    /// Draws a bar for band `i` from 0 to `v`, vertical on an x band axis and horizontal on a y
    /// band axis; `slot` of `slots` places grouped bars side by side within the band.
    pub(super) fn bar(&mut self, i: usize, v: f64, color: &str, slot: (usize, usize)) {
        let (at, of) = (slot.0 as f64, slot.1.max(1) as f64);
        let vertical = matches!(self.x, Axis::Bands(_));
        let (a, b) = if vertical {
            self.band_x(i, 0.15)
        } else {
            self.band_y(i, 0.18)
        };
        let w = (b - a) / of;
        let (a, b) = (a + w * at, a + w * (at + 1.0));
        let (z, end) = if vertical {
            (self.py(0.0), self.py(v))
        } else {
            (self.px(0.0), self.px(v))
        };
        if !(z.is_finite() && end.is_finite()) {
            return;
        }
        // A zero bar keeps half a unit so it still shows where the value is.
        let (lo, len) = (z.min(end), (z - end).abs().max(0.5));
        if vertical {
            self.rect(a, lo, b - a, len, color);
        } else {
            self.rect(lo, a, len, b - a, color);
        }
    }

    /// Draws a filled rectangle between data coordinates (x0, y0) and (x1, y1).
    pub(super) fn span(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), color: &str) {
        let (a, b, c, d) = (self.px(x0), self.px(x1), self.py(y0), self.py(y1));
        if [a, b, c, d].iter().all(|v| v.is_finite()) {
            self.rect(a.min(b), c.min(d), (a - b).abs(), (c - d).abs(), color);
        }
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: &str) {
        self.body.push_str("<rect x=\"");
        push_num(&mut self.body, x);
        self.body.push_str("\" y=\"");
        push_num(&mut self.body, y);
        self.body.push_str("\" width=\"");
        push_num(&mut self.body, w.max(0.1));
        self.body.push_str("\" height=\"");
        push_num(&mut self.body, h.max(0.1));
        let _ = write!(self.body, "\" fill=\"{color}\"/>");
    }

    /// Fills the cell of x band `i` and y band `j` with `fill` and writes `text` in it (when
    /// it fits), bold when `bold`.
    pub(super) fn cell(&mut self, (i, j): (usize, usize), fill: &str, text: &str, bold: bool) {
        let ((x0, x1), (y0, y1)) = (self.band_x(i, 0.02), self.band_y(j, 0.04));
        self.rect(x0, y0, x1 - x0, y1 - y0, fill);
        if (text.chars().count() as f64) * CHAR < x1 - x0 {
            let weight = if bold { " font-weight=\"600\"" } else { "" };
            self.text(
                (x0 + x1) / 2.0,
                (y0 + y1) / 2.0 + 4.0,
                "middle",
                text,
                weight,
            );
        }
    }

    /// Draws a dashed reference line at value `v` (e.g. zero) of the value axis: horizontal,
    /// or vertical when the categories are on the y axis.
    pub(super) fn rule(&mut self, v: f64) {
        let d = if matches!(self.y, Axis::Bands(_)) {
            let x = self.px(v);
            x.is_finite().then(|| {
                let mut d = String::from("M");
                push_xy(&mut d, x, self.top);
                d.push('V');
                push_num(&mut d, self.bottom());
                d
            })
        } else {
            let y = self.py(v);
            y.is_finite().then(|| {
                let mut d = String::from("M");
                push_xy(&mut d, self.left, y);
                d.push('H');
                push_num(&mut d, WIDTH - RIGHT);
                d
            })
        };
        if let Some(d) = d {
            let _ = write!(
                self.body,
                "<path class=\"rule\" d=\"{d}\" stroke=\"#6b7280\" stroke-dasharray=\"3 3\"/>"
            );
        }
    }

    /// Draws triangle markers at `points`: pointing up below the point when `up`, else down
    /// above it, so a marker never hides the price it marks.
    pub(super) fn markers(&mut self, points: &[(f64, f64)], up: bool, color: &str) {
        let mut d = String::with_capacity(points.len() * 24);
        for &(x, y) in points {
            let (px, py) = (self.px(x), self.py(y));
            if px.is_finite() && py.is_finite() {
                d.push('M');
                let (tip, rel) = if up {
                    (py + 2.0, "l-5,9h10z")
                } else {
                    (py - 2.0, "l-5,-9h10z")
                };
                push_xy(&mut d, px, tip);
                d.push_str(rel);
            }
        }
        if !d.is_empty() {
            let _ = write!(
                self.body,
                "<path d=\"{d}\" fill=\"{color}\" stroke=\"#fff\" stroke-width=\".5\"/>"
            );
        }
    }

    /// Writes a value label next to the end of bar `i` (see [`Plot::bar`]).
    pub(super) fn bar_label(&mut self, i: usize, v: f64, text: &str) {
        if matches!(self.x, Axis::Bands(_)) {
            let (a, b) = self.band_x(i, 0.0);
            let y = self.py(v) + if v < 0.0 { 13.0 } else { -4.0 };
            self.text((a + b) / 2.0, y, "middle", text, "");
        } else {
            let (a, b) = self.band_y(i, 0.0);
            let (x, anchor) = if v < 0.0 {
                (self.px(v) - 4.0, "end")
            } else {
                (self.px(v) + 4.0, "start")
            };
            self.text(x, (a + b) / 2.0 + 4.0, anchor, text, "");
        }
    }

    fn text(&mut self, x: f64, y: f64, anchor: &str, text: &str, extra: &str) {
        if x.is_finite() && y.is_finite() {
            self.body.push_str("<text x=\"");
            push_num(&mut self.body, x);
            self.body.push_str("\" y=\"");
            push_num(&mut self.body, y);
            let _ = write!(
                self.body,
                "\" text-anchor=\"{anchor}\"{extra}>{}</text>",
                escape(text)
            );
        }
    }

    /// Returns the finished `<svg>`: title, grid and axes, the marks, then the legend.
    pub(super) fn finish(self) -> String {
        let (h, bottom, right) = (self.height, self.bottom(), WIDTH - RIGHT);
        let zoom = self.zoom.is_some();
        let mut svg = String::with_capacity(self.body.len() + 4096);
        let _ = write!(
            svg,
            "<figure><figcaption>{title}</figcaption><svg class=\"chart{}\" data-chart=\"{}\"{} \
             viewBox=\"0 0 {WIDTH} {h}\" role=\"img\"><title>{title}</title><g class=\"axis\">",
            if zoom { " zoom" } else { "" },
            self.name,
            self.attrs,
            title = escape(&self.title)
        );
        for (v, label) in self.y.ticks(usize::MAX) {
            let y = self.py(v);
            if !y.is_finite() {
                continue;
            }
            let label = truncate(&label, 36);
            if !matches!(self.y, Axis::Bands(_)) {
                svg.push_str("<path class=\"grid\" d=\"M");
                push_xy(&mut svg, self.left, y);
                svg.push('H');
                push_num(&mut svg, right);
                svg.push_str("\"/>");
            }
            svg.push_str("<text x=\"");
            push_num(&mut svg, self.left - 6.0);
            svg.push_str("\" y=\"");
            push_num(&mut svg, y + 4.0);
            let _ = write!(svg, "\" text-anchor=\"end\">{}</text>", escape(&label));
        }
        svg.push_str("<path class=\"frame\" d=\"M");
        push_xy(&mut svg, self.left, bottom);
        svg.push('H');
        push_num(&mut svg, right);
        svg.push_str("\"/>");
        // Labels of x bands are thinned to what fits at about 7 characters each.
        let fit = ((right - self.left) / (8.0 * CHAR)) as usize;
        // The script of a zoomable chart rewrites its x ticks and marks, so each has a group.
        if zoom {
            svg.push_str("<g class=\"xa\">");
        }
        for (v, label) in self.x.ticks(fit) {
            let x = self.px(v);
            if !x.is_finite() {
                continue;
            }
            // Labels near the ends are moved inward so they are not cut off.
            let half = label.chars().count() as f64 * CHAR / 2.0;
            let tx = x.clamp(half + 2.0, WIDTH - half - 2.0);
            svg.push_str("<path class=\"frame\" d=\"M");
            push_xy(&mut svg, x, bottom);
            svg.push_str("v4\"/><text x=\"");
            push_num(&mut svg, tx);
            svg.push_str("\" y=\"");
            push_num(&mut svg, bottom + 17.0);
            let _ = write!(svg, "\" text-anchor=\"middle\">{}</text>", escape(&label));
        }
        svg.push_str(if zoom {
            "</g></g><g class=\"marks\">"
        } else {
            "</g>"
        });
        svg.push_str(&self.body);
        if zoom {
            svg.push_str("</g>");
        }
        let (mut x, mut y) = (self.left, TOP);
        for (name, color) in &self.legend {
            let w = legend_width(name);
            if x + w > right && x > self.left {
                (x, y) = (self.left, y + LEGEND_ROW);
            }
            svg.push_str("<rect x=\"");
            push_num(&mut svg, x);
            svg.push_str("\" y=\"");
            push_num(&mut svg, y - 4.0);
            let _ = write!(
                svg,
                "\" width=\"14\" height=\"8\" rx=\"2\" fill=\"{color}\"/><text class=\"key\" x=\""
            );
            push_num(&mut svg, x + 20.0);
            svg.push_str("\" y=\"");
            push_num(&mut svg, y + 4.0);
            let _ = write!(svg, "\">{}</text>", escape(name));
            x += w;
        }
        svg.push_str("</svg>");
        if let Some(json) = &self.zoom {
            let _ = write!(svg, "<script type=\"application/json\">{json}</script>");
        }
        svg.push_str("</figure>");
        svg
    }
}

/// Returns a placeholder for a chart without data: same name, class `empty`, and why.
pub(super) fn empty(name: &'static str, title: &str, why: &str) -> String {
    format!(
        "<figure><figcaption>{title}</figcaption><svg class=\"chart empty\" data-chart=\"{name}\" \
         viewBox=\"0 0 {WIDTH} 60\" role=\"img\"><title>{title}</title>\
         <text x=\"{}\" y=\"34\" text-anchor=\"middle\">{}</text></svg></figure>",
        WIDTH / 2.0,
        escape(why),
        title = escape(title),
    )
}

/// Returns the colour of `v` on a diverging scale around 0: white at 0, saturating to green
/// (positive) or red (negative) at `|v| >= scale`.
pub(super) fn diverging(v: f64, scale: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let t = if scale > 0.0 {
        (v.abs() / scale).min(1.0)
    } else {
        0.0
    };
    let (r, g, b) = if v < 0.0 {
        (220.0, 38.0, 38.0)
    } else {
        (22.0, 163.0, 74.0)
    };
    // Half strength at most, so the dark value text on the cell stays readable.
    let a = if v == 0.0 { 0.0 } else { 0.08 + 0.5 * t };
    let mix = |c: f64| (255.0 + (c - 255.0) * a).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(r), mix(g), mix(b))
}

/// Returns `text` as a JSON string; `<` is escaped so no text can end the page's `<script>`.
fn json_str(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Returns the finite (time, value) points of parallel columns, downsampled to the min and max
/// of each bucket when there are more than [`MAX_POINTS`], so no extreme is lost.
pub(super) fn points(ts: &[i64], values: &[f64]) -> Vec<(f64, f64)> {
    downsample(ts, values, MAX_POINTS, KEPT_POINTS)
}

/// Returns the points a zoomable chart embeds: as [`points`], to [`DETAIL_POINTS`].
pub(super) fn detail(ts: &[i64], values: &[f64]) -> Vec<(f64, f64)> {
    downsample(ts, values, DETAIL_POINTS, DETAIL_POINTS)
}

/// Returns the finite points, the min and max of each of `kept / 2` buckets when more than `max`.
fn downsample(ts: &[i64], values: &[f64], max: usize, kept: usize) -> Vec<(f64, f64)> {
    let all: Vec<(f64, f64)> = ts
        .iter()
        .zip(values)
        .filter(|(_, v)| v.is_finite())
        .map(|(&t, &v)| (t as f64, v))
        .collect();
    if all.len() <= max {
        return all;
    }
    let bucket = all.len().div_ceil(kept / 2);
    let mut out = Vec::with_capacity(kept + 2);
    for chunk in all.chunks(bucket) {
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[lo].1 {
                lo = i;
            }
            if p.1 > chunk[hi].1 {
                hi = i;
            }
        }
        out.push(chunk[lo.min(hi)]);
        if lo != hi {
            out.push(chunk[lo.max(hi)]);
        }
    }
    out
}

fn legend_width(name: &str) -> f64 {
    name.chars().count().min(40) as f64 * CHAR + 36.0
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).chain(['\u{2026}']).collect()
    }
}

/// Appends `v` with at most one decimal ("12", "12.5"), never "-0".
fn push_num(out: &mut String, v: f64) {
    let r = (v * 10.0).round() / 10.0 + 0.0;
    if r == r.trunc() {
        let _ = write!(out, "{r:.0}");
    } else {
        let _ = write!(out, "{r:.1}");
    }
}

fn push_xy(out: &mut String, x: f64, y: f64) {
    push_num(out, x);
    out.push(',');
    push_num(out, y);
}

#[cfg(test)]
mod tests {
    use super::super::axis::Fmt;
    use super::super::format::NS_PER_DAY;
    use super::*;

    const DAY: i64 = NS_PER_DAY;

    #[test]
    fn downsampling_keeps_extremes_in_order() {
        let ts: Vec<i64> = (0..100_000).collect();
        let mut values: Vec<f64> = ts.iter().map(|&i| (i as f64 * 0.001).sin()).collect();
        values[77_777] = -50.0;
        values[100] = f64::NAN;
        let kept = points(&ts, &values);
        assert!(kept.len() <= KEPT_POINTS && kept.len() > KEPT_POINTS / 2);
        assert!(kept.contains(&(77_777.0, -50.0)));
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(kept.iter().all(|p| p.1.is_finite()));
    }

    #[test]
    fn coordinates_have_one_decimal_at_most() {
        let mut out = String::new();
        for v in [12.0, 12.04, -0.04, 3.25, 1e6 / 3.0] {
            push_num(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "12 12 0 3.3 333333.3 ");
    }

    #[test]
    fn plot_draws_lines_bars_and_legend() {
        let x = Axis::time([0, 10 * DAY]).unwrap();
        let y = Axis::value([1.0, 2.0], Fmt::Number, false).unwrap();
        let mut plot = Plot::new("t", "A <test>", 200.0, x, y).legend(&[("a", BLUE), ("b", GREY)]);
        plot.line(&[(0.0, 1.0), (5.0 * DAY as f64, 2.0)], BLUE, 1.5);
        plot.line(&[(0.0, 1.5)], GREY, 1.0);
        let svg = plot.finish();
        assert!(svg.contains("<svg class=\"chart\" data-chart=\"t\""));
        assert!(svg.contains("<title>A &lt;test&gt;</title>"));
        assert_eq!(svg.matches("<path d=\"M").count(), 1, "{svg}");
        assert_eq!(
            svg.matches("<rect").count(),
            3,
            "a dot and two legend keys: {svg}"
        );
        assert!(svg.ends_with("</svg></figure>"));
        let bars = Axis::Bands(vec!["2020".into(), "2021".into()]);
        let y = Axis::value([-0.1, 0.2], Fmt::Percent, true).unwrap();
        let mut plot = Plot::new("b", "bars", 200.0, bars, y);
        plot.bar(0, -0.1, RED, (0, 1));
        plot.bar(1, 0.0, GREEN, (0, 1));
        assert_eq!(plot.finish().matches("<rect").count(), 2);
    }

    #[test]
    fn diverging_colours() {
        assert_eq!(diverging(0.0, 1.0), "#ffffff");
        assert_ne!(diverging(0.1, 0.2), diverging(-0.1, 0.2));
        assert_eq!(diverging(5.0, 1.0), diverging(1.0, 1.0));
        assert_eq!(diverging(f64::NAN, 1.0), diverging(0.0, 0.0));
    }
}
