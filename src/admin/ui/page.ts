/**
 * The dashboard page's HTML and CSS, as strings: `tsc` copies only TypeScript into dist/, so
 * keeping the assets in modules means `npm ci` ships them with no extra build step. Nothing is
 * loaded from elsewhere (no CDN, no web fonts): the page works offline. The script is in
 * client.ts; both are served as separate files so the Content-Security-Policy can forbid
 * inline script.
 */

/** `GET /ui`. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Isthmus dashboard</title>
<link rel="stylesheet" href="/ui/app.css">
</head>
<body>
<header>
  <h1>Isthmus</h1>
  <span id="status" class="status">connecting…</span>
  <span id="updated" class="muted"></span>
  <span id="proxies" class="muted"></span>
</header>
<main>
  <section class="card wide">
    <h2>Traffic <small id="window" class="muted"></small></h2>
    <div id="graph" class="graph"><svg id="graph-svg" role="img" aria-label="service graph: workloads and the requests between them"></svg></div>
    <p class="legend"><span class="swatch ok"></span>healthy <span class="swatch warn"></span>some errors <span class="swatch err"></span>over 5% errors <span class="swatch idle"></span>no traffic in the window · edge labels: requests/s · error % · p99 latency · <b>w</b> = weight of a weighted route</p>
    <p id="errors" class="errors"></p>
  </section>
  <section class="card">
    <h2>Weighted routes</h2>
    <div id="splits"><p class="muted">none</p></div>
  </section>
  <section class="card">
    <h2>Explain a request</h2>
    <form id="explain-form" autocomplete="off">
      <label>Proxy <select id="explain-source" name="source"></select></label>
      <label>URL <input id="explain-url" name="url" required placeholder="http://reviews:9080/reviews/1" value="http://reviews:9080/"></label>
      <div class="row">
        <label>Method <input id="explain-method" name="method" value="GET" size="7"></label>
        <label>Gateway <input id="explain-gateway" name="gateway" list="gateways" placeholder="(optional) ns/name"></label>
      </div>
      <datalist id="gateways"></datalist>
      <label>Headers, one per line <textarea id="explain-headers" name="headers" rows="2" placeholder="end-user: jason"></textarea></label>
      <div class="row"><button type="submit">Explain</button><label class="inline"><input type="checkbox" id="explain-json"> JSON</label></div>
    </form>
    <pre id="explain-out" class="out"></pre>
  </section>
  <section class="card wide">
    <h2>Clusters and endpoints <label class="inline small"><input type="checkbox" id="show-idle"> show idle clusters</label></h2>
    <div id="clusters"></div>
  </section>
  <section class="card wide">
    <h2>Config</h2>
    <div id="config"></div>
  </section>
</main>
<script src="/ui/app.js"></script>
</body>
</html>
`;

/** `GET /ui/app.css`. */
export const PAGE_CSS = `
:root { --bg:#f6f7f9; --card:#fff; --fg:#1d2330; --muted:#6b7280; --line:#d9dde3; --ok:#2f9e44; --warn:#e8a317; --err:#d9480f; --idle:#adb5bd; --accent:#3b5bdb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; gap:16px; align-items:baseline; padding:10px 20px; background:#1d2330; color:#fff; }
header h1 { font-size:18px; margin:0; }
header .muted { color:#c5cad3; }
.status { padding:1px 8px; border-radius:10px; background:#495057; font-size:12px; }
.status.live { background:var(--ok); }
.status.down { background:var(--err); }
main { display:grid; grid-template-columns: 1fr 1fr; gap:14px; padding:14px 20px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:0; }
.card.wide { grid-column: 1 / -1; }
h2 { font-size:15px; margin:2px 0 8px; }
.muted { color:var(--muted); font-weight:normal; }
.small { font-size:12px; }
.graph { overflow:auto; max-height:70vh; border:1px solid var(--line); border-radius:6px; background:#fbfcfd; }
.graph svg { display:block; }
.node rect { stroke:#343a40; stroke-width:1; rx:8; }
.node.kind-proxy rect { stroke-width:2.5; }
.node.kind-service rect { stroke-dasharray:4 3; }
.node text { font-size:12px; fill:#111; pointer-events:none; }
.node text.sub { font-size:11px; fill:#343a40; }
.edge path { fill:none; stroke:var(--ok); stroke-width:2; }
.edge.warn path { stroke:var(--warn); }
.edge.err path { stroke:var(--err); }
.edge.idle path { stroke:var(--idle); stroke-dasharray:6 4; }
.edge text { font-size:11px; fill:#1d2330; paint-order:stroke; stroke:#fbfcfd; stroke-width:3px; }
.edge text.weight { fill:var(--accent); font-weight:600; }
.legend { font-size:12px; color:var(--muted); margin:6px 0 0; }
.swatch { display:inline-block; width:18px; height:4px; margin:0 4px 2px 10px; vertical-align:middle; }
.swatch.ok { background:var(--ok); } .swatch.warn { background:var(--warn); } .swatch.err { background:var(--err); } .swatch.idle { background:var(--idle); }
.errors { color:var(--err); margin:4px 0 0; }
table { border-collapse:collapse; width:100%; font-size:12.5px; }
th, td { text-align:left; padding:3px 6px; border-bottom:1px solid #eef0f3; vertical-align:top; }
th { color:var(--muted); font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.bar { background:#e7ebff; border-radius:3px; height:10px; min-width:60px; }
.bar > span { display:block; height:10px; background:var(--accent); border-radius:3px; }
.split { margin-bottom:10px; }
.split h3, .group h3 { font-size:13px; margin:4px 0; }
.chip { display:inline-block; padding:0 6px; margin:1px 3px 1px 0; border-radius:9px; border:1px solid var(--line); font-size:11.5px; white-space:nowrap; }
.chip.healthy { border-color:#b2f2bb; background:#ebfbee; }
.chip.ejected { border-color:#ffc9c9; background:#fff5f5; color:#c92a2a; }
.bad { color:var(--err); }
.good { color:var(--ok); }
details { margin:4px 0; }
summary { cursor:pointer; font-weight:600; }
form label { display:block; margin:4px 0; font-size:12.5px; color:var(--muted); }
form label.inline, label.inline { display:inline-block; margin-left:10px; }
form input, form select, form textarea { display:block; width:100%; font:13px ui-monospace, SFMono-Regular, Menlo, monospace; padding:4px 6px; border:1px solid var(--line); border-radius:4px; color:var(--fg); }
form .row { display:flex; gap:10px; align-items:end; }
form .row label { flex:1; }
form input[type=checkbox] { display:inline; width:auto; }
button { padding:5px 14px; border:0; border-radius:4px; background:var(--accent); color:#fff; font-weight:600; cursor:pointer; }
pre.out { background:#f1f3f5; border-radius:6px; padding:8px; max-height:420px; overflow:auto; font-size:12px; white-space:pre-wrap; margin:8px 0 0; }
pre.out:empty { display:none; }
ul.diags { margin:4px 0; padding-left:18px; font:12px ui-monospace, SFMono-Regular, Menlo, monospace; }
ul.diags li.error { color:var(--err); }
ul.diags li.warning { color:#a15c00; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;
