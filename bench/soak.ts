/**
 * Soak test (issue #8 point 7; not part of `npm test`): the real CLI (`isthmus run`, one
 * process) under steady mixed traffic for SOAK_SECONDS (default 600), with hot reloads,
 * watching the proxy's resident memory. Fails (exit 1) when RSS grows more than
 * SOAK_MAX_GROWTH percent (default 10) after the warm-up, or on any unexpected answer.
 *
 *   npm run bench:soak                       # 10 minutes (script: node --import tsx bench/soak.ts)
 *   SOAK_SECONDS=60 npm run bench:soak       # a one-minute smoke run
 *
 * Other knobs: SOAK_CONCURRENCY (16 requests in flight), SOAK_WARMUP_SECONDS (default 20% of
 * the run, at most 60 s), SOAK_RELOAD_SECONDS (30: a VirtualService is rewritten this often).
 *
 * Traffic, per 100 requests: 80 GET and 5 POST (8 KiB, echoed) to a two-endpoint service
 * over HTTP/1.1 keep-alive, 5 GET over h2c, 4 to an upstream that resets every connection
 * (503 UC), 3 to one that answers too late (504 UT), 3 that match no route (404 NR). Every
 * answer is checked (status and body); the access log (JSON on the child's stdout) is
 * counted and must have a line per request.
 *
 * RSS is read from /proc/<pid>/status (`ps` elsewhere) every 2 s. Growth compares the median
 * of the samples in the first 30 s after warm-up with the median of the last 30 s, so a GC
 * cycle does not decide the verdict.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const WARMUP = Number(process.env.SOAK_WARMUP_SECONDS ?? Math.min(60, SECONDS * 0.2));
const MAX_GROWTH = Number(process.env.SOAK_MAX_GROWTH ?? 10);
const RELOAD_EVERY = Number(process.env.SOAK_RELOAD_SECONDS ?? 30);
const WINDOW_MS = Math.min(30_000, ((SECONDS - WARMUP) * 1000) / 3);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

for (const [name, v] of Object.entries({ SOAK_SECONDS: SECONDS, SOAK_CONCURRENCY: CONCURRENCY, SOAK_WARMUP_SECONDS: WARMUP, SOAK_MAX_GROWTH: MAX_GROWTH, SOAK_RELOAD_SECONDS: RELOAD_EVERY })) {
  if (!Number.isFinite(v) || v <= 0) fail(`${name} must be a positive number, got ${JSON.stringify(process.env[name])}`);
}
if (WARMUP >= SECONDS) fail(`SOAK_WARMUP_SECONDS (${WARMUP}) must be shorter than SOAK_SECONDS (${SECONDS})`);

function fail(msg: string): never {
  console.error(`soak: ${msg}`);
  process.exit(2);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mib = (kb: number): string => `${(kb / 1024).toFixed(1)} MiB`;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Resident set size of `pid` in KiB. */
function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux: ask ps
  }
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString().trim());
}

// ------------------------------------------------------------------------ upstreams

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

/** Answers `<name> <url>`, echoing request bodies. */
function okServer(name: string): http.Server {
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = req.method === 'POST' ? Buffer.concat(chunks) : Buffer.from(`${name} ${req.url}`);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
  });
  s.keepAliveTimeout = 30_000;
  return s;
}

/** Resets every connection as soon as a request arrives. */
function resetServer(): net.Server {
  return net.createServer((c) => {
    c.on('error', () => undefined);
    c.once('data', () => c.resetAndDestroy());
  });
}

/** Answers after 300 ms (the route timeout is 100 ms). */
function slowServer(): http.Server {
  return http.createServer((_req, res) => {
    const t = setTimeout(() => res.end('late'), 300);
    res.on('close', () => clearTimeout(t));
  });
}

// --------------------------------------------------------------------------- config

function service(name: string, ports: number[]): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
${ports.map((p) => `  - {address: 127.0.0.1, ports: {http: ${p}}}`).join('\n')}
---
`;
}

function routes(generation: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ok}
spec:
  hosts: [ok]
  http:
  - match: [{uri: {prefix: /ok/}}, {uri: {exact: /echo}}]
    route: [{destination: {host: ok}}]
    headers: {response: {set: {x-generation: "${generation}"}}}
    retries: {attempts: 2, retryOn: connect-failure}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow}
spec:
  hosts: [slow]
  http:
  - route: [{destination: {host: slow}}]
    timeout: 100ms
`;
}

// ---------------------------------------------------------------------------- child

