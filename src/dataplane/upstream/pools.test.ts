import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closesEachConnection, poolSettings } from './pools.js';
import type { ConnectionPoolPolicy } from '../../snapshot/types.js';

const MAX = 4294967295;
const cp = (over: Partial<ConnectionPoolPolicy> = {}): ConnectionPoolPolicy => ({
  maxConnections: MAX, connectTimeoutMs: 10_000, tcpKeepalive: null, maxConnectionDurationMs: null, tcpIdleTimeoutMs: 3_600_000,
  http1MaxPendingRequests: MAX, http2MaxRequests: MAX, maxRequestsPerConnection: 0, maxRetries: MAX,
  httpIdleTimeoutMs: 3_600_000, h2UpgradePolicy: 'DEFAULT', useClientProtocol: false, maxConcurrentStreams: 2147483647, http2KeepAlive: null,
  ...over,
});

// [cluster maxConnections, endpoints, connections per endpoint pool]
const SHARES: Array<[number, number, number]> = [
  [1, 1, 1],
  [1, 2, 1], // Envoy lets every host have one connection
  [10, 3, 4],
  [10, 10, 1],
  [100, 0, 100],
  [MAX, 3, Math.ceil(MAX / 3)],
];

for (const [max, eps, want] of SHARES) {
  test(`poolSettings: maxConnections ${max} over ${eps} endpoints -> ${want} per endpoint`, () => {
    assert.equal(poolSettings(cp({ maxConnections: max }), eps).maxConnections, want);
  });
}

test('poolSettings: keep-alive delay, connection lifetime, per-connection cap', () => {
  assert.equal(poolSettings(cp()).keepAliveDelayMs, null);
  assert.equal(poolSettings(cp({ tcpKeepalive: { probes: 3, timeMs: 30_000, intervalMs: 5000 } })).keepAliveDelayMs, 30_000);
  assert.equal(poolSettings(cp({ tcpKeepalive: { probes: null, timeMs: null, intervalMs: null } })).keepAliveDelayMs, 7_200_000);
  assert.equal(poolSettings(cp()).maxConnectionDurationMs, null);
  assert.equal(poolSettings(cp({ maxConnectionDurationMs: 0 })).maxConnectionDurationMs, null);
  assert.equal(poolSettings(cp({ maxConnectionDurationMs: 60_000 })).maxConnectionDurationMs, 60_000);
  assert.equal(closesEachConnection(poolSettings(cp({ maxRequestsPerConnection: 1 }))), true);
  assert.equal(closesEachConnection(poolSettings(cp({ maxRequestsPerConnection: 2 }))), false);
  assert.equal(closesEachConnection(poolSettings(cp())), false);
});
