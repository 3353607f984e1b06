/**
 * Integration-test kit for whole proxies: an in-process ProxyRuntime over a temp config
 * folder (hot reload, admin endpoint, access log), the real CLI as a child process, admin
 * GETs, Prometheus text parsing, a dual-protocol (HTTP/1.1 + h2c) upstream, and bounded
 * waits. Everything binds 127.0.0.1 on port 0; every wait has a deadline.
 */
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { ProxyRuntime, type RunOptions } from '../../src/runtime/proxy-runtime.js';
import { HttpListener } from '../../src/dataplane/listener/http-listener.js';
import type { Reply, SeenRequest } from './mesh.js';

/** The repository root (where `src/cli/main.ts` lives). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejects with `what` when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Polls `fn` until it returns a truthy value (returned) or the deadline passes (throws). */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`);
    await sleep(intervalMs);
  }
}

/** A temp folder of config files; `write` is atomic (temp file + rename), as editors save. */
export interface ConfigDir {
  dir: string;
  write(name: string, text: string): string;
  remove(name: string): void;
  cleanup(): void;
}

export function configDir(prefix = 'isthmus-it-'): ConfigDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let seq = 0;
  return {
    dir,
    write(name, text) {
      const p = join(dir, name);
      // A dot-file is skipped by the loader (only *.yaml/*.yml/*.json), so the half-written
      // temp file is never read.
      const tmp = join(dir, `.${name}.${process.pid}.${seq++}.tmp`);
      writeFileSync(tmp, text);
      renameSync(tmp, p);
      return p;
    },
    remove(name) {
      unlinkSync(join(dir, name));
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An in-process `isthmus run` (ProxyRuntime) with captured logs and access log. */
export interface RuntimeHandle {
  rt: ProxyRuntime;
  /** First listener's port (sidecar outbound, or the first gateway listener). */
  port: number;
  ports: Array<{ name: string; configPort: number; port: number }>;
  adminPort: number;
  logs: string[];
  access: string[];
  close(): Promise<void>;
}

export async function startRuntime(files: string[], opts: Partial<RunOptions> = {}): Promise<RuntimeHandle> {
  const logs: string[] = [];
  const access: string[] = [];
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      access.push(...lines);
      cb();
    },
  });
  const rt = new ProxyRuntime(
    {
      files,
      role: 'sidecar',
      namespace: 'default',
      labels: {},
      domain: 'cluster.local',
      outboundPort: 0,
      portOffset: 0,
      bindAddress: '127.0.0.1',
      adminPort: 0,
      logFormat: 'text',
      accessLog: true,
      drainTimeoutMs: 5000,
      debounceMs: 30,
      ...opts,
    },
    { log: (l) => logs.push(l), accessLogSink: sink },
  );
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await rt.close();
  };
  try {
    const bound = await rt.start();
    return {
      rt,
      port: bound[0]?.port ?? 0,
      ports: bound.map((b) => ({ name: b.name, configPort: b.configPort, port: b.port })),
      adminPort: rt.adminPort,
      logs,
      access,
      close,
    };
  } catch (e) {
    await close();
    throw new Error(`${(e as Error).message}\n${logs.join('\n')}`);
  }
}

/** GET on the admin endpoint (fresh connection, bounded). */
export function adminGet(port: number, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`admin ${path}: timeout`)));
    req.on('error', reject);
  });
}

/** One sample of a Prometheus text exposition. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format (enough for our own output: no escapes beyond \" and \\). */
export function parseProm(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let lm: RegExpExecArray | null;
      while ((lm = re.exec(m[3])) !== null) labels[lm[1]] = lm[2].replace(/\\(.)/g, '$1');
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

/** Samples named `name` whose labels include every `match` pair. */
export function promFind(samples: readonly PromSample[], name: string, match: Record<string, string> = {}): PromSample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the matching samples' values (0 when none). */
export function promSum(samples: readonly PromSample[], name: string, match: Record<string, string> = {}): number {
  return promFind(samples, name, match).reduce((a, s) => a + s.value, 0);
}

/** The real CLI (`node --import tsx src/cli/main.ts run ...`) as a child process. */
export interface CliProxy {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Proxy listeners as printed (`listening on 127.0.0.1:N (name)`). */
  listeners: Array<{ port: number; name: string }>;
  port: number;
  adminPort: number;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running (cleanup). */
  kill(): Promise<void>;
}

function lineReader(stream: NodeJS.ReadableStream, into: string[], onLine: () => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => {
    buf += c;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    if (lines.length) {
      into.push(...lines);
      onLine();
    }
  });
}

/**
 * Spawns `isthmus run <args>` and waits (bounded) for its `ready` line. `--admin-port 0` and
 * `--outbound-port 0` are the caller's to pass. On failure the process is killed.
 */
export async function spawnRun(args: string[], timeoutMs = 20_000): Promise<CliProxy> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let wake: () => void = () => undefined;
  lineReader(child.stdout!, stdout, () => wake());
  lineReader(child.stderr!, stderr, () => wake());
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'killed proxy to exit').catch(() => undefined);
    }
  };
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        wake = () => {
          if (stderr.some((l) => /^ready\b/.test(l))) resolve();
          else if (stderr.some((l) => /^error:/.test(l))) reject(new Error(stderr.join('\n')));
        };
        void exited.then((e) => reject(new Error(`proxy exited early (${e.code ?? e.signal}):\n${stderr.join('\n')}`)));
      }),
      timeoutMs,
      'the proxy to print ready',
    );
  } catch (e) {
    await kill();
    throw new Error(`${(e as Error).message}\nstderr:\n${stderr.join('\n')}`);
  }
  const listeners: Array<{ port: number; name: string }> = [];
  let adminPort = 0;
  for (const l of stderr) {
    const a = /^admin listening on 127\.0\.0\.1:(\d+)/.exec(l);
    if (a) {
      adminPort = Number(a[1]);
      continue;
    }
    const m = /^listening on [^ ]+:(\d+) \((.+)\)$/.exec(l);
    if (m) listeners.push({ port: Number(m[1]), name: m[2] });
  }
  return { child, stdout, stderr, listeners, port: listeners[0]?.port ?? 0, adminPort, exited, kill };
}

/** What a dual-protocol upstream saw, with the HTTP version it was spoken to in. */
export interface SeenVersioned extends SeenRequest {
  httpVersion: string;
}

export interface DualUpstream {
  name: string;
  port: number;
  seen: SeenVersioned[];
  close(): Promise<void>;
}

/**
 * An upstream that speaks HTTP/1.1 and HTTP/2 prior knowledge (h2c) on one port and answers
 * `<name> <httpVersion>`. Node's plaintext http2 server cannot take HTTP/1.1
 * (`allowHTTP1` is TLS/ALPN only), so the preface sniffing of the proxy's own listener is
 * reused here as the upstream's socket layer.
 */
export async function startDualUpstream(name: string): Promise<DualUpstream> {
  const u: DualUpstream = { name, port: 0, seen: [], close: async () => undefined };
  const l = new HttpListener((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      u.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString(), httpVersion: req.httpVersion });
      const body = `${name} ${req.httpVersion}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    });
  });
  u.port = await l.listen(0, '127.0.0.1');
  u.close = async () => l.destroy();
  return u;
}

/** An HTTP/1.1 keep-alive connection left open (idle) after one request, and when it closes. */
export interface IdleConnection {
  status: number;
  /** Resolves when the server (or anyone) closes the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
  destroy(): void;
}

export function idleKeepAlive(port: number, host: string, path = '/'): Promise<IdleConnection> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent, timeout: 5000 }, (res) => {
      const socket = res.socket;
      let closed = socket.destroyed;
      const whenClosed = closed ? Promise.resolve() : new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, closed: whenClosed, isClosed: () => closed, destroy: () => agent.destroy() }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
