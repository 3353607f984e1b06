/**
 * A plaintext HTTP listener that speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on
 * the same port: the first bytes of each connection decide (the HTTP/2 preface starts with
 * `PRI * HTTP/2.0`). Every socket, session and stream has an error listener: a peer can
 * cost itself a connection, never the process.
 */
import net from 'node:net';
import http from 'node:http';
import http2 from 'node:http2';
import type { DownstreamResponse } from '../http/local-reply.js';

export type RequestSink = (req: http.IncomingMessage | http2.Http2ServerRequest, res: DownstreamResponse) => void;
/** HTTP/1.1 `CONNECT` requests (the socket is the client's; `head` any bytes already read). */
export type ConnectSink = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void;

/**
 * Downstream limits (Envoy HTTP connection manager settings; `isthmus run` flags; see
 * docs/security.md). Every timeout is in ms, and 0 turns it off.
 */
export interface ListenerLimits {
  /** Max request header bytes (Envoy `max_request_headers_kb` 60): more get 431. */
  maxHeaderSize: number;
  /**
   * Max request headers (Envoy `max_headers_count` 100). The handler answers 431 above it;
   * the parsers are capped just above it so a flood costs nothing, and never drop silently.
   */
  maxHeadersCount: number;
  /** Idle keep-alive connection (no request in flight) is closed after this. */
  keepAliveTimeoutMs: number;
  /** Time allowed to receive the request headers (Envoy `request_headers_timeout`; Node `headersTimeout`). */
  headersTimeoutMs: number;
  /** Time allowed to receive the whole HTTP/1 request, body included (Envoy `request_timeout`). */
  requestTimeoutMs: number;
  /** A connection (HTTP/1) or session (HTTP/2) with no bytes moving either way is closed (Envoy `stream_idle_timeout`). */
  idleTimeoutMs: number;
  /** Connections open at once on this listener (Envoy listener `connection_limit`); 0 = no limit. */
  maxConnections: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (Envoy/Istio 100). */
  maxConcurrentStreams: number;
  /** HTTP/2 per-stream flow-control window (Envoy edge `initial_stream_window_size` 64 KiB). */
  h2StreamWindow: number;
  /** HTTP/2 per-connection flow-control window (Envoy edge `initial_connection_window_size` 1 MiB). */
  h2ConnectionWindow: number;
}

export const DEFAULT_LIMITS: Readonly<ListenerLimits> = Object.freeze({
  maxHeaderSize: 60 * 1024,
  maxHeadersCount: 100,
  keepAliveTimeoutMs: 60_000,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 300_000,
  maxConnections: 0,
  maxConcurrentStreams: 100,
  h2StreamWindow: 64 * 1024,
  h2ConnectionWindow: 1024 * 1024,
});

/**
 * How often Node checks the headers and request timeouts (its default, 30 s, would let a
 * slow client overstay a short timeout by that much).
 */
function checkingInterval(l: ListenerLimits): number {
  const shortest = Math.min(l.headersTimeoutMs || Infinity, l.requestTimeoutMs || Infinity);
  return Math.max(100, Math.min(30_000, Math.floor(shortest / 4)));
}

/**
 * The answer to an HTTP/1 request Node's parser refused. It is written only when no response
 * of this connection has started (as Node's own default does), else the socket is cut:
 * bytes written into the middle of a response would corrupt it.
 */
