import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, TrafficPolicy } from '../api/types.js';
import type { ConnectionPoolPolicy, LbPolicy, OutlierPolicy } from '../snapshot/types.js';
import {
  compileClusterPolicy, compileConnectionPool, compileLoadBalancer, compileOutlierDetection, compileTls, selectPolicyBlocks,
} from './policy.js';

const MAX = 4294967295;
const MESH_LOCALITY = { enabled: true, distribute: [], failover: [], failoverPriority: [] };
const DEFAULT_POOL: ConnectionPoolPolicy = {
  maxConnections: MAX,
  connectTimeoutMs: 10_000,
  tcpKeepalive: null,
  maxConnectionDurationMs: null,
  tcpIdleTimeoutMs: 3_600_000,
  http1MaxPendingRequests: MAX,
  http2MaxRequests: MAX,
  maxRequestsPerConnection: 0,
  maxRetries: MAX,
  httpIdleTimeoutMs: 3_600_000,
  h2UpgradePolicy: 'DEFAULT',
  useClientProtocol: false,
  maxConcurrentStreams: 2147483647,
  http2KeepAlive: null,
};

void test('no policy at all: every default', () => {
  assert.deepEqual(compileClusterPolicy(undefined, undefined, 80), {
    lb: { kind: 'LEAST_REQUEST', hash: null, locality: MESH_LOCALITY, warmup: null },
    connectionPool: DEFAULT_POOL,
    outlier: null,
    tls: null,
  });
});

void test('load balancer: simple kinds, consistent hash keys and algorithms', () => {
  const rows: Array<[LoadBalancerSettings | undefined, Pick<LbPolicy, 'kind' | 'hash'>]> = [
    [undefined, { kind: 'LEAST_REQUEST', hash: null }],
    [{ simple: 'UNSPECIFIED' }, { kind: 'LEAST_REQUEST', hash: null }],
    [{ simple: 'LEAST_CONN' }, { kind: 'LEAST_REQUEST', hash: null }],
    [{ simple: 'LEAST_REQUEST' }, { kind: 'LEAST_REQUEST', hash: null }],
    [{ simple: 'ROUND_ROBIN' }, { kind: 'ROUND_ROBIN', hash: null }],
    [{ simple: 'RANDOM' }, { kind: 'RANDOM', hash: null }],
    [{ simple: 'PASSTHROUGH' }, { kind: 'PASSTHROUGH', hash: null }],
    [{ localityLbSetting: { enabled: true } }, { kind: 'LEAST_REQUEST', hash: null }],
    [{ consistentHash: { httpHeaderName: 'X-User' } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'header', name: 'x-user' }, algorithm: { kind: 'ringHash', minimumRingSize: 1024 } } }],
    [{ consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 2048 } } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'sourceIp' }, algorithm: { kind: 'ringHash', minimumRingSize: 2048 } } }],
    [{ consistentHash: { useSourceIp: true, ringHash: {} } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'sourceIp' }, algorithm: { kind: 'ringHash', minimumRingSize: 1024 } } }],
    [{ consistentHash: { httpQueryParameterName: 'user', minimumRingSize: 4096 } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'query', name: 'user' }, algorithm: { kind: 'ringHash', minimumRingSize: 4096 } } }],
    [{ consistentHash: { useSourceIp: true, maglev: { tableSize: 1009 } } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'sourceIp' }, algorithm: { kind: 'maglev', tableSize: 1009 } } }],
    [{ consistentHash: { useSourceIp: true, maglev: {} } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'sourceIp' }, algorithm: { kind: 'maglev', tableSize: 65537 } } }],
    [{ consistentHash: { httpCookie: { name: 'sess', path: '/', ttl: '0s', attributes: [{ name: 'SameSite', value: 'Strict' }, { name: 'Secure' }] } } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'cookie', name: 'sess', path: '/', ttlMs: 0, attributes: [{ name: 'SameSite', value: 'Strict' }, { name: 'Secure', value: '' }] }, algorithm: { kind: 'ringHash', minimumRingSize: 1024 } } }],
    [{ consistentHash: { httpCookie: { name: 'sess', ttl: '1h' } } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'cookie', name: 'sess', path: null, ttlMs: 3_600_000, attributes: [] }, algorithm: { kind: 'ringHash', minimumRingSize: 1024 } } }],
    [{ consistentHash: { httpCookie: { name: 'sess' } } },
      { kind: 'CONSISTENT_HASH', hash: { key: { kind: 'cookie', name: 'sess', path: null, ttlMs: null, attributes: [] }, algorithm: { kind: 'ringHash', minimumRingSize: 1024 } } }],
    // no hash key: nothing stable to hash on, Envoy effectively picks at random
    [{ consistentHash: { ringHash: { minimumRingSize: 10 } } }, { kind: 'RANDOM', hash: null }],
  ];
  for (const [input, want] of rows) {
    const got = compileLoadBalancer(input);
    assert.deepEqual({ kind: got.kind, hash: got.hash }, want, JSON.stringify(input));
  }
});

