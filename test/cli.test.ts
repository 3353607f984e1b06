/** The CLI contract of interface.md: validate, analyze, explain — text, --json and exit codes. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { CommanderError } from 'commander';
import { buildProgram } from '../src/cli/program.js';
import { memoryOutput } from '../src/cli/output.js';

const EXAMPLES = 'examples/bookinfo';
let dir: string;

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = memoryOutput();
  let code = 0;
  const program = buildProgram(o, (c) => (code = c));
  try {
    await program.parseAsync(['node', 'isthmus', ...args]);
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 2;
    else {
      o.stderr(`isthmus: ${(e as Error).message}`);
      code = 2;
    }
  }
  return { code, out: o.out.join('\n'), err: o.err.join('\n') };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'isthmus-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('validate: the bundled examples are valid (exit 0, one-line summary)', async () => {
  const r = await run('validate', '-f', EXAMPLES);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /resources valid/);
});

test('validate: each problem is one line file:line:col: error Kind ns/name: path: message; exit 1', async () => {
  const p = file('bad-vs.yaml', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    redirect: {uri: /x}
`);
  const r = await run('validate', '-f', p);
  assert.equal(r.code, 1);
  assert.match(r.out, new RegExp(`${p.replace(/[/.]/g, '\\$&')}:8:5: error VirtualService default/reviews: spec\\.http\\[0\\]\\.route: HTTP route cannot contain both route and redirect`));
});

const garbage: Array<[string, string | Buffer, RegExp]> = [
  ['syntax.yaml', 'kind: VirtualService\nmetadata: [unclosed\n', /syntax\.yaml:\d+:\d+: error .*YAML syntax error/],
  ['types.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: 42\n  http: []\n', /types\.yaml:5:3: error VirtualService default\/a: spec\.hosts: Invalid value: 42: must be of type array/],
  ['unknown.yaml', 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\nspec:\n  host: a\n  subsetz: []\n', /unknown\.yaml:6:3: error DestinationRule default\/a: spec\.subsetz: unknown field "subsetz" \(did you mean "subsets"\?\)/],
  ['binary.yaml', Buffer.from([0x00, 0xff, 0x13, 0x37, 0x00, 0x01]), /binary\.yaml:1:1: error .*NUL bytes/],
  ['scalar.yaml', 'hello\n', /scalar\.yaml:1:1: error .*not a mapping/],
];
for (const [name, text, re] of garbage) {
  test(`validate: bad input ${name} gives a positioned diagnostic and exit 1`, async () => {
    const r = await run('validate', '-f', file(name, text));
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, re);
  });
}

test('validate: an empty (or comment-only) file is reported at 1:1 with exit 1', async () => {
  for (const [name, text] of [['empty.yaml', ''], ['comments.yaml', '# nothing here\n---\n']]) {
    const r = await run('validate', '-f', file(name, text));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`${name.replace('.', '\\.')}:1:1: error .*no resources in this file`));
  }
});

test('validate --json: array of {file, line, column, severity, kind, namespace, name, path, message}', async () => {
  const p = file('json.yaml', 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [foo]\n');
  const r = await run('validate', '--json', '-f', p);
  assert.equal(r.code, 1);
  const arr = JSON.parse(r.out) as Array<Record<string, unknown>>;
  assert.ok(arr.length >= 1);
  const d = arr[0];
  for (const k of ['file', 'line', 'column', 'severity', 'kind', 'namespace', 'name', 'path', 'message']) assert.ok(k in d, k);
  assert.equal(d.kind, 'Gateway');
  assert.equal(d.severity, 'error');
  assert.match(String(d.message), /short names/);
});

test('validate: a missing file is an error; no -f is a usage error (exit 2)', async () => {
  assert.equal((await run('validate', '-f', join(dir, 'nope.yaml'))).code, 1);
  assert.equal((await run('validate')).code, 2);
});

test('analyze: examples are clean; a missing subset is IST0101 with exit 1', async () => {
  const ok = await run('analyze', '-f', EXAMPLES);
  assert.equal(ok.code, 0, ok.out + ok.err);
  const p = file('subset.yaml', `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: r}
spec:
  hosts: [r.default.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r, subset: v2}}]
`);
  const r = await run('analyze', '--json', '-f', p);
  assert.equal(r.code, 1);
  const arr = JSON.parse(r.out) as Array<{ code?: string; path: string }>;
  assert.ok(arr.some((d) => d.code === 'IST0101'), r.out);
});

test('explain --json: the contract fields, header routing to v2', async () => {
  const r = await run('explain', '-f', EXAMPLES, '--namespace', 'bookinfo', '--json', '-H', 'end-user: jason', 'http://reviews:9080/reviews/1');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.result, 'route');
  assert.equal(j.status, null);
  assert.equal(j.virtualService, 'bookinfo/reviews');
  assert.equal(j.routeIndex, 0);
  assert.equal(j.routeName, 'jason');
  assert.equal(j.redirect, null);
  assert.deepEqual(j.destinations.map((d: { subset: string; cluster: string; weight: number }) => [d.subset, d.cluster, d.weight]), [
    ['v2', 'outbound|9080|v2|reviews.bookinfo.svc.cluster.local', 100],
  ]);
  assert.deepEqual(j.destinations[0].endpoints, ['127.0.0.1:19083']);
  assert.equal(j.policy.retries.attempts, 2);
  assert.equal(j.policy.timeoutMs, null);
  assert.equal(j.policy.loadBalancer, 'LEAST_REQUEST');
  for (const k of ['fault', 'mirror', 'connectionPool', 'outlierDetection', 'tls']) assert.ok(k in j.policy, k);
});

test('explain text: shows the skipped rule with the failed condition, the split and the defaults', async () => {
  const r = await run('explain', '-f', EXAMPLES, '--namespace', 'bookinfo', 'http://reviews/');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /✗ skipped\s+bookinfo\/reviews http\[0\] match\[0\] "jason"/);
  assert.match(r.out, /header end-user: missing/);
  assert.match(r.out, /✓ matched\s+bookinfo\/reviews http\[1\] "canary"/);
  assert.match(r.out, /75%\s+reviews\.bookinfo\.svc\.cluster\.local:9080 subset v1/);
  assert.match(r.out, /25%\s+reviews\.bookinfo\.svc\.cluster\.local:9080 subset v3/);
  assert.match(r.out, /retries:\s+2 on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes \(Istio default policy\)/);
  assert.match(r.out, /outlier detection: none/);
});

test('explain: policy from the DestinationRule (ratings) and the route (timeout, retries)', async () => {
  const r = await run('explain', '-f', EXAMPLES, '--namespace', 'bookinfo', '--json', 'http://ratings:9080/ratings/0');
  const j = JSON.parse(r.out);
  assert.equal(j.policy.timeoutMs, 1000);
  assert.equal(j.policy.retries.attempts, 3);
  assert.equal(j.policy.retries.perTryTimeoutMs, 300);
  assert.match(j.policy.retries.retryOn, /5xx/);
  assert.equal(j.policy.connectionPool.maxConnections, 1);
  assert.equal(j.policy.outlierDetection.consecutive5xxErrors, 3);
});

test('explain --gateway: gateway binding, and 404 for an unbound path', async () => {
  const ok = await run('explain', '-f', EXAMPLES, '--gateway', 'bookinfo/bookinfo-gateway', '--json', 'http://example.com:8080/productpage');
  const j = JSON.parse(ok.out);
  assert.equal(j.result, 'route');
  assert.equal(j.virtualService, 'bookinfo/bookinfo');
  assert.equal(j.destinations[0].cluster, 'outbound|9080||productpage.bookinfo.svc.cluster.local');
  const nr = JSON.parse((await run('explain', '-f', EXAMPLES, '--gateway', 'bookinfo/bookinfo-gateway', '--json', 'http://example.com:8080/admin')).out);
  assert.equal(nr.result, 'no_route');
  assert.equal(nr.status, 404);
  const missing = await run('explain', '-f', EXAMPLES, '--gateway', 'bookinfo/nope', 'http://x:8080/');
  assert.equal(missing.code, 2);
  assert.match(missing.err, /gateway bookinfo\/nope not found/);
});

test('explain: unknown host is passthrough under ALLOW_ANY, blocked (502) under REGISTRY_ONLY', async () => {
  const pass = JSON.parse((await run('explain', '-f', EXAMPLES, '--json', 'http://www.example.org/')).out);
  assert.equal(pass.result, 'passthrough');
  const sc = file('sidecar.yaml', 'apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: bookinfo}\nspec:\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n');
  const blocked = JSON.parse((await run('explain', '-f', EXAMPLES, '-f', sc, '--namespace', 'bookinfo', '--json', 'http://www.example.org/')).out);
  assert.equal(blocked.result, 'blocked');
  assert.equal(blocked.status, 502);
});

test('explain: a bad URL is a usage error (exit 2)', async () => {
  const r = await run('explain', '-f', EXAMPLES, 'not a url');
  assert.equal(r.code, 2);
  assert.match(r.err, /invalid URL/);
});

test('every command has --help', async () => {
  for (const cmd of ['validate', 'analyze', 'explain']) {
    const r = await run(cmd, '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /Usage: isthmus/);
  }
});

test('the built binary entry point runs: --version prints the package version', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--version'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'validate', '-f', 'examples/does-not-exist'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 1);
});

test('explain tcp://: a gateway TCP route with its split; a sidecar tunnel to a registry service', async () => {
  const p = file('tcp.yaml', `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1, ports: {tcp: 19000}, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 31400, name: tcp, protocol: TCP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - route: [{destination: {host: tcp-echo, port: {number: 9000}}}]
`);
  const gw = JSON.parse((await run('explain', '-f', p, '--gateway', 'default/gw', '--json', 'tcp://anything:31400')).out);
  assert.equal(gw.result, 'route');
  assert.equal(gw.virtualService, 'default/tcp-echo');
  assert.deepEqual(gw.destinations.map((d: { cluster: string }) => d.cluster), ['outbound|9000||tcp-echo.default.svc.cluster.local']);
  const none = JSON.parse((await run('explain', '-f', p, '--gateway', 'default/gw', '--json', 'tcp://anything:31401')).out);
  assert.equal(none.result, 'no_route');
  const sc = JSON.parse((await run('explain', '-f', p, '--json', 'tcp://tcp-echo.default.svc.cluster.local:9000')).out);
  assert.equal(sc.result, 'route');
  assert.deepEqual(sc.destinations[0].endpoints, ['127.0.0.1:19000']);
  const pass = JSON.parse((await run('explain', '-f', p, '--json', 'tcp://example.org:443')).out);
  assert.equal(pass.result, 'passthrough');
});
