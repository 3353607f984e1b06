import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatPath } from '../core/diagnostics.js';
import { validateOne } from './index.js';
import type { Finding } from './finding.js';

/** Loads a Sidecar in namespace `ns1` (spec given unindented) through the full validator. */
function run(spec: string): Finding[] {
  const body = spec.trim().split('\n').map((l) => `  ${l}`).join('\n');
  const text = `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: sc\n  namespace: ns1\nspec:\n${body}\n`;
  const r = loadText(text, 'sc.yaml', { namespace: 'default' });
  assert.equal(r.resources.length, 1, JSON.stringify(r.diagnostics));
  return validateOne(r.resources[0]).findings;
}

type Want = { severity: 'error' | 'warning'; path: string; message: string };
/** rule, spec, expected finding (null: accepted with no findings at all). */
type Row = [string, string, Want | null];
const E = (path: string, message: string): Want => ({ severity: 'error', path, message });
const W = (path: string, message: string): Want => ({ severity: 'warning', path, message });

/** One egress listener with the given hosts (YAML flow list body). */
const egress = (hosts: string) => `egress:\n- hosts: [${hosts}]`;
/** One ingress listener (YAML flow-mapping fields). */
const ingress = (fields: string) => `ingress:\n- {${fields}}`;
const IN_HTTP = 'port: {number: 9080, name: http, protocol: HTTP}';
const IN_HTTPS = 'port: {number: 9443, name: https, protocol: HTTPS}';
const CERTS = 'serverCertificate: /c, privateKey: /k';
const EG0 = 'spec.egress[0]';
const IN0 = 'spec.ingress[0]';

