/** ServiceEntry resolution DNS at runtime: names resolved per connection; a failed lookup is 503 DF. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { compile, request, startProxy, startUpstream, type Upstream } from '../support/mesh.js';
import { Flag } from '../../src/observability/flags.js';

let up: Upstream;
before(async () => {
  up = await startUpstream('dns');
});
after(async () => {
  await up?.close();
});

function config(address: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: named}
spec:
  hosts: [named.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: ${address}, ports: {http: ${up.port}}}]
`;
}

const sidecar = { role: 'sidecar' as const, namespace: 'default', labels: {} };

test('a DNS ServiceEntry endpoint `localhost` is resolved and reached', async () => {
  const p = await startProxy(compile(config('localhost'), sidecar));
  try {
    const r = await request(p.port, 'named.example.com', '/dns');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'dns /dns');
    assert.equal(up.seen.at(-1)?.headers.host, 'named.example.com');
  } finally {
    await p.close();
  }
});

test('a name that does not resolve: 503 with flag DF, and the proxy keeps serving', async () => {
  const p = await startProxy(compile(config('no-such-host.invalid'), sidecar));
  try {
    const r = await request(p.port, 'named.example.com', '/dns');
    assert.equal(r.status, 503);
    assert.match(r.body, /DNS resolution failed/);
    const info = p.completed.at(-1)!;
    assert.ok(info.flags & Flag.DF, `flags ${info.flags}`);
    assert.equal((await request(p.port, 'named.example.com', '/again')).status, 503);
  } finally {
    await p.close();
  }
});
