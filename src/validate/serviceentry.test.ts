import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatPath } from '../core/diagnostics.js';
import { validateOne } from './index.js';
import type { Finding } from './finding.js';

/**
 * Loads a ServiceEntry in namespace `ns1` (spec given unindented) through the full
 * validator; `labels` is a YAML flow map for metadata.labels.
 */
function run(spec: string, labels?: string): Finding[] {
  const body = spec.trim().split('\n').map((l) => `  ${l}`).join('\n');
  const meta = labels ? `  labels: ${labels}\n` : '';
  const text = `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se\n  namespace: ns1\n${meta}spec:\n${body}\n`;
  const r = loadText(text, 'se.yaml', { namespace: 'default' });
  assert.equal(r.resources.length, 1, JSON.stringify(r.diagnostics));
  return validateOne(r.resources[0]).findings;
}

type Want = { severity: 'error' | 'warning'; path: string; message: string };
/** rule, spec, expected finding (null: accepted with no findings at all), metadata.labels. */
type Row = [string, string, Want | null, string?];
const E = (path: string, message: string): Want => ({ severity: 'error', path, message });
const W = (path: string, message: string): Want => ({ severity: 'warning', path, message });
const HTTP = '{number: 80, name: http, protocol: HTTP}';
const TCP = '{number: 22, name: ssh, protocol: TCP}';

