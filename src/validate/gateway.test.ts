import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatPath } from '../core/diagnostics.js';
import { validateOne } from './index.js';
import type { Finding } from './finding.js';

/** Loads a Gateway in namespace `ns1` (spec given unindented) through the full validator. */
function run(spec: string, name = 'gw'): Finding[] {
  const body = spec.trim().split('\n').map((l) => `  ${l}`).join('\n');
  const text = `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: ${name}\n  namespace: ns1\nspec:\n${body}\n`;
  const r = loadText(text, 'gw.yaml', { namespace: 'default' });
  assert.equal(r.resources.length, 1, JSON.stringify(r.diagnostics));
  return validateOne(r.resources[0]).findings;
}

/** One server (YAML flow-mapping fields) inside `servers:`. */
const server = (fields: string) => `servers:\n- {${fields}}`;
const HTTP = 'port: {number: 80, name: http, protocol: HTTP}';
const HTTPS = 'port: {number: 443, name: https, protocol: HTTPS}';
const TLS = 'port: {number: 443, name: tls, protocol: TLS}';
const CERTS = 'serverCertificate: /c, privateKey: /k';

type Want = { severity: 'error' | 'warning'; path: string; message: string };
/** rule, spec, expected finding (null: accepted with no findings at all), optional name. */
type Row = [string, string, Want | null, string?];
const E = (path: string, message: string): Want => ({ severity: 'error', path, message });
const W = (path: string, message: string): Want => ({ severity: 'warning', path, message });
const S0 = 'spec.servers[0]';

