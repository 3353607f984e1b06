import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, serviceEntry, summary } from './testkit.js';

const CODES = ['IST0101', 'IST0112', 'ISTHMUS-A001'];

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

/** A VirtualService `app` in `ns` (default `default`) with the given http/tcp section. */
function vs(section: string, opts: { ns?: string; gateways?: string[]; hosts?: string[] } = {}): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: ${opts.ns ?? 'default'}}
spec:
  hosts: ${JSON.stringify(opts.hosts ?? ['app.example.com'])}
${opts.gateways ? `  gateways: ${JSON.stringify(opts.gateways)}\n` : ''}${section}`;
}

const REVIEWS = serviceEntry('reviews', 'reviews.default.svc.cluster.local');

const rows: Array<{ name: string; yaml: string; want: string[]; message?: string }> = [
  {
    name: 'short name found in the registry',
    yaml: REVIEWS + vs('  http:\n  - route: [{destination: {host: reviews}}]\n'),
    want: [],
  },
  {
    name: 'host in no registry',
    yaml: REVIEWS + vs('  http:\n  - route: [{destination: {host: reviews}}, {destination: {host: ratings}, weight: 10}]\n'),
    want: ['IST0101 VirtualService default/app spec.http[0].route[1].destination.host'],
    message: 'Referenced host not found: "ratings"',
  },
  {
    name: 'mirror and mirrors hosts',
    yaml:
      REVIEWS +
      vs(
        '  http:\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: reviews}}]\n    mirror: {host: shadow}\n  - route: [{destination: {host: reviews}}]\n    mirrors: [{destination: {host: reviews}}, {destination: {host: shadow2}}]\n',
      ),
    want: ['IST0101 VirtualService default/app spec.http[0].mirror.host', 'IST0101 VirtualService default/app spec.http[1].mirrors[1].destination.host'],
    message: 'Referenced mirror host not found: "shadow"',
  },
  {
    name: 'short names resolve against the VirtualService namespace',
    yaml: REVIEWS + vs('  http:\n  - route: [{destination: {host: reviews}}]\n', { ns: 'foo' }),
    want: ['IST0101 VirtualService foo/app spec.http[0].route[0].destination.host'],
  },
  {
    name: 'a name with a dot is not expanded',
    yaml: REVIEWS + vs('  http:\n  - route: [{destination: {host: reviews.default}}]\n'),
    want: ['IST0101 VirtualService default/app spec.http[0].route[0].destination.host'],
  },
  {
    name: 'wildcard ServiceEntry host covers the destination',
    yaml: serviceEntry('ext', '"*.example.com"', { resolution: 'NONE', ports: [443] }) + vs('  tcp:\n  - route: [{destination: {host: api.example.com}}]\n'),
    want: [],
  },
  {
    name: 'tcp destination in no registry',
    yaml: vs('  tcp:\n  - route: [{destination: {host: db.example.com, port: {number: 5432}}}]\n'),
    want: ['IST0101 VirtualService default/app spec.tcp[0].route[0].destination.host'],
  },
  {
    name: 'destination port not on the service',
    yaml: REVIEWS + vs('  http:\n  - route: [{destination: {host: reviews, port: {number: 8080}}}]\n'),
    want: ['IST0101 VirtualService default/app spec.http[0].route[0].destination.port.number'],
    message: 'Referenced host:port not found: "reviews:8080"',
  },
  {
    name: 'multi-port service needs a destination port',
    yaml:
      serviceEntry('reviews', 'reviews.default.svc.cluster.local', { ports: [9080, 9090] }) +
      vs('  http:\n  - route: [{destination: {host: reviews}, weight: 50}, {destination: {host: reviews, port: {number: 9090}}, weight: 50}]\n'),
    want: ['IST0112 VirtualService default/app spec.http[0].route[0].destination.host'],
    message:
      'This VirtualService routes to a service "reviews" that exposes multiple ports [9080 9090]. Specifying a port in the destination is required to disambiguate.',
  },
  {
    name: 'service not exported to the VirtualService namespace',
    yaml: serviceEntry('reviews', 'reviews.other.svc.cluster.local', { ns: 'other', exportTo: ['.'] }) + vs('  http:\n  - route: [{destination: {host: reviews.other.svc.cluster.local}}]\n'),
    want: ['ISTHMUS-A001 VirtualService default/app spec.http[0].route[0].destination.host'],
  },
  {
    name: 'service visible to the VirtualService but not to its gateway',
    yaml: GW + serviceEntry('reviews', 'reviews.default.svc.cluster.local', { exportTo: ['.'] }) + vs('  http:\n  - route: [{destination: {host: reviews}}]\n', { gateways: ['istio-system/gw', 'mesh'] }),
    want: ['ISTHMUS-A001 VirtualService default/app spec.http[0].route[0].destination.host'],
    message:
      'destination host "reviews.default.svc.cluster.local" is defined by ServiceEntry default/reviews but not exported to namespace "istio-system", so Gateway istio-system/gw cannot route to it',
  },
];

for (const row of rows) {
  test(`destinations: ${row.name}`, () => {
    const ds = analyzeYaml(row.yaml);
    assert.deepEqual(summary(ds, CODES), row.want);
    if (row.message) assert.equal(ds.find((d) => CODES.includes(d.code ?? ''))?.message, row.message);
  });
}