const rows: Row[] = [
  ['C1 empty spec', '{}', E('spec', 'sidecar: empty configuration provided')],
  ['C1 selector alone is empty', 'workloadSelector: {labels: {app: a}}', E('spec', 'sidecar: empty configuration provided')],
  ['C1 outbound policy alone ok', 'outboundTrafficPolicy: {mode: REGISTRY_ONLY}', null],
  ['C2 host forms ok', egress('"./*", "istio-system/*", "*/a.com", "~ns2/b.com", "~/*.c.com"'), null],
  ['C2 no namespace', egress('foo.com'), E(`${EG0}.hosts[0]`, 'host must be of form namespace/dnsName')],
  ['C3 short name', egress('ns2/foo'), E(`${EG0}.hosts[0]`, 'short names (non FQDN) are not allowed')],
  ['C3 partial wildcard', egress('"ns2/*foo.com"'), E(`${EG0}.hosts[0]`, 'partial wildcard "*foo.com" not allowed')],
  ['C3 bad namespace', egress('Bad_Ns/a.com'), E(`${EG0}.hosts[0]`, 'invalid namespace value "Bad_Ns" in sidecar')],
  ['C3 empty dnsName', egress('ns2/'), E(`${EG0}.hosts[0]`, 'config namespace and dnsName in host entry cannot be empty')],
  ['C4 listener without hosts', 'egress:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: []', E(`${EG0}.hosts`, 'sidecar: egress listener must contain at least one host')],
  ['C5 port-less listener last ok', 'egress:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["./*"]\n- hosts: ["*/*"]', null],
  ['C5 port-less listener first', 'egress:\n- hosts: ["./*"]\n- hosts: ["istio-system/*"]', E(EG0, 'sidecar: the egress listener with empty port should be the last listener in the list')],
  ['C6 distinct egress ports ok', 'egress:\n- port: {number: 9080, name: a, protocol: HTTP}\n  hosts: ["./*"]\n- port: {number: 9081, name: b, protocol: HTTP}\n  hosts: ["./*"]', null],
  ['C6 duplicate egress ports', 'egress:\n- port: {number: 9080, name: a, protocol: HTTP}\n  hosts: ["./*"]\n- port: {number: 9080, name: b, protocol: HTTP}\n  hosts: ["./*"]', E('spec.egress[1].port.number', 'sidecar: ports on IP bound listeners must be unique')],
  ['C6 duplicate ingress ports', `ingress:\n- {${IN_HTTP}}\n- {port: {number: 9080, name: web, protocol: HTTP}}`, E('spec.ingress[1].port.number', 'sidecar: ports on IP bound listeners must be unique')],
  ['C7 unix listener ok', 'egress:\n- port: {number: 0, name: uds, protocol: HTTP}\n  bind: "unix:///var/run/out.sock"\n  captureMode: NONE\n  hosts: ["./*"]', null],
  ['C7 port 0 with IP bind', 'egress:\n- port: {number: 0, name: uds, protocol: HTTP}\n  bind: 10.0.0.1\n  hosts: ["./*"]', E(`${EG0}.bind`, 'sidecar: ports with 0 value must have a unix domain socket bind address')],
  ['C7 unix listener with iptables', 'egress:\n- port: {number: 0, name: uds, protocol: HTTP}\n  bind: "unix:///var/run/out.sock"\n  captureMode: IPTABLES\n  hosts: ["./*"]', E(`${EG0}.captureMode`, 'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners')],
  ['C7 duplicate unix binds', 'egress:\n- port: {number: 0, name: a, protocol: HTTP}\n  bind: "unix:///s"\n  hosts: ["./*"]\n- port: {number: 0, name: b, protocol: HTTP}\n  bind: "unix:///s"\n  hosts: ["./*"]', E('spec.egress[1].bind', 'sidecar: unix domain socket values for listeners must be unique')],
  ['C7 egress bind not an IP', 'egress:\n- port: {number: 80, name: a, protocol: HTTP}\n  bind: abc\n  hosts: ["./*"]', E(`${EG0}.bind`, 'abc is not a valid IP')],
  ['C7 egress unknown protocol', 'egress:\n- port: {number: 80, name: a, protocol: FOO}\n  hosts: ["./*"]', E(`${EG0}.port.protocol`, 'unsupported protocol: FOO')],
  ['C7 egress bad port name', 'egress:\n- port: {number: 80, name: a_b, protocol: HTTP}\n  hosts: ["./*"]', E(`${EG0}.port.name`, 'invalid port name: a_b')],
  ['C8 ingress ok', ingress(`${IN_HTTP}, defaultEndpoint: "127.0.0.1:8080"`), null],
  ['C8 default endpoint forms ok', `ingress:\n- {${IN_HTTP}, defaultEndpoint: "[::1]:8080"}\n- {port: {number: 9081, name: b, protocol: HTTP}, defaultEndpoint: ":8081"}\n- {port: {number: 9082, name: c, protocol: HTTP}, defaultEndpoint: "unix:///var/run/app.sock"}\n- {port: {number: 9083, name: d, protocol: HTTP}, defaultEndpoint: "0.0.0.0:8083"}`, null],
  ['C8 port missing (schema)', 'ingress:\n- defaultEndpoint: "127.0.0.1:8080"', E(`${IN0}.port`, 'Required value')],
  ['C8 default endpoint other host', ingress(`${IN_HTTP}, defaultEndpoint: "10.1.1.1:80"`), E(`${IN0}.defaultEndpoint`, 'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset')],
  ['C8 default endpoint port not a number', ingress(`${IN_HTTP}, defaultEndpoint: "127.0.0.1:http"`), E(`${IN0}.defaultEndpoint`, 'sidecar: defaultEndpoint port (http) is not a number')],
  ['C8 default endpoint without port', ingress(`${IN_HTTP}, defaultEndpoint: "127.0.0.1"`), E(`${IN0}.defaultEndpoint`, 'missing port in address')],
  ['C8 default endpoint relative socket', ingress(`${IN_HTTP}, defaultEndpoint: "unix://app.sock"`), E(`${IN0}.defaultEndpoint`, 'app.sock is not an absolute path to a file')],
  ['C8 ingress port 0', ingress('port: {number: 0, name: x, protocol: HTTP}'), E(`${IN0}.port.number`, 'port number 0 must be in the range 1..65535')],
  ['C8 ingress bind not an IP', ingress(`${IN_HTTP}, bind: abc`), E(`${IN0}.bind`, 'abc is not a valid IP')],
  ['C9 ingress tls ok', ingress(`${IN_HTTPS}, tls: {mode: SIMPLE, ${CERTS}}`), null],
  ['C9 httpsRedirect', ingress(`${IN_HTTPS}, tls: {mode: SIMPLE, ${CERTS}, httpsRedirect: true}`), E(`${IN0}.tls.httpsRedirect`, 'sidecar: httpsRedirect is not supported')],
  ['C9 credentialName', ingress(`${IN_HTTPS}, tls: {mode: SIMPLE, credentialName: c}`), E(`${IN0}.tls.credentialName`, 'sidecar: credentialName is not currently supported')],
  ['C9 ISTIO_MUTUAL', ingress(`${IN_HTTPS}, tls: {mode: ISTIO_MUTUAL}`), E(`${IN0}.tls.mode`, 'configuration is invalid: cannot set mode to ISTIO_MUTUAL in sidecar ingress tls')],
  ['C9 subjectAltNames', ingress(`${IN_HTTPS}, tls: {mode: SIMPLE, ${CERTS}, subjectAltNames: [a]}`), E(`${IN0}.tls.subjectAltNames`, 'sidecar: subjectAltNames is not supported in ingress tls')],
  ['C9 tls on plain HTTP port', ingress(`${IN_HTTP}, tls: {mode: SIMPLE, ${CERTS}}`), E(`${IN0}.tls`, 'server cannot have TLS settings for non HTTPS/TLS ports')],
  ['C9 shared server TLS checks', ingress(`${IN_HTTPS}, tls: {mode: MUTUAL, ${CERTS}}`), E(`${IN0}.tls.caCertificates`, 'MUTUAL TLS requires a client CA bundle')],
  ['C10 egress proxy ok', 'outboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy: {host: proxy.ns1.svc.cluster.local, port: {number: 3128}}', null],
  ['C10 egress proxy with REGISTRY_ONLY', 'outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n  egressProxy: {host: proxy.ns1.svc.cluster.local, port: {number: 3128}}', E('spec.outboundTrafficPolicy.egressProxy', 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode')],
  ['C10 egress proxy without port', 'outboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy: {host: proxy.ns1.svc.cluster.local}', E('spec.outboundTrafficPolicy.egressProxy.port', 'sidecar: egress_proxy port must be non-nil')],
  ['C10 egress proxy bad host', 'outboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy: {host: proxy_1.com, port: {number: 3128}}', E('spec.outboundTrafficPolicy.egressProxy.host', 'domain name "proxy_1.com" invalid')],
  ['C11 ALLOW_ANY_DYNAMIC_DNS (schema)', 'outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}', E('spec.outboundTrafficPolicy.mode', 'Unsupported value')],
  ['C12 duplicated egress host', egress('"ns2/*", "ns2/a.com"'), W(`${EG0}.hosts[1]`, 'duplicated egress host: ns2/a.com')],
  ['C12 . is the own namespace', egress('"ns1/a.com", "./*"'), W(`${EG0}.hosts[1]`, 'duplicated egress host: ./*')],
  ['C12 */* with others', egress('"*/*", "ns2/a.com"'), W(`${EG0}.hosts`, '`*/*` host select all resources, no other hosts can be added')],
  ['C13 ingress targetPort', ingress('port: {number: 9080, name: http, protocol: HTTP, targetPort: 8080}'), E(`${IN0}.port.targetPort`, 'targetPort has no impact on Sidecars')],
  ['C13 egress targetPort', 'egress:\n- port: {number: 80, name: a, protocol: HTTP, targetPort: 8080}\n  hosts: ["./*"]', E(`${EG0}.port.targetPort`, 'targetPort has no impact on Sidecars')],
  ['selector ok', `workloadSelector: {labels: {app: a}}\n${egress('"./*"')}`, null],
  ['selector empty', `workloadSelector: {}\n${egress('"./*"')}`, W('spec.workloadSelector', 'sidecar: workload selector specified without labels, will be applied to all services in namespace')],
  ['selector key wildcard', `workloadSelector: {labels: {"a*": b}}\n${egress('"./*"')}`, E('spec.workloadSelector.labels.a*', 'wildcard is not supported in selector: "a*=b"')],
  ['pools ok', `inboundConnectionPool: {http: {http1MaxPendingRequests: 10}}\n${ingress(`${IN_HTTP}, connectionPool: {tcp: {maxConnections: 5}, http: {maxRetries: 1}}`)}`, null],
  ['inbound pool empty', 'inboundConnectionPool: {}', E('spec.inboundConnectionPool', 'connection pool must have at least one field')],
  ['ingress pool negative', ingress(`${IN_HTTP}, connectionPool: {tcp: {maxConnections: -1}}`), E(`${IN0}.connectionPool.tcp.maxConnections`, 'max connections must be non-negative')],
  ['HTTP pool on TCP port', ingress('port: {number: 3306, name: db, protocol: TCP}, connectionPool: {http: {maxRetries: 1}}'), W(`${IN0}.connectionPool.http`, 'sidecar: HTTP connection pool settings are configured for port 3306 ("db") but its protocol is not HTTP (TCP); only TCP settings will apply')],
];

for (const [rule, spec, want] of rows) {
  test(`Sidecar ${rule}`, () => {
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
