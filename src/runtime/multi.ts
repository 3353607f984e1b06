/**
 * `--concurrency N`: N worker processes share the listeners (node:cluster hands accepted
 * connections round-robin). Every worker watches and compiles the same files itself (the
 * compiler is pure, so they converge on the same snapshot); the primary runs the admin
 * endpoint and aggregates readiness, /clusters and /stats/prometheus over IPC.
 */
import cluster, { type Worker } from 'node:cluster';
import { ConfigController } from '../controlplane/controller.js';
import { MeshMetrics } from '../observability/metrics.js';
import { AdminServer, type ClusterStatus } from '../admin/server.js';
import { createDashboard, primaryDashboardSource } from '../admin/ui/index.js';
import { mergeClusterStatuses, snapshotToJson } from '../admin/dump.js';
import { ProxyRuntime, type RunOptions } from './proxy-runtime.js';
import type { BoundListener } from '../dataplane/proxy.js';

const ENV = 'ISTHMUS_WORKER_OPTIONS';

type ToWorker = { t: 'drain' } | { t: 'stats'; id: number };
type ToPrimary =
  | { t: 'ready'; listeners: BoundListener[] }
  | { t: 'failed'; message: string }
  | { t: 'stats'; id: number; metrics: unknown; clusters: ClusterStatus[] }
  | { t: 'log'; line: string };

export function isWorker(): boolean {
  return cluster.isWorker && process.env[ENV] !== undefined;
}

/** Worker side: run a proxy without an admin port and answer the primary. */
export async function runWorker(): Promise<void> {
  const opts = JSON.parse(process.env[ENV] ?? '{}') as RunOptions;
  const send = (m: ToPrimary): void => {
    if (process.connected) process.send?.(m);
  };
  // Config logs come from the primary's own controller; forward only what it cannot see.
  const rt = new ProxyRuntime({ ...opts, adminPort: null }, { log: (line) => (/^(error|warning)/.test(line) ? send({ t: 'log', line }) : undefined) });
  let draining = false;
  const drain = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    await rt.drain();
    process.exit(0);
  };
  process.on('SIGTERM', () => void drain());
  process.on('SIGINT', () => undefined); // the primary coordinates Ctrl-C
  process.on('message', (m: ToWorker) => {
    if (m.t === 'drain') void drain();
    else if (m.t === 'stats')
      void rt.metricsSnapshot().then((metrics) => send({ t: 'stats', id: m.id, metrics, clusters: rt.clusterStatuses() }));
  });
  process.on('disconnect', () => void drain());
  try {
    const listeners = await rt.start();
    send({ t: 'ready', listeners });
  } catch (e) {
    send({ t: 'failed', message: (e as Error).message });
    process.exit(1);
  }
}

