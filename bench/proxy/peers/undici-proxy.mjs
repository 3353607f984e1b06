// Peer: the smallest reasonable Node reverse proxy. node:http (and node:http2 for h2c with
// prior knowledge) in front; one undici Pool with keep-alive connections behind; the
// upstream body is streamed straight into the downstream response (pool.stream).
// It is the yardstick for "what does plain Node + undici cost per request", without
// routing, metrics or logging.
//
//   node undici-proxy.mjs <h1Port> <upstreamHost> <upstreamPort> [h2cPort]
import http from 'node:http';
import http2 from 'node:http2';
import { Pool } from 'undici';

const [h1Port, upHost, upPort, h2Port] = process.argv.slice(2);
const pool = new Pool(`http://${upHost}:${Number(upPort)}`, {
  connections: 128,
  pipelining: 1,
  keepAliveTimeout: 60_000,
  keepAliveMaxTimeout: 600_000,
});

// Hop-by-hop headers are per connection and must not be forwarded (RFC 9110 §7.6.1);
// HTTP/2 pseudo-headers (':path', ...) are not headers at all for an HTTP/1.1 upstream.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings']);

function requestHeaders(req) {
  const out = {};
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith(':') || HOP.has(name)) continue;
    out[name] = req.headers[name];
  }
  if (out.host === undefined && req.headers[':authority'] !== undefined) out.host = req.headers[':authority'];
  return out;
}

function handle(req, res) {
  const bodyless = (req.method === 'GET' || req.method === 'HEAD') && req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
  pool.stream(
    { path: req.url, method: req.method, headers: requestHeaders(req), body: bodyless ? null : req },
    ({ statusCode, headers }) => {
      const out = {};
      for (const name of Object.keys(headers)) if (!HOP.has(name)) out[name] = headers[name];
      res.writeHead(statusCode, out);
      return res;
    },
    (err) => {
      if (!err) return;
      if (res.headersSent) res.destroy(err);
      else {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway\n');
      }
    },
  );
}

const front = http.createServer({ keepAliveTimeout: 65_000 }, handle);
front.listen(Number(h1Port), '127.0.0.1');
if (h2Port) http2.createServer({ settings: { maxConcurrentStreams: 256 } }, handle).listen(Number(h2Port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
