/** Unit tests of the demo's parts: config copy with port remapping, log dedup, the services, the page, the guide. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledConfigDir, listConfigFiles, remapEndpointPorts, writeWorkingConfig } from './config.js';
import { MeshLog } from './logs.js';
import { DemoService, type CallResult } from './service.js';
import { renderPage, reviewsApp } from './bookinfo.js';
import { guideSteps, type GuideInfo } from './guide.js';
import { DemoMesh, DemoStartError } from './mesh.js';
import { loadPaths } from '../api/load.js';
import { validateResources } from '../validate/index.js';

const cleanup: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const SE = `# a comment that must survive
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: ns}
spec:
  hosts: [a.example]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - address: 127.0.0.1
    ports: {http: 19080}   # trailing comment
  - address: 10.0.0.1
    ports: {http: 19080}
  - address: 127.0.0.1
    ports:
      http: 5555
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: w, namespace: ns}
spec:
  address: localhost
  ports: {http: 19081}
`;

test('remapEndpointPorts: loopback endpoint ports move, everything else stays byte for byte', () => {
  const out = remapEndpointPorts(SE, new Map([[19080, 40000], [19081, 40001]]));
  assert.equal(out, SE.replace('{http: 19080}   #', '{http: 40000}   #').replace('{http: 19081}', '{http: 40001}'));
  assert.match(out, /address: 10\.0\.0\.1\n {4}ports: \{http: 19080\}/, 'a non-loopback endpoint is not ours');
  assert.match(out, /http: 5555/, 'a port outside the map stays');
  assert.equal(remapEndpointPorts('kind: [oops', new Map([[1, 2]])), 'kind: [oops', 'unparseable text is left for validation to report');
});

test('writeWorkingConfig: the bundled examples copy, remap, and still validate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-demo-unit-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const ports = new Map(Array.from({ length: 7 }, (_, i) => [19080 + i, 41000 + i] as [number, number]));
  const written = writeWorkingConfig(bundledConfigDir(), dir, ports);
  assert.equal(written.length, listConfigFiles(bundledConfigDir()).length);
  const services = readFileSync(join(dir, 'services.yaml'), 'utf8');
  assert.doesNotMatch(services, /1908\d/);
  assert.match(readFileSync(join(dir, 'egress.yaml'), 'utf8'), /ports: \{http: 41006\}/);
  const loaded = loadPaths([dir], { namespace: 'default' });
  const v = validateResources(loaded.resources, { domain: 'svc.cluster.local' });
  assert.deepEqual([...loaded.diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error'), []);
  assert.throws(() => writeWorkingConfig(dir + '/nope-empty', dir, ports));
});

test('MeshLog: a reload line from every proxy prints once; partial agreement names the proxies; other lines are prefixed', async () => {
  const printed: string[] = [];
  const log = new MeshLog({ print: (l) => printed.push(l), proxies: 3, windowMs: 20, drop: (l) => l.startsWith('listening on') });
  for (const p of ['a', 'b', 'c']) log.line(p, 'config v2 applied: 1 VirtualService changed');
  log.line('a', 'config rejected: 1 error(s), still serving v2');
  log.line('a', 'x.yaml:3:1: error YAML syntax error');
  log.line('b', 'outlier detection: ejected 127.0.0.1:1 from c1');
  log.line('c', 'listening on 127.0.0.1:9');
  assert.deepEqual(printed, ['b: outlier detection: ejected 127.0.0.1:1 from c1'], 'non-config lines go out at once');
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(printed.slice(1), ['config v2 applied: 1 VirtualService changed', 'config rejected: 1 error(s), still serving v2 (a)', 'x.yaml:3:1: error YAML syntax error (a)']);
  log.line('a', 'config v3 applied: 1 Sidecar changed');
  log.line('a', 'config rejected: 2 error(s), still serving v3');
  log.flush((l) => !l.startsWith('config v'));
  assert.deepEqual(printed.slice(4), ['config rejected: 2 error(s), still serving v3 (a)']);
});

/** A stand-in sidecar: records what the service sent and answers `reply`. */
async function fakeSidecar(reply: (req: http.IncomingMessage) => { status: number; body: string }): Promise<{ port: number; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    const r = reply(req);
    res.writeHead(r.status, { 'content-type': 'application/json' });
    res.end(r.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, seen };
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('DemoService: reviews v2 calls ratings through its sidecar with the propagated headers; control and per-request misbehaviour', async () => {
  const sidecar = await fakeSidecar(() => ({ status: 200, body: JSON.stringify({ service: 'ratings', version: 'v1', ratings: { Reviewer1: 5, Reviewer2: 4 } }) }));
  const spec = reviewsApp('v2');
  const svc = new DemoService({ app: spec.app, version: spec.version, handler: spec.handler, sidecarPort: () => sidecar.port });
  cleanup.push(() => svc.close());
  const port = await svc.listen(0);

  const ok = await get(port, '/reviews/0', { 'end-user': 'jason', 'x-request-id': 'rid-1', 'x-b3-traceid': 't1', cookie: 'secret' });
  assert.equal(ok.status, 200);
  const body = JSON.parse(ok.body) as { version: string; reviews: Array<{ rating: { stars: number; color: string } }> };
  assert.equal(body.version, 'v2');
  assert.deepEqual(body.reviews.map((r) => r.rating), [{ stars: 5, color: 'black' }, { stars: 4, color: 'black' }]);
  const h = sidecar.seen[0]!;
  assert.equal(h.host, 'ratings:9080');
  assert.deepEqual([h['end-user'], h['x-request-id'], h['x-b3-traceid'], h.cookie], ['jason', 'rid-1', 't1', undefined]);

  // Persistent: every second request fails, spread evenly.
  assert.equal((await get(port, '/control?reset&fail=0.5&failStatus=502', {}, 'POST')).status, 200);
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await get(port, '/reviews/0')).status);
  assert.deepEqual(statuses, [200, 502, 200, 502]);
  const state = JSON.parse((await get(port, '/control')).body) as { served: number; failed: number; fail: number };
  assert.deepEqual([state.served, state.failed, state.fail], [4, 2, 0.5]);
  assert.equal((await get(port, '/control?fail=2', {}, 'POST')).status, 400);
  assert.equal((await get(port, '/control?delay=soon', {}, 'POST')).status, 400);
  await get(port, '/control?reset', {}, 'POST');

  // Per request.
  assert.equal((await get(port, '/reviews/0?status=418')).status, 418);
  const t0 = Date.now();
  assert.equal((await get(port, '/reviews/0?delay=150ms')).status, 200);
  assert.ok(Date.now() - t0 >= 140);
  assert.equal((await get(port, '/reviews/0?delay=nope')).status, 400);
  assert.equal((await get(port, '/health')).status, 200);
});

