/**
 * What the proxy learned about one request, filled in along the path and handed to the
 * access log and metrics when the response completes (Envoy's StreamInfo).
 */
import type { Route } from '../../snapshot/types.js';
import type { DestinationLabels } from '../../observability/identity.js';

/** Addresses of a downstream connection (also set on the h2c replay duplex by the listener). */
export interface SocketAddresses {
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
}

export class StreamInfo {
  /** Epoch ms at accept. */
  readonly startTime: number;
  /** High-resolution start, for durations. */
  readonly startNs: bigint;
  method = '';
  /** Path as received (x-envoy-original-path semantics: before any rewrite). */
  path = '';
  protocol: 'HTTP/1.1' | 'HTTP/2' | 'HTTP/1.0' = 'HTTP/1.1';
  authority = '';
  requestId = '';
  userAgent = '';
  forwardedFor = '';
  /** Client IP (no port: hashing and x-forwarded-for use it). */
  downstreamRemote = '';
  /** Client port, for %DOWNSTREAM_REMOTE_ADDRESS% (`ip:port`, as Envoy logs it). */
  downstreamRemotePort = 0;
  downstreamLocal = '';
  /** Response code sent to the client (0 until known). */
  responseCode = 0;
  /** Envoy response flags bitmask (observability/flags). */
  flags = 0;
  /** RESPONSE_CODE_DETAILS, e.g. `via_upstream`, `route_not_found`. */
  details = '';
  bytesReceived = 0;
  bytesSent = 0;
  /** ms the upstream took to answer headers (x-envoy-upstream-service-time), or -1. */
  upstreamServiceTime = -1;
  upstreamHost = '';
  upstreamCluster = '';
  upstreamTransportFailure = '';
  routeName = '';
  route: Route | null = null;
  /** Destination for metrics: a stable object per cluster/endpoint (interned by identity). */
  destination: DestinationLabels | null = null;
  /** Destination service FQDN (or the Host for passthrough). */
  destinationService = '';
  grpc = false;
  grpcStatus = '';
  attempts = 0;
  durationMs = 0;

  constructor(now: number) {
    this.startTime = now;
    this.startNs = process.hrtime.bigint();
  }

  /** Milliseconds since accept. */
  elapsedMs(): number {
    return Number(process.hrtime.bigint() - this.startNs) / 1e6;
  }
}
