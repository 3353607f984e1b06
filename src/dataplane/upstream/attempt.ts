/**
 * One upstream attempt, HTTP/1.1 (our own pool, h1-pool.ts, no intermediate streams) or HTTP/2
 * (node:http2 session). The caller gets callbacks and a small control object for
 * backpressure and cancellation; failures are classified the way Envoy names them.
 */
import type { Readable } from 'node:stream';
import { constants as h2c, type ClientHttp2Stream } from 'node:http2';
import type { H2Upstream } from './pools.js';
import type { H1Pool } from './h1-pool.js';
import type { HeaderMap } from '../http/headers.js';

/** Why an attempt failed, in Envoy's reset-reason vocabulary. */
export type FailureKind =
  | 'connection_failure' // could not connect (UF)
  | 'connection_termination' // peer closed / reset the connection (UC)
  | 'remote_reset' // HTTP/2 stream reset by peer (UR)
  | 'refused_stream' // HTTP/2 REFUSED_STREAM (retriable: refused-stream)
  | 'local_reset' // we aborted (timeout, client went away) (LR)
  | 'protocol_error'; // garbage from upstream (UPE)

export interface AttemptFailure {
  /** The host name did not resolve (flag DF). */
  dns?: boolean;
  kind: FailureKind;
  /** Response headers had already been received. */
  afterHeaders: boolean;
  message: string;
}

export interface AttemptHandler {
  /**
   * HTTP/1.1 only: the request has a connection and is about to be written (Envoy's "pool
   * ready"). Return false to cancel it there: it leaves the pool's queue without touching
   * the connection, and the attempt reports nothing more.
   */
  onStart(): boolean;
  /**
   * Response status and headers (1xx are skipped). `endStream`: the headers ended the
   * response (HTTP/2 HEADERS with END_STREAM, e.g. a gRPC Trailers-Only answer); no data or
   * trailers follow, and `onEnd` still comes.
   */
  onHeaders(status: number, headers: Record<string, string | string[] | undefined>, endStream: boolean): void;
  /** Return false to apply backpressure; call `control.resume()` on drain. */
  onData(chunk: Buffer): boolean;
  onEnd(trailers: Record<string, string | string[] | undefined> | null): void;
  onError(f: AttemptFailure): void;
}

export interface AttemptControl {
  pause(): void;
  resume(): void;
  abort(): void;
}

export interface AttemptRequest {
  method: string;
  path: string;
  headers: HeaderMap;
  /** null (no body), a replayable buffer, or the downstream stream (not replayable). */
  body: Buffer | Readable | null;
  authority: string;
}

function classify(err: unknown, afterHeaders: boolean): AttemptFailure {
  const e = err as { code?: string; message?: string };
  const code = e?.code ?? '';
  const message = e?.message ?? String(err);
  let kind: FailureKind;
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      kind = 'connection_failure';
      break;
    case 'UND_ERR_ABORTED':
    case 'ABORT_ERR':
      kind = 'local_reset';
      break;
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_STATUS':
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'UND_ERR_RESPONSE_STATUS_CODE':
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      kind = 'protocol_error';
      break;
    default:
      kind = code.startsWith('HPE_') ? 'protocol_error' : 'connection_termination';
  }
  // A name that does not resolve (DNS ServiceEntry endpoints, passthrough hosts): Envoy's DF.
  const dns = code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME';
  return dns ? { kind, afterHeaders, message, dns } : { kind, afterHeaders, message };
}

/**
 * HTTP/1.1 through the endpoint's pool (h1-pool.ts). `closeConnection`: this request is the
 * last one on its connection (`maxRequestsPerConnection: 1`).
 */
export function startH1(pool: H1Pool, req: AttemptRequest, h: AttemptHandler, closeConnection = false): AttemptControl {
  return pool.dispatch(req, h, closeConnection);
}

/** HTTP/2 (and gRPC) over a shared session. */
export function startH2(up: H2Upstream, req: AttemptRequest, scheme: string, h: AttemptHandler): AttemptControl {
  let stream: ClientHttp2Stream;
  let gotHeaders = false;
  let done = false;
  const fail = (f: AttemptFailure): void => {
    if (done) return;
    done = true;
    h.onError(f);
  };
  try {
    const headers: Record<string, string | string[]> = { ...(req.headers as Record<string, string | string[]>) };
    delete headers.host;
    headers[':method'] = req.method;
    headers[':path'] = req.path;
    headers[':authority'] = req.authority;
    headers[':scheme'] = scheme;
    stream = up.request(headers, { endStream: req.body === null });
  } catch (e) {
    const f = classify(e, false);
    queueMicrotask(() => fail(f));
    return { pause() {}, resume() {}, abort() {} };
  }
  stream.on('response', (hdrs, flags) => {
    const status = Number(hdrs[':status']);
    if (status < 200) return;
    gotHeaders = true;
    h.onHeaders(status, hdrs as Record<string, string | string[] | undefined>, (flags & h2c.NGHTTP2_FLAG_END_STREAM) !== 0);
  });
  let trailers: Record<string, string | string[] | undefined> | null = null;
  stream.on('trailers', (t) => {
    trailers = t as Record<string, string | string[] | undefined>;
  });
  stream.on('data', (chunk: Buffer) => {
    if (!h.onData(chunk)) stream.pause();
  });
  stream.on('end', () => {
    if (done) return;
    done = true;
    h.onEnd(trailers);
  });
  /** A stream reset by the peer (RST_STREAM): UR, or refused-stream (retriable). */
  const reset = (): AttemptFailure | null => {
    const code = stream.rstCode;
    if (code === h2c.NGHTTP2_REFUSED_STREAM) return { kind: 'refused_stream', afterHeaders: gotHeaders, message: 'refused stream' };
    if (code !== undefined && code !== h2c.NGHTTP2_NO_ERROR) return { kind: 'remote_reset', afterHeaders: gotHeaders, message: `stream reset (code ${code})` };
    return null;
  };
  // Node reports a peer's RST_STREAM as an 'error' (ERR_HTTP2_STREAM_ERROR) before 'close':
  // the reset code says what happened, not the generic error.
  stream.on('error', (err: NodeJS.ErrnoException) => fail((err.code === 'ERR_HTTP2_STREAM_ERROR' ? reset() : null) ?? classify(err, gotHeaders)));
  stream.on('close', () => {
    if (done) return;
    fail(reset() ?? { kind: 'connection_termination', afterHeaders: gotHeaders, message: 'stream closed' });
  });
  if (req.body !== null) {
    if (Buffer.isBuffer(req.body)) stream.end(req.body);
    else {
      req.body.pipe(stream);
      req.body.on('error', () => stream.close(h2c.NGHTTP2_CANCEL));
    }
  }
  return {
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    abort: () => {
      if (done) return;
      done = true;
      stream.close(h2c.NGHTTP2_CANCEL);
    },
  };
}
