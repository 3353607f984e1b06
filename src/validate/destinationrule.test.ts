import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatPath } from '../core/diagnostics.js';
import { validateOne } from './index.js';
import type { Finding } from './finding.js';

/** Loads a DestinationRule in namespace `ns1` (spec given unindented) through the full validator. */
function run(spec: string, meta = ''): Finding[] {
  const body = spec.trim().split('\n').map((l) => `  ${l}`).join('\n');
  const text = `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr\n  namespace: ns1\n${meta}spec:\n${body}\n`;
  const r = loadText(text, 'dr.yaml', { namespace: 'default' });
  assert.equal(r.resources.length, 1, JSON.stringify(r.diagnostics));
  return validateOne(r.resources[0]).findings;
}

type Want = { severity: 'error' | 'warning'; path: string; message: string };
/** rule, spec, expected finding (null: accepted with no findings at all). */
type Row = [string, string, Want | null];

const E = (path: string, message: string): Want => ({ severity: 'error', path, message });
const W = (path: string, message: string): Want => ({ severity: 'warning', path, message });
const TP = 'spec.trafficPolicy';
const LB = `${TP}.loadBalancer`;
const CP = `${TP}.connectionPool`;

const rows: Row[] = [
  ['D1 wildcard host ok', 'host: "*.foo.com"', null],
  ['D1 bad host', 'host: foo_bar', E('spec.host', 'domain name "foo_bar" invalid')],
  ['D2 distinct subsets', 'host: a\nsubsets: [{name: v1}, {name: v2}]', null],
  ['D2 duplicate subsets', 'host: a\nsubsets: [{name: v1}, {name: v1}]', E('spec.subsets[1].name', 'duplicate subset names: v1')],
  ['D3 bad subset name', 'host: a\nsubsets: [{name: V1}]', E('spec.subsets[0].name', 'subset name is invalid: V1')],
  ['D3 empty subset name', 'host: a\nsubsets: [{name: ""}]', E('spec.subsets[0].name', 'subset name cannot be empty')],
  ['D3 bad subset labels', 'host: a\nsubsets: [{name: v1, labels: {"a b": x}}]', E('spec.subsets[0].labels', 'invalid tag key: "a b"')],
  ['D3 good subset labels', 'host: a\nsubsets: [{name: v1, labels: {version: v1, app.kubernetes.io/name: x}}]', null],
  ['D4 empty policy', 'host: a\ntrafficPolicy: {}', E(TP, 'traffic policy must have at least one field')],
  ['D4 empty subset policy', 'host: a\nsubsets: [{name: v1, trafficPolicy: {}}]', E('spec.subsets[0].trafficPolicy', 'traffic policy must have at least one field')],
  ['D4 retryBudget alone counts', 'host: a\ntrafficPolicy: {retryBudget: {percent: 20}}', null],
  ['D5 port policy ok', 'host: a\ntrafficPolicy:\n  portLevelSettings: [{port: {number: 80}, loadBalancer: {simple: RANDOM}}]', null],
  ['D5 port policy empty', 'host: a\ntrafficPolicy:\n  portLevelSettings: [{port: {number: 80}}]', E(`${TP}.portLevelSettings[0]`, 'port traffic policy must have at least one field')],
  ['D5 port policy without port', 'host: a\ntrafficPolicy:\n  portLevelSettings: [{loadBalancer: {simple: RANDOM}}]', E(`${TP}.portLevelSettings[0].port`, 'portTrafficPolicy must have valid port')],
  ['D5 port policy checked inside', 'host: a\ntrafficPolicy:\n  portLevelSettings: [{port: {number: 80}, connectionPool: {}}]', E(`${TP}.portLevelSettings[0].connectionPool`, 'connection pool must have at least one field')],
  ['D6 empty pool', 'host: a\ntrafficPolicy: {connectionPool: {}}', E(CP, 'connection pool must have at least one field')],
  ['D7 pool numbers ok', 'host: a\ntrafficPolicy: {connectionPool: {tcp: {maxConnections: 0}, http: {maxRetries: 3, maxConcurrentStreams: 10}}}', null],
  ['D7 negative connections', 'host: a\ntrafficPolicy: {connectionPool: {tcp: {maxConnections: -1}}}', E(`${CP}.tcp.maxConnections`, 'max connections must be non-negative')],
  ['D7 negative pending', 'host: a\ntrafficPolicy: {connectionPool: {http: {http1MaxPendingRequests: -1}}}', E(`${CP}.http.http1MaxPendingRequests`, 'http1 max pending requests must be non-negative')],
  ['D7 negative requests', 'host: a\ntrafficPolicy: {connectionPool: {http: {http2MaxRequests: -2}}}', E(`${CP}.http.http2MaxRequests`, 'http2 max requests must be non-negative')],
  ['D7 negative per connection', 'host: a\ntrafficPolicy: {connectionPool: {http: {maxRequestsPerConnection: -1}}}', E(`${CP}.http.maxRequestsPerConnection`, 'max requests per connection must be non-negative')],
  ['D7 negative retries', 'host: a\ntrafficPolicy: {connectionPool: {http: {maxRetries: -1}}}', E(`${CP}.http.maxRetries`, 'max retries must be non-negative')],
  ['D7 negative streams', 'host: a\ntrafficPolicy: {connectionPool: {http: {maxConcurrentStreams: -1}}}', E(`${CP}.http.maxConcurrentStreams`, 'max concurrent streams must be non-negative')],
  ['D8 keepalive ok', 'host: a\ntrafficPolicy: {connectionPool: {http: {http2KeepAlive: {interval: 10s, timeout: 2s}}}}', null],
  ['D8 keepalive without timeout', 'host: a\ntrafficPolicy: {connectionPool: {http: {http2KeepAlive: {interval: 10s}}}}', E(`${CP}.http.http2KeepAlive.timeout`, 'http2 keepalive timeout is required')],
  ['D8 keepalive without interval', 'host: a\ntrafficPolicy: {connectionPool: {http: {http2KeepAlive: {timeout: 1s}}}}', E(`${CP}.http.http2KeepAlive.interval`, 'http2 keepalive interval is required')],
  ['D9 upgrade alone ok', 'host: a\ntrafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}', null],
  ['D9 upgrade + client protocol', 'host: a\ntrafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}}', E(`${CP}.http.useClientProtocol`, 'use client protocol must not be true when H2UpgradePolicy is UPGRADE')],
  ['D10 tcp idle 0s disables', 'host: a\ntrafficPolicy: {connectionPool: {tcp: {idleTimeout: 0s}}}', null],
  ['D10 connect timeout 0s', 'host: a\ntrafficPolicy: {connectionPool: {tcp: {connectTimeout: 0s}}}', E(`${CP}.tcp.connectTimeout`, 'duration must be greater than 1ms')],
  ['D11 percents ok', 'host: a\ntrafficPolicy: {outlierDetection: {maxEjectionPercent: 100, minHealthPercent: 0}}', null],
  ['D11 max ejection 150', 'host: a\ntrafficPolicy: {outlierDetection: {maxEjectionPercent: 150}}', E(`${TP}.outlierDetection.maxEjectionPercent`, 'percentage 150 is not in range 0..100')],
  ['D11 min health -1', 'host: a\ntrafficPolicy: {outlierDetection: {minHealthPercent: -1}}', E(`${TP}.outlierDetection.minHealthPercent`, 'percentage -1 is not in range 0..100')],
  ['D12 local origin with split', 'host: a\ntrafficPolicy: {outlierDetection: {consecutiveLocalOriginFailures: 3, splitExternalLocalOriginErrors: true}}', null],
  ['D12 local origin without split', 'host: a\ntrafficPolicy: {outlierDetection: {consecutiveLocalOriginFailures: 3}}', E(`${TP}.outlierDetection.consecutiveLocalOriginFailures`, 'split external local origin errors is set to false')],
  ['D13 consecutive 5xx ok', 'host: a\ntrafficPolicy: {outlierDetection: {consecutive5xxErrors: 5}}', null],
  ['D13 deprecated consecutiveErrors', 'host: a\ntrafficPolicy: {outlierDetection: {consecutiveErrors: 5}}', W(`${TP}.outlierDetection.consecutiveErrors`, 'outlier detection consecutive errors is deprecated')],
  ['D14 cookie ok', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s, attributes: [{name: SameSite, value: Strict}]}}}}', null],
  ['D14 cookie without name', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: "", ttl: 0s}}}}', E(`${LB}.consistentHash.httpCookie.name`, 'name required for HttpCookie')],
  ['D14 cookie name missing (schema)', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {ttl: 0s}}}}', E(`${LB}.consistentHash.httpCookie.name`, 'Required value')],
  ['D14 duplicate attribute', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: u, attributes: [{name: Secure}, {name: Secure}]}}}}', E(`${LB}.consistentHash.httpCookie.attributes[1].name`, 'duplicate cookie attribute name: Secure')],
  ['D14 empty attribute name', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: u, attributes: [{name: ""}]}}}}', E(`${LB}.consistentHash.httpCookie.attributes[0].name`, 'cookie attribute name cannot be empty')],
  ['D15 maglev prime', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}}', null],
  ['D15 maglev not prime', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 1000}}}}', E(`${LB}.consistentHash.maglev.tableSize`, 'tableSize must be a prime number for maglev')],
  ['D15 maglev unset', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {}}}}', E(`${LB}.consistentHash.maglev.tableSize`, 'tableSize must be set for maglev')],
  ['D15 maglev too big', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 5000011}}}}', E(`${LB}.consistentHash.maglev.tableSize`, 'tableSize must be less than 5000011 for maglev')],
  ['D16 ring hash alone ok', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 1024}}}}', null],
  ['D16 minimumRingSize + ringHash', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 10, ringHash: {minimumRingSize: 10}}}}', E(`${LB}.consistentHash.minimumRingSize`, 'only one of MinimumRingSize or Maglev/Ringhash can be specified')],
  ['D16 minimumRingSize deprecated', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 10}}}', W(`${LB}.consistentHash.minimumRingSize`, 'MinimumRingSize is deprecated')],
  ['D17 zone aware alone ok', 'host: a\ntrafficPolicy: {loadBalancer: {zoneAwareLbSetting: {enabled: true}}}', null],
  ['D17 locality + zone aware', 'host: a\ntrafficPolicy: {loadBalancer: {localityLbSetting: {enabled: true}, zoneAwareLbSetting: {enabled: true}}}', E(`${LB}.zoneAwareLbSetting`, 'only one of localityLbSetting and zoneAwareLbSetting can be set')],
  ['D18 distribute + failover', 'host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute: [{from: us-west/*, to: {"us-west/*": 100}}]\n      failover: [{from: us-east, to: eu-west}]', E(`${LB}.localityLbSetting`, "can not simultaneously specify 'distribute' and 'failover'")],
  ['D19 distribute ok', 'host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute: [{from: us-west/zone1/*, to: {"us-west/zone1/*": 80, "us-west/zone2/*": 20}}]', null],
  ['D19 weights not 100', 'host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute: [{from: us-west/*, to: {"us-west/*": 90}}]', E(`${LB}.localityLbSetting.distribute[0].to`, 'total locality weight 90 != 100')],
  ['D19 weight out of range', 'host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute: [{from: us-west/*, to: {"us-west/*": 0, "us-east/*": 100}}]', E(`${LB}.localityLbSetting.distribute[0].to.us-west/*`, 'locality weight must be in range [1, 100]')],
  ['D19 overlapping localities', 'host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute: [{from: us-west/*, to: {"us-west": 50, "us-west/zone1": 50}}]', E(`${LB}.localityLbSetting.distribute[0].to`, 'overlap with previous specified ones')],
  ['D19 wildcard not last', 'host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute: [{from: "*/zone1", to: {"us-west": 100}}]', E(`${LB}.localityLbSetting.distribute`, "wildcard '*' number can not exceed 1 and must be in the end")],
  ['D20 failover ok', 'host: a\ntrafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 5}\n  loadBalancer:\n    localityLbSetting:\n      failover: [{from: us-east, to: eu-west}]', null],
  ['D20 same region', 'host: a\ntrafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 5}\n  loadBalancer:\n    localityLbSetting:\n      failover: [{from: us-east, to: us-east}]', E(`${LB}.localityLbSetting.failover[0]`, 'locality lb failover settings must specify different regions')],
  ['D20 zone in failover', 'host: a\ntrafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 5}\n  loadBalancer:\n    localityLbSetting:\n      failover: [{from: us-east/zone1, to: eu-west}]', E(`${LB}.localityLbSetting.failover[0]`, 'locality lb failover only specify region')],
  ['D20 wildcard in failover', 'host: a\ntrafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 5}\n  loadBalancer:\n    localityLbSetting:\n      failover: [{from: us-east, to: "*"}]', E(`${LB}.localityLbSetting.failover[0]`, "region should not contain '*' wildcard")],
  ['D20 failover + topology priority', 'host: a\ntrafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 5}\n  loadBalancer:\n    localityLbSetting:\n      failover: [{from: us-east, to: eu-west}]\n      failoverPriority: [topology.kubernetes.io/zone]', E(`${LB}.localityLbSetting.failoverPriority[0]`, "can not simultaneously set 'failover' and topology label 'topology.kubernetes.io/zone'")],
  ['D20 zone aware failover region only', 'host: a\ntrafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 5}\n  loadBalancer:\n    zoneAwareLbSetting:\n      failover: [{from: us-east/z1, to: eu-west}]', E(`${LB}.zoneAwareLbSetting.failover[0]`, 'zone aware lb failover only specifies region')],
  ['D20 zone aware topology priority', 'host: a\ntrafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 5}\n  loadBalancer:\n    zoneAwareLbSetting:\n      failoverPriority: [topology.istio.io/subzone]', E(`${LB}.zoneAwareLbSetting.failoverPriority[0]`, "must not use topology label 'topology.istio.io/subzone'")],
  ['D21 failover without outlier', 'host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      failover: [{from: us-east, to: eu-west}]', W(`${LB}.localityLbSetting`, 'outlier detection policy must be provided for failover')],
  ['D21 priority without outlier (zone aware)', 'host: a\ntrafficPolicy:\n  loadBalancer:\n    zoneAwareLbSetting:\n      failoverPriority: [my-label]', W(`${LB}.zoneAwareLbSetting`, 'outlier detection policy must be provided for failover')],
  ['D22 warmup ok', 'host: a\ntrafficPolicy: {loadBalancer: {simple: ROUND_ROBIN, warmup: {duration: 60s, aggression: 2}}}', null],
  ['D22 aggression 0', 'host: a\ntrafficPolicy: {loadBalancer: {warmup: {duration: 60s, aggression: 0}}}', E(`${LB}.warmup.aggression`, 'aggression should be greater than 0')],
  ['D22 duration missing (schema)', 'host: a\ntrafficPolicy: {loadBalancer: {warmup: {aggression: 1}}}', E(`${LB}.warmup.duration`, 'Required value')],
  ['D23 mutual with files ok', 'host: a\ntrafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /c, privateKey: /k}}', null],
  ['D23 mutual without cert', 'host: a\ntrafficPolicy: {tls: {mode: MUTUAL, privateKey: /k}}', E(`${TP}.tls.clientCertificate`, 'client certificate required for mutual tls')],
  ['D23 mutual without key', 'host: a\ntrafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /c}}', E(`${TP}.tls.privateKey`, 'private key required for mutual tls')],
  ['D23 mutual with credential ok', 'host: a\ntrafficPolicy: {tls: {mode: MUTUAL, credentialName: cred}}', null],
  ['D24 credential + CA', 'host: a\ntrafficPolicy: {tls: {mode: SIMPLE, credentialName: x, caCertificates: /a}}', E(`${TP}.tls.credentialName`, 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set')],
  ['D24 configmap in own namespace ok', 'host: a\ntrafficPolicy: {tls: {mode: SIMPLE, credentialName: "configmap://ns1/ca"}}', null],
  ['D24 configmap elsewhere', 'host: a\ntrafficPolicy: {tls: {mode: SIMPLE, credentialName: "configmap://other/ca"}}', E(`${TP}.tls.credentialName`, 'namespace must match the configuration namespace "ns1"')],
  ['D25 insecure alone ok', 'host: a\ntrafficPolicy: {tls: {mode: SIMPLE, insecureSkipVerify: true}}', null],
  ['D25 insecure + CA', 'host: a\ntrafficPolicy: {tls: {mode: SIMPLE, insecureSkipVerify: true, caCertificates: /a}}', E(`${TP}.tls.insecureSkipVerify`, 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true')],
  ['D25 insecure mutual + SAN', 'host: a\ntrafficPolicy: {tls: {mode: MUTUAL, insecureSkipVerify: true, credentialName: c, subjectAltNames: [x]}}', E(`${TP}.tls.insecureSkipVerify`, 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true')],
  ['D26 tunnel ok', 'host: a\ntrafficPolicy: {tunnel: {protocol: POST, targetHost: 10.0.0.1, targetPort: 8080}}', null],
  ['D26 tunnel protocol', 'host: a\ntrafficPolicy: {tunnel: {protocol: GET, targetHost: a.com, targetPort: 80}}', E(`${TP}.tunnel.protocol`, 'tunnel protocol must be "CONNECT" or "POST"')],
  ['D26 tunnel host', 'host: a\ntrafficPolicy: {tunnel: {targetHost: foo_bar, targetPort: 80}}', E(`${TP}.tunnel.targetHost`, 'tunnel target host must be valid FQDN or IP address')],
  ['D26 tunnel port', 'host: a\ntrafficPolicy: {tunnel: {targetHost: a.com, targetPort: 0}}', E(`${TP}.tunnel.targetPort`, 'tunnel target port is invalid: port number 0 must be in the range 1..65535')],
  ['D26 tunnel + proxyProtocol', 'host: a\ntrafficPolicy: {tunnel: {targetHost: a.com, targetPort: 80}, proxyProtocol: {version: V2}}', E(`${TP}.tunnel`, 'tunnel and proxyProtocol must not be set together')],
  ['D27 selector exported to own ns', 'host: a\nworkloadSelector: {matchLabels: {app: x}}\nexportTo: ["."]', null],
  ['D27 selector exported beyond', 'host: a\nworkloadSelector: {matchLabels: {app: x}}\nexportTo: ["*"]', E('spec.exportTo', 'destination rule with workload selector cannot have exportTo beyond current namespace')],
  ['D27 selector exported to two', 'host: a\nworkloadSelector: {matchLabels: {app: x}}\nexportTo: [ns1, ns2]', E('spec.exportTo', 'destination rule with workload selector cannot have multiple entries in exportTo')],
  ['exportTo ok', 'host: a\nexportTo: [".", ns2]', null],
  ['exportTo own namespace then .', 'host: a\nexportTo: [ns1, "."]', E('spec.exportTo[1]', 'duplicate entries in exportTo: . and current namespace ns1')],
  ['exportTo . then own namespace', 'host: a\nexportTo: [".", ns1]', E('spec.exportTo[1]', 'duplicate entries in exportTo for entry ns1')],
  ['exportTo duplicate', 'host: a\nexportTo: [ns2, ns2]', E('spec.exportTo[1]', 'duplicate entries in exportTo for entry ns2')],
  ['exportTo * with others', 'host: a\nexportTo: ["*", ns2]', E('spec.exportTo', 'cannot have both public (*) and non-public exportTo values for a resource')],
  ['exportTo ~ not for DR', 'host: a\nexportTo: ["~"]', E('spec.exportTo[0]', 'exportTo ~ (none) is not allowed for Istio configuration objects')],
  ['exportTo bad namespace', 'host: a\nexportTo: [Bad_NS]', E('spec.exportTo[0]', 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry')],
  ['D28 selector wildcard (schema)', 'host: a\nworkloadSelector: {matchLabels: {app: "*"}}', E('spec.workloadSelector.matchLabels.app', 'wildcard')],
  ['D28 empty selector', 'host: a\nworkloadSelector: {matchLabels: {}}', W('spec.workloadSelector', 'workload selector specified without labels')],
];

for (const [rule, spec, want] of rows) {
  test(`DestinationRule ${rule}`, () => {
    const fs = run(spec);
    const show = fs.map((f) => `${f.severity ?? 'error'} ${formatPath(f.path)}: ${f.message}`).join('\n');
    if (want === null) {
      assert.deepEqual(fs, [], `expected no findings, got:\n${show}`);
      return;
    }
    const hit = fs.find((f) => (f.severity ?? 'error') === want.severity && formatPath(f.path) === want.path && f.message.includes(want.message));
    assert.ok(hit, `expected ${want.severity} at ${want.path} containing ${JSON.stringify(want.message)}, got:\n${show}`);
    // A warning row must leave the resource admitted.
    if (want.severity === 'warning') assert.ok(!fs.some((f) => (f.severity ?? 'error') === 'error'), show);
  });
}

test('DestinationRule: a full bookinfo-style rule has no findings', () => {
  const fs = run(`
host: reviews.prod.svc.cluster.local
trafficPolicy:
  loadBalancer: {simple: LEAST_REQUEST}
  connectionPool:
    tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {time: 7200s, interval: 75s}}
    http: {http2MaxRequests: 1000, maxRequestsPerConnection: 10, idleTimeout: 1h}
  outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m}
  tls: {mode: ISTIO_MUTUAL}
subsets:
- name: v1
  labels: {version: v1}
- name: v2
  labels: {version: v2}
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
`);
  assert.deepEqual(fs, []);
});
