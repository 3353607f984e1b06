/**
 * Fault injection decisions (Envoy `envoy.filters.http.fault`, as Istio configures it from a
 * VirtualService `fault` block). Pure: randomness comes in as `rnd`, the caller acts.
 *
 * Envoy semantics reproduced here:
 * - Percentages are Envoy `FractionalPercent`s per MILLION: Istio translates `percentage.value`
 *   to `numerator = uint32(value * 10000)` (truncated), and Envoy enables the fault when
 *   `random % 1_000_000 < numerator`. We draw `floor(rnd() * 1e6)` and compare the same way,
 *   which is `rnd() * 100 < pct` up to that per-million truncation.
 * - Delay and abort are decided independently, each with its own draw (delay first). A request
 *   may be both delayed and aborted: Envoy waits out the delay, then aborts.
 * - A delay of 0 ms is not injected (Envoy only arms the delay timer for a positive duration),
 *   so no `DI` flag either.
 * - An absent percentage is already 0 in the snapshot (Istio: "If left unspecified, no request
 *   will be delayed/aborted").
 *
 * How the caller acts on a {@link FaultDecision} (the lead's forwarder):
 * - Apply it once per downstream request, after route selection and *before* the upstream
 *   call: the fault filter sits in front of the router, so the delay is not counted against
 *   the route timeout (the router starts its timers only when it runs) and neither the delay
 *   nor the abort is ever retried (retries live in the router, behind the fault filter).
 * - Delay: set flag `DI`, sleep `delayMs`, then continue (or abort, below).
 * - Abort: set flag `FI` and answer locally without any upstream attempt:
 *   - `httpStatus`: that status, body `fault filter abort`.
 *   - `grpcStatus`: HTTP 200 with `grpc-status: <code>` (gRPC trailers-only reply,
 *     `grpc-message: fault filter abort`) when the request is gRPC
 *     (`content-type: application/grpc*`); a non-gRPC request gets a plain HTTP 200 with the
 *     body `fault filter abort` (Envoy `sendLocalReply` with the HTTP code defaulting to OK).
 */
import type { FaultPolicy } from '../../snapshot/types.js';
import { Flag } from '../../observability/flags.js';

/** What the fault layer should do for one request. */
export interface FaultDecision {
  /** Milliseconds to wait before going on; 0 = no delay injected. */
  delayMs: number;
  /** Abort instead of forwarding (after the delay), or null. */
  abort: { httpStatus: number | null; grpcStatus: string | null } | null;
  /** Response flags to add: `DI` when delayed, `FI` when aborted. */
  flags: number;
}

const NONE: FaultDecision = Object.freeze({ delayMs: 0, abort: null, flags: 0 });

/** Envoy's FractionalPercent denominator for Istio's percentages. */
const MILLION = 1_000_000;

/**
 * Whether a fault with `percentage` (0..100, float) fires for one draw of `rnd`.
 * Mirrors Istio's `uint32(value * 10000)` per-million numerator and Envoy's `r % D < N` test.
 */
export function faultFires(percentage: number, rnd: () => number): boolean {
  if (!(percentage > 0)) return false;
  const numerator = Math.floor(Math.min(percentage, 100) * 10_000);
  if (numerator >= MILLION) return true;
  return Math.floor(rnd() * MILLION) < numerator;
}

/**
 * Decides the fault for one request. `rnd` is drawn at most twice: once for the delay (if a
 * delay is configured), then once for the abort (if an abort is configured).
 */
export function decideFault(p: FaultPolicy | null, rnd: () => number): FaultDecision {
  if (!p) return NONE;
  let delayMs = 0;
  let flags = 0;
  if (p.delay && faultFires(p.delay.percentage, rnd) && p.delay.fixedDelayMs > 0) {
    delayMs = p.delay.fixedDelayMs;
    flags |= Flag.DI;
  }
  let abort: FaultDecision['abort'] = null;
  if (p.abort && (p.abort.httpStatus !== null || p.abort.grpcStatus !== null) && faultFires(p.abort.percentage, rnd)) {
    abort = { httpStatus: p.abort.httpStatus, grpcStatus: p.abort.grpcStatus };
    flags |= Flag.FI;
  }
  if (flags === 0) return NONE;
  return { delayMs, abort, flags };
}

/** gRPC status codes by their canonical names (the names Istio's `abort.grpcStatus` accepts). */
export const GRPC_STATUS_CODES: Readonly<Record<string, number>> = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

/**
 * Numeric gRPC code for a status name (`"UNAVAILABLE"` -> 14). Unknown names map to 0 (OK),
 * which is what Istio's translator produces for a name its webhook would have rejected
 * (`SupportedGRPCStatus[name]` on a Go map yields the zero value).
 */
export function grpcCode(name: string): number {
  return Object.prototype.hasOwnProperty.call(GRPC_STATUS_CODES, name) ? GRPC_STATUS_CODES[name] : 0;
}

/** The local reply for an abort decision (see the module comment for when to use which form). */
export function abortReply(
  abort: NonNullable<FaultDecision['abort']>,
  grpcRequest: boolean,
): { status: number; headers: Record<string, string>; body: string } {
  if (abort.grpcStatus !== null) {
    if (grpcRequest) {
      return {
        status: 200,
        headers: { 'content-type': 'application/grpc', 'grpc-status': String(grpcCode(abort.grpcStatus)), 'grpc-message': 'fault filter abort' },
        body: '',
      };
    }
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'fault filter abort' };
  }
  return { status: abort.httpStatus ?? 200, headers: { 'content-type': 'text/plain' }, body: 'fault filter abort' };
}
