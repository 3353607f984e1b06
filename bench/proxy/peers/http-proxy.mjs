// Peer: node-http-proxy (the `http-proxy` package), the classic Node reverse proxy, with a
// keep-alive agent behind it (without one every request opens a new upstream connection and
// the comparison would be about connect() cost, not proxying).
//
//   node http-proxy.mjs <port> <upstreamHost> <upstreamPort>
import http from 'node:http';
import httpProxy from 'http-proxy';

const [port, upHost, upPort] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: { host: upHost, port: Number(upPort) }, agent });

proxy.on('error', (_err, _req, res) => {
  // On a socket-level error `res` may be the raw socket; only answer when it is a response.
  if (res && typeof res.writeHead === 'function' && !res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
  if (res && typeof res.end === 'function') res.end('bad gateway\n');
});

http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => proxy.web(req, res)).listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
