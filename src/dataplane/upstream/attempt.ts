/**
 * One upstream attempt, HTTP/1.1 (undici dispatch, no intermediate streams) or HTTP/2
 * (node:http2 session). The caller gets callbacks and a small control object for
 * backpressure and cancellation; failures are classified the way Envoy names them.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { constants as h2c, type ClientHttp2Stream } from 'node:http2';
import type { H2Upstream } from './pools.js';
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
 * One HTTP/1.1 attempt: the undici dispatch handler and the caller's control in one object
 * (no per-request closures). After `abort()` (or a cancelled start) nothing more reaches the
 * caller's handler.
 */
class H1Attempt implements Dispatcher.DispatchHandler, AttemptControl {
  private ctl: Dispatcher.DispatchController | null = null;
  private gotHeaders = false;
  private started = false;
  private done = false;

  constructor(private readonly h: AttemptHandler) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.ctl = controller;
    // undici calls this again when it replays an idempotent request on a new connection
    // (the first one was closed under it): the caller hears of the start once.
    if (this.started && !this.done) return;
    this.started = true;
    // Throwing here makes undici drop the request from its queue and keep the connection
    // (an abort() would destroy the socket, which has nothing of this request on it yet).
    if (this.done || !this.h.onStart()) {
      this.done = true;
      throw new CancelledError();
    }
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.done || statusCode < 200) return;
    this.gotHeaders = true;
    this.h.onHeaders(statusCode, headers, false);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    if (!this.h.onData(chunk)) controller.pause();
  }

  onResponseEnd(_c: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    if (this.done) return;
    this.done = true;
    let has = false;
    for (const _ in trailers) {
      has = true;
      break;
    }
    this.h.onEnd(has ? trailers : null);
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    if (this.done) return;
    this.done = true;
    this.h.onError(classify(err, this.gotHeaders));
  }

  pause(): void {
    this.ctl?.pause();
  }

  resume(): void {
    this.ctl?.resume();
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    // Not started yet: onRequestStart cancels it when its turn comes.
    this.ctl?.abort(new AbortError());
  }
}

/**
 * HTTP/1.1 through an undici Pool. `closeConnection`: this request is the last one on its
 * connection (`maxRequestsPerConnection: 1`).
 */
export function startH1(pool: Pool, req: AttemptRequest, h: AttemptHandler, closeConnection = false, servername?: string): AttemptControl {
  const a = new H1Attempt(h);
  try {
    const opts: Dispatcher.DispatchOptions & { servername?: string } = {
      // TLS origination: the configured SNI (undici would otherwise take the Host header's;
      // undici reads `servername` from dispatch options though its typings omit it).
      servername,
      method: req.method,
      path: req.path,
      headers: req.headers as Record<string, string | string[]>,
      body: req.body,
      idempotent: req.method === 'GET' || req.method === 'HEAD',
      blocking: false,
      reset: closeConnection || undefined,
    };
    pool.dispatch(opts, a);
  } catch (e) {
    queueMicrotask(() => a.onResponseError(null, e as Error));
  }
  return a;
}

class AbortError extends Error {
  readonly code = 'UND_ERR_ABORTED';
  constructor() {
    super('request aborted by the proxy');
  }
}

class CancelledError extends Error {
  readonly code = 'UND_ERR_ABORTED';
  constructor() {
    super('request cancelled before it was sent');
  }
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
  stream.on('error', (err) => fail(classify(err, gotHeaders)));
  stream.on('close', () => {
    if (done) return;
    const code = stream.rstCode;
    if (code === h2c.NGHTTP2_REFUSED_STREAM) fail({ kind: 'refused_stream', afterHeaders: gotHeaders, message: 'refused stream' });
    else if (code !== undefined && code !== h2c.NGHTTP2_NO_ERROR) fail({ kind: 'remote_reset', afterHeaders: gotHeaders, message: `stream reset (code ${code})` });
    else fail({ kind: 'connection_termination', afterHeaders: gotHeaders, message: 'stream closed' });
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