const call = (status: number, json: unknown, ms = 12, body = ''): CallResult => ({ status, json, body: body || JSON.stringify(json), ms });

test('renderPage: one line per dependency; stars by version; failures in one line', () => {
  const details = call(200, { version: 'v1', title: 'T', author: 'A', year: 1, pages: 2, isbn10: '9', source: 'books.example.com' });
  const v3 = call(200, { version: 'v3', ratings: { service: 'ratings', version: 'v1' }, reviews: [{ reviewer: 'R', text: 'x', rating: { stars: 4, color: 'red' } }] });
  const page = renderPage('jason', 'rid', details, v3);
  assert.match(page, /^productpage v1 · user jason · x-request-id rid$/m);
  assert.match(page, /^details v1: T by A, 1, 2 pages, ISBN-10 9 \(from books\.example\.com\)$/m);
  assert.match(page, /^reviews v3: red stars \(from ratings v1\)$/m);
  assert.match(page, /R ★★★★☆: x/);
  const down = renderPage(null, null, call(500, null, 3, 'fault filter abort'), call(200, { version: 'v2', ratings: { error: '503 no healthy upstream after 0.0 s' }, reviews: [] }));
  assert.match(down, /^details: unavailable \(500 fault filter abort after 0\.0 s\)$/m);
  assert.match(down, /^reviews v2: ratings unavailable \(503 no healthy upstream/m);
  assert.match(renderPage(null, null, details, call(0, null, 5, 'connect ECONNREFUSED')), /^reviews: unavailable \(no answer: connect ECONNREFUSED\)$/m);
});

test('guideSteps: nine steps, each with commands on the given ports; the same input gives the same text', () => {
  const g: GuideInfo = {
    gatewayPort: 1,
    adminPort: 2,
    sidecars: { 'productpage-v1': 11, 'details-v1': 12, 'reviews-v1': 13, 'reviews-v2': 14, 'reviews-v3': 15, 'ratings-v1': 16 },
    apps: { 'ratings-v1': 26 },
    configPath: '/w/config',
    accessLogPath: '/w/access.log',
    sourceDir: 'examples/bookinfo',
  };
  const steps = guideSteps(g);
  assert.equal(steps.length, 9);
  for (const s of steps) assert.ok(s.lines.some((l) => l.startsWith('$ ')), s.title);
  const all = steps.flatMap((s) => s.lines).join('\n');
  assert.match(all, /http:\/\/127\.0\.0\.1:1\/productpage/);
  assert.match(all, /-x http:\/\/127\.0\.0\.1:14 /);
  assert.match(all, /127\.0\.0\.1:26\/control/);
  assert.match(all, /\/w\/config\/virtual-services\.yaml/);
  assert.deepEqual(guideSteps(g), steps);
  assert.throws(() => guideSteps({ ...g, sidecars: {} }), /no port for/);
});

test('DemoMesh: a --workdir whose config folder the demo did not make is refused, and left alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-demo-wd-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'mine.yaml'), 'kind: Mine\n');
  const mesh = new DemoMesh({ gatewayPort: 0, adminPort: 0, sidecarPorts: 0, servicePorts: 0, workdir: dir, drainTimeoutMs: 100, log: () => undefined });
  await assert.rejects(mesh.start(), (e: Error) => e instanceof DemoStartError && /config exists and is not a copy made by the demo: choose another --workdir/.test(e.message));
  assert.equal(readFileSync(join(dir, 'config', 'mine.yaml'), 'utf8'), 'kind: Mine\n');
});