interface Child {
  pid: number;
  port: number;
  adminPort: number;
  accessLines(): number;
  stderr: string[];
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

async function startProxy(dir: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '-f', dir, '--outbound-port', '0', '--admin-port', '0', '--concurrency', '1', '--log-format', 'json', '--drain-timeout', '5'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const stderr: string[] = [];
  let lines = 0;
  child.stdout.on('data', (c: Buffer) => {
    for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
  });
  let buf = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    buf += c;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    stderr.push(...parts);
    if (stderr.length > 2000) stderr.splice(0, stderr.length - 1000);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  while (!stderr.some((l) => /^ready\b/.test(l))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      fail(`the proxy did not start:\n${stderr.join('\n')}`);
    }
    await sleep(50);
  }
  const port = Number(stderr.map((l) => /^listening on [^ ]+:(\d+) \(sidecar outbound\)/.exec(l)?.[1]).find(Boolean));
  const adminPort = Number(stderr.map((l) => /^admin listening on 127\.0\.0\.1:(\d+)/.exec(l)?.[1]).find(Boolean));
  return {
    pid: child.pid as number,
    port,
    adminPort,
    accessLines: () => lines,
    stderr,
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        return null;
      }
      return code;
    },
  };
}

// ----------------------------------------------------------------------------- load

type Kind = 'get' | 'post' | 'h2' | 'reset' | 'slow' | 'noroute';
const MIX: Array<[Kind, number]> = [['get', 80], ['post', 5], ['h2', 5], ['reset', 4], ['slow', 3], ['noroute', 3]];
const PICK: Kind[] = MIX.flatMap(([k, n]) => Array<Kind>(n).fill(k));
const EXPECT: Record<Kind, number> = { get: 200, post: 200, h2: 200, reset: 503, slow: 504, noroute: 404 };
const POST_BODY = Buffer.alloc(8192, 0x61);

interface Stats {
  sent: number;
  byKind: Record<Kind, number>;
  unexpected: string[];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-soak-'));
  const servers: net.Server[] = [okServer('ok0'), okServer('ok1'), resetServer(), slowServer()];
  const [ok0, ok1, reset, slow] = await Promise.all(servers.map(listen));
  const write = (name: string, text: string): void => {
    writeFileSync(join(dir, `.${name}.tmp`), text);
    renameSync(join(dir, `.${name}.tmp`), join(dir, name));
  };
  write('services.yaml', service('ok', [ok0, ok1]) + service('flaky', [reset]) + service('slow', [slow]));
  let generation = 1;
  write('routes.yaml', routes(generation));

  const proxy = await startProxy(dir);
  const pool = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  const h2 = http2.connect(`http://127.0.0.1:${proxy.port}`);
  h2.on('error', () => undefined);
  const stats: Stats = { sent: 0, byKind: { get: 0, post: 0, h2: 0, reset: 0, slow: 0, noroute: 0 }, unexpected: [] };
  const note = (msg: string): void => {
    if (stats.unexpected.length < 20) console.error(`unexpected: ${msg}`);
    stats.unexpected.push(msg);
  };

