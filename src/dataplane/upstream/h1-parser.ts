/**
 * An incremental, strict HTTP/1.1 response parser for the upstream side (RFC 9112). It is
 * fed whatever the socket reads and calls its sink for the head, each body slice (zero-copy
 * views of the input) and the end. Anything malformed — bad status line, obs-fold, bare CR
 * or LF, NUL, invalid header names, conflicting Content-Length, broken chunk framing, an
 * oversized head or chunk line — is a {@link ParseError} with an llhttp-style `HPE_*` code,
 * which the caller reports as an upstream protocol error (Envoy's UPE) and answers by
 * discarding the connection.
 *
 * Framing (RFC 9112 §6.3): no body for HEAD, 1xx, 204 and 304; otherwise Transfer-Encoding
 * chunked (the last coding) wins over Content-Length (and the connection is not reused);
 * Content-Length; else the body runs until the connection closes.
 */

/** Response header values; repeated names become arrays (in arrival order). */
export type ResponseHeaders = Record<string, string | string[]>;

export interface ResponseSink {
  /** A final (non-1xx) response head. `keepAlive`: the connection may carry another request. */
  onHead(status: number, headers: ResponseHeaders): void;
  /** A body slice; a view into the parser's input, valid until the call returns unless copied. */
  onBody(chunk: Buffer): void;
  /** The response is complete (trailers of a chunked body, or null). */
  onEnd(trailers: ResponseHeaders | null): void;
}

export class ParseError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const S_HEAD = 0;
const S_BODY_LENGTH = 1;
const S_CHUNK_SIZE = 2;
const S_CHUNK_DATA = 3;
const S_CHUNK_CRLF = 4;
const S_TRAILERS = 5;
const S_BODY_EOF = 6;
const S_DONE = 7;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
/** Longest chunk-size line (size + extensions) accepted: extension floods are refused. */
const MAX_CHUNK_LINE = 4096;

/** RFC 9110 token characters, for header names. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

/** A NUL, a CR not followed by LF, or an LF not preceded by CR, anywhere in a head. */
const BAD_LINE_BREAK = /\0|\r(?!\n)|(?<!\r)\n/;

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Strips optional whitespace (SP / HTAB) at both ends. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Parses a head's header lines (after the start line) into `out`; returns framing facts. */
function parseFields(lines: string[], from: number, out: ResponseHeaders): void {
  for (let i = from; i < lines.length; i++) {
    const line = lines[i];
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) throw new ParseError('HPE_INVALID_HEADER_TOKEN', 'obsolete line folding in a header');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ParseError('HPE_INVALID_HEADER_TOKEN', 'header line without a name and colon');
    const rawName = line.slice(0, colon);
    if (!isToken(rawName)) throw new ParseError('HPE_INVALID_HEADER_TOKEN', `invalid header name ${JSON.stringify(rawName)}`);
    const name = rawName.toLowerCase();
    const value = trimOws(line.slice(colon + 1));
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (typeof prev === 'string') out[name] = [prev, value];
    else prev.push(value);
  }
}

/** A strictly decimal Content-Length (repeated identical values allowed, RFC 9110 §8.6). */
function contentLength(v: string | string[]): number {
  const all = (Array.isArray(v) ? v.join(',') : v).split(',');
  let n = -1;
  for (const part of all) {
    const s = trimOws(part);
    if (s.length === 0 || s.length > 15) throw new ParseError('HPE_INVALID_CONTENT_LENGTH', `invalid content-length ${JSON.stringify(v)}`);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) throw new ParseError('HPE_INVALID_CONTENT_LENGTH', `invalid content-length ${JSON.stringify(v)}`);
    }
    const x = Number(s);
    if (n !== -1 && x !== n) throw new ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', `conflicting content-length values ${JSON.stringify(v)}`);
    n = x;
  }
  return n;
}

/** true when the comma-separated header value lists `token` (case-insensitive). */
function listsToken(v: string | string[] | undefined, token: string): boolean {
  if (v === undefined) return false;
  const s = (Array.isArray(v) ? v.join(',') : v).toLowerCase();
  if (s === token) return true;
  for (const p of s.split(',')) if (trimOws(p) === token) return true;
  return false;
}

/** `Keep-Alive: timeout=N` in ms, or -1. */
function keepAliveHint(v: string | string[] | undefined): number {
  if (v === undefined) return -1;
  const m = /(?:^|[,\s])timeout\s*=\s*(\d+)/i.exec(Array.isArray(v) ? v.join(',') : v);
  return m ? Number(m[1]) * 1000 : -1;
}

