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

export interface ListenerLimits {
  /** Max request header bytes (Envoy default 60 KiB). */
  maxHeaderSize: number;
  /** Downstream keep-alive idle timeout (ms). */
  keepAliveTimeoutMs: number;
  /** Time allowed to receive the full request headers (ms). */
  headersTimeoutMs: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (Envoy default 100 for downstream? Istio: 100). */
  maxConcurrentStreams: number;
}

export const DEFAULT_LIMITS: ListenerLimits = {
  maxHeaderSize: 60 * 1024,
  keepAliveTimeoutMs: 60_000,
  headersTimeoutMs: 60_000,
  maxConcurrentStreams: 100,
};

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
  constructor(sink: RequestSink, limits: ListenerLimits = DEFAULT_LIMITS, connect?: ConnectSink, tlsServer?: (onSecure: (s: import('node:tls').TLSSocket) => void) => net.Server) {
    this.h1 = http.createServer(
      {
        maxHeaderSize: limits.maxHeaderSize,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: 0,
        joinDuplicateHeaders: false,
      },
      (req, res) => sink(req, res),
    );
    // Node starts tracking an http.Server's connections (what closeIdleConnections() walks,
    // and the periodic check that enforces headersTimeout) on its 'listening' event. This
    // server never listens itself (connections are handed over after sniffing), so start it
    // here: without it, idle keep-alive connections could not be closed on drain or when a
    // Gateway port goes away, and slow headers would never time out.
    this.h1.emit('listening');
    // Without a listener Node closes CONNECT requests; gateways have none.
    if (connect) this.h1.on('connect', (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => connect(req, socket, head));
    this.h1.on('clientError', (err, socket) => {
      const code = (err as { code?: string }).code;
      if (socket.writable && !socket.destroyed) {
        const status = code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      } else socket.destroy();
    });
    this.h2 = http2.createServer(
      {
        maxSessionMemory: 64,
        settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderSize },
      },
      (req, res) => sink(req, res),
    );
    this.h2.on('session', (s) => {
      this.sessions.add(s);
      s.on('error', () => undefined);
      s.on('close', () => this.sessions.delete(s));
      if (this.closing) s.close();
    });
    this.h2.on('sessionError', () => undefined);
    this.h2.on('stream', (stream) => stream.on('error', () => undefined));
    this.tcp = tlsServer
      ? tlsServer((socket) => this.acceptSecure(socket))
      : net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) => this.accept(socket));
    this.tcp.on('error', () => undefined);
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    let buf: Buffer | null = null;
    const onData = (chunk: Buffer): void => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      const n = Math.min(buf.length, PREFACE.length);
      const isH2 = buf.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && buf.length < PREFACE.length) return; // need more bytes to decide
      socket.removeListener('data', onData);
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
