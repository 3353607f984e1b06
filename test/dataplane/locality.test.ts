/** Locality-aware load balancing on the wire: the proxy's locality comes from its topology labels. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { compile, request, startProxy, startUpstream, seeded, type Upstream } from '../support/mesh.js';
import { proxyLocality } from '../../src/dataplane/cluster/manager.js';

let east: Upstream, west: Upstream;
before(async () => {
  [east, west] = await Promise.all([startUpstream('east'), startUpstream('west')]);
});
after(async () => {
  await Promise.all([east?.close(), west?.close()]);
});

const proxy = {
  role: 'sidecar' as const,
  namespace: 'default',
  labels: { app: 'client', 'topology.kubernetes.io/region': 'us-east', 'topology.kubernetes.io/zone': 'zone1' },
};

function config(trafficPolicy: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: geo}
spec:
  hosts: [geo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 127.0.0.1, ports: {http: ${east.port}}, locality: us-east/zone1, labels: {app: geo}}
  - {address: 127.0.0.1, ports: {http: ${west.port}}, locality: us-west/zone2, labels: {app: geo}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: geo}
spec:
  host: geo
  trafficPolicy:
${trafficPolicy}
`;
}

async function shares(port: number, n: number): Promise<{ east: number; west: number }> {
  const out = { east: 0, west: 0 };
  for (let i = 0; i < n; i++) {
    const r = await request(port, 'geo', '/');
    if (r.body.startsWith('east')) out.east++;
    else if (r.body.startsWith('west')) out.west++;
  }
  return out;
}

test('the proxy locality comes from topology labels (or istio-locality)', () => {
  assert.equal(proxyLocality(proxy.labels), 'us-east/zone1');
  assert.equal(proxyLocality({ 'istio-locality': 'eu.z1.s2' }), 'eu/z1/s2');
  assert.equal(proxyLocality({}), '');
});

test('with outlier detection on, locality failover priority keeps traffic in the local zone', async () => {
  const p = await startProxy(compile(config('    outlierDetection: {consecutive5xxErrors: 5}'), proxy), { rnd: seeded(3) });
  try {
    const s = await shares(p.port, 60);
    assert.deepEqual(s, { east: 60, west: 0 });
  } finally {
    await p.close();
  }
});

test('locality failover: when the local endpoint is ejected, traffic fails over to the other locality, and comes back', { timeout: 20_000 }, async () => {
  // east answers 500 until told otherwise: 3 in a row eject it (maxEjectionPercent 100, as
  // Istio's tasks set it; the 10 % default ejects nothing with two endpoints).
  let eastFails = true;
  east.respond = (r, res) => {
    res.statusCode = eastFails ? 500 : 200;
    res.end(`east ${r.url}`);
  };
  const tp = `    outlierDetection: {consecutive5xxErrors: 3, interval: 100ms, baseEjectionTime: 1s, maxEjectionPercent: 100}`;
  const p = await startProxy(compile(config(tp), proxy), { rnd: seeded(5) });
  try {
    const first: string[] = [];
    for (let i = 0; i < 3; i++) first.push((await request(p.port, 'geo', '/')).body.split(' ')[0]);
    assert.deepEqual(first, ['east', 'east', 'east'], 'local first');
    const s = await shares(p.port, 20);
    assert.deepEqual(s, { east: 0, west: 20 }, 'failed over to us-west');
    eastFails = false;
    // Ejected for 1 s, returned at the next 100 ms sweep: local again.
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(await shares(p.port, 10), { east: 10, west: 0 });
  } finally {
    east.respond = (r, res) => {
      res.setHeader('x-upstream', 'east');
      res.end(`east ${r.url}`);
    };
    await p.close();
  }
});

test('without outlier detection locality is not applied (Istio): both localities get traffic', async () => {
  const p = await startProxy(compile(config('    loadBalancer: {simple: ROUND_ROBIN}'), proxy), { rnd: seeded(3) });
  try {
    const s = await shares(p.port, 40);
    assert.equal(s.east, 20);
    assert.equal(s.west, 20);
  } finally {
    await p.close();
  }
});

test('localityLbSetting.distribute splits 80/20 from the proxy locality', async () => {
  const tp = `    loadBalancer:
      simple: RANDOM
      localityLbSetting:
        enabled: true
        distribute:
        - from: us-east/zone1/*
          to: {"us-east/zone1/*": 80, "us-west/zone2/*": 20}`;
  const p = await startProxy(compile(config(tp), proxy), { rnd: seeded(11) });
  try {
    const n = 500;
    const s = await shares(p.port, n);
    const pct = (100 * s.east) / n;
    assert.ok(Math.abs(pct - 80) <= 6, `east got ${pct}%`);
  } finally {
    await p.close();
  }
});