function parserErrorReply(code: string | undefined): string {
  const status = code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
    : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
    : '400 Bad Request';
  return `HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export class HttpListener {
  private readonly tcp: net.Server;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private closing = false;
  /** After stopAccepting: closes HTTP/1.1 connections as they go idle, until none are left. */
  private sweep: NodeJS.Timeout | null = null;

  /**
   * `tlsServer`: terminate TLS first (Gateway HTTPS servers): given the callback for each
   * secured socket, it returns the tls.Server to listen with; ALPN picks HTTP/2 or HTTP/1.1.
   */
  /** Connections refused because `maxConnections` were open (Envoy `downstream_cx_overflow`). */
  overflowed = 0;
  private readonly sniffTimeoutMs: number;

  /**
   * `tlsServer`: terminate TLS first (Gateway HTTPS servers): given the callback for each
   * secured socket, it returns the tls.Server to listen with; ALPN picks HTTP/2 or HTTP/1.1.
   */
  constructor(sink: RequestSink, limits: ListenerLimits = DEFAULT_LIMITS, connect?: ConnectSink, tlsServer?: (onSecure: (s: import('node:tls').TLSSocket) => void) => net.Server) {
    this.sniffTimeoutMs = limits.headersTimeoutMs || limits.idleTimeoutMs;
    this.h1 = http.createServer(
      {
        maxHeaderSize: limits.maxHeaderSize,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: checkingInterval(limits),
        joinDuplicateHeaders: false,
        // Explicitly strict: this overrides Node's process-wide lenient-parser flag, which
        // would accept CL+TE, obs-fold, bare LF and NUL (request smuggling). Never enable it.
        insecureHTTPParser: false,
      },
      (req, res) => sink(req, res),
    );
    // One over the limit, so the handler sees that there were too many and answers 431
    // (Node would otherwise drop the excess silently).
    this.h1.maxHeadersCount = limits.maxHeadersCount + 1;
    // Inactivity on a connection (a slow reader, a stalled body) closes it.
    this.h1.timeout = limits.idleTimeoutMs;
    // Node starts tracking an http.Server's connections (what closeIdleConnections() walks,
    // and the periodic check that enforces headersTimeout) on its 'listening' event. This
    // server never listens itself (connections are handed over after sniffing), so start it
    // here: without it, idle keep-alive connections could not be closed on drain or when a
    // Gateway port goes away, and slow headers would never time out.
    this.h1.emit('listening');
    // Without a listener Node closes CONNECT requests; gateways have none.
    if (connect) this.h1.on('connect', (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => connect(req, socket, head));
    this.h1.on('clientError', (err, socket) => {
      const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
      if (socket.writable && !socket.destroyed && !(inFlight && inFlight.headersSent)) {
        socket.end(parserErrorReply((err as { code?: string }).code));
        // A peer that never closes its side must not hold the socket half-open.
        socket.once('finish', () => setTimeout(() => socket.destroy(), 1000).unref());
      } else socket.destroy();
    });
    this.h2 = http2.createServer(
      {
        maxSessionMemory: 64,
        // Pseudo headers count as pairs here; the handler counts only real ones (431 above
        // the limit), and nghttp2 resets a stream with far more.
        maxHeaderListPairs: limits.maxHeadersCount + 8,
        settings: {
          maxConcurrentStreams: limits.maxConcurrentStreams,
          maxHeaderListSize: limits.maxHeaderSize,
          initialWindowSize: limits.h2StreamWindow,
        },
      },
      (req, res) => sink(req, res),
    );
    // A session with no frames moving either way is closed (Node destroys it when the
    // server has no 'timeout' listener).
    if (limits.idleTimeoutMs > 0) this.h2.setTimeout(limits.idleTimeoutMs);
    const connWindow = limits.h2ConnectionWindow;
    this.h2.on('session', (s) => {
      this.sessions.add(s);
      s.on('error', () => undefined);
      s.on('close', () => this.sessions.delete(s));
      // The connection window is not a SETTINGS value: it grows by a WINDOW_UPDATE on stream 0.
      if (connWindow > 65_535) {
        try {
          s.setLocalWindowSize(connWindow);
        } catch {
          /* a session that died at once */
        }
      }
      if (this.closing) s.close();
    });
    this.h2.on('sessionError', () => undefined);
    this.h2.on('stream', (stream) => stream.on('error', () => undefined));
    this.tcp = tlsServer
      ? tlsServer((socket) => this.acceptSecure(socket))
      : net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) => this.accept(socket));
    this.tcp.on('error', () => undefined);
    if (limits.maxConnections > 0) {
      // Node closes connections over the limit as soon as they are accepted ('drop').
      this.tcp.maxConnections = limits.maxConnections;
      this.tcp.on('drop', () => this.overflowed++);
    }
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    // Until the first bytes decide the protocol no server's timeouts apply: a client that
    // connects and says nothing is closed after the headers timeout.
    const sniffTimeout = this.sniffTimeoutMs;
    const onTimeout = (): void => void socket.destroy();
    if (sniffTimeout > 0) {
      socket.setTimeout(sniffTimeout);
      socket.once('timeout', onTimeout);
    }
    let buf: Buffer | null = null;
    const onData = (chunk: Buffer): void => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      const n = Math.min(buf.length, PREFACE.length);
      const isH2 = buf.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && buf.length < PREFACE.length) return; // need more bytes to decide
      socket.removeListener('data', onData);
      if (sniffTimeout > 0) {
        socket.removeListener('timeout', onTimeout);
        socket.setTimeout(0);
      }
      const head = buf;
      buf = null;
      socket.pause();
      socket.unshift(head);
      if (isH2) {
        // node:http2 then consumes the socket's handle natively; the bytes read while
        // sniffing are still in the socket's readable buffer, and Http2Session feeds
        // them to nghttp2 first (it drains `socket.read()` on the next tick). No JS sits
        // between the socket and the session afterwards.
        this.h2.emit('connection', socket);
      } else {
        this.h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  }

  /** A decrypted connection: ALPN chose the protocol, no sniffing needed. */
  private acceptSecure(socket: import('node:tls').TLSSocket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    if (socket.alpnProtocol === 'h2') this.h2.emit('connection', socket);
    else this.h1.emit('connection', socket);
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.tcp.once('error', onError);
      this.tcp.listen({ port, host, exclusive: false }, () => {
        this.tcp.removeListener('error', onError);
        const a = this.tcp.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  get port(): number {
    const a = this.tcp.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /**
   * Stop accepting; close idle keep-alive connections now and busy ones as soon as their
   * response is done; ask HTTP/2 peers to go away (GOAWAY, in-flight streams finish).
   */
  stopAccepting(): void {
    if (this.closing) return;
    this.closing = true;
    this.tcp.close();
    this.h1.closeIdleConnections();
    for (const s of this.sessions) s.close();
    this.sweep = setInterval(() => {
      this.h1.closeIdleConnections();
      if (this.sockets.size === 0) this.stopSweep();
    }, 100);
    this.sweep.unref();
  }

  private stopSweep(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }

  /** Close idle HTTP/1.1 keep-alive connections now (stopAccepting keeps doing it on its own). */
  closeIdle(): void {
    this.h1.closeIdleConnections();
  }

  /** Tear everything down (after the drain timeout). */
  destroy(): void {
    this.closing = true;
    this.stopSweep();
    this.tcp.close();
    this.h1.close(); // stops node's connection-checking timer
    for (const s of this.sessions) s.destroy();
    for (const sock of this.sockets) sock.destroy();
  }
}
