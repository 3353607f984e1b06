/**
 * The demo mesh in one process: the Bookinfo applications (./bookinfo.ts), one sidecar per
 * meshed application and an ingress gateway, each a full `ProxyRuntime` (the same composition
 * root as `isthmus run`), over a working copy of `examples/bookinfo/`, with one admin endpoint
 * (and its `/ui` dashboard) for the whole mesh.
 *
 * Why in-process rather than a process per proxy: eight Node processes would cost ~400 MB and
 * several seconds to start on a laptop, and the single dashboard would need the IPC
 * aggregation of `run --concurrency`. Each ProxyRuntime owns all of its state (config
 * controller, snapshot, cluster manager and connection pools, circuit breakers, outlier
 * detection, metrics registry); the code keeps no module-level mutable state, so the proxies
 * are as isolated as separate Envoys except for sharing a CPU. Each proxy watches the working
 * folder and reloads on its own, exactly as separate sidecars would.
 */
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AdminServer, type AdminSource } from '../admin/server.js';
import { createDashboard } from '../admin/ui/index.js';
import { mergeClusterStatuses } from '../admin/dump.js';
import { MeshMetrics } from '../observability/metrics.js';
import { ProxyRuntime } from '../runtime/proxy-runtime.js';
import { bookinfoApps, type AppSpec } from './bookinfo.js';
import { bundledConfigDir, writeWorkingConfig } from './config.js';
import { MeshLog } from './logs.js';
import { DemoService } from './service.js';
import { LoadGenerator } from './load.js';

/** The examples' endpoint ports, in `bookinfoApps()` order (productpage ... books). */
export const EXAMPLE_SERVICE_PORT = 19080;
/** The port of the examples' Gateway server; the gateway listens on it + offset. */
export const EXAMPLE_GATEWAY_PORT = 8080;
export const DEFAULT_SIDECAR_PORT = 15001;
export const DEFAULT_ADMIN_PORT = 15000;

export interface DemoOptions {
  /** Ingress gateway port (0 = free). */
  gatewayPort: number;
  /** Admin endpoint + dashboard (0 = free). */
  adminPort: number;
  /** First sidecar port, the others follow in order (0 = free ports). */
  sidecarPorts: number;
  /** First application port, the others follow in order (0 = free ports). */
  servicePorts: number;
  /** Working folder (kept); null = a new temp folder, removed on stop. */
  workdir: string | null;
  /** Where the config comes from (default: the bundled examples/bookinfo). */
  configDir?: string;
  drainTimeoutMs: number;
  /** Operational lines (reloads, ejections, errors). */
  log: (line: string) => void;
  /** File-watch debounce of each proxy (default 100 ms). */
  debounceMs?: number;
  /** Background requests per second through the gateway (0 or absent = none). */
  load?: number;
}

/** One running application and its sidecar. */
export interface RunningApp {
  app: string;
  version: string;
  service: DemoService;
  /** null for books.example.com (outside the mesh). */
  sidecar: ProxyRuntime | null;
  sidecarPort: number | null;
}

/** A listener and whether it accepted a connection after start. */
export interface ListenerState {
  what: string;
  address: string;
  port: number;
  ready: boolean;
}

/** A start failure the user can fix (busy port, bad flag): printed as it is, exit 1. */
export class DemoStartError extends Error {}

const NAMESPACE = 'bookinfo';
/** Marks `<workdir>/config` as the demo's (a dot-file: the config loader skips it). */
const MARKER = '.isthmus-demo';
const GATEWAY_LABELS = Object.freeze({ app: 'istio-ingressgateway', istio: 'ingressgateway' });

export class DemoMesh {
  readonly apps: RunningApp[] = [];
  gateway: ProxyRuntime | null = null;
  gatewayPort = 0;
  admin: AdminServer | null = null;
  adminPort = 0;
  workdir = '';
  configPath = '';
  accessLogPath = '';
  private accessLog: WriteStream | null = null;
  private ownsWorkdir = false;
  private meshLog: MeshLog | null = null;
  private started = false;
  private stopped = false;
  private loadGen: LoadGenerator | null = null;

  constructor(readonly opts: DemoOptions) {}

  /** All proxies: the gateway first, then the sidecars in application order. */
  proxies(): Array<{ name: string; runtime: ProxyRuntime }> {
    const out: Array<{ name: string; runtime: ProxyRuntime }> = [];
    if (this.gateway) out.push({ name: 'ingress gateway', runtime: this.gateway });
    for (const a of this.apps) if (a.sidecar) out.push({ name: `${a.app}-${a.version} sidecar`, runtime: a.sidecar });
    return out;
  }

  /** A running application by workload (`reviews-v2`) or app name (the first such). */
  app(name: string): RunningApp {
    const a = this.apps.find((x) => `${x.app}-${x.version}` === name || x.app === name);
    if (!a) throw new Error(`no demo application ${name}`);
    return a;
  }

