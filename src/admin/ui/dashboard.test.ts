import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import vm from 'node:vm';
import type { AddressInfo } from 'node:net';
import { createDashboard, isLoopbackHost, type Dashboard, type DashboardOptions } from './dashboard.js';
import { dest, fakeSource, openEvents, type FakeSource } from './testkit.js';
import type { DashboardSource } from './types.js';
import { CLIENT_JS } from './client.js';

interface Served {
  port: number;
  dashboard: Dashboard;
  close(): Promise<void>;
}

async function serve(sources: readonly DashboardSource[] | (() => readonly DashboardSource[]), opts: DashboardOptions = {}): Promise<Served> {
  const dashboard = createDashboard(sources, { intervalMs: 100, ...opts });
  const server = http.createServer(dashboard.listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    dashboard,
    close: () =>
      new Promise<void>((r) => {
        dashboard.close();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

const postJson = (port: number, body: unknown) => call(port, '/ui/explain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const productpage = (): FakeSource => fakeSource('productpage-v1', { app: 'productpage', version: 'v1' });

test('the page and its assets: self-contained, strict CSP, valid script, no external references', async (t) => {
  const s = await serve([productpage()]);
  t.after(() => s.close());
  const page = await call(s.port, '/ui');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self';/);
  assert.match(page.body, /<script src="\/ui\/app\.js"><\/script>/);
  assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//, 'no CDN or remote asset');
  assert.doesNotMatch(page.body, /@import|url\(/);
  const js = await call(s.port, '/ui/app.js');
  assert.match(String(js.headers['content-type']), /^text\/javascript/);
  assert.equal(js.body, CLIENT_JS);
  assert.doesNotThrow(() => new vm.Script(js.body, { filename: 'app.js' }), 'the client script parses');
  assert.doesNotMatch(js.body, /innerHTML/, 'server values reach the DOM as text only');
  const css = await call(s.port, '/ui/app.css');
  assert.match(String(css.headers['content-type']), /^text\/css/);
  assert.doesNotMatch(css.body, /@import|url\(/, 'no remote fonts or images');
  assert.equal((await call(s.port, '/ui/')).status, 200);
});

test('/ui/events: one state per tick to every viewer, rates from deltas, cleanup when viewers leave', async (t) => {
  const pp = productpage();
  const s = await serve([pp], { intervalMs: 100, windowMs: 2000 });
  t.after(() => s.close());
  const a = await openEvents(s.port);
  t.after(() => a.close());
  assert.equal(a.status, 200);
  assert.match(String(a.headers['content-type']), /^text\/event-stream/);
  const first = await a.waitFor(() => true, 3000, 'the first state');
  assert.equal(first.sources[0].id, 'productpage-v1');
  assert.equal(first.intervalMs, 100);
  const b = await openEvents(s.port);
  assert.equal(s.dashboard.clients, 2);
  for (let i = 0; i < 40; i++) pp.metrics.recordRequest({ destination: dest('reviews', 'v1'), responseCode: 200, durationMs: 3 });
  const live = await a.waitFor((st) => st.graph.edges.some((e) => e.id === 'default/productpage-v1 -> default/reviews-v1' && (e.rps ?? 0) > 0), 3000, 'an edge with a rate');
  const e = live.graph.edges.find((x) => x.id === 'default/productpage-v1 -> default/reviews-v1');
  assert.equal(e?.requests, 40);
  assert.deepEqual(e?.weights.map((w) => w.percent), [75]);
  await b.waitFor((st) => st.at === live.at, 3000, 'the same frame on the second viewer');
  b.close();
  a.close();
  const deadline = Date.now() + 3000;
  while (s.dashboard.clients > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.dashboard.clients, 0, 'closed viewers are forgotten');
  // Without viewers, /ui/state still answers: it reads the sources on demand.
  const before = (await call(s.port, '/ui/state')).body;
  await new Promise((r) => setTimeout(r, 250));
  const again = JSON.parse((await call(s.port, '/ui/state')).body) as { at: string };
  assert.notEqual(again.at, (JSON.parse(before) as { at: string }).at, '/ui/state reads on demand');
});

test('/ui/events: viewers are capped; close() ends every stream and refuses new ones', async (t) => {
  const s = await serve([productpage()], { maxClients: 1 });
  t.after(() => s.close());
  const a = await openEvents(s.port);
  t.after(() => a.close());
  const over = await call(s.port, '/ui/events');
  assert.equal(over.status, 503);
  assert.match(over.body, /too many dashboard viewers \(at most 1\)/);
  s.dashboard.close();
  await a.ended;
  assert.equal((await call(s.port, '/ui/events')).status, 503);
});

test('read-only and loopback-only: 405 for writes, 403 for a foreign Host, 404 elsewhere', async (t) => {
  const s = await serve([productpage()]);
  t.after(() => s.close());
  assert.equal((await call(s.port, '/ui', { method: 'POST' })).status, 405);
  assert.equal((await call(s.port, '/ui/events', { method: 'DELETE' })).status, 405);
  assert.equal((await call(s.port, '/ui/explain', { method: 'PUT' })).status, 405);
  const foreign = await call(s.port, '/ui', { headers: { host: 'evil.example:15000' } });
  assert.equal(foreign.status, 403);
  assert.equal((await call(s.port, '/ui', { headers: { host: 'localhost:15000' } })).status, 200);
  assert.equal((await call(s.port, '/ui/nope')).status, 404);
  assert.equal((await call(s.port, '/elsewhere')).status, 404);
  assert.equal(isLoopbackHost('127.0.0.1:80'), true);
  assert.equal(isLoopbackHost('[::1]:15000'), true);
  assert.equal(isLoopbackHost('app.localhost'), true);
  assert.equal(isLoopbackHost('127.0.0.1.evil.example'), false);
  assert.equal(isLoopbackHost('10.0.0.1:15000'), false);
});

test('/ui/explain: the explain result and text for the chosen proxy, or as a Gateway; bad input is a 400', async (t) => {
  const pp = productpage();
  const s = await serve([pp, fakeSource('details-v1', { app: 'details', version: 'v1' })]);
  t.after(() => s.close());
  const jason = await postJson(s.port, { url: 'http://reviews:9080/', headers: 'end-user: jason', source: 'details-v1' });
  assert.equal(jason.status, 200, jason.body);
  const j = JSON.parse(jason.body) as { source: string; result: { routeName: string; destinations: Array<{ subset: string }> }; text: string };
  assert.equal(j.source, 'details-v1');
  assert.equal(j.result.routeName, 'jason');
  assert.deepEqual(j.result.destinations.map((d) => d.subset), ['v2']);
  assert.match(j.text, /Result: +route/);
  const canary = JSON.parse((await postJson(s.port, { url: 'http://reviews:9080/', headers: {} })).body) as { source: string; result: { destinations: Array<{ subset: string; weight: number }> } };
  assert.equal(canary.source, 'productpage-v1', 'default: the first proxy');
  assert.deepEqual(canary.result.destinations.map((d) => [d.subset, d.weight]), [['v1', 75], ['v3', 25]]);
  const gw = JSON.parse((await postJson(s.port, { url: 'http://anything:8080/', gateway: 'web' })).body) as { gateway: string; result: { destinations: Array<{ host: string }> } };
  assert.equal(gw.gateway, 'default/web');
  assert.equal(gw.result.destinations[0].host, 'productpage.default.svc.cluster.local');
  const text = await call(s.port, '/ui/explain?url=' + encodeURIComponent('http://reviews:9080/') + '&header=' + encodeURIComponent('end-user: jason') + '&format=text');
  assert.equal(text.status, 200);
  assert.match(text.body, /matched .*"jason"/);
  const bad = async (body: unknown, re: RegExp, status = 400): Promise<void> => {
    const r = await postJson(s.port, body);
    assert.equal(r.status, status, r.body);
    assert.match((JSON.parse(r.body) as { error: string }).error, re);
  };
  await bad({}, /url is required/);
  await bad({ url: 'not a url' }, /invalid URL/);
  await bad({ url: 'http://reviews:9080/', source: 'nope' }, /unknown proxy "nope" \(proxies: productpage-v1, details-v1\)/);
  await bad({ url: 'http://reviews:9080/', gateway: 'missing' }, /gateway default\/missing not found .*default\/web/);
  await bad({ url: 'http://reviews:9080/', headers: ['no colon'] }, /invalid header/);
  const notJson = await call(s.port, '/ui/explain', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
  assert.equal(notJson.status, 415);
  const broken = await call(s.port, '/ui/explain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  assert.equal(broken.status, 400);
  const huge = await call(s.port, '/ui/explain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'x'.repeat(20_000) }) }).catch(() => ({ status: 413 }));
  assert.ok(huge.status === 400 || huge.status === 413, String(huge.status));
});

test('a failing source is reported in the state while the others keep updating; ids are checked', async (t) => {
  const pp = productpage();
  const broken: DashboardSource = { ...fakeSource('broken', { app: 'x' }), clusters: () => Promise.reject(new Error('worker gone')) };
  const s = await serve(() => [pp, broken]);
  t.after(() => s.close());
  const st = JSON.parse((await call(s.port, '/ui/state')).body) as { sources: Array<{ id: string }>; errors: Array<{ source: string; message: string }> };
  assert.deepEqual(st.sources.map((x) => x.id), ['productpage-v1']);
  assert.deepEqual(st.errors, [{ source: 'broken', message: 'worker gone' }]);
  assert.throws(() => createDashboard([pp, pp]), /two dashboard sources share the id "productpage-v1"/);
  assert.throws(() => createDashboard([{ ...pp, id: 'a b' }]), /must use only letters/);
  assert.throws(() => createDashboard([pp], { intervalMs: 5000 }), /intervalMs/);
});
