/**
 * HTTP/1.1 connections to one upstream endpoint: a bounded pool of keep-alive sockets
 * (plain or TLS-originated), a FIFO of requests waiting for one, and one request at a time
 * per connection (no pipelining, like Envoy). The request head is rendered as one string
 * and written with one syscall; the response goes through {@link ResponseParser} straight
 * to the caller's {@link AttemptHandler} — no streams, no per-request closures.
 *
 * Replaces a general-purpose client (undici) on the hot path: a proxy needs exactly this
 * much, and measured (bench/proxy) the general client's dispatch machinery was a large
 * share of the per-request CPU.
 *
 * Connection lifecycle, as Envoy's HTTP/1.1 pool: connect timeout; idle connections closed
 * after the idle timeout (or the server's `Keep-Alive: timeout=` hint minus a second, which
 * avoids reusing a connection the server is about to close); closed after
 * `maxRequestsPerConnection` requests or once older than `maxConnectionDuration`; never
 * reused after `Connection: close`, a read-until-close body, or a response that came before
 * the request body was fully sent. A request whose reused connection turns out to be
 * closed before any response byte arrived (the keep-alive race) is sent once more on a new
 * connection when its body is replayable — as Envoy's pool does for a stale connection.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { ParseError, ResponseParser, type ResponseHeaders, type ResponseSink } from './h1-parser.js';
import type { AttemptControl, AttemptFailure, AttemptHandler, AttemptRequest } from './attempt.js';

/** What the pool reports to its cluster (connection counts, circuit breakers, stats). */
export interface H1PoolEvents {
  connected(): void;
  disconnected(): void;
  connectFailed(timeout: boolean): void;
}

export interface H1PoolOptions {
  host: string;
  port: number;
  maxConnections: number;
  connectTimeoutMs: number;
  /** Idle keep-alive timeout (also the cap for a server's hint). */
  keepAliveMs: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  /** null = no limit. */
  maxConnectionDurationMs: number | null;
  /** TCP keep-alive initial delay; null = off. */
  tcpKeepAliveMs: number | null;
  /** TLS origination (options for tls.connect), or null for plain text. */
  tls: tls.ConnectionOptions | null;
  /** Set when TLS options could not be built: every connection attempt fails with it. */
  tlsError: Error | null;
  /** Largest response head accepted. */
  maxHeadBytes: number;
}

const NOOP_EVENTS: H1PoolEvents = { connected() {}, disconnected() {}, connectFailed() {} };
/** Server keep-alive hints are trusted minus this margin (the server's timer may fire first). */
const HINT_MARGIN_MS = 1000;
/** A header value that would split the head (CR, LF) or that no server accepts (NUL). */
const BAD_VALUE = /[\r\n\0]/;

/** One request on the pool: queued, then bound to a connection until its response ends. */
class Exchange implements AttemptControl {
  conn: Conn | null = null;
  /** The handler was told the request started (its onStart ran and said yes). */
  started = false;
  done = false;
  gotHeaders = false;
  /** Already resent once after a stale keep-alive connection. */
  resent = false;

  constructor(
    readonly pool: H1Pool,
    readonly req: AttemptRequest,
    readonly h: AttemptHandler,
    readonly closeAfter: boolean,
  ) {}

  pause(): void {
    const c = this.conn;
    if (c !== null && c.exchange === this) c.socket.pause();
  }

  resume(): void {
    const c = this.conn;
    if (c !== null && c.exchange === this) c.socket.resume();
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    const c = this.conn;
    if (c !== null && c.exchange === this) c.discard();
    else this.pool.unqueue(this);
  }

  fail(code: string, message: string): void {
    if (this.done) return;
    this.done = true;
    this.h.onError(failure(code, message, this.gotHeaders));
  }
}

/** Envoy's reset reasons for what went wrong on a connection. */
function failure(code: string, message: string, afterHeaders: boolean): AttemptFailure {
  if (code.startsWith('HPE_')) return { kind: 'protocol_error', afterHeaders, message };
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ETIMEDOUT':
    case 'CONNECT_TIMEOUT':
      return { kind: 'connection_failure', afterHeaders, message };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return { kind: 'connection_failure', afterHeaders, message, dns: true };
    default:
      return { kind: 'connection_termination', afterHeaders, message };
  }
}

/** One upstream socket. */
class Conn implements ResponseSink {
  readonly socket: net.Socket;
  readonly parser: ResponseParser;
  exchange: Exchange | null = null;
  connected = false;
  dead = false;
  requests = 0;
  readonly born = Date.now();
  idleSince = 0;
  /** Idle timeout for this connection (a server hint may lower it). */
  keepAliveMs: number;
  /** The request body is still being written. */
  private sending = false;
  private noReuse = false;
  private connectTimer: NodeJS.Timeout | null = null;
  private body: Readable | null = null;