export class ResponseParser {
  private state = S_DONE;
  /** Bytes of an incomplete head, chunk-size line or trailer section. */
  private pending: Buffer | null = null;
  private remaining = 0;
  private headOnly = false;
  private trailerBytes = 0;
  /** Whether the connection can be reused after this response. */
  keepAlive = true;
  /** The server's `Keep-Alive: timeout=` hint in ms, or -1. */
  keepAliveMs = -1;
  /** Any byte of a response has been received since `expect()`. */
  started = false;
  /** Set when a response ended inside `execute` (the sink may re-arm the parser at once). */
  private ended = false;

  constructor(
    private readonly sink: ResponseSink,
    private readonly maxHeadBytes: number,
  ) {}

  /** Arms the parser for the response to a request; `head`: it was a HEAD request. */
  expect(head: boolean): void {
    this.state = S_HEAD;
    this.pending = null;
    this.headOnly = head;
    this.keepAlive = true;
    this.keepAliveMs = -1;
    this.started = false;
  }

  /** Forgets the response in progress (the connection is being discarded). */
  reset(): void {
    this.state = S_DONE;
    this.pending = null;
  }

  /** true between `expect()` and the end of that response. */
  get busy(): boolean {
    return this.state !== S_DONE;
  }

  /** true when the body runs until the connection closes (so a close ends it cleanly). */
  get readsUntilClose(): boolean {
    return this.state === S_BODY_EOF;
  }

