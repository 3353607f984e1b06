/**
 * Retry decisions with Envoy's `retry_on` meanings (Envoy RetryStateImpl). Pure: the
 * forwarder asks, then acts (the attempt budget, the retry circuit breaker and the back-off
 * timer are its business).
 *
 * Responses (`wouldRetryFromHeaders`), in Envoy's order:
 * - a response carrying `x-envoy-ratelimited` is retried only under `envoy-ratelimited`,
 *   whatever its status;
 * - `5xx`: any 5xx; `gateway-error`: 502, 503, 504; `retriable-4xx`: 409;
 *   `retriable-status-codes`: the listed codes (Istio moves numeric `retryOn` entries there);
 * - gRPC tokens (`cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`,
 *   `unavailable`): the `grpc-status` of the response HEADERS (a Trailers-Only answer). A
 *   status that only arrives in trailers comes after the response started and cannot be
 *   retried.
 *
 * Resets (`wouldRetryFromReset`): never a local reset (the proxy aborted it) except a per-try
 * timeout, which the forwarder reports as a connection termination; `5xx`, `gateway-error`
 * and `reset` retry every reset; `connect-failure` and `reset-before-request` retry connection
 * failures (nothing was sent); `refused-stream` an HTTP/2 REFUSED_STREAM. An overflow (circuit
 * breaker) is never retried: the forwarder does not ask.
 */
import type { RetryPolicy } from '../../snapshot/types.js';
import type { FailureKind } from '../upstream/attempt.js';

export type AttemptOutcome =
  | { kind: 'response'; status: number; grpcStatus: number | null; rateLimited: boolean }
  | { kind: 'failure'; failure: FailureKind };

/** `retry_on` gRPC tokens -> gRPC status codes. */
const GRPC: Readonly<Record<string, number>> = Object.freeze({ cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 });

/** Would this response be retried under the policy (ignoring budgets and attempt counts)? */
export function retriableResponse(p: RetryPolicy, status: number, grpcStatus: number | null, rateLimited: boolean): boolean {
  const on = p.retryOn;
  if (rateLimited) return on.includes('envoy-ratelimited');
  // The common case, decided without walking the tokens: a success that no token can match.
  if (status < 400 && grpcStatus === null && p.retriableStatusCodes.length === 0) return false;
  for (let i = 0; i < on.length; i++) {
    const t = on[i];
    if (t === '5xx') {
      if (status >= 500 && status <= 599) return true;
    } else if (t === 'gateway-error') {
      if (status === 502 || status === 503 || status === 504) return true;
    } else if (t === 'retriable-4xx') {
      if (status === 409) return true;
    } else if (t === 'retriable-status-codes') {
      if (p.retriableStatusCodes.includes(status)) return true;
    } else if (grpcStatus !== null) {
      const g = GRPC[t];
      if (g !== undefined && grpcStatus === g) return true;
    }
  }
  return false;
}

/** Would this failure (before or instead of a response) be retried under the policy? */
export function retriableFailure(p: RetryPolicy, failure: FailureKind): boolean {
  if (failure === 'local_reset') return false;
  const on = p.retryOn;
  for (let i = 0; i < on.length; i++) {
    const t = on[i];
    if (t === '5xx' || t === 'gateway-error' || t === 'reset') return true;
    if ((t === 'connect-failure' || t === 'reset-before-request') && failure === 'connection_failure') return true;
    if (t === 'refused-stream' && failure === 'refused_stream') return true;
  }
  return false;
}

/** Would this outcome be retried under the policy (ignoring budgets and attempt counts)? */
export function retriable(p: RetryPolicy, o: AttemptOutcome): boolean {
  return o.kind === 'failure' ? retriableFailure(p, o.failure) : retriableResponse(p, o.status, o.grpcStatus, o.rateLimited);
}

/**
 * Fully jittered exponential back-off, as Envoy's JitteredExponentialBackOffStrategy computes
 * it: the interval starts at the base and doubles per retry, capped at the max (Istio: 10 x
 * base), and the delay is uniform in [0, interval). So the n-th retry (1-based) waits
 * [0, min(2^(n-1) x base, max)): 0-24, 0-49, 0-99, 0-199, then 0-249 ms with the 25 ms default.
 * (Envoy's prose docs say (2^n - 1) x base; the code, which is what runs, doubles.) `rnd` in [0,1).
 */
export function backoffMs(p: RetryPolicy, n: number, rnd: number): number {
  const ceiling = Math.min(2 ** Math.max(0, n - 1) * p.backoffBaseMs, p.backoffMaxMs);
  return Math.floor(rnd * ceiling);
}