/** Primary side: fork workers, serve admin, coordinate drain. Resolves with the exit code. */
export async function runPrimary(opts: RunOptions, n: number, log: (l: string) => void): Promise<number> {
  const controller = new ConfigController({
    paths: opts.files,
    proxy: { role: opts.role, namespace: opts.namespace, labels: opts.labels },
    logger: { info: log, warn: log, error: log },
    compileOptions: { domain: opts.domain },
    namespace: opts.namespace,
    debounceMs: opts.debounceMs,
  });
  const first = controller.start();
  if (first.status === 'rejected') {
    controller.close();
    log(`error: the initial config has ${first.rejected.errorCount} error(s); fix them and start again`);
    return 1;
  }
  cluster.setupPrimary({ silent: false });
  const workers = new Set<Worker>();
  const readyWorkers = new Set<Worker>();
  let draining = false;
  let printed = false;
  let statsSeq = 0;
  const pending = new Map<number, { want: number; got: Array<{ metrics: unknown; clusters: ClusterStatus[] }>; done: () => void }>();
  let resolveStarted!: (ok: boolean) => void;
  const started = new Promise<boolean>((r) => (resolveStarted = r));

  const fork = (): void => {
    const w = cluster.fork({ [ENV]: JSON.stringify(opts) });
    workers.add(w);
    w.on('message', (m: ToPrimary) => {
      if (m.t === 'ready') {
        readyWorkers.add(w);
        if (!printed) {
          printed = true;
          for (const l of m.listeners) log(`listening on ${l.address}:${l.port} (${l.name})`);
        }
        if (readyWorkers.size === n) resolveStarted(true);
      } else if (m.t === 'failed') {
        log(`error: ${m.message}`);
        resolveStarted(false);
      } else if (m.t === 'log') log(m.line);
      else if (m.t === 'stats') {
        const p = pending.get(m.id);
        if (p) {
          p.got.push({ metrics: m.metrics, clusters: m.clusters });
          if (p.got.length >= p.want) p.done();
        }
      }
    });
    w.on('exit', (code) => {
      workers.delete(w);
      readyWorkers.delete(w);
      if (!draining) {
        log(`worker ${w.process.pid} exited (${code}); starting a new one`);
        fork();
      }
    });
  };
  const gather = async (): Promise<Array<{ metrics: unknown; clusters: ClusterStatus[] }>> => {
    const id = ++statsSeq;
    const live = [...readyWorkers];
    if (live.length === 0) return [];
    return new Promise((resolve) => {
      const entry = { want: live.length, got: [] as Array<{ metrics: unknown; clusters: ClusterStatus[] }>, done: () => undefined as void };
      const timer = setTimeout(() => entry.done(), 2000);
      entry.done = () => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(entry.got);
      };
      pending.set(id, entry);
      for (const w of live) w.send({ t: 'stats', id } satisfies ToWorker);
    });
  };

  const admin = new AdminServer({
    ready: () => !draining && readyWorkers.size === n,
    configDump: async () => {
      const st = controller.status();
      const cur = controller.current();
      return {
        version: st.version,
        appliedAt: st.appliedAt,
        inSync: st.inSync,
        sources: st.sources,
        counters: st.counters,
        lastRejected: st.lastRejected,
        workers: n,
        proxy: { role: opts.role, namespace: opts.namespace, labels: opts.labels },
        snapshot: cur ? snapshotToJson(cur.snapshot) : null,
      };
    },
    clusters: async () => mergeClusterStatuses((await gather()).map((g) => g.clusters)),
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: await MeshMetrics.aggregate((await gather()).map((g) => g.metrics)) }),
  }, {
    // One dashboard for all workers: their metrics are gathered and merged like /stats.
    dashboard: createDashboard([
      primaryDashboardSource({
        identity: { role: opts.role, namespace: opts.namespace, labels: opts.labels },
        controller,
        ready: () => !draining && readyWorkers.size === n,
        gather,
      }),
    ]),
  });

  // Admin first (as Envoy's): /ready answers 503 while the workers start.
  let adminPort: number;
  try {
    adminPort = await admin.listen(opts.adminPort ?? 15000, '127.0.0.1');
  } catch (e) {
    controller.close();
    log(`error: ${(e as Error).message}`);
    return 1;
  }
  log(`admin listening on 127.0.0.1:${adminPort}`);
  for (let i = 0; i < n; i++) fork();

  const stop = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    log('draining: finishing in-flight requests');
    const exits = [...workers].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    for (const w of workers) w.send({ t: 'drain' } satisfies ToWorker);
    const hard = setTimeout(() => {
      for (const w of workers) w.kill('SIGKILL');
    }, opts.drainTimeoutMs + 2000);
    await Promise.all(exits);
    clearTimeout(hard);
    controller.close();
    await admin.close();
  };

  let exitCode = 0;
  const done = new Promise<void>((resolve) => {
    const onSignal = (): void => void stop().then(resolve);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  const ok = await started;
  if (!ok) {
    exitCode = 1;
    await stop();
    return exitCode;
  }
  log(`ready (${n} workers)`);
  await done;
  return exitCode;
}
