import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatPath } from '../core/diagnostics.js';
import { validateOne } from './index.js';
import type { Finding } from './finding.js';

/** Loads a WorkloadEntry in namespace `ns1` (spec given unindented) through the full validator. */
function run(spec: string): Finding[] {
  const body = spec.trim().split('\n').map((l) => `  ${l}`).join('\n');
  const text = `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: we\n  namespace: ns1\nspec:\n${body}\n`;
  const r = loadText(text, 'we.yaml', { namespace: 'default' });
  assert.equal(r.resources.length, 1, JSON.stringify(r.diagnostics));
  return validateOne(r.resources[0]).findings;
}

type Want = { severity: 'error' | 'warning'; path: string; message: string };
/** rule, spec, expected finding (null: accepted with no findings at all). */
type Row = [string, string, Want | null];
const E = (path: string, message: string): Want => ({ severity: 'error', path, message });
const W = (path: string, message: string): Want => ({ severity: 'warning', path, message });

const rows: Row[] = [
  ['W1 address ok', 'address: 1.2.3.4\nlabels: {app: a, version: v1}\nnetwork: n1\nlocality: r/z/s\nweight: 3\nserviceAccount: sa', null],
  ['W1 nothing set (schema)', '{}', E('spec', 'Address is required')],
  ['W1 network without address', 'network: n1', W('spec.address', 'address is unset with network "n1"')],
  ['W2 FQDN ok', 'address: vm1.example.com', null],
  ['W2 IPv6 ok', 'address: "2001:db8::1"', null],
  ['W2 unix socket ok', 'address: "unix:///var/run/app.sock"', null],
  ['W2 not a name', 'address: foo_bar', E('spec.address', 'endpoint address "foo_bar" is not a valid FQDN or an IP address')],
  ['W2 numeric TLD', 'address: 1.2.3.999', E('spec.address', 'endpoint address "1.2.3.999" is not a valid FQDN or an IP address')],
  ['W2 relative unix socket (schema)', 'address: "unix://rel"', E('spec', 'UDS must be an absolute path or abstract socket')],
  ['W3 ports ok', 'address: 1.2.3.4\nports: {http: 8080, grpc-web: 9090}', null],
  ['W3 bad port name', 'address: 1.2.3.4\nports: {http_web: 8080}', E('spec.ports', 'port name must be valid: "http_web"')],
  ['W3 port out of range (schema)', 'address: 1.2.3.4\nports: {http: 0}', E('spec.ports.http', 'port must be between 1-65535')],
  ['W3 unix socket with ports (schema)', 'address: "unix:///var/run/app.sock"\nports: {http: 80}', E('spec', 'UDS may not include ports')],
  ['labels invalid', 'address: 1.2.3.4\nlabels: {"a b": c}', E('spec.labels', 'invalid tag key: "a b"')],
  ['label value invalid', 'address: 1.2.3.4\nlabels: {app: "-x"}', E('spec.labels', 'invalid tag value: "-x"')],
];

for (const [rule, spec, want] of rows) {
  test(`WorkloadEntry ${rule}`, () => {
    const fs = run(spec);
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