  /** Starts everything; on failure stops what started and throws (DemoStartError for user-fixable causes). */
  async start(): Promise<void> {
    try {
      await this.startInner();
    } catch (e) {
      // Keep the reasons (rejected config, diagnostics), not the progress of a start that failed.
      this.meshLog?.flush((l) => !/^config v\d+ applied/.test(l));
      await this.stop();
      throw e;
    }
  }

  private async startInner(): Promise<void> {
    const o = this.opts;
    this.prepareWorkdir();
    const specs = bookinfoApps();
    // 1. Applications (their real ports decide the endpoints in the working config).
    for (const [i, spec] of specs.entries()) {
      const running = this.newApp(spec);
      this.apps.push(running);
      const want = o.servicePorts === 0 ? 0 : o.servicePorts + i;
      try {
        await running.service.listen(want);
      } catch (e) {
        throw busy(e, want, `the ${spec.app} ${spec.version} application`, '--service-ports', o.servicePorts, specs.length);
      }
    }
    const ports = new Map(this.apps.map((a, i) => [EXAMPLE_SERVICE_PORT + i, a.service.port]));
    writeWorkingConfig(o.configDir ?? bundledConfigDir(), this.configPath, ports);

    // 2. Proxies. Lines are gathered so seven identical reload lines print once.
    const meshed = this.apps.filter((a) => specs.find((s) => s.app === a.app && s.version === a.version)?.meshed);
    this.meshLog = new MeshLog({ print: o.log, proxies: meshed.length + 1, drop: (l) => /^(listening on|admin listening)/.test(l) && !this.started });
    this.accessLog = createWriteStream(this.accessLogPath, { flags: 'a' });
    this.accessLog.setMaxListeners(64);
    this.accessLog.on('error', (e) => o.log(`access log: ${e.message}`));
    for (const [i, a] of meshed.entries()) {
      const want = o.sidecarPorts === 0 ? 0 : o.sidecarPorts + i;
      const name = `${a.app}-${a.version} sidecar`;
      a.sidecar = this.newRuntime(name, 'sidecar', NAMESPACE, { app: a.app, version: a.version }, want, 0);
      try {
        const bound = await a.sidecar.start();
        a.sidecarPort = bound[0]?.port ?? null;
      } catch (e) {
        throw busy(e, want, `the sidecar of ${a.app} ${a.version}`, '--sidecar-ports', o.sidecarPorts, meshed.length);
      }
    }
    // The gateway listens on the Gateway server's port + offset; port 0 -> offset to 0 = a free port.
    this.gateway = this.newRuntime('ingress gateway', 'gateway', 'istio-system', GATEWAY_LABELS, 0, o.gatewayPort - EXAMPLE_GATEWAY_PORT);
    try {
      const bound = await this.gateway.start();
      const gw = bound.find((b) => b.configPort === EXAMPLE_GATEWAY_PORT) ?? bound[0];
      if (!gw) throw new DemoStartError(`the ingress gateway has no listener: the config in ${this.configPath} has no Gateway on port ${EXAMPLE_GATEWAY_PORT} selecting istio=ingressgateway`);
      this.gatewayPort = gw.port;
    } catch (e) {
      throw busy(e, o.gatewayPort, 'the ingress gateway', '--gateway-port', o.gatewayPort, 1);
    }

    // 3. One admin endpoint and one dashboard (/ui) for the whole mesh: every proxy is a source.
    const dashboard = createDashboard(this.proxies().map((p) => p.runtime.dashboardSource()));
    this.admin = new AdminServer(this.adminSource(), { dashboard });
    try {
      this.adminPort = await this.admin.listen(o.adminPort, '127.0.0.1');
    } catch (e) {
      throw busy(e, o.adminPort, 'the admin endpoint and dashboard', '--admin-port', o.adminPort, 1);
    }
    this.started = true;
    this.meshLog.flush();
    if (o.load) {
      this.loadGen = new LoadGenerator(this.gatewayPort, o.load);
      this.loadGen.start();
    }
  }

  private prepareWorkdir(): void {
    if (this.opts.workdir) {
      this.workdir = resolve(this.opts.workdir);
      mkdirSync(this.workdir, { recursive: true });
    } else {
      this.workdir = mkdtempSync(join(tmpdir(), 'isthmus-demo-'));
      this.ownsWorkdir = true;
    }
    this.configPath = join(this.workdir, 'config');
    // A fresh copy each start (the demo's commands expect the bundled config), but never at
    // the expense of a folder the demo did not make.
    if (existsSync(this.configPath)) {
      if (!existsSync(join(this.configPath, MARKER))) {
        throw new DemoStartError(`${this.configPath} exists and is not a copy made by the demo: choose another --workdir (the demo writes its config into <workdir>/config)`);
      }
      rmSync(this.configPath, { recursive: true, force: true });
    }
    mkdirSync(this.configPath, { recursive: true });
    writeFileSync(join(this.configPath, MARKER), 'made by `isthmus demo`; the folder is replaced at each start\n');
    this.accessLogPath = join(this.workdir, 'access.log');
  }