void test('load balancer: warmup only for ROUND_ROBIN / LEAST_REQUEST', () => {
  const rows: Array<[LoadBalancerSettings, LbPolicy['warmup']]> = [
    [{ simple: 'ROUND_ROBIN', warmup: { duration: '30s' } }, { durationMs: 30_000, minimumPercent: 10, aggression: 1 }],
    [{ warmup: { duration: '1m', minimumPercent: 20, aggression: 2.5 } }, { durationMs: 60_000, minimumPercent: 20, aggression: 2.5 }],
    [{ simple: 'LEAST_REQUEST', warmupDurationSecs: '15s' }, { durationMs: 15_000, minimumPercent: 10, aggression: 1 }],
    [{ simple: 'RANDOM', warmup: { duration: '30s' } }, null],
    [{ simple: 'ROUND_ROBIN' }, null],
  ];
  for (const [input, want] of rows) assert.deepEqual(compileLoadBalancer(input).warmup, want, JSON.stringify(input));
});

void test('load balancer: locality settings', () => {
  const rows: Array<[LoadBalancerSettings | undefined, LbPolicy['locality']]> = [
    [undefined, MESH_LOCALITY],
    [{ localityLbSetting: { enabled: false } }, { ...MESH_LOCALITY, enabled: false }],
    [{ localityLbSetting: { failover: [{ from: 'us-east', to: 'us-west' }], failoverPriority: ['topology.kubernetes.io/region'] } },
      { enabled: true, distribute: [], failover: [{ from: 'us-east', to: 'us-west' }], failoverPriority: ['topology.kubernetes.io/region'] }],
    [{ localityLbSetting: { distribute: [{ from: 'us-east/*', to: { 'us-east/*': 80, 'us-west/*': 20 } }] } },
      { enabled: true, distribute: [{ from: 'us-east/*', to: { 'us-east/*': 80, 'us-west/*': 20 } }], failover: [], failoverPriority: [] }],
  ];
  for (const [input, want] of rows) assert.deepEqual(compileLoadBalancer(input).locality, want, JSON.stringify(input));
});

void test('connection pool: set values, zero means default, idle timeouts', () => {
  const rows: Array<[ConnectionPoolSettings, Partial<ConnectionPoolPolicy>]> = [
    [{ tcp: { maxConnections: 100, connectTimeout: '250ms' } }, { maxConnections: 100, connectTimeoutMs: 250 }],
    [{ tcp: { maxConnections: 0 } }, {}],
    [{ http: { http1MaxPendingRequests: 1, http2MaxRequests: 2, maxRetries: 3, maxRequestsPerConnection: 1 } },
      { http1MaxPendingRequests: 1, http2MaxRequests: 2, maxRetries: 3, maxRequestsPerConnection: 1 }],
    [{ http: { http1MaxPendingRequests: 0, http2MaxRequests: 0, maxRetries: 0, maxRequestsPerConnection: 0, maxConcurrentStreams: 0 } }, {}],
    [{ http: { maxConcurrentStreams: 100, h2UpgradePolicy: 'UPGRADE', useClientProtocol: false } }, { maxConcurrentStreams: 100, h2UpgradePolicy: 'UPGRADE' }],
    [{ http: { useClientProtocol: true, h2UpgradePolicy: 'DO_NOT_UPGRADE' } }, { useClientProtocol: true, h2UpgradePolicy: 'DO_NOT_UPGRADE' }],
    [{ tcp: { idleTimeout: '0s' } }, { tcpIdleTimeoutMs: 0, httpIdleTimeoutMs: 0 }],
    [{ tcp: { idleTimeout: '5m' }, http: { idleTimeout: '30s' } }, { tcpIdleTimeoutMs: 300_000, httpIdleTimeoutMs: 30_000 }],
    [{ http: { idleTimeout: '30s' } }, { httpIdleTimeoutMs: 30_000 }],
    [{ tcp: { maxConnectionDuration: '10m' } }, { maxConnectionDurationMs: 600_000 }],
    [{ tcp: { tcpKeepalive: { probes: 3, time: '2h', interval: '75s' } } }, { tcpKeepalive: { probes: 3, timeMs: 7_200_000, intervalMs: 75_000 } }],
    [{ tcp: { tcpKeepalive: {} } }, { tcpKeepalive: { probes: null, timeMs: null, intervalMs: null } }],
    [{ http: { http2KeepAlive: { interval: '10s', timeout: '2s' } } }, { http2KeepAlive: { intervalMs: 10_000, timeoutMs: 2_000 } }],
  ];
  for (const [input, diff] of rows) assert.deepEqual(compileConnectionPool(input), { ...DEFAULT_POOL, ...diff }, JSON.stringify(input));
  assert.deepEqual(compileConnectionPool(undefined), DEFAULT_POOL);
});

