import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, serviceEntry, summary, only } from './testkit.js';

const CODES = ['IST0173', 'IST0174', 'ISTHMUS-A003', 'ISTHMUS-A004'];

function dr(name: string, host: string, subsets: Array<[string, Record<string, string>]>, opts: { ns?: string; policy?: boolean; selector?: Record<string, string> } = {}): string {
  const ss = subsets.map(([n, labels]) => `  - {name: ${n}, labels: ${JSON.stringify(labels)}}`).join('\n');
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${opts.ns ?? 'default'}}
spec:
  host: ${JSON.stringify(host)}
${opts.selector ? `  workloadSelector: {matchLabels: ${JSON.stringify(opts.selector)}}\n` : ''}${opts.policy ? '  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}\n' : ''}${subsets.length ? `  subsets:\n${ss}\n` : ''}---
`;
}

const REVIEWS = serviceEntry('reviews', 'reviews.default.svc.cluster.local', { endpoints: [{ version: 'v1' }, { version: 'v2' }] });

const WE_BACKED = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ratings}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-v2, namespace: default}
spec:
  address: 10.1.0.2
  labels: {app: ratings, version: v2}
---
`;

const rows: Array<{ name: string; yaml: string; want: string[] }> = [
  { name: 'every subset selects an endpoint', yaml: REVIEWS + dr('reviews', 'reviews', [['v1', { version: 'v1' }], ['v2', { version: 'v2' }]]), want: [] },
  { name: 'host in no registry', yaml: REVIEWS + dr('ratings', 'ratings', []), want: ['IST0174 DestinationRule default/ratings spec.host'] },
  {
    name: 'subset selecting no endpoint',
    yaml: REVIEWS + dr('reviews', 'reviews', [['v1', { version: 'v1' }], ['v3', { version: 'v3' }]]),
    want: ['IST0173 DestinationRule default/reviews spec.subsets[1]'],
  },
  {
    name: 'labels must all match one endpoint',
    yaml: REVIEWS + dr('reviews', 'reviews', [['mixed', { version: 'v1', zone: 'a' }]]),
    want: ['IST0173 DestinationRule default/reviews spec.subsets[0]'],
  },
  {
    name: 'WorkloadEntry endpoints picked by workloadSelector',
    yaml: WE_BACKED + dr('ratings', 'ratings', [['v2', { version: 'v2' }], ['v3', { version: 'v3' }]]),
    want: ['IST0173 DestinationRule default/ratings spec.subsets[1]'],
  },
  {
    name: 'resolution NONE services are not judged',
    yaml: serviceEntry('ext', 'api.example.com', { resolution: 'NONE' }) + dr('ext', 'api.example.com', [['v1', { version: 'v1' }]]),
    want: [],
  },
  {
    name: 'DNS entry without endpoints: the host is the one unlabelled endpoint',
    yaml:
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.example.com]
  resolution: DNS
  ports: [{number: 443, name: tls, protocol: TLS}]
---
` + dr('ext', 'api.example.com', [['all', {}], ['v1', { version: 'v1' }]]),
    want: ['IST0173 DestinationRule default/ext spec.subsets[1]'],
  },
  {
    name: 'wildcard DestinationRule host matches a service',
    yaml: serviceEntry('ext', 'api.example.com', { resolution: 'NONE' }) + dr('ext', '*.example.com', []),
    want: [],
  },
  {
    name: 'merged rules: duplicate subset and a second top-level policy are ignored',
    yaml:
      REVIEWS +
      dr('reviews-a', 'reviews', [['v1', { version: 'v1' }]], { policy: true }) +
      dr('reviews-b', 'reviews.default.svc.cluster.local', [['v2', { version: 'v2' }], ['v1', { version: 'v2' }]], { policy: true }),
    want: ['ISTHMUS-A004 DestinationRule default/reviews-b spec.trafficPolicy', 'ISTHMUS-A003 DestinationRule default/reviews-b spec.subsets[1].name'],
  },
  {
    name: 'rules in different namespaces are not merged',
    yaml: REVIEWS + dr('reviews', 'reviews.default.svc.cluster.local', [['v1', { version: 'v1' }]], { policy: true }) + dr('reviews', 'reviews.default.svc.cluster.local', [['v1', { version: 'v1' }]], { ns: 'other', policy: true }),
    want: [],
  },
  {
    name: 'a rule with workloadSelector is not merged with a namespace-wide one',
    yaml: REVIEWS + dr('reviews', 'reviews', [['v1', { version: 'v1' }]], { policy: true }) + dr('reviews-canary', 'reviews', [['v1', { version: 'v1' }]], { policy: true, selector: { app: 'canary' } }),
    want: [],
  },
];

for (const row of rows) {
  test(`destinationrules: ${row.name}`, () => {
    assert.deepEqual(summary(analyzeYaml(row.yaml), CODES), row.want);
  });
}

test('destinationrules: Istio texts and severities', () => {
  const ds = analyzeYaml(REVIEWS + dr('reviews', 'reviews', [['v3', { version: 'v3' }]]) + dr('ratings', 'ratings', []));
  const sub = only(ds, 'IST0173');
  assert.equal(sub.severity, 'error');
  assert.equal(sub.message, 'The Subset v3 defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).');
  const host = only(ds, 'IST0174');
  assert.equal(host.severity, 'warning');
  assert.equal(host.message, 'The host ratings defined in the DestinationRule does not match any services in the mesh.');
});
