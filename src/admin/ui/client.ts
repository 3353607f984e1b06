/**
 * The dashboard's browser script (`GET /ui/app.js`), plain ES2020 in a string (see page.ts for
 * why a string). It subscribes to `/ui/events` (EventSource reconnects by itself), re-renders
 * on every `state` event, and posts the explain form to `/ui/explain`. Every value from the
 * server goes into the DOM through textContent/attributes, never innerHTML: names come from
 * user YAML. No backticks or `${` below: the script lives inside a template literal.
 */
export const CLIENT_JS = String.raw`(function () {
'use strict';
var $ = function (id) { return document.getElementById(id); };
var SVGNS = 'http://www.w3.org/2000/svg';
// Columns leave ~210 px between nodes: room for an edge label (rate · errors · p99).
var NODE_W = 150, NODE_H = 44, COL_W = 360, ROW_H = 74, PAD = 30;

function el(tag, attrs, children) {
  var e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}
function sv(tag, attrs, children) {
  var e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}
function setAttrs(e, attrs) {
  if (!attrs) return;
  Object.keys(attrs).forEach(function (k) {
    var v = attrs[k];
    if (v === null || v === undefined || v === false) return;
    if (k === 'text') e.textContent = String(v);
    else if (k === 'class') e.setAttribute('class', v);
    // Through the CSSOM: the Content-Security-Policy blocks style attributes.
    else if (k === 'style') e.style.cssText = v;
    else e.setAttribute(k, String(v));
  });
}
function append(e, children) {
  if (children === undefined || children === null) return;
  (Array.isArray(children) ? children : [children]).forEach(function (c) {
    if (c === null || c === undefined || c === false) return;
    e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  });
}
function replace(id, children) {
  var host = $(id);
  host.replaceChildren.apply(host, (Array.isArray(children) ? children : [children]).filter(Boolean));
}

function fmtRps(x) { return x === null || x === undefined ? '–' : x.toFixed(x < 10 ? 2 : 1); }
function fmtPct(x) { return x === null || x === undefined ? '–' : (x * 100).toFixed(x < 0.1 ? 1 : 0) + '%'; }
function fmtMs(x) { return x === null || x === undefined ? '–' : (x < 10 ? x.toFixed(1) : Math.round(x)) + 'ms'; }
function hue(s) { var h = 0; for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0; return h % 360; }
function shortHost(h) { return h.split('.')[0]; }

// ---------------------------------------------------------------- graph

function layout(nodes, edges) {
  var depth = {}, linked = {};
  nodes.forEach(function (n) { depth[n.id] = 0; });
  var real = edges.filter(function (e) { return e.source !== e.target && e.source in depth && e.target in depth; });
  real.forEach(function (e) { linked[e.source] = true; linked[e.target] = true; });
  // Longest path from the callers, bounded so a call cycle cannot loop forever.
  for (var i = 0; i < nodes.length; i++) {
    var changed = false;
    real.forEach(function (e) {
      var d = depth[e.source] + 1;
      if (d > depth[e.target] && d <= nodes.length) { depth[e.target] = d; changed = true; }
    });
    if (!changed) break;
  }
  // A node without traffic sits with its app's other versions, else next to the callers.
  var appDepth = {};
  nodes.forEach(function (n) { if (linked[n.id] && n.app !== 'unknown' && !(n.app in appDepth)) appDepth[n.app] = depth[n.id]; });
  nodes.forEach(function (n) {
    if (!linked[n.id]) depth[n.id] = n.kind === 'proxy' && n.proxies.some(function (p) { return p.role === 'gateway'; }) ? 0 : (n.app in appDepth ? appDepth[n.app] : 1);
  });
  var cols = {};
  nodes.forEach(function (n) { (cols[depth[n.id]] = cols[depth[n.id]] || []).push(n); });
  var pos = {}, maxRows = 0, maxCol = 0;
  Object.keys(cols).forEach(function (c) {
    var list = cols[c].sort(function (a, b) { return (a.app + ' ' + a.version + ' ' + a.label).localeCompare(b.app + ' ' + b.version + ' ' + b.label); });
    maxRows = Math.max(maxRows, list.length);
    maxCol = Math.max(maxCol, Number(c));
    list.forEach(function (n, row) { pos[n.id] = { x: PAD + Number(c) * COL_W, y: PAD + row * ROW_H, col: Number(c) }; });
  });
  return { pos: pos, width: PAD * 2 + maxCol * COL_W + NODE_W + 40, height: PAD * 2 + Math.max(1, maxRows) * ROW_H };
}

function edgeClass(e) {
  if (!(e.rps > 0)) return 'edge idle';
  if (e.errorRate > 0.05) return 'edge err';
  if (e.errorRate > 0) return 'edge warn';
  return 'edge';
}

function renderGraph(s) {
  var g = s.graph, L = layout(g.nodes, g.edges), svg = $('graph-svg');
  svg.setAttribute('width', L.width);
  svg.setAttribute('height', L.height);
  svg.setAttribute('viewBox', '0 0 ' + L.width + ' ' + L.height);
  var defs = sv('defs', null, sv('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, sv('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#495057' })));
  var edgeLayer = sv('g', { class: 'edges' }), nodeLayer = sv('g', { class: 'nodes' });
  g.edges.forEach(function (e) {
    var a = L.pos[e.source], b = L.pos[e.target];
    if (!a || !b || e.source === e.target) return;
    var x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2, d;
    if (b.col > a.col) {
      var mx = (x1 + x2) / 2;
      d = 'M ' + x1 + ' ' + y1 + ' C ' + mx + ' ' + y1 + ', ' + mx + ' ' + y2 + ', ' + (x2 - 2) + ' ' + y2;
    } else {
      // Same column or backwards: loop around below the nodes.
      x2 = b.x + NODE_W / 2; y2 = b.y + NODE_H;
      var dy = Math.max(y1, y2) + ROW_H * 0.6;
      d = 'M ' + (a.x + NODE_W / 2) + ' ' + (a.y + NODE_H) + ' C ' + (a.x + NODE_W / 2) + ' ' + dy + ', ' + x2 + ' ' + dy + ', ' + x2 + ' ' + (y2 + 2);
    }
    var lx = (x1 + x2) / 2, ly = (y1 + y2) / 2 - 4;
    var label = fmtRps(e.rps) + ' rps · ' + fmtPct(e.errorRate) + ' err · p99 ' + fmtMs(e.p99Ms);
    var title = e.source + ' → ' + e.target + '\n' + e.requests + ' requests, ' + e.errors + ' errors in total' + (e.services.length ? '\nservices: ' + e.services.join(', ') : '') +
      e.weights.map(function (w) { return '\nweight ' + w.percent + '% by ' + w.route; }).join('');
    edgeLayer.appendChild(sv('g', { class: edgeClass(e), 'data-edge': e.id, 'data-source': e.source, 'data-target': e.target, 'data-rps': e.rps === null ? '' : e.rps.toFixed(3) }, [
      sv('title', { text: title }),
      sv('path', { d: d, 'marker-end': 'url(#arrow)' }),
      sv('text', { x: lx, y: ly, 'text-anchor': 'middle', class: 'stats', text: e.rps === null && e.requests === 0 ? '' : label }),
      e.weights.length ? sv('text', { x: lx, y: ly + 14, 'text-anchor': 'middle', class: 'weight', text: 'w ' + e.weights.map(function (w) { return w.percent + '%'; }).join(' / ') }) : null,
    ]));
  });
  g.nodes.forEach(function (n) {
    var p = L.pos[n.id];
    var sub = n.kind === 'service' ? 'service' : n.proxies.length ? n.proxies.map(function (x) { return x.role; }).join(', ') + (n.version !== 'unknown' ? ' · ' + n.version : '') : (n.version !== 'unknown' ? n.version : n.namespace);
    nodeLayer.appendChild(sv('g', { class: 'node kind-' + n.kind, 'data-node-id': n.id, 'data-app': n.app, 'data-version': n.version, transform: 'translate(' + p.x + ',' + p.y + ')' }, [
      sv('title', { text: n.id + (n.proxies.length ? '\nproxy: ' + n.proxies.map(function (x) { return x.id; }).join(', ') : '') }),
      sv('rect', { width: NODE_W, height: NODE_H, fill: n.app === 'unknown' ? '#e9ecef' : 'hsl(' + hue(n.app) + ',65%,86%)' }),
      sv('text', { x: 10, y: 18, class: 'name', text: n.app !== 'unknown' ? n.app : n.label }),
      sv('text', { x: 10, y: 34, class: 'sub', text: sub }),
    ]));
  });
  svg.replaceChildren(defs, edgeLayer, nodeLayer);
  $('window').textContent = 'rates over the last ' + Math.round(s.windowMs / 1000) + ' s' + (g.omittedNodes ? ' · ' + g.omittedNodes + ' nodes not shown' : '');
  $('errors').textContent = s.errors.map(function (e) { return e.source + ': ' + e.message; }).join(' · ');
}

// ---------------------------------------------------------------- splits, clusters, config

var lastSplits = '', lastConfig = '';
function renderSplits(s) {
  var key = JSON.stringify(s.splits);
  if (key === lastSplits) return;
  lastSplits = key;
  if (!s.splits.length) { replace('splits', el('p', { class: 'muted', text: 'No VirtualService rule splits traffic between destinations.' })); return; }
  replace('splits', s.splits.map(function (sp) {
    return el('div', { class: 'split', 'data-split': sp.virtualService + '#' + sp.rule }, [
      el('h3', { text: sp.virtualService + ' http[' + sp.rule + ']' + (sp.name ? ' "' + sp.name + '"' : '') }),
      el('table', null, sp.destinations.map(function (d) {
        return el('tr', null, [
          el('td', { text: shortHost(d.host) + ':' + d.port + (d.subset ? ' / ' + d.subset : '') }),
          el('td', { style: 'width:45%' }, el('div', { class: 'bar' }, el('span', { style: 'width:' + Math.max(0, Math.min(100, d.percent)) + '%' }))),
          el('td', { class: 'num weight', text: d.percent + '%' }),
        ]);
      })),
      el('div', { class: 'muted small', text: 'in the config of: ' + sp.proxies.join(', ') }),
    ]);
  }));
}

var openSources = {};
function renderClusters(s) {
  var showIdle = $('show-idle').checked;
  replace('clusters', s.clusters.map(function (cv, i) {
    var src = s.sources.find(function (x) { return x.id === cv.source; });
    var ejected = 0, rows = [];
    cv.clusters.forEach(function (c) {
      var busy = c.endpoints.some(function (e) { return e.totalRequests > 0 || e.activeRequests > 0 || e.ejected; });
      c.endpoints.forEach(function (e) { if (e.ejected) ejected++; });
      if (!busy && !showIdle) return;
      var healthy = c.endpoints.filter(function (e) { return !e.ejected; }).length;
      var rq = 0, err = 0, act = 0;
      c.endpoints.forEach(function (e) { rq += e.totalRequests; err += e.failures; act += e.activeRequests; });
      var b = c.breakerStats;
      rows.push(el('tr', { 'data-cluster': c.name }, [
        el('td', null, [el('div', { text: c.name }), el('div', { class: 'muted small', text: c.loadBalancer + (c.destinationRule ? ' · DR ' + c.destinationRule : '') + (c.outlierDetection ? ' · outlier detection' : '') })]),
        el('td', { class: 'num ' + (healthy < c.endpoints.length ? 'bad' : 'good'), text: healthy + '/' + c.endpoints.length }),
        el('td', { class: 'num', text: rq }), el('td', { class: 'num' + (err ? ' bad' : ''), text: err }), el('td', { class: 'num', text: act }),
        el('td', { class: 'num' + (b.upstream_rq_pending_overflow + b.upstream_cx_overflow + b.upstream_rq_retry_overflow ? ' bad' : ''), text: b.upstream_rq_pending_overflow + ' / ' + b.upstream_cx_overflow + ' / ' + b.upstream_rq_retry_overflow }),
        el('td', { class: 'num', text: c.outlier ? c.outlier.ejectionsActive + ' now, ' + c.outlier.ejectionsEnforcedTotal + ' total' : '–' }),
        el('td', null, c.endpoints.map(function (e) {
          var v = e.labels.version ? ' ' + e.labels.version : '';
          return el('span', { class: 'chip ' + (e.ejected ? 'ejected' : 'healthy'), title: e.ejected ? 'ejected (' + e.ejectionReason + ') until ' + e.ejectedUntil : 'healthy; ejected ' + e.ejectionCount + ' time(s) so far', text: e.address + ':' + e.port + v + ' · ' + e.totalRequests + ' rq' + (e.ejected ? ' · EJECTED' : '') });
        })),
      ]));
    });
    var open = cv.source in openSources ? openSources[cv.source] : i === 0;
    var det = el('details', { open: open, 'data-source': cv.source }, [
      el('summary', { text: (src ? src.title : cv.source) + ' — ' + cv.clusters.length + ' clusters' + (ejected ? ', ' + ejected + ' endpoint(s) ejected' : '') + (cv.omitted ? ' (' + cv.omitted + ' more not shown)' : '') }),
      rows.length ? el('table', null, [el('tr', null, ['cluster', 'healthy', 'requests', 'errors', 'active', 'overflow pending/cx/retry', 'ejections', 'endpoints'].map(function (h, j) { return el('th', { class: j >= 1 && j <= 6 ? 'num' : null, text: h }); }))].concat(rows))
        : el('p', { class: 'muted', text: 'No cluster has seen traffic yet' + (showIdle ? '' : ' (tick "show idle clusters" to list them)') + '.' }),
    ]);
    det.addEventListener('toggle', function () { openSources[cv.source] = det.open; });
    return det;
  }));
}

function diagList(list, omitted) {
  if (!list.length) return null;
  var items = list.map(function (d) { return el('li', { class: d.severity, text: d.text }); });
  if (omitted) items.push(el('li', { text: '… and ' + omitted + ' more' }));
  return el('ul', { class: 'diags' }, items);
}

function renderConfig(s) {
  var key = JSON.stringify(s.config);
  if (key === lastConfig) return;
  lastConfig = key;
  replace('config', s.config.map(function (g) {
    var res = Object.keys(g.resources).map(function (k) { return g.resources[k] + ' ' + (g.resources[k] === 1 ? k : k.replace(/y$/, 'ie') + 's'); }).join(', ');
    return el('div', { class: 'group' }, [
      el('h3', null, ['v' + g.version + ' ', el('span', { class: g.inSync ? 'good' : 'bad', text: g.inSync ? 'in sync with the files' : 'NOT in sync: the newest files were rejected' }),
        el('span', { class: 'muted', text: ' · applied ' + (g.appliedAt || 'never') + ' · ' + g.counters.applied + ' applied, ' + g.counters.rejected + ' rejected · proxies: ' + g.proxies.join(', ') })]),
      el('div', { text: res || 'no resources' }),
      el('ul', { class: 'diags' }, g.files.map(function (f) { return el('li', { text: f.path + '  (' + f.size + ' bytes, sha256 ' + f.hash + ')' }); })),
      g.diagnostics.length ? el('div', { text: 'Diagnostics of the serving version:' }) : el('div', { class: 'muted', text: 'No diagnostics: the serving config validates cleanly.' }),
      diagList(g.diagnostics, g.diagnosticsOmitted),
      g.lastRejected ? el('div', { class: 'bad', text: 'Last rejected at ' + g.lastRejected.at + ': ' + g.lastRejected.errorCount + ' error(s); v' + g.lastRejected.servingVersion + ' kept serving' }) : null,
      g.lastRejected ? diagList(g.lastRejected.diagnostics, g.lastRejected.omitted) : null,
      g.notes.length ? el('div', { text: 'Compiler notes:' }) : null,
      g.notes.length ? diagList(g.notes.map(function (n) { return { severity: 'note', text: n }; }), 0) : null,
    ]);
  }));
  var gws = {};
  s.config.forEach(function (g) { g.gateways.forEach(function (n) { gws[n] = true; }); });
  replace('gateways', Object.keys(gws).sort().map(function (n) { return el('option', { value: n }); }));
}

var lastSources = '';
function renderSources(s) {
  var key = s.sources.map(function (x) { return x.id + ':' + x.ready + ':' + x.version; }).join(',');
  $('proxies').textContent = s.sources.length + ' prox' + (s.sources.length === 1 ? 'y' : 'ies') + ', ' + s.sources.filter(function (x) { return x.ready; }).length + ' ready';
  if (key === lastSources) return;
  lastSources = key;
  var sel = $('explain-source'), cur = sel.value;
  sel.replaceChildren.apply(sel, s.sources.map(function (x) { return el('option', { value: x.id, text: x.title + ' · config v' + x.version }); }));
  if (cur && s.sources.some(function (x) { return x.id === cur; })) sel.value = cur;
}

function render(s) {
  renderSources(s);
  renderGraph(s);
  renderSplits(s);
  renderClusters(s);
  renderConfig(s);
  $('updated').textContent = 'updated ' + new Date(s.at).toLocaleTimeString();
  window.__isthmusState = s;
}

// ---------------------------------------------------------------- live updates, explain

function connect() {
  var es = new EventSource('/ui/events');
  es.addEventListener('state', function (ev) {
    var st = $('status');
    st.textContent = 'live';
    st.className = 'status live';
    render(JSON.parse(ev.data));
  });
  es.addEventListener('error', function () {
    var st = $('status');
    st.textContent = 'reconnecting…';
    st.className = 'status down';
  });
}

$('show-idle').addEventListener('change', function () { if (window.__isthmusState) renderClusters(window.__isthmusState); });

$('explain-form').addEventListener('submit', function (ev) {
  ev.preventDefault();
  var out = $('explain-out');
  out.textContent = 'explaining…';
  out.classList.remove('bad');
  var body = {
    url: $('explain-url').value.trim(),
    method: $('explain-method').value.trim() || 'GET',
    headers: $('explain-headers').value,
    gateway: $('explain-gateway').value.trim() || null,
    source: $('explain-source').value || null,
  };
  fetch('/ui/explain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
    .then(function (x) {
      if (!x.ok) { out.textContent = x.j.error || 'explain failed'; out.classList.add('bad'); return; }
      var head = 'proxy ' + x.j.source + (x.j.gateway ? ', as gateway ' + x.j.gateway : '') + ', config v' + x.j.configVersion + '\n\n';
      out.textContent = head + ($('explain-json').checked ? JSON.stringify(x.j.result, null, 2) : x.j.text);
    })
    .catch(function (e) { out.textContent = 'explain failed: ' + e.message; out.classList.add('bad'); });
});

connect();
})();
`;