const DEFAULT_OUTLIER: OutlierPolicy = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  consecutiveLocalOriginFailures: 5,
  splitExternalLocalOriginErrors: false,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
  httpErrorCodes: [],
};

void test('outlier detection: absent is null, present fills Envoy defaults', () => {
  const rows: Array<[OutlierDetection | undefined, OutlierPolicy | null]> = [
    [undefined, null],
    [{}, DEFAULT_OUTLIER],
    [{ consecutive5xxErrors: 0 }, { ...DEFAULT_OUTLIER, consecutive5xxErrors: 0 }],
    [{ consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '3m', maxEjectionPercent: 100 },
      { ...DEFAULT_OUTLIER, consecutive5xxErrors: 1, intervalMs: 1_000, baseEjectionTimeMs: 180_000, maxEjectionPercent: 100 }],
    [{ consecutiveGatewayErrors: 3 }, { ...DEFAULT_OUTLIER, consecutiveGatewayErrors: 3 }],
    // deprecated field: ignored by current Istio
    [{ consecutiveErrors: 7 }, DEFAULT_OUTLIER],
    // Istio cannot tell an explicit 0 from unset for these
    [{ maxEjectionPercent: 0, minHealthPercent: 0 }, DEFAULT_OUTLIER],
    [{ minHealthPercent: 50 }, { ...DEFAULT_OUTLIER, minHealthPercent: 50 }],
    [{ splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 },
      { ...DEFAULT_OUTLIER, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 }],
    [{ outlierDetectionHttpErrorCodes: [500, 503] }, { ...DEFAULT_OUTLIER, httpErrorCodes: [500, 503] }],
  ];
  for (const [input, want] of rows) assert.deepEqual(compileOutlierDetection(input), want, JSON.stringify(input));
});

void test('client TLS', () => {
  assert.equal(compileTls(undefined), null);
  assert.deepEqual(compileTls({}), {
    mode: 'DISABLE', sni: null, caCertificates: null, clientCertificate: null, privateKey: null,
    credentialName: null, subjectAltNames: [], insecureSkipVerify: false, caCrl: null,
  });
  assert.deepEqual(compileTls({
    mode: 'MUTUAL', sni: 'api.example.com', caCertificates: '/ca.pem', clientCertificate: '/c.pem', privateKey: '/k.pem',
    subjectAltNames: ['api.example.com'], caCrl: '/crl.pem',
  }), {
    mode: 'MUTUAL', sni: 'api.example.com', caCertificates: '/ca.pem', clientCertificate: '/c.pem', privateKey: '/k.pem',
    credentialName: null, subjectAltNames: ['api.example.com'], insecureSkipVerify: false, caCrl: '/crl.pem',
  });
  assert.deepEqual(compileTls({ mode: 'SIMPLE', credentialName: 'cred', insecureSkipVerify: true })?.credentialName, 'cred');
});

// ---------------------------------------------------------------- merge rules