  const one = async (i: number): Promise<void> => {
    const kind = PICK[i % PICK.length];
    stats.sent++;
    stats.byKind[kind]++;
    try {
      let status: number;
      let body: string;
      if (kind === 'h2') {
        ({ status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const s = h2.request({ ':path': `/ok/h2-${i}`, ':authority': 'ok' }, { endStream: true });
          let st = 0;
          const chunks: Buffer[] = [];
          s.setTimeout(10_000, () => s.close(http2.constants.NGHTTP2_CANCEL));
          s.on('response', (h) => (st = Number(h[':status'])));
          s.on('data', (c: Buffer) => chunks.push(c));
          s.on('end', () => resolve({ status: st, body: Buffer.concat(chunks).toString() }));
          s.on('error', reject);
        }));
      } else {
        const host = kind === 'reset' ? 'flaky' : kind === 'slow' ? 'slow' : 'ok';
        const path = kind === 'post' ? '/echo' : kind === 'noroute' ? `/nowhere/${i}` : `/ok/${i}`;
        const r = await pool.request({ method: kind === 'post' ? 'POST' : 'GET', path, headers: { host }, body: kind === 'post' ? POST_BODY : undefined, headersTimeout: 10_000, bodyTimeout: 10_000 });
        status = r.statusCode;
        body = await r.body.text();
      }
      if (status !== EXPECT[kind]) return note(`${kind} #${i}: status ${status} ${body.slice(0, 80)}`);
      if (kind === 'get' && !/^ok[01] \/ok\/\d+$/.test(body)) return note(`${kind} #${i}: body ${body.slice(0, 80)}`);
      if (kind === 'h2' && !/^ok[01] \/ok\/h2-\d+$/.test(body)) return note(`${kind} #${i}: body ${body.slice(0, 80)}`);
      if (kind === 'post' && body.length !== POST_BODY.length) return note(`post #${i}: ${body.length} bytes echoed`);
    } catch (e) {
      note(`${kind} #${i}: ${(e as Error).message}`);
    }
  };

  const t0 = Date.now();
  const end = t0 + SECONDS * 1000;
  const samples: Array<{ t: number; kb: number }> = [];
  const startKb = rssKb(proxy.pid);
  console.log(`soak: ${SECONDS} s, concurrency ${CONCURRENCY}, warm-up ${WARMUP} s, proxy pid ${proxy.pid}, RSS at start ${mib(startKb)}`);

  let next = 0;
  let running = true;
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (running) await one(next++);
  });
  let lastReport = t0;
  let lastReload = t0;
  let proxyDied = false;
  void proxy.exited.then(() => (proxyDied = running));
  while (Date.now() < end && !proxyDied) {
    await sleep(2000);
    const now = Date.now();
    samples.push({ t: now - t0, kb: rssKb(proxy.pid) });
    if (now - lastReload >= RELOAD_EVERY * 1000) {
      lastReload = now;
      write('routes.yaml', routes(++generation));
    }
    if (now - lastReport >= 30_000) {
      lastReport = now;
      const secs = (now - t0) / 1000;
      console.log(`  ${secs.toFixed(0).padStart(4)} s  ${stats.sent} requests (${(stats.sent / secs).toFixed(0)}/s)  RSS ${mib(samples[samples.length - 1].kb)}  unexpected ${stats.unexpected.length}`);
    }
  }
  running = false;
  await Promise.race([Promise.all(workers), sleep(15_000)]);
  const elapsed = (Date.now() - t0) / 1000;

  // The last config reload must be serving (it may have been written a moment ago).
  let servedGeneration: unknown = undefined;
  for (let i = 0; i < 50 && String(servedGeneration) !== String(generation); i++) {
    if (i > 0) await sleep(100);
    const r = await pool.request({ method: 'GET', path: '/ok/final', headers: { host: 'ok' } });
    await r.body.text();
    stats.sent++;
    servedGeneration = r.headers['x-generation'];
  }
  const ready = await new Promise<number>((resolve) => {
    http.get({ host: '127.0.0.1', port: proxy.adminPort, path: '/ready', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });
  await pool.close();
  h2.close();
  // The access log is flushed asynchronously: give the last lines a moment.
  const expectLines = stats.sent;
  for (let i = 0; i < 50 && proxy.accessLines() < expectLines; i++) await sleep(100);
  const logLines = proxy.accessLines();
  const exitCode = proxyDied ? null : await proxy.stop();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });

  const warm = samples.filter((s) => s.t >= WARMUP * 1000);
  const baseline = median(warm.filter((s) => s.t < WARMUP * 1000 + WINDOW_MS).map((s) => s.kb));
  const final = median(warm.filter((s) => s.t >= elapsed * 1000 - WINDOW_MS).map((s) => s.kb));
  const peak = Math.max(...samples.map((s) => s.kb));
  const growth = ((final - baseline) / baseline) * 100;

  console.log('');
  console.log(`requests        ${stats.sent} in ${elapsed.toFixed(0)} s (${(stats.sent / elapsed).toFixed(0)}/s): ${MIX.map(([k]) => `${k} ${stats.byKind[k]}`).join(', ')}`);
  console.log(`unexpected      ${stats.unexpected.length}`);
  console.log(`access log      ${logLines} lines for ${expectLines} requests`);
  console.log(`config reloads  ${generation - 1} written; generation serving at the end: ${String(servedGeneration)} (expected ${generation})`);
  console.log(`RSS             start ${mib(startKb)}, after warm-up ${mib(baseline)}, end ${mib(final)}, peak ${mib(peak)}`);
  console.log(`RSS growth      ${growth.toFixed(1)}% after warm-up (limit ${MAX_GROWTH}%)`);
  console.log(`shutdown        /ready ${ready}, exit code ${String(exitCode)} after SIGTERM`);

  const problems: string[] = [];
  if (proxyDied) problems.push(`the proxy died:\n${proxy.stderr.slice(-20).join('\n')}`);
  if (!(growth <= MAX_GROWTH)) problems.push(`RSS grew ${growth.toFixed(1)}% (> ${MAX_GROWTH}%)`);
  if (stats.unexpected.length > 0) problems.push(`${stats.unexpected.length} unexpected answers`);
  if (logLines !== expectLines) problems.push(`access log has ${logLines} lines for ${expectLines} requests`);
  if (String(servedGeneration) !== String(generation)) problems.push(`the last config reload (generation ${generation}) is not serving`);
  if (ready !== 200) problems.push(`/ready answered ${ready}`);
  if (exitCode !== 0) problems.push(`the proxy exited with ${String(exitCode)} after SIGTERM`);
  if (problems.length) {
    console.log(`\nFAIL\n- ${problems.join('\n- ')}`);
    process.exit(1);
  }
  console.log('\nPASS');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
