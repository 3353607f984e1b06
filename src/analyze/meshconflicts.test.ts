import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, summary } from './testkit.js';

const CODES = ['IST0109'];

function vs(name: string, hosts: string[], opts: { ns?: string; exportTo?: string[]; gateways?: string[]; created?: string } = {}): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${opts.ns ?? 'default'}
${opts.created ? `  creationTimestamp: "${opts.created}"\n` : ''}spec:
  hosts: ${JSON.stringify(hosts)}
${opts.gateways ? `  gateways: ${JSON.stringify(opts.gateways)}\n` : ''}${opts.exportTo ? `  exportTo: ${JSON.stringify(opts.exportTo)}\n` : ''}  http:
  - route: [{destination: {host: reviews.default.svc.cluster.local}}]
---
`;
}

const GW = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
`;

const PREFIX =
  'The VirtualServices default/a,default/b associated with mesh gateway define the same host reviews.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.';

const rows: Array<{ name: string; yaml: string; want: string[]; message?: string }> = [
  {
    name: 'two mesh VirtualServices for one host: the first loaded wins',
    yaml: vs('b', ['reviews']) + vs('a', ['reviews', 'x.example.com']),
    want: ['IST0109 VirtualService default/b spec.hosts[0]', 'IST0109 VirtualService default/a spec.hosts[0]'],
    message: `${PREFIX} Sidecars in every namespace use default/b (the oldest: defined first, as load order stands in for creationTimestamp) and ignore default/a.`,
  },
  {
    name: 'creationTimestamp decides over load order',
    yaml: vs('b', ['reviews'], { created: '2024-02-01T00:00:00Z' }) + vs('a', ['reviews'], { created: '2024-01-01T00:00:00Z' }),
    want: ['IST0109 VirtualService default/b spec.hosts[0]', 'IST0109 VirtualService default/a spec.hosts[0]'],
    message: `${PREFIX} Sidecars in every namespace use default/a (the oldest by creationTimestamp) and ignore default/b.`,
  },
  {
    name: 'short name and FQDN are the same host; the host index is reported',
    yaml: vs('a', ['reviews']) + vs('b', ['other.example.com', 'reviews.default.svc.cluster.local'], { ns: 'foo' }),
    want: ['IST0109 VirtualService default/a spec.hosts[0]', 'IST0109 VirtualService foo/b spec.hosts[1]'],
  },
  {
    name: 'a gateway-only VirtualService does not conflict with a mesh one',
    yaml: GW + vs('a', ['reviews']) + vs('b', ['reviews'], { gateways: ['gw'] }),
    want: [],
  },
  {
    name: 'mesh listed with a gateway still binds to sidecars',
    yaml: GW + vs('a', ['reviews']) + vs('b', ['reviews'], { gateways: ['gw', 'mesh'] }),
    want: ['IST0109 VirtualService default/a spec.hosts[0]', 'IST0109 VirtualService default/b spec.hosts[0]'],
  },
  {
    name: 'private VirtualServices in different namespaces never meet',
    yaml: vs('a', ['reviews.default.svc.cluster.local'], { exportTo: ['.'] }) + vs('b', ['reviews.default.svc.cluster.local'], { ns: 'foo', exportTo: ['.'] }),
    want: [],
  },
  {
    name: 'a private VirtualService outranks an older public one, in its namespace only',
    yaml: vs('pub', ['reviews.default.svc.cluster.local']) + vs('mine', ['reviews.default.svc.cluster.local'], { ns: 'foo', exportTo: ['.'] }),
    want: ['IST0109 VirtualService default/pub spec.hosts[0]', 'IST0109 VirtualService foo/mine spec.hosts[0]'],
    message:
      'The VirtualServices default/pub,foo/mine associated with mesh gateway define the same host reviews.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource. Sidecars in namespace "foo" use foo/mine (exported only inside its own namespace, which outranks VirtualServices exported elsewhere) and ignore default/pub.',
  },
  { name: 'different hosts', yaml: vs('a', ['reviews']) + vs('b', ['ratings']), want: [] },
];

for (const row of rows) {
  test(`meshconflicts: ${row.name}`, () => {
    const ds = analyzeYaml(row.yaml);
    assert.deepEqual(summary(ds, CODES), row.want);
    for (const d of ds.filter((x) => x.code === 'IST0109')) assert.equal(d.severity, 'error');
    if (row.message) assert.equal(ds.find((d) => d.code === 'IST0109')?.message, row.message);
  });
}
