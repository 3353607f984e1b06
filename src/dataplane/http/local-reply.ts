/**
 * Answers the proxy gives itself (Envoy "local replies"): same statuses and bodies as
 * Envoy so runbooks and alerts keep working; gRPC clients get a trailers-only answer
 * with a grpc-status instead of a bare HTTP error.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { StreamInfo } from './stream-info.js';

/** What the proxy needs of node's http1 ServerResponse and http2 compat Http2ServerResponse. */
export interface DownstreamResponse {
  readonly headersSent: boolean;
  statusCode: number;
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: Buffer): boolean;
  end(): unknown;
  end(data: string | Buffer): unknown;
  addTrailers(t: OutgoingHttpHeaders): void;
  destroy(err?: Error): unknown;
  once(ev: 'close' | 'drain', fn: () => void): unknown;
  prependOnceListener(ev: 'close', fn: () => void): unknown;
  on(ev: 'error', fn: (e: Error) => void): unknown;
}

/** HTTP status -> gRPC status, as Envoy maps local replies for gRPC clients. */
function grpcStatusFor(http: number): number {
  switch (http) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429: return 14; // UNAVAILABLE
    case 502: return 14;
    case 503: return 14;
    case 504: return 4; // DEADLINE_EXCEEDED
    default: return 2; // UNKNOWN
  }
}

export function isGrpcRequest(h: IncomingHttpHeaders): boolean {
  const ct = h['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

export interface LocalReply {
  status: number;
  body: string;
  /** RESPONSE_CODE_DETAILS. */
  details: string;
  flags: number;
  headers?: OutgoingHttpHeaders;
}

/** Sends a local reply unless the response already started (then the stream is reset). */
export function sendLocalReply(res: DownstreamResponse, info: StreamInfo, reply: LocalReply, grpc: boolean, server: string): void {
  info.responseCode = reply.status;
  info.flags |= reply.flags;
  info.details = reply.details;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: OutgoingHttpHeaders = { ...reply.headers };
  headers.server = server;
  if (grpc) {
    const code = grpcStatusFor(reply.status);
    headers['content-type'] = 'application/grpc';
    headers['grpc-status'] = String(code);
    headers['grpc-message'] = encodeURIComponent(reply.body);
    info.grpcStatus = String(code);
    info.responseCode = 200;
    endHeadersOnly(res, 200, headers);
    return;
  }
  if (reply.body) {
    headers['content-type'] ??= 'text/plain';
    headers['content-length'] = Buffer.byteLength(reply.body);
  } else headers['content-length'] = 0;
  res.writeHead(reply.status, headers);
  if (reply.body) res.end(reply.body);
  else res.end();
  info.bytesSent = reply.body ? Buffer.byteLength(reply.body) : 0;
}

/**
 * Sends status and headers as the whole response. On HTTP/2 this is one HEADERS frame with
 * END_STREAM (gRPC's "Trailers-Only" form, which is the only place a gRPC client reads a
 * status from the first HEADERS): `writeHead` would send the headers at once without
 * END_STREAM and the client would take grpc-status for initial metadata. Setting the headers
 * and calling `end()` lets node send them together with the end of the stream.
 */
export function endHeadersOnly(res: DownstreamResponse, status: number, headers: OutgoingHttpHeaders): void {
  res.statusCode = status;
  for (const k in headers) {
    const v = headers[k];
    if (v !== undefined) res.setHeader(k, v);
  }
  res.end();
}