  /** Feeds bytes. Bytes after a complete response are an error (nothing was asked for). */
  execute(data: Buffer): void {
    let buf = data;
    let pos = 0;
    if (this.state === S_DONE) throw new ParseError('HPE_CLOSED_CONNECTION', 'upstream sent data with no request outstanding');
    this.started = true;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, data]);
      this.pending = null;
    }
    this.ended = false;
    while (pos < buf.length) {
      if (this.ended) {
        // A response ended and bytes are left over: nothing asked for them.
        throw new ParseError('HPE_CLOSED_CONNECTION', 'upstream sent more data than the response it framed');
      }
      switch (this.state) {
        case S_HEAD:
          pos = this.head(buf, pos);
          break;
        case S_BODY_LENGTH: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          const slice = pos === 0 && n === buf.length ? buf : buf.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) this.state = S_DONE;
          this.sink.onBody(slice);
          if (this.state === S_DONE) this.end(null);
          break;
        }
        case S_CHUNK_SIZE:
          pos = this.chunkSize(buf, pos);
          break;
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          const slice = buf.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) this.state = S_CHUNK_CRLF;
          this.sink.onBody(slice);
          break;
        }
        case S_CHUNK_CRLF:
          if (buf.length - pos < 2) {
            this.pending = buf.subarray(pos);
            return;
          }
          if (buf[pos] !== 13 || buf[pos + 1] !== 10) throw new ParseError('HPE_STRICT', 'chunk data not followed by CRLF');
          pos += 2;
          this.state = S_CHUNK_SIZE;
          break;
        case S_TRAILERS:
          pos = this.trailers(buf, pos);
          break;
        case S_BODY_EOF:
          this.sink.onBody(pos === 0 ? buf : buf.subarray(pos));
          pos = buf.length;
          break;
        default:
          throw new ParseError('HPE_CLOSED_CONNECTION', 'upstream sent more data than the response it framed');
      }
      if (this.state === S_DONE && !this.ended) return; // the sink gave up on this response
    }
  }

  /** The connection closed: ends a read-until-close body; true when that completed a response. */
  finishOnClose(): boolean {
    if (this.state !== S_BODY_EOF) return false;
    this.state = S_DONE;
    this.end(null);
    return true;
  }

  private end(trailers: ResponseHeaders | null): void {
    this.ended = true;
    this.sink.onEnd(trailers);
  }

  private head(buf: Buffer, pos: number): number {
    const end = buf.indexOf(CRLFCRLF, pos);
    if (end === -1) {
      if (buf.length - pos > this.maxHeadBytes) throw new ParseError('HPE_HEADER_OVERFLOW', `upstream response head larger than ${this.maxHeadBytes} bytes`);
      this.pending = buf.subarray(pos);
      return buf.length;
    }
    if (end - pos > this.maxHeadBytes) throw new ParseError('HPE_HEADER_OVERFLOW', `upstream response head larger than ${this.maxHeadBytes} bytes`);
    const text = buf.toString('latin1', pos, end);
    if (BAD_LINE_BREAK.test(text)) throw new ParseError('HPE_LF_EXPECTED', 'bare CR, bare LF or NUL in the upstream response head');
    const lines = text.split('\r\n');
    const start = lines[0];
    // `HTTP/1.x SSS[ reason]`
    if (
      start.length < 12 ||
      !start.startsWith('HTTP/1.') ||
      (start.charCodeAt(7) !== 49 && start.charCodeAt(7) !== 48) ||
      start.charCodeAt(8) !== 32 ||
      (start.length > 12 && start.charCodeAt(12) !== 32)
    ) {
      throw new ParseError('HPE_INVALID_CONSTANT', `invalid status line ${JSON.stringify(start.slice(0, 64))}`);
    }
    const d0 = start.charCodeAt(9) - 48;
    const d1 = start.charCodeAt(10) - 48;
    const d2 = start.charCodeAt(11) - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) throw new ParseError('HPE_INVALID_STATUS', `invalid status code in ${JSON.stringify(start.slice(0, 64))}`);
    const status = d0 * 100 + d1 * 10 + d2;
    const http10 = start.charCodeAt(7) === 48;
    const headers: ResponseHeaders = {};
    parseFields(lines, 1, headers);
    const next = end + 4;
    if (status < 200) {
      // 100 Continue, 103 Early Hints...: skipped, the final response follows. 101 would
      // switch protocols, which nothing here asked for (Upgrade is never forwarded).
      if (status === 101) throw new ParseError('HPE_INVALID_STATUS', 'upstream switched protocols without being asked');
      return next;
    }
    const conn = headers.connection;
    this.keepAlive = http10 ? listsToken(conn, 'keep-alive') : !listsToken(conn, 'close');
    this.keepAliveMs = keepAliveHint(headers['keep-alive']);
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    if (this.headOnly || status === 204 || status === 304) {
      this.state = S_DONE;
    } else if (te !== undefined) {
      const codings = (Array.isArray(te) ? te.join(',') : te).split(',');
      if (trimOws(codings[codings.length - 1]).toLowerCase() === 'chunked') {
        this.state = S_CHUNK_SIZE;
        this.trailerBytes = 0;
        // Both framings: chunked wins, and the connection is not trusted again (RFC 9112 §6.1).
        if (cl !== undefined) this.keepAlive = false;
      } else {
        this.state = S_BODY_EOF;
        this.keepAlive = false;
      }
    } else if (cl !== undefined) {
      this.remaining = contentLength(cl);
      this.state = this.remaining === 0 ? S_DONE : S_BODY_LENGTH;
    } else {
      this.state = S_BODY_EOF;
      this.keepAlive = false;
    }
    const done = this.state === S_DONE;
    this.sink.onHead(status, headers);
    if (done) this.end(null);
    return next;
  }

  private chunkSize(buf: Buffer, pos: number): number {
    const eol = buf.indexOf(CRLF, pos);
    if (eol === -1) {
      if (buf.length - pos > MAX_CHUNK_LINE) throw new ParseError('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'chunk-size line too long');
      this.pending = buf.subarray(pos);
      return buf.length;
    }
    if (eol - pos > MAX_CHUNK_LINE) throw new ParseError('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'chunk-size line too long');
    let size = 0;
    let digits = 0;
    let i = pos;
    for (; i < eol; i++) {
      const c = buf[i];
      const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (v < 0) break;
      if (++digits > 13) throw new ParseError('HPE_INVALID_CHUNK_SIZE', 'chunk size too large');
      size = size * 16 + v;
    }
    if (digits === 0) throw new ParseError('HPE_INVALID_CHUNK_SIZE', 'invalid chunk size');
    // After the size: optional whitespace and `;extensions`, nothing else (no NUL, CR, LF).
    for (; i < eol; i++) {
      const c = buf[i];
      if (c === 59 /* ; */) break;
      if (c !== 32 && c !== 9) throw new ParseError('HPE_INVALID_CHUNK_SIZE', 'invalid chunk size');
    }
    for (; i < eol; i++) {
      const c = buf[i];
      if (c === 0 || c === 10 || c === 13) throw new ParseError('HPE_INVALID_CHUNK_SIZE', 'invalid byte in chunk extension');
    }
    const next = eol + 2;
    if (size === 0) {
      this.state = S_TRAILERS;
      return next;
    }
    this.remaining = size;
    this.state = S_CHUNK_DATA;
    return next;
  }

  private trailers(buf: Buffer, pos: number): number {
    // The common case: no trailers, just the final CRLF.
    if (buf.length - pos >= 2 && buf[pos] === 13 && buf[pos + 1] === 10) {
      this.state = S_DONE;
      this.end(null);
      return pos + 2;
    }
    const end = buf.indexOf(CRLFCRLF, pos);
    if (end === -1) {
      if (buf.length - pos > this.maxHeadBytes) throw new ParseError('HPE_HEADER_OVERFLOW', 'upstream trailers too large');
      this.pending = buf.subarray(pos);
      return buf.length;
    }
    const text = buf.toString('latin1', pos, end);
    if (BAD_LINE_BREAK.test(text)) throw new ParseError('HPE_LF_EXPECTED', 'bare CR, bare LF or NUL in upstream trailers');
    const trailers: ResponseHeaders = {};
    parseFields(text.split('\r\n'), 0, trailers);
    this.state = S_DONE;
    this.end(trailers);
    return end + 4;
  }
}
