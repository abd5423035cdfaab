// Zoom, pan and hover for the charts marked svg.zoom (equity, drawdown, prices): wheel zooms the
// time axis around the cursor, a drag pans, a double-click or the Reset button shows the whole run
// again, and the hover tooltip shows each line's value at the nearest point. All zoomable charts
// share one time window, so they stay linked. Each chart's data follows it as JSON (see
// report/src/svg.rs, Plot::zoom): values are kept as the text the tables print, so a tooltip shows
// the figure exactly. The y axis keeps the whole run's range, so a zoomed shape reads against it.
(function () {
  var C = [], V = null, LO = Number.MAX_VALUE, HI = -Number.MAX_VALUE, drag = null;
  document.querySelectorAll('svg.zoom').forEach(function (svg) {
    var d = JSON.parse(svg.nextElementSibling.textContent);
    (d.s || []).forEach(function (s) {
      var t = 0;
      s.t = s.t.map(function (x) { return t += x; });
      s.vs = s.v ? s.v.split(',') : [];
      s.v = s.vs.map(function (x) { return +x * d.m; });
    });
    C.push({ svg: svg, d: d, name: svg.getAttribute('data-chart') });
    LO = Math.min(LO, d.x[0]); HI = Math.max(HI, d.x[1]);
  });
  C.forEach(function (c, i) {
    var d = c.d, svg = c.svg, g = d.g, m = svg.querySelector('g.marks');
    if (d.r) d.s = (C.filter(function (o) { return o.name === d.r; })[0] || { d: { s: [] } }).d.s;
    // Reference lines do not move with time: out of the redrawn group.
    m.querySelectorAll('.rule').forEach(function (e) { svg.insertBefore(e, m); });
    c.marks = m; c.xa = svg.querySelector('g.xa'); c.home = [m.innerHTML, c.xa.innerHTML];
    c.w = svg.viewBox.baseVal.width;
    var clip = el(el(svg, 'defs', {}), 'clipPath', { id: 'zclip' + i });
    el(clip, 'rect', { x: g[0], y: 0, width: g[1] - g[0], height: svg.viewBox.baseVal.height });
    m.setAttribute('clip-path', 'url(#zclip' + i + ')');
    c.cross = el(svg, 'path', { 'class': 'zx', stroke: '#6b7280', 'stroke-dasharray': '2 2', display: 'none' });
    c.tip = document.createElement('div'); c.tip.className = 'ztip'; c.tip.hidden = true;
    svg.parentNode.appendChild(c.tip);
    var cap = svg.parentNode.querySelector('figcaption'), b = document.createElement('button');
    b.type = 'button'; b.className = 'zctl'; b.textContent = 'Reset zoom';
    b.title = 'Wheel to zoom, drag to pan, double-click to reset';
    b.addEventListener('click', function () { set(null); });
    cap.appendChild(b);
    svg.addEventListener('wheel', function (e) {
      var sx = at(c, e);
      if (sx < g[0] || sx > g[1]) return;
      e.preventDefault();
      var v = V || d.x, t = time(c, sx), f = e.deltaY < 0 ? 0.8 : 1.25;
      set([t - (t - v[0]) * f, t + (v[1] - t) * f]);
    }, { passive: false });
    svg.addEventListener('mousedown', function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      drag = { c: c, x: e.clientX, v: V || d.x };
    });
    svg.addEventListener('dblclick', function () { set(null); });
    svg.addEventListener('mousemove', function (e) { if (!drag) hover(c, at(c, e)); });
    svg.addEventListener('mouseleave', function () { hover(c, -1); });
  });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    var c = drag.c, g = c.d.g, v = drag.v, r = c.svg.getBoundingClientRect();
    var dt = (e.clientX - drag.x) / r.width * c.w / (g[1] - g[0]) * (v[1] - v[0]);
    set([v[0] - dt, v[1] - dt]);
  });
  window.addEventListener('mouseup', function () { drag = null; });

  function el(parent, name, attrs) {
    var e = document.createElementNS(parent.namespaceURI, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }
  // The x of a mouse event in SVG units.
  function at(c, e) {
    var r = c.svg.getBoundingClientRect();
    return (e.clientX - r.left) / r.width * c.w;
  }
  function time(c, sx) {
    var v = V || c.d.x, g = c.d.g;
    return v[0] + (sx - g[0]) / (g[1] - g[0]) * (v[1] - v[0]);
  }
  // Sets the shared window (null: the whole run), kept within the data and to at least 1/2000
  // of it, where the embedded detail runs out; then redraws every chart.
  function set(v) {
    if (v) {
      var span = Math.max(v[1] - v[0], (HI - LO) / 2000);
      if (span >= HI - LO) v = null;
      else {
        var a = Math.min(Math.max(v[0], LO), HI - span);
        v = [a, a + span];
      }
    }
    V = v;
    C.forEach(draw);
  }
  // First index with a[i] >= x.
  function lb(a, x) {
    var lo = 0, hi = a.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (a[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function nearest(a, x) {
    var i = lb(a, x);
    return i > 0 && (i === a.length || x - a[i - 1] < a[i] - x) ? i - 1 : i;
  }
  function draw(c) {
    var d = c.d, g = d.g, svg = c.svg;
    if (!V) {
      c.marks.innerHTML = c.home[0]; c.xa.innerHTML = c.home[1];
      svg.removeAttribute('data-view');
      return;
    }
    var a = V[0], b = V[1], W = g[1] - g[0], h = '';
    svg.setAttribute('data-view', Math.round(a) + ',' + Math.round(b));
    function X(t) { return (g[0] + (t - a) / (b - a) * W).toFixed(1); }
    function Y(v) {
      var y = d.y, f = y[2] ? Math.log(v / y[0]) / Math.log(y[1] / y[0]) : (v - y[0]) / (y[1] - y[0]);
      return (g[3] - f * (g[3] - g[2])).toFixed(1);
    }
    d.s.slice().reverse().forEach(function (s) {
      var i = Math.max(lb(s.t, a) - 1, 0), j = Math.min(lb(s.t, b) + 1, s.t.length);
      // More points than pixels: each bucket's min and max, as the page was drawn.
      var step = Math.max(1, Math.floor((j - i) / (2 * W))), p = [];
      for (var k = i; k < j; k += step) {
        var lo = k, hi = k;
        for (var q = k + 1; q < Math.min(k + step, j); q++) {
          if (s.v[q] < s.v[lo]) lo = q;
          if (s.v[q] > s.v[hi]) hi = q;
        }
        p.push(Math.min(lo, hi));
        if (lo !== hi) p.push(Math.max(lo, hi));
      }
      var xy = p.map(function (q) { return [X(s.t[q]), Y(s.v[q])]; })
        .filter(function (z) { return isFinite(z[1]); });
      if (!xy.length) return;
      if (s.k === 'u' || s.k === 'd') {
        var mk = xy.map(function (z) {
          return s.k === 'u' ? 'M' + z[0] + ',' + (+z[1] + 2) + 'l-5,9h10z' : 'M' + z[0] + ',' + (z[1] - 2) + 'l-5,-9h10z';
        });
        h += '<path d="' + mk.join('') + '" fill="' + s.c + '" stroke="#fff" stroke-width=".5"/>';
        return;
      }
      var line = xy.join(' ');
      if (s.k === 'a') {
        var z = Y(0);
        h += '<path d="M' + xy[0][0] + ',' + z + ' ' + line + ' ' + xy[xy.length - 1][0] + ',' + z +
          'Z" fill="' + s.c + '" fill-opacity=".18" stroke="none"/>';
      }
      h += '<path d="M' + line + '" fill="none" stroke="' + s.c + '" stroke-width="' +
        (s.k === 'a' ? 1.2 : s.w) + '" stroke-linejoin="round"/>';
    });
    c.marks.innerHTML = h;
    // Ticks at a round step that gives at most seven labels.
    var steps = [60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400, 91 * 86400, 365 * 86400];
    var st = steps.filter(function (s) { return (b - a) / s <= 7; })[0] || 365 * 86400 * Math.ceil((b - a) / 7 / 365 / 86400);
    var x = '';
    for (var t = Math.ceil(a / st) * st; t <= b; t += st) {
      var label = st < 86400 ? date(t).slice(5) : date(t).slice(0, 10);
      x += '<path class="frame" d="M' + X(t) + ',' + g[3] + 'v4"/><text x="' + X(t) + '" y="' + (g[3] + 17) +
        '" text-anchor="middle">' + label + '</text>';
    }
    c.xa.innerHTML = x;
  }
  // A UTC time as the tables print it: the date, and the time of day unless midnight.
  function date(t) {
    var s = new Date(t * 1000).toISOString();
    return t % 86400 ? s.slice(0, 10) + ' ' + s.slice(11, 16) : s.slice(0, 10);
  }
  // Thousands separators, as the tables print numbers.
  function sep(s) {
    return /e/.test(s) ? s : s.replace(/^(-?\d+)/, function (n) { return n.replace(/\B(?=(\d{3})+$)/g, ','); });
  }
  // The crosshair at the point nearest `sx` (SVG x) in every chart, and the tooltip in chart c.
  // A few units beyond the plot count as its edge, so the first and last points are easy to hit
  // (mouse positions are whole pixels); further out hides them.
  function hover(c, sx) {
    var g = c.d.g, lines = c.d.s.filter(function (s) { return s.k === 'l' || s.k === 'a'; });
    sx = sx < g[0] && sx > g[0] - 4 ? g[0] : sx > g[1] && sx < g[1] + 4 ? g[1] : sx;
    if (sx < g[0] || sx > g[1] || !lines.length || !lines[0].t.length) {
      C.forEach(function (o) { o.cross.setAttribute('display', 'none'); o.tip.hidden = true; });
      return;
    }
    var t = lines[0].t[nearest(lines[0].t, time(c, sx))], rows = [date(t)];
    lines.forEach(function (s) {
      if (s.t.length) rows.push(s.n + ': ' + sep(s.vs[nearest(s.t, t)]) + c.d.u);
    });
    C.forEach(function (o) {
      var v = V || o.d.x, og = o.d.g, x = og[0] + (t - v[0]) / (v[1] - v[0]) * (og[1] - og[0]);
      var show = x >= og[0] && x <= og[1];
      o.cross.setAttribute('display', show ? 'inline' : 'none');
      if (show) o.cross.setAttribute('d', 'M' + x.toFixed(1) + ',' + og[2] + 'V' + og[3]);
    });
    var tip = c.tip, f = sx / c.w;
    tip.innerHTML = '';
    rows.forEach(function (r) { var e = document.createElement('div'); e.textContent = r; tip.appendChild(e); });
    tip.hidden = false;
    // Beside the cursor, on the side with more room.
    tip.style.left = f < 0.5 ? (f * 100 + 1) + '%' : '';
    tip.style.right = f < 0.5 ? '' : ((1 - f) * 100 + 1) + '%';
  }
})();