  constructor(readonly pool: H1Pool) {
    const o = pool.opts;
    this.keepAliveMs = o.keepAliveMs;
    this.parser = new ResponseParser(this, o.maxHeadBytes);
    if (o.tls !== null) {
      const servername = o.tls.servername ?? (net.isIP(o.host) ? undefined : o.host);
      this.socket = tls.connect({ ...o.tls, host: o.host, port: o.port, servername, ALPNProtocols: ['http/1.1'] });
      this.socket.once('secureConnect', () => this.onConnect());
    } else {
      this.socket = net.connect({ host: o.host, port: o.port, noDelay: true });
      this.socket.once('connect', () => this.onConnect());
    }
    if (o.connectTimeoutMs > 0) {
      this.connectTimer = setTimeout(() => this.onConnectTimeout(), o.connectTimeoutMs);
      this.connectTimer.unref();
    }
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.onClose(e.code ?? 'ECONNRESET', e.message));
    this.socket.on('close', () => this.onClose('UND_ERR_SOCKET', 'other side closed'));
    this.socket.on('drain', () => this.body?.resume());
  }

  private onConnect(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.connected = true;
    const o = this.pool.opts;
    this.socket.setNoDelay(true);
    if (o.tcpKeepAliveMs !== null) this.socket.setKeepAlive(true, o.tcpKeepAliveMs);
    this.pool.onConnected(this);
  }

  private onConnectTimeout(): void {
    this.connectTimer = null;
    if (this.connected || this.dead) return;
    this.socket.destroy();
    this.onClose('CONNECT_TIMEOUT', `connect timeout after ${this.pool.opts.connectTimeoutMs} ms`);
  }

  /** Binds `x` to this idle connection and writes its request. */
  send(x: Exchange): void {
    this.exchange = x;
    x.conn = this;
    this.requests++;
    const req = x.req;
    this.parser.expect(req.method === 'HEAD');
    const body = req.body;
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    const hs = req.headers;
    let chunked = false;
    for (const name in hs) {
      const v = hs[name];
      if (typeof v === 'string') {
        if (name === 'content-length' && body !== null) continue;
        if (BAD_VALUE.test(v)) return this.refuse(x, name);
        head += `${name}: ${v}\r\n`;
      } else {
        for (const one of v) {
          if (BAD_VALUE.test(one)) return this.refuse(x, name);
          head += `${name}: ${one}\r\n`;
        }
      }
    }
    if (body === null) {
      // nothing: a Content-Length the client sent (e.g. 0) went through above
    } else if (Buffer.isBuffer(body)) {
      head += `content-length: ${body.length}\r\n`;
    } else if (hs['content-length'] !== undefined) {
      head += `content-length: ${hs['content-length'] as string}\r\n`;
    } else {
      head += 'transfer-encoding: chunked\r\n';
      chunked = true;
    }
    const last = x.closeAfter || this.pool.lastRequestOn(this);
    if (last) {
      head += 'connection: close\r\n';
      this.noReuse = true;
    }
    head += '\r\n';
    const s = this.socket;
    if (body === null) {
      s.write(head, 'latin1');
    } else if (Buffer.isBuffer(body)) {
      s.cork();
      s.write(head, 'latin1');
      if (body.length) s.write(body);
      s.uncork();
    } else {
      s.write(head, 'latin1');
      this.streamBody(body, chunked);
    }
  }

  /** A header value would corrupt the request: fail it, keep the (clean) connection. */
  private refuse(x: Exchange, name: string): void {
    this.exchange = null;
    x.conn = null;
    this.requests--;
    this.parser.reset();
    x.fail('HPE_INVALID_HEADER_TOKEN', `invalid character in request header ${name}`);
    this.pool.release(this);
  }

  private streamBody(body: Readable, chunked: boolean): void {
    this.sending = true;
    this.body = body;
    const s = this.socket;
    const onData = (c: Buffer): void => {
      if (this.body !== body || c.length === 0) return;
      const ok = chunked ? s.write(`${c.length.toString(16)}\r\n`, 'latin1') && s.write(c) && s.write('\r\n', 'latin1') : s.write(c);
      if (!ok) body.pause();
    };
    const onEnd = (): void => {
      if (this.body !== body) return;
      if (chunked) s.write('0\r\n\r\n', 'latin1');
      this.sending = false;
      this.body = null;
    };
    const onError = (): void => {
      if (this.body !== body) return;
      this.body = null;
      this.discard();
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', () => {
      // The client went away before its body ended: the upstream request is incomplete.
      if (this.body === body && !body.readableEnded) onError();
    });
    body.resume();
  }

  onData(d: Buffer): void {
    const x = this.exchange;
    if (x === null || this.dead) {
      // Bytes nobody asked for (or a late read after we gave up): the connection is not sane.
      this.discard();
      return;
    }
    try {
      this.parser.execute(d);
    } catch (e) {
      const err = e instanceof ParseError ? e : new ParseError('HPE_USER', (e as Error).message);
      // Unbind first: the close that destroy() causes must not report this as a reset.
      const cur = this.exchange;
      this.exchange = null;
      if (cur !== null) cur.conn = null;
      this.destroy();
      cur?.fail(err.code, err.message);
    }
  }

  // ResponseSink
  onHead(status: number, headers: ResponseHeaders): void {
    const x = this.exchange;
    if (x === null || x.done) return;
    x.gotHeaders = true;
    if (this.parser.keepAliveMs > 0) this.keepAliveMs = Math.max(0, Math.min(this.keepAliveMs, this.parser.keepAliveMs - HINT_MARGIN_MS));
    x.h.onHeaders(status, headers, false);
  }

  onBody(chunk: Buffer): void {
    const x = this.exchange;
    if (x === null || x.done) return;
    if (!x.h.onData(chunk)) this.socket.pause();
  }

  onEnd(trailers: ResponseHeaders | null): void {
    const x = this.exchange;
    this.exchange = null;
    if (!this.parser.keepAlive) this.noReuse = true;
    // An answer before the request body was all sent (e.g. an early 413): the rest of the
    // body would be read as the next request.
    if (this.sending) {
      this.noReuse = true;
      this.body = null;
      this.sending = false;
    }
    this.socket.resume();
    if (x !== null) {
      x.conn = null;
      if (!x.done) {
        x.done = true;
        x.h.onEnd(trailers);
      }
    }
    this.pool.release(this);
  }

  /** Whether this idle connection may take another request. */
  reusable(now: number): boolean {
    if (this.dead || this.noReuse || !this.connected) return false;
    const o = this.pool.opts;
    if (o.maxRequestsPerConnection > 0 && this.requests >= o.maxRequestsPerConnection) return false;
    if (o.maxConnectionDurationMs !== null && now - this.born >= o.maxConnectionDurationMs) return false;
    return true;
  }

  /** Drops the connection now (its request, if any, is the caller's business). */
  discard(): void {
    this.exchange = null;
    this.destroy();
  }

  private destroy(): void {
    if (this.dead) return;
    this.socket.destroy();
    this.onClose('UND_ERR_SOCKET', 'connection discarded');
  }

  /** Close/error: settles the exchange in flight and leaves the pool (runs once). */
  private onClose(code: string, message: string): void {
    if (this.dead) return;
    this.dead = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.body = null;
    const x = this.exchange;
    // A body framed by the connection's end ends here (onEnd needs the exchange bound).
    const finishedBody = x !== null && !x.done && this.parser.finishOnClose();
    this.exchange = null;
    this.parser.reset();
    if (!this.socket.destroyed) this.socket.destroy();
    this.pool.onClosed(this, code, message);
    if (x === null || x.done || finishedBody) return;
    x.conn = null;
    // The keep-alive race: a reused connection closed before any response byte. Replayable
    // requests go once more on a fresh connection (the server never saw this one).
    const replayable = x.req.body === null || Buffer.isBuffer(x.req.body);
    if (this.requests > 1 && !this.parser.started && replayable && !x.resent && this.connected) {
      x.resent = true;
      this.pool.requeue(x);
      return;
    }
    x.fail(code, message);
  }
}