const rows: Row[] = [
  ['S1 hosts ok', `hosts: [a.com, "*.b.com"]\nresolution: NONE\nports: [${HTTP}]`, null],
  ['S1 bare * (schema)', 'hosts: ["*"]', E('spec.hosts[0]', 'hostname cannot be wildcard')],
  ['S1 no hosts (schema)', 'hosts: []', E('spec.hosts', 'at least 1 items')],
  ['S1 invalid host', 'hosts: [foo_bar.com]', E('spec.hosts[0]', 'domain name "foo_bar.com" invalid')],
  ['S2 partial wildcard', 'hosts: ["*foo.com"]', W('spec.hosts[0]', 'partial wildcard "*foo.com" not allowed')],
  ['S2 partial wildcard fine for DYNAMIC_DNS', `hosts: ["*foo.com"]\nresolution: DYNAMIC_DNS\nports: [${HTTP}]`, null],
  ['S3 selector only ok', 'hosts: [a.com]\nresolution: STATIC\nlocation: MESH_INTERNAL\nworkloadSelector: {labels: {app: a}}', null],
  ['S3 selector and endpoints (schema)', 'hosts: [a.com]\nresolution: STATIC\nworkloadSelector: {labels: {app: a}}\nendpoints: [{address: 1.1.1.1}]', E('spec', 'only one of WorkloadSelector or Endpoints can be set')],
  ['S4 addresses ok', 'hosts: [a.com]\naddresses: [10.0.0.0/8, 1.2.3.4, "2001:db8::/32"]', null],
  ['S4 bad CIDR', 'hosts: [a.com]\naddresses: [1.2.3.4/99]', E('spec.addresses[0]', '"1.2.3.4/99" is not a valid CIDR block')],
  ['S4 bad IP', 'hosts: [a.com]\naddresses: [foo]', E('spec.addresses[0]', 'foo is not a valid IP')],
  ['S4 CIDR with DNS (schema)', 'hosts: [a.com]\naddresses: [10.0.0.0/8]\nresolution: DNS', E('spec', 'CIDR addresses are allowed only for NONE/STATIC resolution types')],
  ['S5 ports ok', `hosts: [a.com]\nresolution: DNS\nports: [${HTTP}, {number: 443, name: https, protocol: https}]`, null],
  ['S5 bad port name', 'hosts: [a.com]\nresolution: DNS\nports: [{number: 80, name: http_web, protocol: HTTP}]', E('spec.ports[0].name', 'invalid port name: http_web')],
  ['S5 unknown protocol', 'hosts: [a.com]\nresolution: DNS\nports: [{number: 80, name: web, protocol: FOO}]', E('spec.ports[0].protocol', 'unsupported protocol: FOO')],
  ['S5 duplicate number (schema)', `hosts: [a.com]\nresolution: DNS\nports: [${HTTP}, {number: 80, name: web, protocol: HTTP}]`, E('spec.ports', 'port number cannot be duplicated')],
  ['S6 TCP with address ok', `hosts: [a.com]\naddresses: [10.1.1.1]\nports: [${TCP}]`, null],
  ['S6 TCP with auto-allocation ok', `hosts: [a.com]\nresolution: DNS\nports: [${TCP}]`, null],
  ['S6 TCP without address (NONE)', `hosts: [a.com]\nports: [${TCP}]`, W('spec.ports[0]', 'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled')],
  ['S6 unset protocol, allocation opted out', 'hosts: [a.com]\nresolution: DNS\nports: [{number: 9000, name: x}]', W('spec.ports[0]', 'addresses are required for ports serving TCP'), '{networking.istio.io/enable-autoallocate-ip: "false"}'],
  ['S7 NONE with endpoints (schema)', 'hosts: [a.com]\nendpoints: [{address: 1.1.1.1}]', E('spec', 'NONE mode cannot set endpoints')],
  ['S7 NONE with selector', 'hosts: [a.com]\nworkloadSelector: {labels: {app: a}}', W('spec.workloadSelector', 'workloadSelector should not be set when resolution mode is NONE')],
  ['S8 static endpoints ok', `hosts: [a.com]\nresolution: STATIC\nports: [${HTTP}]\nendpoints: [{address: 1.1.1.1, ports: {http: 8080}}, {address: "2001:db8::1"}]`, null],
  ['S8 static endpoint FQDN', `hosts: [a.com]\nresolution: STATIC\nports: [${HTTP}]\nendpoints: [{address: foo.com}]`, E('spec.endpoints[0].address', 'endpoint address "foo.com" is not a valid IP address')],
  ['S8 static endpoint unknown port', `hosts: [a.com]\nresolution: STATIC\nports: [${HTTP}]\nendpoints: [{address: 1.1.1.1, ports: {https: 8443}}]`, E('spec.endpoints[0].ports.https', 'endpoint port 8443 is not defined by the service entry')],
  ['S8 static endpoint bad labels', `hosts: [a.com]\nresolution: STATIC\nports: [${HTTP}]\nendpoints: [{address: 1.1.1.1, labels: {"a b": c}}]`, E('spec.endpoints[0].labels', 'invalid tag key: "a b"')],
  ['S9 DNS wildcard with endpoints ok', `hosts: ["*.foo.com"]\nresolution: DNS\nports: [${HTTP}]\nendpoints: [{address: lb.foo.com}]`, null],
  ['S9 DNS wildcard without endpoints', `hosts: ["*.foo.com"]\nresolution: DNS\nports: [${HTTP}]`, E('spec.hosts[0]', 'hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS')],
  ['S9 DNS endpoint not a name', `hosts: [a.com]\nresolution: DNS\nports: [${HTTP}]\nendpoints: [{address: foo_bar}]`, E('spec.endpoints[0].address', 'endpoint address "foo_bar" is not a valid FQDN or an IP address')],
  ['S9 DNS endpoint unknown port', `hosts: [a.com]\nresolution: DNS\nports: [${HTTP}]\nendpoints: [{address: b.com, ports: {web: 81}}]`, E('spec.endpoints[0].ports.web', 'endpoint port 81 is not defined by the service entry')],
  ['S10 DNS_ROUND_ROBIN one endpoint ok', `hosts: [a.com]\nresolution: DNS_ROUND_ROBIN\nports: [${HTTP}]\nendpoints: [{address: b.com}]`, null],
  ['S10 DNS_ROUND_ROBIN two endpoints (schema)', `hosts: [a.com]\nresolution: DNS_ROUND_ROBIN\nports: [${HTTP}]\nendpoints: [{address: b.com}, {address: c.com}]`, E('spec', 'DNS_ROUND_ROBIN mode cannot have multiple endpoints')],
  ['S11 multiple hosts with HTTP/TLS ok', `hosts: [a.com, b.com]\nresolution: DNS\nports: [${HTTP}, {number: 443, name: tls, protocol: TLS}]`, null],
  ['S11 multiple hosts with TCP, NONE ok', `hosts: [a.com, b.com]\naddresses: [10.1.1.1]\nports: [${TCP}]`, null],
  ['S11 multiple hosts with TCP', `hosts: [a.com, b.com]\nresolution: DNS\nports: [${TCP}]`, E('spec.ports[0].protocol', 'multiple hosts provided with non-HTTP, non-TLS ports')],
  ['S11 multiple hosts, address and TLS port', `hosts: [a.com, b.com]\naddresses: [10.1.1.1]\nresolution: DNS\nports: [{number: 443, name: https, protocol: HTTPS}]`, W('spec.hosts', 'service entry can not have more than one host specified simultaneously with address and tcp port')],
  ['S12 DYNAMIC_DNS concrete host', `hosts: [a.com]\nresolution: DYNAMIC_DNS\nports: [${HTTP}]`, E('spec.hosts[0]', 'host must be wildcarded for resolution mode DYNAMIC_DNS')],
  ['S12 DYNAMIC_DNS with addresses', `hosts: ["*.a.com"]\nresolution: DYNAMIC_DNS\naddresses: [10.1.1.1]\nports: [${HTTP}]`, E('spec.addresses', 'addresses cannot be set for resolution type DYNAMIC_DNS')],
  ['S12 DYNAMIC_DNS with endpoints', `hosts: ["*.a.com"]\nresolution: DYNAMIC_DNS\nports: [${HTTP}]\nendpoints: [{address: 1.1.1.1}]`, E('spec.endpoints', 'endpoints cannot be set for resolution type DYNAMIC_DNS')],
  ['S12 DYNAMIC_DNS with TCP', `hosts: ["*.a.com"]\nresolution: DYNAMIC_DNS\nports: [${TCP}]`, E('spec.ports[0].protocol', 'only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS')],
  ['S12 DYNAMIC_DNS internal behind waypoint', `hosts: ["*.a.com"]\nresolution: DYNAMIC_DNS\nlocation: MESH_INTERNAL\nports: [${HTTP}]`, E('spec.location', 'location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints'), '{istio.io/use-waypoint: wp}'],
  ['S13 exportTo ~ alone ok', 'hosts: [a.com]\nexportTo: ["~"]', null],
  ['S13 exportTo ~ and others', 'hosts: [a.com]\nexportTo: ["~", ns2]', E('spec.exportTo', 'cannot export service entry to no one (~) and someone')],
  ['S13 exportTo duplicate', 'hosts: [a.com]\nexportTo: [ns2, ns2]', E('spec.exportTo[1]', 'duplicate entries in exportTo for entry ns2')],
  ['S14 unix endpoint with one port ok', `hosts: [a.com]\nresolution: STATIC\nports: [${HTTP}]\nendpoints: [{address: "unix:///var/run/a.sock"}]`, null],
  ['S14 unix endpoint with two ports', `hosts: [a.com]\nresolution: STATIC\nports: [${HTTP}, {number: 81, name: web, protocol: HTTP}]\nendpoints: [{address: "unix:///var/run/a.sock"}]`, E('spec.endpoints[0].address', 'exactly 1 service port required for unix endpoints')],
  ['S14 unix endpoint with ports (schema)', `hosts: [a.com]\nresolution: STATIC\nports: [${HTTP}]\nendpoints: [{address: "unix:///var/run/a.sock", ports: {http: 80}}]`, E('spec.endpoints[0]', 'UDS may not include ports')],
  ['S15 selector key wildcard', 'hosts: [a.com]\nresolution: STATIC\nworkloadSelector: {labels: {"*": v}}', E('spec.workloadSelector.labels.*', 'wildcard is not supported in selector: "*=v"')],
  ['S15 selector value wildcard (schema)', 'hosts: [a.com]\nresolution: STATIC\nworkloadSelector: {labels: {app: "*"}}', E('spec.workloadSelector.labels.app', 'wildcard is not supported in selector')],
  ['S15 empty selector', 'hosts: [a.com]\nresolution: STATIC\nworkloadSelector: {}', W('spec.workloadSelector', 'service entry: workload selector specified without labels, will be applied to all services in namespace')],
];

for (const [rule, spec, want, labels] of rows) {
  test(`ServiceEntry ${rule}`, () => {
    const fs = run(spec, labels);
    const show = fs.map((f) => `${f.severity ?? 'error'} ${formatPath(f.path)}: ${f.message}`).join('\n');
    if (want === null) {
      assert.deepEqual(fs, [], `expected no findings, got:\n${show}`);
      return;
    }
    const hit = fs.find((f) => (f.severity ?? 'error') === want.severity && formatPath(f.path) === want.path && f.message.includes(want.message));
    assert.ok(hit, `expected ${want.severity} at ${want.path} containing ${JSON.stringify(want.message)}, got:\n${show}`);
    if (want.severity === 'warning') assert.ok(!fs.some((f) => (f.severity ?? 'error') === 'error'), show);
  });
}