const RR: LoadBalancerSettings = { simple: 'ROUND_ROBIN' };
const RANDOM: LoadBalancerSettings = { simple: 'RANDOM' };
const POOL_10: ConnectionPoolSettings = { tcp: { maxConnections: 10 } };
const POOL_20: ConnectionPoolSettings = { tcp: { maxConnections: 20 } };
const OD: OutlierDetection = { consecutive5xxErrors: 1 };
const DR_LEVEL: TrafficPolicy = {
  loadBalancer: RR,
  connectionPool: POOL_10,
  outlierDetection: OD,
  tls: { mode: 'SIMPLE' },
  portLevelSettings: [
    { port: { number: 9080 }, loadBalancer: RANDOM },
    { port: { number: 9443 }, tls: { mode: 'MUTUAL', clientCertificate: '/c', privateKey: '/k' } },
  ],
};

void test('selectPolicyBlocks: DR level, port level, subset level', () => {
  const rows: Array<[string, TrafficPolicy | undefined, TrafficPolicy | undefined, number, ReturnType<typeof selectPolicyBlocks>]> = [
    ['nothing', undefined, undefined, 80, {}],
    ['DR level applies to other ports', DR_LEVEL, undefined, 80, { loadBalancer: RR, connectionPool: POOL_10, outlierDetection: OD, tls: { mode: 'SIMPLE' } }],
    ['DR port level replaces all four blocks (no inheritance)', DR_LEVEL, undefined, 9080, { loadBalancer: RANDOM, connectionPool: undefined, outlierDetection: undefined, tls: undefined }],
    ['subset block replaces only that block', DR_LEVEL, { connectionPool: POOL_20 }, 80,
      { loadBalancer: RR, connectionPool: POOL_20, outlierDetection: OD, tls: { mode: 'SIMPLE' } }],
    ['subset over DR port level', DR_LEVEL, { connectionPool: POOL_20 }, 9080,
      { loadBalancer: RANDOM, connectionPool: POOL_20, outlierDetection: undefined, tls: undefined }],
    ['subset port level replaces all four', DR_LEVEL, { connectionPool: POOL_20, portLevelSettings: [{ port: { number: 80 }, outlierDetection: { consecutive5xxErrors: 9 } }] }, 80,
      { loadBalancer: undefined, connectionPool: undefined, outlierDetection: { consecutive5xxErrors: 9 }, tls: undefined }],
    ['subset port level for another port: subset top level applies', DR_LEVEL, { connectionPool: POOL_20, portLevelSettings: [{ port: { number: 81 }, loadBalancer: RANDOM }] }, 80,
      { loadBalancer: RR, connectionPool: POOL_20, outlierDetection: OD, tls: { mode: 'SIMPLE' } }],
    ['subset alone', undefined, { loadBalancer: RANDOM }, 80, { loadBalancer: RANDOM, connectionPool: undefined, outlierDetection: undefined, tls: undefined }],
    ['first matching port entry wins', { portLevelSettings: [{ port: { number: 80 }, loadBalancer: RR }, { port: { number: 80 }, loadBalancer: RANDOM }] }, undefined, 80,
      { loadBalancer: RR, connectionPool: undefined, outlierDetection: undefined, tls: undefined }],
  ];
  for (const [name, dr, subset, port, want] of rows) assert.deepEqual(selectPolicyBlocks(dr, subset, port), want, name);
});

void test('compileClusterPolicy: port-level settings fall back to defaults, not DR level', () => {
  const onDrPort = compileClusterPolicy(DR_LEVEL, undefined, 9443);
  assert.equal(onDrPort.lb.kind, 'LEAST_REQUEST');
  assert.deepEqual(onDrPort.connectionPool, DEFAULT_POOL);
  assert.equal(onDrPort.outlier, null);
  assert.equal(onDrPort.tls?.mode, 'MUTUAL');
  const other = compileClusterPolicy(DR_LEVEL, undefined, 80);
  assert.equal(other.lb.kind, 'ROUND_ROBIN');
  assert.equal(other.connectionPool.maxConnections, 10);
  assert.equal(other.outlier?.consecutive5xxErrors, 1);
  assert.equal(other.tls?.mode, 'SIMPLE');
  const subset = compileClusterPolicy(DR_LEVEL, { loadBalancer: { consistentHash: { useSourceIp: true } } }, 80);
  assert.equal(subset.lb.kind, 'CONSISTENT_HASH');
  assert.equal(subset.connectionPool.maxConnections, 10);
});
