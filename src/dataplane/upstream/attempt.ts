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
  kind: FailureKind;
  /** Response headers had already been received. */
  afterHeaders: boolean;
  message: string;
}

export interface AttemptHandler {
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
  return { kind, afterHeaders, message };
}

/** HTTP/1.1 through an undici Pool. */
export function startH1(pool: Pool, req: AttemptRequest, h: AttemptHandler): AttemptControl {
  let ctl: Dispatcher.DispatchController | null = null;
  let gotHeaders = false;
  let done = false;
  let abortRequested = false;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(controller) {
      ctl = controller;
      if (abortRequested) controller.abort(new AbortError());
    },
    onResponseStart(_c, statusCode, headers) {
      if (statusCode < 200) return;
      gotHeaders = true;
      h.onHeaders(statusCode, headers, false);
    },
    onResponseData(controller, chunk) {
      if (!h.onData(chunk)) controller.pause();
    },
    onResponseEnd(_c, trailers) {
      done = true;
      h.onEnd(trailers && Object.keys(trailers).length ? trailers : null);
    },
    onResponseError(_c, err) {
      if (done) return;
      done = true;
      h.onError(classify(err, gotHeaders));
    },
  };
  try {
    pool.dispatch(
      {
        method: req.method,
        path: req.path,
        headers: req.headers as Record<string, string | string[]>,
        body: req.body,
        idempotent: req.method === 'GET' || req.method === 'HEAD',
        blocking: false,
      },
      handler,
    );
  } catch (e) {
    done = true;
    queueMicrotask(() => h.onError(classify(e, false)));
  }
  return {
    pause: () => ctl?.pause(),
    resume: () => ctl?.resume(),
    abort: () => {
      abortRequested = true;
      if (!done && ctl) ctl.abort(new AbortError());
    },
  };
}

class AbortError extends Error {
  readonly code = 'UND_ERR_ABORTED';
  constructor() {
    super('request aborted by the proxy');
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
    stream = up.get().request(headers, { endStream: req.body === null });
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
