/**
 * HTTP/1 framing attacks over raw sockets (reliability-security.md §2.1): every
 * request-smuggling and malformed-framing variant gets a 4xx and a closed connection, and
 * nothing reaches the upstream (nor anything pipelined behind it); a duplicate `Host` is
 * refused (400); an absolute-form URL's authority wins over `Host` (RFC 9112 §3.2.2, as
 * Envoy) for routing and for the Host sent upstream, so a disagreeing `Host` steers
 * nothing; the insecure HTTP parser is never on, not even when the process is started with
 * `--insecure-http-parser`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/harness.js';
import { assertHealthy, rawExchange, settle, startFixture, waitFor, withTimeout, type Fixture } from './kit.js';

let fx: Fixture;

before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx?.close();
});

/** A request that would reach the upstream if the proxy's framing were fooled. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: web\r\n\r\n';

const CASES: Array<[string, string]> = [
  ['CL + TE (CL.TE)', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE + CL (TE.CL)', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n${SMUGGLED}\r\n0\r\n\r\n`],
  ['two Content-Length, different', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
  ['two Content-Length, same value', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc${SMUGGLED}`],
  ['Content-Length: 3, 3', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 3, 3\r\n\r\nabc${SMUGGLED}`],
  ['Content-Length: +3', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: +3\r\n\r\nabc${SMUGGLED}`],
  ['Content-Length: -1', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: -1\r\n\r\n${SMUGGLED}`],
  ['Content-Length: 3a', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 3a\r\n\r\nabc${SMUGGLED}`],
  ['Content-Length overflow', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length: 99999999999999999999999\r\n\r\n${SMUGGLED}`],
  ['TE: chunked, identity', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE: xchunked', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['TE repeated', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ['obs-fold', `GET /a HTTP/1.1\r\nHost: web\r\nX-A: a\r\n b\r\n\r\n${SMUGGLED}`],
  ['obs-fold inside TE', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\nabc${SMUGGLED}`],
  ['bare LF line endings', `GET /a HTTP/1.1\nHost: web\n\n${SMUGGLED}`],
  ['bare LF after a header', `GET /a HTTP/1.1\r\nHost: web\nX-A: 1\r\n\r\n${SMUGGLED}`],
  ['bare CR inside a value', `GET /a HTTP/1.1\r\nHost: web\r\nX-A: a\rb\r\n\r\n${SMUGGLED}`],
  ['space before the colon', `POST /a HTTP/1.1\r\nHost: web\r\nContent-Length : 3\r\n\r\nabc${SMUGGLED}`],
  ['leading space on a header line (CVE-2024-27982)', `POST /a HTTP/1.1\r\nHost: web\r\n Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
  ['NUL in a header value', `GET /a HTTP/1.1\r\nHost: web\r\nX-A: a\0b\r\n\r\n${SMUGGLED}`],
  ['NUL in a header name', `GET /a HTTP/1.1\r\nHost: web\r\nX-\0A: 1\r\n\r\n${SMUGGLED}`],
  ['NUL in the request target', `GET /a\0b HTTP/1.1\r\nHost: web\r\n\r\n${SMUGGLED}`],
  ['chunk-extension flood (20 KiB)', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n3;${'x'.repeat(20 * 1024)}\r\nabc\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk size 0x3', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk size -1', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk size overflow', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk size not hex', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n${SMUGGLED}`],
  ['chunk without CRLF after data', `POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n${SMUGGLED}`],
  ['lower-case method', `get /a HTTP/1.1\r\nHost: web\r\n\r\n${SMUGGLED}`],
  ['HTTP/1.7', `GET /a HTTP/1.7\r\nHost: web\r\n\r\n${SMUGGLED}`],
  ['HTTP/1.1 without Host', `GET /a HTTP/1.1\r\nX-A: 1\r\n\r\n${SMUGGLED}`],
  ['space in the request target', `GET /a b HTTP/1.1\r\nHost: web\r\n\r\n${SMUGGLED}`],
  ['duplicate Host', `GET /a HTTP/1.1\r\nHost: web\r\nHost: evil.example\r\n\r\n${SMUGGLED}`],
  ['duplicate Host, other case', `GET /a HTTP/1.1\r\nHost: evil.example\r\nhOST: web\r\n\r\n${SMUGGLED}`],
  ['absolute-form without an authority', `GET http:///a HTTP/1.1\r\nHost: web\r\n\r\n${SMUGGLED}`],
  ['%00 in the path', `GET /a%00b HTTP/1.1\r\nHost: web\r\n\r\n${SMUGGLED}`],
];

/**
 * Cases whose request head is valid and whose *body* framing is broken. A streaming proxy
 * (Envoy too) has started the upstream request when the error shows: the upstream may see
 * that request begin, but never complete, and never what was smuggled behind it.
 */
const BODY_LEVEL = /^chunk/;

