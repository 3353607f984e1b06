/**
 * Retry decisions with Envoy's `retry_on` meanings. Pure: the forwarder asks, then acts.
 * (Envoy RetryStateImpl: resets retry under 5xx/gateway-error/reset; connect failures under
 * connect-failure too; REFUSED_STREAM under refused-stream; responses by status or grpc-status.)
 */
import type { RetryPolicy } from '../../snapshot/types.js';
import type { FailureKind } from '../upstream/attempt.js';

export type AttemptOutcome =
  | { kind: 'response'; status: number; grpcStatus: number | null; rateLimited: boolean }
  | { kind: 'failure'; failure: FailureKind };

const GRPC: Record<string, number> = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };

/** Would this outcome be retried under the policy (ignoring budgets and attempt counts)? */
export function retriable(p: RetryPolicy, o: AttemptOutcome): boolean {
  const on = p.retryOn;
  if (o.kind === 'failure') {
    if (o.failure === 'local_reset') return false;
    for (let i = 0; i < on.length; i++) {
      const t = on[i];
      if (t === '5xx' || t === 'gateway-error' || t === 'reset') return true;
      if (t === 'connect-failure' && o.failure === 'connection_failure') return true;
      if (t === 'reset-before-request' && o.failure === 'connection_failure') return true;
      if (t === 'refused-stream' && o.failure === 'refused_stream') return true;
    }
    return false;
  }
  const s = o.status;
  for (let i = 0; i < on.length; i++) {
    const t = on[i];
    if (t === '5xx' && s >= 500) return true;
    if (t === 'gateway-error' && (s === 502 || s === 503 || s === 504)) return true;
    if (t === 'retriable-4xx' && s === 409) return true;
    if (t === 'retriable-status-codes' && p.retriableStatusCodes.includes(s)) return true;
    if (t === 'envoy-ratelimited' && o.rateLimited) return true;
    const g = GRPC[t];
    if (g !== undefined && o.grpcStatus === g) return true;
  }
  return false;
}

/**
 * Fully jittered exponential back-off: uniform in [0, (2^n - 1) * base), capped at max,
 * for the n-th retry (1-based). `rnd` in [0,1).
 */
export function backoffMs(p: RetryPolicy, n: number, rnd: number): number {
  const ceiling = Math.min((2 ** n - 1) * p.backoffBaseMs, p.backoffMaxMs);
  return Math.floor(rnd * ceiling);
}
