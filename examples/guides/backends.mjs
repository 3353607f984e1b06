#!/usr/bin/env node
/*
 * The small services the guides in docs/guides/ route to. Plain Node, no dependencies:
 *
 *     node examples/guides/backends.mjs &
 *
 * Every backend listens on 127.0.0.1 (the ServiceEntries of examples/guides/ point at these
 * ports) and answers with its own name, so you can see where the proxy sent a request:
 *
 *     GET /anything         -> "reviews-v2 GET /anything"
 *     GET /headers          -> its name, then every request header it received, sorted
 *     GET /delay/1.5        -> the same answer, 1.5 s late (timeouts, circuit breakers)
 *     GET /status/503       -> that status code
 *     GET /flaky            -> 503 and 200 in turn (retries)
 *     GET /_requests        -> the requests this backend has seen (mirroring)
 *     GET /_fail, /_ok      -> from now on answer everything with 503 / normally again (outlier detection)
 *
 * `secure-web` speaks HTTPS with the example certificates of examples/guides/certs/ and
 * says which SNI name it was reached by. The process prints "ready" once every port is bound,
 * and stops on Ctrl-C or SIGTERM.
 */
/* global setTimeout, clearTimeout, Buffer */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** name -> port. Ports are fixed because the guides' YAML names them. */
const BACKENDS = [
  ['reviews-v1', 19501],
  ['reviews-v2', 19502],
  ['reviews-v3', 19503],
  ['ratings', 19504],
  ['web', 19505],
  ['web-shadow', 19506],
  ['shop-1', 19507],
  ['shop-2', 19508],
  ['shop-3', 19509],
  ['api', 19510],
  ['inventory', 19511],
];
const SECURE = ['secure-web', 19543];

/** One backend's request handler; `tls` says how the request arrived (for secure-web). */
function handler(name) {
  let flaky = 0;
  let failing = false;
  const seen = [];
  return (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      const line = `${name} ${req.method} ${req.url}`;
      const send = (status, body) => {
        res.writeHead(status, { 'content-type': 'text/plain', 'x-backend': name });
        res.end(`${body}\n`);
      };
      if (path === '/_requests') return send(200, seen.length ? seen.join('\n') : '(none)');
      if (path === '/_fail' || path === '/_ok') {
        failing = path === '/_fail';
        return send(200, `${name} now answers ${failing ? '503' : 'normally'}`);
      }
      seen.push(`${req.method} ${req.url} (host: ${req.headers.host})`);
      if (failing) return send(503, `${name} failing on purpose`);
      const tls = req.socket.encrypted ? ` (TLS, SNI ${req.socket.servername || 'none'})` : '';
      let m;
      if (path === '/headers') {
        const lines = Object.entries(req.headers)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
        return send(200, [line + tls, ...lines].join('\n'));
      }
      if ((m = /^\/status\/(\d{3})$/.exec(path))) return send(Number(m[1]), `${line}${tls}`);
      if (path === '/flaky') return flaky++ % 2 === 0 ? send(503, `${name} flaked`) : send(200, line);
      if ((m = /^\/delay\/(\d+(?:\.\d+)?)$/.exec(path))) {
        const t = setTimeout(() => send(200, line), Number(m[1]) * 1000);
        res.on('close', () => clearTimeout(t));
        return;
      }
      const body = Buffer.concat(chunks).toString();
      send(200, `${line}${tls}${body ? ` body=${body}` : ''}`);
    });
  };
}

function listen(server, name, port) {
  return new Promise((resolve, reject) => {
    server.once('error', (e) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} (${name}) is already in use: is another copy of backends.mjs running?` : `${name}: ${e.message}`)),
    );
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const servers = [];
try {
  for (const [name, port] of BACKENDS) servers.push(await listen(http.createServer(handler(name)), name, port));
  const [name, port] = SECURE;
  const tlsOptions = { cert: readFileSync(here('./certs/example.com.crt')), key: readFileSync(here('./certs/example.com.key')) };
  servers.push(await listen(https.createServer(tlsOptions, handler(name)), name, port));
} catch (e) {
  console.error(`backends: ${e.message}`);
  for (const s of servers) s.close();
  process.exit(1);
}
console.log(`ready: ${BACKENDS.length + 1} backends on 127.0.0.1, ports ${BACKENDS[0][1]}-${BACKENDS.at(-1)[1]} and ${SECURE[1]} (HTTPS)`);

const stop = () => {
  for (const s of servers) {
    s.close();
    s.closeAllConnections();
  }
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
