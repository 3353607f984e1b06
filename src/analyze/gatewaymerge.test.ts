import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, summary } from './testkit.js';

const CODES = ['ISTHMUS-A007'];

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

function vs(name: string, host: string, http: string, gateways = ['gw']): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  gateways: ${JSON.stringify(gateways)}
  http:
${http}---
`;
}

const d = 'route: [{destination: {host: productpage.default.svc.cluster.local}}]';
const API_THEN_ALL = `  - match: [{uri: {prefix: /api}}]\n    ${d}\n  - ${d}\n`;
const ALL = `  - match: [{uri: {prefix: /}}]\n    ${d}\n`;
const ONLY_API = `  - match: [{uri: {prefix: /v2}}]\n    ${d}\n`;

const rows: Array<{ name: string; yaml: string; want: string[] }> = [
  {
    name: 'second catch-all on a merged gateway host is dead',
    yaml: GW + vs('a', 'bookinfo.com', API_THEN_ALL) + vs('b', 'bookinfo.com', ALL),
    want: ['ISTHMUS-A007 VirtualService default/b spec.http[0].match[0]'],
  },
  { name: 'only one catch-all: nothing lost', yaml: GW + vs('a', 'bookinfo.com', API_THEN_ALL) + vs('b', 'bookinfo.com', ONLY_API), want: [] },
  { name: 'different hosts are separate vhosts', yaml: GW + vs('a', 'a.example.com', ALL) + vs('b', 'b.example.com', ALL), want: [] },
  {
    name: 'servers on different ports keep separate route tables',
    yaml:
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['default/bookinfo.com']
  - port: {number: 8080, name: http-alt, protocol: HTTP}
    hosts: ['other/bookinfo.com']
---
` +
      vs('a', 'bookinfo.com', ALL) +
      vs('b', 'bookinfo.com', ALL).replace('namespace: default', 'namespace: other').replace('["gw"]', '["default/gw"]'),
    want: [],
  },
  {
    name: 'HTTPS server terminating TLS merges too',
    yaml:
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [bookinfo.com]
    tls: {mode: SIMPLE, credentialName: bookinfo-cert}
---
` +
      vs('a', 'bookinfo.com', ALL) +
      vs('b', 'bookinfo.com', ALL),
    want: ['ISTHMUS-A007 VirtualService default/b spec.http[0].match[0]'],
  },
  { name: 'a sidecar VirtualService is not merged on the gateway', yaml: GW + vs('a', 'bookinfo.com', ALL) + vs('b', 'bookinfo.com', ALL, ['mesh']), want: [] },
];

for (const row of rows) {
  test(`gatewaymerge: ${row.name}`, () => {
    assert.deepEqual(summary(analyzeYaml(row.yaml), CODES), row.want);
  });
}