/** The HTTP/1.1 pool of one (cluster, endpoint). */
export class H1Pool {
  private readonly idle: Conn[] = [];
  private readonly conns = new Set<Conn>();
  private readonly queue: Exchange[] = [];
  private connecting = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private closing = false;
  private dead = false;
  private drained: (() => void) | null = null;

  constructor(
    readonly opts: H1PoolOptions,
    private readonly events: H1PoolEvents = NOOP_EVENTS,
  ) {}

  get closed(): boolean {
    return this.closing;
  }

  get destroyed(): boolean {
    return this.dead;
  }

  /** Connection counts (Envoy's cx_active / rq_active / rq_pending). */
  get stats(): { connected: number; free: number; running: number; pending: number } {
    const connected = this.conns.size - this.connecting;
    return { connected, free: this.idle.length, running: connected - this.idle.length, pending: this.queue.length };
  }

  /**
   * Sends a request. `onStart` runs when it has a connection (at once when one is idle);
   * returning false there cancels it without touching the connection.
   */
  dispatch(req: AttemptRequest, h: AttemptHandler, closeAfter = false): AttemptControl {
    const x = new Exchange(this, req, h, closeAfter);
    if (this.dead) {
      queueMicrotask(() => x.fail('UND_ERR_DESTROYED', 'pool destroyed'));
      return x;
    }
    const c = this.takeIdle();
    if (c !== null) this.bind(c, x);
    else {
      this.queue.push(x);
      this.grow();
    }
    return x;
  }

