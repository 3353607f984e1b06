/**
 * HTTPRetry -> RetryPolicy (istio-semantics.md §0.2, §2.1; Istio `route/retry`).
 *
 * No `retries` => Istio's default policy (2 retries on connect-failure, refused-stream,
 * unavailable, cancelled, retriable-status-codes — with no codes, so 503s are NOT retried).
 * User retries start from the default and override what they set; `attempts: 0` (or unset,
 * the proto default) disables retries.
 */
import type { HTTPRetry } from '../api/types.js';
import { parseDuration } from '../core/duration.js';
import { httpStatusText } from '../core/names.js';
import type { RetryPolicy } from '../snapshot/types.js';

export const DEFAULT_RETRY_ON: readonly string[] = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'];
const DEFAULT_BACKOFF_BASE_MS = 25;
/** Envoy's max back-off is 10 x the base interval. */
const BACKOFF_MAX_FACTOR = 10;

/**
 * Istio's default outbound retry policy. The previous-hosts predicate is left out when the
 * destination uses consistent-hash LB (retrying elsewhere would break affinity).
 */
export function defaultRetryPolicy(consistentHash: boolean): RetryPolicy {
  return {
    attempts: 2,
    perTryTimeoutMs: null,
    retryOn: DEFAULT_RETRY_ON,
    retriableStatusCodes: [],
    retryIgnorePreviousHosts: !consistentHash,
    retryRemoteLocalities: false,
    hostSelectionRetryMaxAttempts: 5,
    backoffBaseMs: DEFAULT_BACKOFF_BASE_MS,
    backoffMaxMs: DEFAULT_BACKOFF_BASE_MS * BACKOFF_MAX_FACTOR,
    isDefault: true,
  };
}

/**
 * Splits `retryOn`: trimmed tokens; integers with a standard HTTP status text become
 * retriable status codes (and `retriable-status-codes` is appended when missing).
 */
export function parseRetryOn(retryOn: string): { retryOn: string[]; codes: number[] } {
  const tokens: string[] = [];
  const codes: number[] = [];
  for (const raw of retryOn.split(',')) {
    const t = raw.trim();
    if (t === '') continue;
    const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
    if (!Number.isNaN(n) && httpStatusText(n) !== undefined) codes.push(n);
    else tokens.push(t);
  }
  if (codes.length > 0 && !tokens.includes('retriable-status-codes')) tokens.push('retriable-status-codes');
  return { retryOn: tokens, codes };
}

/** A VirtualService `retries` block; null when retries are disabled. */
export function translateRetry(r: HTTPRetry, consistentHash: boolean): RetryPolicy | null {
  if (r.attempts === undefined || r.attempts <= 0) return null;
  const out: RetryPolicy = { ...defaultRetryPolicy(consistentHash), attempts: r.attempts, isDefault: false };
  if (r.perTryTimeout !== undefined) out.perTryTimeoutMs = parseDuration(r.perTryTimeout);
  if (r.retryOn !== undefined && r.retryOn.trim() !== '') {
    const p = parseRetryOn(r.retryOn);
    out.retryOn = p.retryOn;
    out.retriableStatusCodes = p.codes;
  }
  if (r.retryIgnorePreviousHosts !== undefined) out.retryIgnorePreviousHosts = r.retryIgnorePreviousHosts;
  if (r.retryRemoteLocalities !== undefined) out.retryRemoteLocalities = r.retryRemoteLocalities;
  if (r.backoff !== undefined) {
    const base = parseDuration(r.backoff);
    if (base !== null && base > 0) {
      out.backoffBaseMs = base;
      out.backoffMaxMs = base * BACKOFF_MAX_FACTOR;
    }
  }
  return out;
}