  private newApp(spec: AppSpec): RunningApp {
    const running: RunningApp = { app: spec.app, version: spec.version, service: null as unknown as DemoService, sidecar: null, sidecarPort: null };
    running.service = new DemoService({
      app: spec.app,
      version: spec.version,
      handler: spec.handler,
      sidecarPort: () => running.sidecarPort,
    });
    return running;
  }

  private newRuntime(name: string, role: 'sidecar' | 'gateway', namespace: string, labels: Record<string, string>, outboundPort: number, portOffset: number): ProxyRuntime {
    return new ProxyRuntime(
      {
        files: [this.configPath],
        role,
        namespace,
        labels,
        domain: 'cluster.local',
        outboundPort,
        portOffset,
        bindAddress: '127.0.0.1',
        adminPort: null,
        logFormat: 'text',
        accessLog: true,
        drainTimeoutMs: this.opts.drainTimeoutMs,
        debounceMs: this.opts.debounceMs,
      },
      { log: (l) => this.meshLog?.line(name, l), accessLogSink: this.accessLog ?? undefined },
    );
  }

  /** Every listener, probed with a TCP connect (a listener that accepts is ready). */
  async listeners(): Promise<ListenerState[]> {
    const list: Array<Omit<ListenerState, 'ready'>> = [];
    if (this.gateway) list.push({ what: 'ingress gateway', address: '127.0.0.1', port: this.gatewayPort });
    for (const a of this.apps) {
      list.push({ what: `${a.app} ${a.version} application`, address: '127.0.0.1', port: a.service.port });
      if (a.sidecarPort !== null) list.push({ what: `${a.app} ${a.version} sidecar`, address: '127.0.0.1', port: a.sidecarPort });
    }
    if (this.admin) list.push({ what: 'admin + dashboard', address: '127.0.0.1', port: this.adminPort });
    const live = this.proxies().every((p) => p.runtime.ready());
    return Promise.all(list.map(async (l) => ({ ...l, ready: live && (await accepts(l.address, l.port)) })));
  }

  /** The mesh-wide admin data: readiness of all, clusters and metrics merged, per-proxy config. */
  adminSource(): AdminSource {
    return {
      ready: () => this.started && !this.stopped && this.proxies().every((p) => p.runtime.ready()),
      configDump: () => Promise.resolve(this.configDump()),
      clusters: () => Promise.resolve(mergeClusterStatuses(this.proxies().map((p) => p.runtime.clusterStatuses()))),
      metrics: async () => ({
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        body: await MeshMetrics.aggregate(await Promise.all(this.proxies().map((p) => p.runtime.metricsSnapshot()))),
      }),
    };
  }

  /**
   * The gateway's /config_dump (the files, version and diagnostics are the same for every
   * proxy) plus `proxies`: each proxy's own dump (its identity, listeners and snapshot).
   */
  configDump(): unknown {
    const ps = this.proxies();
    const first = ps[0];
    const base = first ? (first.runtime.configDump() as Record<string, unknown>) : {};
    return {
      ...base,
      demo: { workdir: this.workdir, config: this.configPath, accessLog: this.accessLogPath },
      proxies: ps.map((p) => ({ name: p.name, ...(p.runtime.configDump() as Record<string, unknown>) })),
    };
  }

  /** Drains every proxy (in-flight requests finish, bounded), then closes the rest. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.loadGen?.stop();
    this.meshLog?.flush();
    await Promise.all(this.proxies().map((p) => p.runtime.drain().catch(() => false)));
    await Promise.all(this.apps.map((a) => a.service.close()));
    await this.admin?.close();
    await new Promise<void>((r) => (this.accessLog ? this.accessLog.end(() => r()) : r()));
    if (this.ownsWorkdir && this.workdir) rmSync(this.workdir, { recursive: true, force: true });
  }
}

/** Turns "port in use" into a message naming the port and the flag to change. */
function busy(e: unknown, port: number, what: string, flag: string, first: number, count: number): Error {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof DemoStartError) return e;
  const inUse = err.code === 'EADDRINUSE' || /already in use/.test(err.message);
  const denied = err.code === 'EACCES' || /permission denied/.test(err.message);
  if (!inUse && !denied) return err;
  const m = /127\.0\.0\.1:(\d+)/.exec(err.message);
  const actual = m ? Number(m[1]) : port;
  const why = inUse ? 'is already in use' : 'needs privileges';
  if (count === 1) return new DemoStartError(`port ${actual} ${why} (${what}): start the demo with ${flag} <another port>, or ${flag} 0 for a free one`);
  const range = first !== 0 ? `; ${first}-${first + count - 1} now` : '';
  return new DemoStartError(`port ${actual} ${why} (${what}): start the demo with ${flag} <first port> (${count} consecutive ports${range}), or ${flag} 0 for free ones`);
}

/** True when something accepts TCP connections on address:port. */
function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
