import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, serviceEntry, summary, only } from './testkit.js';

const CODES = ['ISTHMUS-A005', 'IST0111'];

function sidecar(name: string, hosts: string[], opts: { ns?: string; selector?: Record<string, string> } = {}): string {
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${name}, namespace: ${opts.ns ?? 'default'}}
spec:
${opts.selector ? `  workloadSelector: {labels: ${JSON.stringify(opts.selector)}}\n` : ''}  egress:
  - hosts: ${JSON.stringify(hosts)}
---
`;
}

const REVIEWS = serviceEntry('reviews', 'reviews.default.svc.cluster.local');
const VS_FOO = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: foo, namespace: default}
spec:
  hosts: [foo.example.com]
  http:
  - route: [{destination: {host: reviews.default.svc.cluster.local}}]
---
`;

const rows: Array<{ name: string; yaml: string; want: string[] }> = [
  {
    name: 'a host that matches nothing; namespace-wide imports are not judged',
    yaml: REVIEWS + sidecar('default', ['./reviews.default.svc.cluster.local', 'istio-system/*', './ratings.default.svc.cluster.local']),
    want: ['ISTHMUS-A005 Sidecar default/default spec.egress[0].hosts[2]'],
  },
  {
    name: 'wrong namespace part',
    yaml: REVIEWS + sidecar('default', ['bookinfo/reviews.default.svc.cluster.local']),
    want: ['ISTHMUS-A005 Sidecar default/default spec.egress[0].hosts[0]'],
  },
  { name: 'imported through a VirtualService host', yaml: REVIEWS + VS_FOO + sidecar('default', ['./foo.example.com']), want: [] },
  { name: 'wildcard egress host', yaml: REVIEWS + sidecar('default', ['*/*.svc.cluster.local']), want: [] },
  {
    name: 'service in another namespace not exported to the sidecar',
    yaml: serviceEntry('api', 'api.example.com', { ns: 'ext', exportTo: ['.'] }) + sidecar('default', ['*/api.example.com'], { ns: 'app' }),
    want: ['ISTHMUS-A005 Sidecar app/default spec.egress[0].hosts[0]'],
  },
  {
    name: 'service in another namespace exported everywhere',
    yaml: serviceEntry('api', 'api.example.com', { ns: 'ext' }) + sidecar('default', ['ext/api.example.com'], { ns: 'app' }),
    want: [],
  },
  {
    name: 'two selector-less Sidecars in one namespace',
    yaml: REVIEWS + sidecar('one', ['./*']) + sidecar('two', ['./*']) + sidecar('three', ['./*'], { selector: { app: 'x' } }),
    want: ['IST0111 Sidecar default/one metadata.name', 'IST0111 Sidecar default/two metadata.name'],
  },
];

for (const row of rows) {
  test(`sidecars: ${row.name}`, () => {
    assert.deepEqual(summary(analyzeYaml(row.yaml), CODES), row.want);
  });
}

test('sidecars: IST0111 text names the Sidecars and the one applied', () => {
  const ds = analyzeYaml(sidecar('one', ['./*']) + sidecar('two', ['./*'], { ns: 'x' }) + sidecar('three', ['./*'], { ns: 'x' }));
  const d = only(ds.filter((x) => x.name === 'three'), 'IST0111');
  assert.equal(d.severity, 'error');
  assert.equal(d.message, 'The Sidecars [two three] in namespace "x" have no workload selector, which can lead to undefined behavior. Isthmus applies the oldest, x/two.');
});
