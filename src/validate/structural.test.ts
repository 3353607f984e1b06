import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { validateStructure, hint } from './structural.js';

function check(kind: string, spec: string) {
  const text = `apiVersion: networking.istio.io/v1\nkind: ${kind}\nmetadata:\n  name: x\nspec:\n${spec}`;
  const r = loadText(text, 's.yaml', { namespace: 'default' });
  assert.equal(r.resources.length, 1, JSON.stringify(r.diagnostics));
  const res = validateStructure(r.resources[0]);
  return { ...res, raw: r.resources[0] };
}

const rows: Array<[string, string, string, string, RegExp]> = [
  // kind, spec (indented 2), expected path, message
  ['VirtualService', '  hots: [a]\n  http: []\n', 'spec.hots', '', /unknown field "hots" \(did you mean "hosts"\?\)/],
  ['VirtualService', '  hosts: a\n', 'spec.hosts', '', /must be of type array/],
  ['VirtualService', '  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      wieght: 5\n', 'spec.http.0.route.0.wieght', '', /did you mean "weight"/],
  ['VirtualService', '  hosts: [a]\n  http:\n  - route:\n    - weight: 5\n', 'spec.http.0.route.0.destination', '', /Required value/],
  ['VirtualService', '  hosts: [a]\n  http:\n  - timeout: 1500us\n    route: [{destination: {host: a}}]\n', 'spec.http.0.timeout', '', /duration must be greater than 1ms|ms precision/],
  ['VirtualService', '  hosts: [a]\n  http:\n  - match:\n    - uri: {exact: /a, prefix: /b}\n    route: [{destination: {host: a}}]\n', 'spec.http.0.match.0.uri', '', /only one of exact, prefix, regex/],
  ['VirtualService', '  hosts: [a]\n  http:\n  - redirect: {uri: /x, redirectCode: -1}\n', 'spec.http.0.redirect.redirectCode', '', /at least 0/],
  ['VirtualService', '  hosts: [a]\n  http:\n  - corsPolicy: {unmatchedPreflights: DROP}\n    route: [{destination: {host: a}}]\n', 'spec.http.0.corsPolicy.unmatchedPreflights', '', /Unsupported value: "DROP": supported values: "UNSPECIFIED", "FORWARD", "IGNORE"/],
  ['VirtualService', '  hosts: [a]\n  http:\n  - match:\n    - headers: {x-user: null}\n    route: [{destination: {host: a}}]\n', 'spec.http.0.match.0.headers.x-user', '', /must be of type object/],
  ['DestinationRule', '  host: a\n  trafficPolicy:\n    loadBalancer: {simple: FASTEST}\n', 'spec.trafficPolicy.loadBalancer.simple', '', /Unsupported value/],
  ['DestinationRule', '  host: a\n  trafficPolicy:\n    loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}\n', 'spec.trafficPolicy.loadBalancer', '', /only one of simple, consistentHash/],
  ['DestinationRule', '  host: a\n  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: 1.5}}\n', 'spec.trafficPolicy.connectionPool.tcp.maxConnections', '', /must be of type integer/],
  ['DestinationRule', '  host: a\n  trafficPolicy:\n    loadBalancer: {warmup: {duration: 10s, minimumPercent: 150}}\n', 'spec.trafficPolicy.loadBalancer.warmup.minimumPercent', '', /at most 100/],
  ['DestinationRule', '  host: a\n  workloadSelector: {matchLabels: {app: "*"}}\n', 'spec.workloadSelector.matchLabels.app', '', /wildcard not allowed/],
  ['Gateway', '  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n', 'spec.servers.0.hosts', '', /Required value/],
  ['Gateway', '  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [a.com]\n    tls: {mode: SIMPLE, credentialName: a, credentialNames: [b]}\n', 'spec.servers.0.tls', '', /only one of credentialName or credentialNames/],
  ['ServiceEntry', '  hosts: ["*"]\n', 'spec.hosts.0', '', /hostname cannot be wildcard/],
  ['ServiceEntry', '  hosts: [a.com]\n  ports: [{number: 80, name: a}, {number: 80, name: b}]\n', 'spec.ports', '', /port number cannot be duplicated/],
  ['ServiceEntry', '  hosts: [a.com]\n  resolution: DNS\n  addresses: [10.0.0.0/8]\n', 'spec', '', /CIDR addresses are allowed only for NONE\/STATIC/],
  ['Sidecar', '  egress:\n  - hosts: ["./*"]\n    captureMode: SOMETIMES\n', 'spec.egress.0.captureMode', '', /Unsupported value/],
  ['WorkloadEntry', '  address: unix://relative\n', 'spec', '', /UDS must be an absolute path/],
  ['WorkloadEntry', '  address: 1.1.1.1\n  ports: {http: 99999}\n', 'spec.ports.http', '', /port must be between 1-65535/],
];

for (const [kind, spec, path, , re] of rows) {
  test(`structural ${kind}: ${path} ${re.source.slice(0, 40)}`, () => {
    const r = check(kind, spec);
    assert.equal(r.resource, undefined, 'resource should be rejected');
    const hit = r.findings.find((f) => f.path.join('.') === path && re.test(f.message));
    assert.ok(hit, `expected ${path}: ${re} in ${JSON.stringify(r.findings)}`);
  });
}

test('a valid resource passes with nulls normalised away', () => {
  const r = check('VirtualService', '  hosts: [reviews]\n  gateways: null\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 100\n');
  assert.deepEqual(r.findings, []);
  assert.ok(r.resource);
  const spec = r.resource.spec as { gateways?: unknown };
  assert.equal('gateways' in spec, false);
});

test('unknown top-level field and missing spec', () => {
  const text = 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a}\nspce: {}\n';
  const raw = loadText(text, 's.yaml', { namespace: 'default' }).resources[0];
  const r = validateStructure(raw);
  const msgs = r.findings.map((f) => `${f.path.join('.')}: ${f.message}`);
  assert.ok(msgs.includes('spec: Required value'), msgs.join('\n'));
  assert.ok(msgs.some((m) => /spce: unknown field "spce" \(did you mean "spec"\?\)/.test(m)), msgs.join('\n'));
});

test('did-you-mean hint', () => {
  assert.equal(hint('hots', ['hosts', 'http']), ' (did you mean "hosts"?)');
  assert.equal(hint('retry_on', ['retryOn', 'attempts']), ' (did you mean "retryOn"?)');
  assert.equal(hint('zzzzzz', ['hosts', 'http']), '');
});
