import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, retriable, retriableFailure, retriableResponse } from './retry.js';
import type { RetryPolicy } from '../../snapshot/types.js';
import type { FailureKind } from '../upstream/attempt.js';

const policy = (retryOn: string[], codes: number[] = [], over: Partial<RetryPolicy> = {}): RetryPolicy => ({
  attempts: 2,
  perTryTimeoutMs: null,
  retryOn,
  retriableStatusCodes: codes,
  retryIgnorePreviousHosts: true,
  retryRemoteLocalities: false,
  hostSelectionRetryMaxAttempts: 5,
  backoffBaseMs: 25,
  backoffMaxMs: 250,
  isDefault: false,
  ...over,
});

/** Istio's default policy (istio-semantics §0.2). */
const ISTIO_DEFAULT = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'];

// [retryOn, codes, status, grpc-status, x-envoy-ratelimited, retried?]
const RESPONSES: Array<[string[], number[], number, number | null, boolean, boolean]> = [
  [['5xx'], [], 500, null, false, true],
  [['5xx'], [], 503, null, false, true],
  [['5xx'], [], 599, null, false, true],
  [['5xx'], [], 499, null, false, false],
  [['5xx'], [], 200, null, false, false],
  [['gateway-error'], [], 502, null, false, true],
  [['gateway-error'], [], 503, null, false, true],
  [['gateway-error'], [], 504, null, false, true],
  [['gateway-error'], [], 500, null, false, false],
  [['retriable-4xx'], [], 409, null, false, true],
  [['retriable-4xx'], [], 429, null, false, false],
  [['retriable-status-codes'], [418, 503], 418, null, false, true],
  [['retriable-status-codes'], [418], 503, null, false, false],
  [['retriable-status-codes'], [], 503, null, false, false],
  [['reset', 'connect-failure', 'refused-stream'], [], 503, null, false, false],
  [['5xx'], [], 503, null, true, false],
  [['envoy-ratelimited'], [], 429, null, true, true],
  [['envoy-ratelimited'], [], 429, null, false, false],
  [['unavailable'], [], 200, 14, false, true],
  [['cancelled'], [], 200, 1, false, true],
  [['deadline-exceeded'], [], 200, 4, false, true],
  [['resource-exhausted'], [], 200, 8, false, true],
  [['internal'], [], 200, 13, false, true],
  [['unavailable'], [], 200, 13, false, false],
  [['unavailable'], [], 503, null, false, false],
  [ISTIO_DEFAULT, [], 503, null, false, false],
  [ISTIO_DEFAULT, [], 200, 14, false, true],
  [ISTIO_DEFAULT, [], 200, 1, false, true],
];

for (const [on, codes, status, grpc, rl, want] of RESPONSES) {
  test(`retry response: retryOn ${on.join(',')}${codes.length ? ` codes ${codes}` : ''}: ${status}${grpc !== null ? ` grpc-status ${grpc}` : ''}${rl ? ' ratelimited' : ''} -> ${want ? 'retry' : 'no'}`, () => {
    const p = policy(on, codes);
    assert.equal(retriableResponse(p, status, grpc, rl), want);
    assert.equal(retriable(p, { kind: 'response', status, grpcStatus: grpc, rateLimited: rl }), want);
  });
}

const FAILURES: Array<[string[], FailureKind, boolean]> = [
  [['5xx'], 'connection_failure', true],
  [['5xx'], 'connection_termination', true],
  [['5xx'], 'remote_reset', true],
  [['gateway-error'], 'connection_termination', true],
  [['reset'], 'remote_reset', true],
  [['reset'], 'protocol_error', true],
  [['connect-failure'], 'connection_failure', true],
  [['connect-failure'], 'connection_termination', false],
  [['reset-before-request'], 'connection_failure', true],
  [['reset-before-request'], 'remote_reset', false],
  [['refused-stream'], 'refused_stream', true],
  [['refused-stream'], 'remote_reset', false],
  [['retriable-4xx', 'retriable-status-codes'], 'connection_failure', false],
  [['5xx', 'reset'], 'local_reset', false],
  [ISTIO_DEFAULT, 'connection_failure', true],
  [ISTIO_DEFAULT, 'refused_stream', true],
  [ISTIO_DEFAULT, 'connection_termination', false],
];

for (const [on, failure, want] of FAILURES) {
  test(`retry failure: retryOn ${on.join(',')}: ${failure} -> ${want ? 'retry' : 'no'}`, () => {
    const p = policy(on);
    assert.equal(retriableFailure(p, failure), want);
    assert.equal(retriable(p, { kind: 'failure', failure }), want);
  });
}

// [base, max, retry number, rnd, expected]
const BACKOFF: Array<[number, number, number, number, number]> = [
  [25, 250, 1, 0, 0],
  [25, 250, 1, 0.999, 24],
  [25, 250, 2, 0.999, 49],
  [25, 250, 3, 0.999, 99],
  [25, 250, 4, 0.999, 199],
  [25, 250, 5, 0.999, 249],
  [25, 250, 9, 0.999, 249],
  [25, 250, 3, 0.5, 50],
  [100, 1000, 1, 0.5, 50],
  [100, 1000, 5, 0.999, 999],
];

for (const [base, max, n, rnd, want] of BACKOFF) {
  test(`backoff: base ${base} max ${max}, retry ${n}, rnd ${rnd} -> ${want} ms`, () => {
    assert.equal(backoffMs(policy(['5xx'], [], { backoffBaseMs: base, backoffMaxMs: max }), n, rnd), want);
  });
}
