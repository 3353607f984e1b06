import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, summary, only } from './testkit.js';

const CODES = ['IST0101', 'IST0132', 'ISTHMUS-A006'];

function gateway(name: string, ns: string, hosts: string[]): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ${JSON.stringify(hosts)}
---
`;
}

function vs(opts: { hosts?: string[]; gateways: string[]; ns?: string; exportTo?: string[]; matchGateways?: string[] }): string {
  const match = opts.matchGateways ? `\n    match: [{gateways: ${JSON.stringify(opts.matchGateways)}}]` : '';
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: ${opts.ns ?? 'default'}}
spec:
  hosts: ${JSON.stringify(opts.hosts ?? ['bookinfo.com'])}
  gateways: ${JSON.stringify(opts.gateways)}
${opts.exportTo ? `  exportTo: ${JSON.stringify(opts.exportTo)}\n` : ''}  http:
  - route: [{destination: {host: productpage.default.svc.cluster.local}}]${match}
`;
}

const rows: Array<{ name: string; yaml: string; want: string[]; message?: string }> = [
  {
    name: 'missing gateway',
    yaml: vs({ gateways: ['missing'] }),
    want: ['IST0101 VirtualService default/app spec.gateways[0]'],
    message: 'Referenced gateway not found: "missing"',
  },
  {
    name: 'gateway in another namespace, wildcard server host',
    yaml: gateway('ingress', 'istio-system', ['*']) + vs({ gateways: ['istio-system/ingress', 'mesh'] }),
    want: [],
  },
  {
    name: 'short gateway name resolves in the VirtualService namespace, not elsewhere',
    yaml: gateway('ingress', 'istio-system', ['*']) + vs({ gateways: ['ingress'] }),
    want: ['IST0101 VirtualService default/app spec.gateways[0]'],
  },
  {
    name: 'legacy FQDN gateway name',
    yaml: gateway('ingress', 'istio-system', ['*']) + vs({ gateways: ['ingress.istio-system.svc.cluster.local'] }),
    want: [],
  },
  {
    name: 'server hosts do not cover the VirtualService hosts',
    yaml: gateway('gw', 'default', ['bookinfo.com']) + vs({ hosts: ['other.com', 'x.org'], gateways: ['gw'] }),
    want: ['IST0132 VirtualService default/app spec.gateways[0]'],
    message: 'one or more host [other.com x.org] defined in VirtualService default/app not found in Gateway default/gw.',
  },
  {
    name: 'wildcard server host covers a concrete VirtualService host',
    yaml: gateway('gw', 'default', ['*.example.com']) + vs({ hosts: ['a.example.com'], gateways: ['gw'] }),
    want: [],
  },
  {
    name: 'one covered host is enough (Istio reports only when none binds)',
    yaml: gateway('gw', 'default', ['a.example.com']) + vs({ hosts: ['a.example.com', 'b.example.com'], gateways: ['default/gw'] }),
    want: [],
  },
  {
    name: 'server host restricted to another namespace',
    yaml: gateway('gw', 'istio-system', ['prod/a.example.com']) + vs({ hosts: ['a.example.com'], gateways: ['istio-system/gw'] }),
    want: ['IST0132 VirtualService default/app spec.gateways[0]'],
  },
  {
    name: 'server host restricted to the VirtualService namespace',
    yaml: gateway('gw', 'istio-system', ['default/a.example.com']) + vs({ hosts: ['a.example.com'], gateways: ['istio-system/gw'] }),
    want: [],
  },
  {
    name: './host means the gateway namespace',
    yaml: gateway('gw', 'istio-system', ['./a.example.com']) + vs({ hosts: ['a.example.com'], gateways: ['istio-system/gw'] }),
    want: ['IST0132 VirtualService default/app spec.gateways[0]'],
  },
  {
    name: 'VirtualService not exported to the gateway namespace',
    yaml: gateway('gw', 'istio-system', ['*']) + vs({ gateways: ['istio-system/gw'], exportTo: ['.'] }),
    want: ['ISTHMUS-A006 VirtualService default/app spec.gateways[0]'],
  },
  {
    name: 'match-level gateway missing',
    yaml: gateway('gw', 'default', ['*']) + vs({ gateways: ['gw'], matchGateways: ['gw2'] }),
    want: ['IST0101 VirtualService default/app spec.http[0].match[0].gateways[0]'],
  },
];

for (const row of rows) {
  test(`gateways: ${row.name}`, () => {
    const ds = analyzeYaml(row.yaml);
    assert.deepEqual(summary(ds, CODES).filter((s) => !s.includes('route[')), row.want);
    if (row.message) assert.equal(ds.find((d) => CODES.includes(d.code ?? '') && !d.path.includes('route['))?.message, row.message);
  });
}

test('gateways: severities follow Istio (IST0101 error, IST0132 warning)', () => {
  const ds = analyzeYaml(gateway('gw', 'default', ['bookinfo.com']) + vs({ hosts: ['other.com'], gateways: ['gw', 'nope'] }));
  assert.equal(only(ds, 'IST0132').severity, 'warning');
  assert.equal(ds.find((d) => d.code === 'IST0101' && d.path === 'spec.gateways[1]')?.severity, 'error');
});