  /** Called by a connection: is the request it is about to send its last one? */
  lastRequestOn(c: Conn): boolean {
    const max = this.opts.maxRequestsPerConnection;
    return (max > 0 && c.requests >= max) || this.closing;
  }

  unqueue(x: Exchange): void {
    const i = this.queue.indexOf(x);
    if (i !== -1) this.queue.splice(i, 1);
    this.settle();
  }

  requeue(x: Exchange): void {
    this.queue.unshift(x);
    this.grow();
  }

  onConnected(c: Conn): void {
    this.connecting--;
    this.events.connected();
    this.release(c);
  }

  /** A connection finished a response (or just connected): reuse it, or close it. */
  release(c: Conn): void {
    if (c.exchange !== null || c.dead) return;
    c.idleSince = -1;
    const now = Date.now();
    if (!c.reusable(now) || (this.closing && this.queue.length === 0)) {
      c.discard();
      return;
    }
    while (this.queue.length > 0) {
      const x = this.queue.shift() as Exchange;
      if (x.done) continue;
      this.bind(c, x);
      return;
    }
    c.idleSince = now;
    this.idle.push(c);
    this.armSweeper();
  }

  onClosed(c: Conn, code: string, message: string): void {
    if (!this.conns.delete(c)) return;
    if (!c.connected) {
      this.connecting--;
      this.events.connectFailed(code === 'CONNECT_TIMEOUT');
      // Requests waiting for a connection when none is up: fail those no other connection
      // attempt will serve (Envoy fails pending streams when their connection fails).
      if (this.conns.size === this.connecting) {
        while (this.queue.length > this.connecting) (this.queue.shift() as Exchange).fail(code, message);
      }
    } else {
      this.events.disconnected();
      const i = this.idle.indexOf(c);
      if (i !== -1) this.idle.splice(i, 1);
    }
    if (this.queue.length > 0 && !this.dead) this.grow();
    this.settle();
  }

  private takeIdle(): Conn | null {
    const now = Date.now();
    while (this.idle.length > 0) {
      const c = this.idle.pop() as Conn;
      if (c.reusable(now) && now - c.idleSince < c.keepAliveMs) return c;
      c.discard();
    }
    return null;
  }

  private bind(c: Conn, x: Exchange): void {
    c.idleSince = -1;
    if (!x.started) {
      x.started = true;
      if (x.done || !x.h.onStart()) {
        x.done = true;
        this.release(c);
        return;
      }
    }
    if (x.done) return this.release(c);
    c.send(x);
  }

  /** Opens connections for queued requests, within the connection limit. */
  private grow(): void {
    const want = this.queue.length - this.connecting;
    for (let i = 0; i < want && this.conns.size < this.opts.maxConnections; i++) {
      if (this.opts.tlsError !== null) {
        const e = this.opts.tlsError;
        const x = this.queue.shift() as Exchange;
        this.events.connectFailed(false);
        queueMicrotask(() => x.fail('ECONNREFUSED', e.message));
        continue;
      }
      this.connecting++;
      const c = new Conn(this);
      this.conns.add(c);
    }
  }

  private armSweeper(): void {
    if (this.sweeper !== null) return;
    const period = Math.max(50, Math.min(1000, Math.floor(this.opts.keepAliveMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  /** Closes connections idle for longer than their keep-alive (or past their lifetime). */
  private sweep(): void {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i];
      if (now - c.idleSince >= c.keepAliveMs || !c.reusable(now)) {
        this.idle.splice(i, 1);
        c.discard();
      }
    }
    if (this.idle.length === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  private settle(): void {
    if ((this.closing || this.dead) && this.conns.size === 0 && this.queue.length === 0) {
      if (this.sweeper !== null) clearInterval(this.sweeper);
      this.sweeper = null;
      const d = this.drained;
      this.drained = null;
      d?.();
    }
  }

  /** Graceful: queued and in-flight requests finish; idle connections close now. */
  close(): Promise<void> {
    this.closing = true;
    for (const c of this.idle.splice(0)) c.discard();
    return new Promise((resolve) => {
      this.drained = resolve;
      this.settle();
    });
  }

  /** Now: queued requests fail, every connection is dropped. */
  destroy(): Promise<void> {
    this.closing = true;
    this.dead = true;
    for (const x of this.queue.splice(0)) x.fail('UND_ERR_DESTROYED', 'pool destroyed');
    for (const c of [...this.conns]) {
      const x = c.exchange;
      c.discard();
      x?.fail('UND_ERR_DESTROYED', 'pool destroyed');
    }
    this.idle.length = 0;
    return new Promise((resolve) => {
      this.drained = resolve;
      this.settle();
    });
  }
}
