import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, serviceEntry, summary } from './testkit.js';

const CODES = ['IST0101', 'ISTHMUS-A002'];

function dr(name: string, host: string, subsets: string[], opts: { ns?: string; exportTo?: string[] } = {}): string {
  const ss = subsets.map((s) => `  - {name: ${s}, labels: {version: ${s}}}`).join('\n');
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${opts.ns ?? 'default'}}
spec:
  host: ${host}
${opts.exportTo ? `  exportTo: ${JSON.stringify(opts.exportTo)}\n` : ''}${subsets.length ? `  subsets:\n${ss}\n` : '  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n'}---
`;
}

function vs(route: string, opts: { gateways?: string[] } = {}): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: default}
spec:
  hosts: [app.example.com]
${opts.gateways ? `  gateways: ${JSON.stringify(opts.gateways)}\n` : ''}  http:
${route}`;
}

const GW = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
`;

const REVIEWS = serviceEntry('reviews', 'reviews.default.svc.cluster.local', { endpoints: [{ version: 'v1' }, { version: 'v2' }] });
const REVIEWS_BOOKINFO = serviceEntry('reviews', 'reviews.bookinfo.svc.cluster.local', { ns: 'bookinfo', endpoints: [{ version: 'v1' }] });
const toV = (host: string, subset: string) => `  - route: [{destination: {host: ${host}, subset: ${subset}}}]\n`;

const rows: Array<{ name: string; yaml: string; want: string[]; message?: string }> = [
  { name: 'subset defined', yaml: REVIEWS + dr('reviews', 'reviews', ['v1', 'v2']) + vs(toV('reviews', 'v1')), want: [] },
  {
    name: 'subset defined by no DestinationRule',
    yaml: REVIEWS + dr('reviews', 'reviews', ['v1', 'v2']) + vs(toV('reviews', 'v4')),
    want: ['IST0101 VirtualService default/app spec.http[0].route[0].destination.subset'],
    message: 'Referenced host+subset in destinationrule not found: "reviews+v4"',
  },
  {
    name: 'no DestinationRule at all',
    yaml: REVIEWS + vs(toV('reviews', 'v1')),
    want: ['IST0101 VirtualService default/app spec.http[0].route[0].destination.subset'],
  },
  {
    name: 'mirror subset',
    yaml: REVIEWS + dr('reviews', 'reviews', ['v1']) + vs('  - route: [{destination: {host: reviews, subset: v1}}]\n    mirror: {host: reviews, subset: v9}\n'),
    want: ['IST0101 VirtualService default/app spec.http[0].mirror.subset'],
    message: 'Referenced mirror+subset in destinationrule not found: "reviews+v9"',
  },
  {
    name: 'subset in a DestinationRule private to another namespace',
    yaml: REVIEWS + dr('reviews', 'reviews.default.svc.cluster.local', ['v1'], { ns: 'foo', exportTo: ['.'] }) + vs(toV('reviews', 'v1')),
    want: ['ISTHMUS-A002 VirtualService default/app spec.http[0].route[0].destination.subset'],
  },
  {
    name: "the client's own DestinationRule hides the service namespace one",
    yaml:
      REVIEWS_BOOKINFO +
      dr('reviews-policy', 'reviews.bookinfo.svc.cluster.local', []) +
      dr('reviews', 'reviews', ['v1'], { ns: 'bookinfo' }) +
      vs(toV('reviews.bookinfo.svc.cluster.local', 'v1')),
    want: ['ISTHMUS-A002 VirtualService default/app spec.http[0].route[0].destination.subset'],
    message:
      'subset "v1" of host "reviews.bookinfo.svc.cluster.local" is defined in DestinationRule bookinfo/reviews, but sidecars in namespace "default" use DestinationRule default/reviews-policy, which has no subset "v1" (a DestinationRule in the client\'s namespace is used first, then the service\'s namespace, then the root namespace)',
  },
  {
    name: 'service namespace DestinationRule applies when the client has none',
    yaml: REVIEWS_BOOKINFO + dr('reviews', 'reviews', ['v1'], { ns: 'bookinfo' }) + vs(toV('reviews.bookinfo.svc.cluster.local', 'v1')),
    want: [],
  },
  {
    name: 'root namespace DestinationRule',
    yaml: REVIEWS + dr('reviews', 'reviews.default.svc.cluster.local', ['v1'], { ns: 'istio-system' }) + vs(toV('reviews', 'v1')),
    want: [],
  },
  {
    name: 'DestinationRule private to the VirtualService namespace: the gateway cannot use it',
    yaml: GW + REVIEWS + dr('reviews', 'reviews', ['v1'], { exportTo: ['.'] }) + vs(toV('reviews', 'v1'), { gateways: ['mesh', 'istio-system/gw'] }),
    want: ['ISTHMUS-A002 VirtualService default/app spec.http[0].route[0].destination.subset'],
  },
];

for (const row of rows) {
  test(`subsets: ${row.name}`, () => {
    const ds = analyzeYaml(row.yaml);
    assert.deepEqual(summary(ds, CODES), row.want);
    if (row.message) assert.equal(ds.find((d) => CODES.includes(d.code ?? ''))?.message, row.message);
  });
}