for (const [name, payload] of CASES) {
  test(`framing: ${name} -> 4xx, connection closed, nothing upstream`, { timeout: 15_000 }, async () => {
    const before = fx.up.arrivals.length;
    const r = await rawExchange(fx.port, [payload]);
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${JSON.stringify(r.data.slice(0, 200))}`);
    assert.ok(r.closed, 'the proxy kept the connection open');
    // Exactly one response: the smuggled request got none.
    assert.equal((r.data.match(/HTTP\/1\.1 \d{3}/g) ?? []).length, 1, r.data);
    await settle(fx);
    const arrived = fx.up.arrivals.slice(before);
    if (BODY_LEVEL.test(name)) {
      assert.deepEqual(arrived.filter((a) => a.complete || a.url !== '/a').map((a) => a.url), [], 'a complete or smuggled request reached the upstream');
    } else assert.deepEqual(arrived.map((a) => a.url), []);
  });
}

test('framing: the same payloads split into 1-byte writes are refused as well', { timeout: 30_000 }, async () => {
  const before = fx.up.arrivals.length;
  const picks = CASES.filter(([n]) => /CL \+ TE|TE \+ CL|bare LF line|space before|duplicate Host$|NUL in a header value/.test(n));
  assert.equal(picks.length, 6);
  const results = await Promise.all(picks.map(([, p]) => rawExchange(fx.port, [...p].map((ch) => ch), { gapMs: 1, timeoutMs: 8000 })));
  for (const [i, r] of results.entries()) {
    assert.ok(r.status >= 400 && r.status < 500 && r.closed, `${picks[i][0]}: ${r.status} closed=${r.closed}`);
  }
  await settle(fx);
  assert.equal(fx.up.arrivals.length, before);
});

test('absolute-form: the URL authority decides (RFC 9112 §3.2.2, as Envoy); the client\'s Host is never routed on nor forwarded', async () => {
  const before = fx.up.arrivals.length;
  for (const [target, host] of [
    ['http://web/abs-1', 'evil.example'],
    ['http://WEB/abs-2', 'web:8080'],
    ['http://evil@web.:80/abs-3', 'evil.example'],
  ]) {
    const r = await rawExchange(fx.port, [`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`]);
    assert.equal(r.status, 200, `${target} with Host ${host}: ${r.data.slice(0, 120)}`);
  }
  // Host naming the web service does not take a request for another authority there.
  const other = await rawExchange(fx.port, ['GET http://127.0.0.1:1/abs-4 HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n']);
  assert.equal(other.status, 503, other.data.slice(0, 120));
  await settle(fx);
  const seen = fx.up.arrivals.slice(before);
  assert.deepEqual(seen.map((a) => a.url), ['/abs-1', '/abs-2', '/abs-3']);
  assert.deepEqual(seen.map((a) => a.headers.host), ['web', 'WEB', 'web.:80']);
  assert.ok(seen.every((a) => !a.rawHeaders.join(' ').includes('evil')));
});

test('HTTP/1.0 with Transfer-Encoding: answered, then the connection is closed', async () => {
  const before = fx.up.arrivals.length;
  const r = await rawExchange(fx.port, ['POST /te10 HTTP/1.0\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n']);
  assert.ok(r.closed, 'connection left open after an HTTP/1.0 + TE request');
  assert.ok(r.status === 200 || r.status === 400, r.data);
  assert.ok(fx.up.arrivals.slice(before).every((a) => a.url === '/te10'));
});

test('a GET whose Content-Length body holds a second request is one request: the body is not re-parsed', async () => {
  const before = fx.up.arrivals.length;
  const r = await rawExchange(fx.port, [`GET /outer HTTP/1.1\r\nHost: web\r\nContent-Length: ${SMUGGLED.length}\r\nConnection: close\r\n\r\n${SMUGGLED}`]);
  assert.equal(r.status, 200);
  assert.deepEqual(fx.up.arrivals.slice(before).map((a) => a.url), ['/outer']);
});

test('after the framing attacks: process alive, /ready 200, 100 normal requests, upstream clean', { timeout: 30_000 }, async () => {
  assert.ok(!fx.up.arrivals.some((a) => a.url === '/smuggled' || a.url.includes('evil')), 'a smuggled request reached the upstream');
  await assertHealthy(fx);
});

// ------------------------------------------------------------------- insecure parser

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('the insecure HTTP parser is never enabled: not in the source, not in this process', () => {
  const offenders: string[] = [];
  for (const f of sources(join(REPO_ROOT, 'src'))) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/insecureHTTPParser[^,\n}]*|insecure-http-parser/g)) {
      // The only use allowed is turning it off explicitly.
      if (!/^insecureHTTPParser:\s*false$/.test(m[0].trim())) offenders.push(`${f}: ${m[0]}`);
    }
  }
  assert.deepEqual(offenders, []);
  assert.ok(!process.execArgv.some((a) => a.startsWith('--insecure-http-parser')), process.execArgv.join(' '));
  assert.ok(!(process.env.NODE_OPTIONS ?? '').includes('--insecure-http-parser'), process.env.NODE_OPTIONS);
});

test('`isthmus run` started with NODE_OPTIONS=--insecure-http-parser still refuses smuggling (its listener is explicitly strict)', { timeout: 40_000 }, async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '-f', fx.cfg.dir, '--outbound-port', '0', '--admin-port', '0', '--concurrency', '1', '--no-access-log'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '--insecure-http-parser' },
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await withTimeout(exited, 5000, 'proxy exit').catch(() => undefined);
  });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (err += c));
  await waitFor('the proxy to print ready', () => /^ready$/m.test(err) || child.exitCode !== null, 30_000, 50);
  const port = Number(/listening on 127\.0\.0\.1:(\d+) \(sidecar outbound\)/.exec(err)?.[1]);
  assert.ok(port > 0, err);
  const before = fx.up.arrivals.length;
  for (const [name, payload] of CASES.filter(([n]) => /CL \+ TE|obs-fold$|bare LF line|space before|NUL in a header value|leading space/.test(n))) {
    const r = await rawExchange(port, [payload]);
    assert.ok(r.status >= 400 && r.status < 500 && r.closed, `${name}: ${r.status} ${r.data.slice(0, 100)}`);
  }
  assert.equal(fx.up.arrivals.length, before, 'a request reached the upstream');
});