const rows: Row[] = [
  ['G1 dotted name', server(`${HTTP}, hosts: ["*"]`), E('metadata.name', 'invalid gateway name: "my.gw"'), 'my.gw'],
  ['G1 label name ok', server(`${HTTP}, hosts: ["*"]`), null, 'my-gw'],
  ['G2 no servers', 'servers: []', E('spec.servers', 'gateway must have at least one server')],
  ['G2 servers missing', 'selector: {istio: ingressgateway}', E('spec.servers', 'gateway must have at least one server')],
  ['G3 no hosts', server(`${HTTP}, hosts: []`), E(`${S0}.hosts`, 'server config must contain at least one host')],
  ['G4 host forms ok', server(`${HTTP}, hosts: ["*", "a.com", "ns2/b.com", "./c.com", "*/*.d.com", "1.2.3.4"]`), null],
  ['G4 short name', server(`${HTTP}, hosts: [foo]`), E(`${S0}.hosts[0]`, 'short names (non FQDN) are not allowed')],
  ['G4 short name after ns', server(`${HTTP}, hosts: [ns2/foo]`), E(`${S0}.hosts[0]`, 'short names (non FQDN) are not allowed')],
  ['G4 invalid label', server(`${HTTP}, hosts: [a_b.com]`), E(`${S0}.hosts[0]`, 'domain name "a_b.com" invalid')],
  ['G5 partial wildcard', server(`${HTTP}, hosts: ["*foo.com"]`), E(`${S0}.hosts[0]`, 'partial wildcard "*foo.com" not allowed')],
  ['G6 bad namespace', server(`${HTTP}, hosts: ["Bad_Ns/foo.com"]`), E(`${S0}.hosts[0]`, 'invalid namespace value "Bad_Ns" in gateway')],
  ['G6 empty namespace', server(`${HTTP}, hosts: ["/foo.com"]`), E(`${S0}.hosts[0]`, 'config namespace and dnsName in host entry cannot be empty')],
  ['G7 protocol', server('port: {number: 80, name: x, protocol: FOO}, hosts: ["*"]'), E(`${S0}.port.protocol`, 'invalid protocol "FOO", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP')],
  ['G7 protocol case-insensitive', server('port: {number: 80, name: x, protocol: http2}, hosts: ["*"]'), null],
  ['G7 port 0 without unix bind', server('port: {number: 0, name: x, protocol: HTTP}, hosts: ["*"]'), E(`${S0}.port.number`, 'port number 0 must be in the range 1..65535')],
  ['G7 port name missing', server('port: {number: 80, protocol: HTTP}, hosts: ["*"]'), E(`${S0}.port.name`, 'port name must be set: number:80 protocol:"HTTP"')],
  ['G8 same number, different names', `servers:\n- {port: {number: 443, name: a, protocol: HTTPS}, hosts: [a.com], tls: {mode: SIMPLE, credentialName: a}}\n- {port: {number: 443, name: b, protocol: HTTPS}, hosts: [b.com], tls: {mode: SIMPLE, credentialName: b}}`, null],
  ['G8 duplicate names', `servers:\n- {${HTTP}, hosts: [a.com]}\n- {port: {number: 8080, name: http, protocol: HTTP}, hosts: [b.com]}`, E('spec.servers[1].port.name', 'port names in servers must be unique: duplicate name http')],
  ['G9 targetPort', server('port: {number: 80, name: x, protocol: HTTP, targetPort: 8080}, hosts: ["*"]'), E(`${S0}.port.targetPort`, 'targetPort has no impact on Gateways')],
  ['G10 HTTPS with tls ok', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, ${CERTS}}`), null],
  ['G10 HTTPS without tls', server(`${HTTPS}, hosts: ["*"]`), E(`${S0}.tls`, 'server must have TLS settings for HTTPS/TLS protocols')],
  ['G11 HTTP redirect only ok', server(`${HTTP}, hosts: ["*"], tls: {httpsRedirect: true}`), null],
  ['G11 HTTP with certificates', server(`${HTTP}, hosts: ["*"], tls: {mode: SIMPLE, ${CERTS}}`), E(`${S0}.tls`, 'server cannot have TLS settings for plain text HTTP ports')],
  ['G12 TCP with tls', server(`port: {number: 31400, name: tcp, protocol: TCP}, hosts: ["*"], tls: {mode: SIMPLE, ${CERTS}}`), E(`${S0}.tls`, 'server cannot have TLS settings for non HTTPS/TLS ports')],
  ['G13 SIMPLE with credentialName ok', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: cert}`), null],
  ['G13 SIMPLE with tlsCertificates ok', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, tlsCertificates: [{${CERTS}}]}`), null],
  ['G13 SIMPLE without certificate', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, privateKey: /k}`), E(`${S0}.tls.serverCertificate`, 'SIMPLE TLS requires a server certificate')],
  ['G13 SIMPLE without key', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, serverCertificate: /c}`), E(`${S0}.tls.privateKey`, 'SIMPLE TLS requires a private key')],
  ['G13 tlsCertificates entry without key', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, tlsCertificates: [{serverCertificate: /c}]}`), E(`${S0}.tls.tlsCertificates[0].privateKey`, 'SIMPLE TLS requires a private key')],
  ['G14 MUTUAL ok', server(`${HTTPS}, hosts: ["*"], tls: {mode: MUTUAL, ${CERTS}, caCertificates: /ca}`), null],
  ['G14 MUTUAL without CA', server(`${HTTPS}, hosts: ["*"], tls: {mode: MUTUAL, ${CERTS}}`), E(`${S0}.tls.caCertificates`, 'MUTUAL TLS requires a client CA bundle')],
  ['G14 OPTIONAL_MUTUAL without CA', server(`${HTTPS}, hosts: ["*"], tls: {mode: OPTIONAL_MUTUAL, ${CERTS}}`), E(`${S0}.tls.caCertificates`, 'MUTUAL TLS requires a client CA bundle')],
  ['G14 MUTUAL with credentialName ok', server(`${HTTPS}, hosts: ["*"], tls: {mode: MUTUAL, credentialName: c}`), null],
  ['G15 ISTIO_MUTUAL alone ok', server(`${TLS}, hosts: ["*"], tls: {mode: ISTIO_MUTUAL}`), null],
  ['G15 ISTIO_MUTUAL with credentialName', server(`${TLS}, hosts: ["*"], tls: {mode: ISTIO_MUTUAL, credentialName: x}`), E(`${S0}.tls.credentialName`, 'ISTIO_MUTUAL TLS cannot have associated credentialName')],
  ['G15 ISTIO_MUTUAL with certificate', server(`${TLS}, hosts: ["*"], tls: {mode: ISTIO_MUTUAL, serverCertificate: /c}`), E(`${S0}.tls.serverCertificate`, 'ISTIO_MUTUAL TLS cannot have associated server certificate')],
  ['G16 credentialName + files', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: a, ${CERTS}}`), E(`${S0}.tls`, 'only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified')],
  ['G16 credentialName + credentialNames (schema)', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: a, credentialNames: [b]}`), E(`${S0}.tls`, 'only one of credentialName or credentialNames can be set')],
  ['G17 CRL with MUTUAL ok', server(`${HTTPS}, hosts: ["*"], tls: {mode: MUTUAL, ${CERTS}, caCertificates: /ca, caCrl: /crl}`), null],
  ['G17 CRL with SIMPLE', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, ${CERTS}, caCrl: /crl}`), E(`${S0}.tls.caCrl`, 'CRL is not supported with SIMPLE TLS')],
  ['G17 CRL with credentialName', server(`${TLS}, hosts: ["*"], tls: {mode: PASSTHROUGH, credentialName: c, caCrl: /crl}`), E(`${S0}.tls.caCrl`, 'CRL is not supported with credentialName')],
  ['G18 PASSTHROUGH ok', server(`${TLS}, hosts: ["*"], tls: {mode: PASSTHROUGH}`), null],
  ['G18 PASSTHROUGH with certificates', server(`${TLS}, hosts: ["*"], tls: {mode: PASSTHROUGH, ${CERTS}}`), W(`${S0}.tls`, 'PASSTHROUGH mode does not use certificates, they will be ignored')],
  ['G18 AUTO_PASSTHROUGH with credential', server(`${TLS}, hosts: ["*.local"], tls: {mode: AUTO_PASSTHROUGH, credentialName: c}`), W(`${S0}.tls`, 'AUTO_PASSTHROUGH mode does not use certificates')],
  ['G19 redirect on HTTPS', server(`${HTTPS}, hosts: ["*"], tls: {httpsRedirect: true, mode: SIMPLE, ${CERTS}}`), W(`${S0}.tls.httpsRedirect`, 'tls.httpsRedirect should only be used with http servers')],
  ['G20 unix bind ok', server('port: {number: 0, name: uds, protocol: HTTP}, bind: "unix:///var/run/gw.sock", hosts: ["*"]'), null],
  ['G20 IP bind ok', server(`${HTTP}, bind: 10.0.0.1, hosts: ["*"]`), null],
  ['G20 unix bind with port', server(`${HTTP}, bind: "unix:///var/run/gw.sock", hosts: ["*"]`), E(`${S0}.port.number`, 'port number must be 0 for unix domain socket')],
  ['G20 relative unix path', server('port: {number: 0, name: uds, protocol: HTTP}, bind: "unix://rel", hosts: ["*"]'), E(`${S0}.bind`, 'rel is not an absolute path to a file')],
  ['G20 bind not an IP', server(`${HTTP}, bind: abc, hosts: ["*"]`), E(`${S0}.bind`, 'abc is not a valid IP')],
  ['G21 old TLS with ciphers ok', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, ${CERTS}, minProtocolVersion: TLSV1_0, cipherSuites: [AES128-SHA]}`), null],
  ['G21 old TLS without ciphers', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, ${CERTS}, minProtocolVersion: TLSV1_0}`), W(`${S0}.tls.minProtocolVersion`, 'TLS version below TLSV1_2 require setting compatible ciphers')],
  ['G21 invalid cipher', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, ${CERTS}, cipherSuites: [FOO, AES128-SHA]}`), W(`${S0}.tls.cipherSuites`, 'ignoring invalid cipher suites: [FOO]')],
  ['G21 duplicate cipher', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, ${CERTS}, cipherSuites: [AES128-SHA, AES128-SHA]}`), W(`${S0}.tls.cipherSuites`, 'ignoring duplicate cipher suites: [AES128-SHA]')],
  ['G22 three credentialNames (schema)', server(`${HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialNames: [a, b, c]}`), E(`${S0}.tls.credentialNames`, 'at most 2 items')],
];

for (const [rule, spec, want, name] of rows) {
  test(`Gateway ${rule}`, () => {
    const fs = run(spec, name);
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
