/**
 * One running proxy process (the composition root behind `isthmus run`): config controller
 * (files -> validated, compiled snapshots, hot reload), the data plane, metrics, access log,
 * and optionally the admin endpoint. Used directly for --concurrency 1 and by each worker.
 */
import { ConfigController, type Logger } from '../controlplane/controller.js';
import { HeapCompactor } from './heap.js';
import type { ProxyIdentity, Snapshot } from '../snapshot/types.js';
import { Proxy, type BoundListener } from '../dataplane/proxy.js';
import type { StreamInfo } from '../dataplane/http/stream-info.js';
import { MeshMetrics } from '../observability/metrics.js';
import { AccessLogger, type AccessLogFormat, type LogSink } from '../observability/accesslog.js';
import { AdminServer, type AdminSource, type ClusterStatus } from '../admin/server.js';
import { clusterStatuses, snapshotToJson } from '../admin/dump.js';
import { DEFAULT_LIMITS, type ListenerLimits } from '../dataplane/listener/http-listener.js';
import type { PathNormalization } from '../dataplane/http/normalize.js';
import { createDashboard, dashboardSource, type DashboardSource, type DashboardSourceOptions } from '../admin/ui/index.js';

export interface RunOptions {
  files: string[];
  role: 'sidecar' | 'gateway';
  namespace: string;
  labels: Record<string, string>;
  domain: string;
  outboundPort: number;
  portOffset: number;
  bindAddress: string;
  /** Gateway `credentialName` secrets: `<dir>/<name>/tls.crt`, `tls.key`, `ca.crt`. */
  credentialsDir?: string | null;
  /** null = no admin endpoint in this process (cluster workers). */
  adminPort: number | null;
  logFormat: AccessLogFormat;
  /** false disables the access log. */
  accessLog: boolean;
  drainTimeoutMs: number;
  /** File-watch debounce. */
  debounceMs?: number;
  /** Downstream limits; Envoy-like defaults (DEFAULT_LIMITS) for what is absent. See docs/security.md. */
  limits?: Partial<ListenerLimits>;
  /** Istio `meshConfig.pathNormalization` (default BASE). */
  pathNormalization?: PathNormalization;
  /** Istio `gatewayTopology.numTrustedProxies` (default 0: x-forwarded-for is rebuilt at the gateway). */
  numTrustedProxies?: number;
}

export interface RuntimeIO {
  /** Operational log lines (listening on..., config applied...). */
  log(line: string): void;
  /** Where access-log lines go (default stdout). */
  accessLogSink?: NodeJS.WritableStream;
}

export class ProxyRuntime {
  readonly controller: ConfigController;
  readonly metrics: MeshMetrics;
  readonly accessLog: AccessLogger | null;
  proxy: Proxy | null = null;
  admin: AdminServer | null = null;
  adminPort = 0;
  /**
   * The proxies this process's /ui dashboard shows; set before start(). Default: this proxy
   * alone. `isthmus demo` points the gateway's at every proxy of the mesh (admin/ui/index.ts).
   */
  dashboardSources: (() => readonly DashboardSource[]) | null = null;
  private live = false;
  private compactor: HeapCompactor | null = null;
  private draining = false;

  constructor(
    readonly opts: RunOptions,
    private readonly io: RuntimeIO,
  ) {
    const proxy: ProxyIdentity = { role: opts.role, namespace: opts.namespace, labels: opts.labels };
    const logger: Logger = { info: (m) => io.log(m), warn: (m) => io.log(m), error: (m) => io.log(m) };
    this.controller = new ConfigController({
      paths: opts.files,
      proxy,
      logger,
      compileOptions: { domain: opts.domain },
      namespace: opts.namespace,
      debounceMs: opts.debounceMs,
    });
    this.metrics = new MeshMetrics({ source: { namespace: opts.namespace, labels: opts.labels } });
    this.accessLog = opts.accessLog ? new AccessLogger({ format: opts.logFormat, out: (io.accessLogSink ?? process.stdout) as unknown as LogSink }) : null;
    if (this.accessLog) this.metrics.trackAccessLog(this.accessLog);
  }

  /** Loads config, binds listeners and the admin port. Throws with a clear message on failure. */
  async start(): Promise<BoundListener[]> {
    const first = this.controller.start();
    if (first.status === 'rejected') {
      throw new Error(`the initial config has ${first.rejected.errorCount} error(s); fix them and start again (see the lines above, or run \`isthmus validate\`)`);
    }
    const snapshot = (): Snapshot => {
      const s = this.controller.current();
      if (!s) throw new Error('no config is serving');
      return s.snapshot;
    };
    const limits: ListenerLimits = { ...DEFAULT_LIMITS, ...this.opts.limits };
    this.proxy = new Proxy({
      role: this.opts.role,
      limits,
      outboundPort: this.opts.outboundPort,
      portOffset: this.opts.portOffset,
      bindAddress: this.opts.bindAddress,
      credentialsDir: this.opts.credentialsDir ?? null,
      tcp: {
        opened: (d) => this.metrics.recordTcpOpened(d),
        closed: (d, sent, received, flags) => this.metrics.recordTcpClosed(d, flags, sent, received),
      },
      snapshot,
      onComplete: (i) => this.record(i),
      log: (l) => this.io.log(l),
      clusterStats: (name) => this.metrics.cluster(name),
      removeClusterStats: (name) => this.metrics.removeCluster(name),
    });
    this.proxy.handler.options = {
      pathNormalization: this.opts.pathNormalization ?? 'BASE',
      numTrustedProxies: this.opts.numTrustedProxies ?? 0,
      maxHeadersCount: limits.maxHeadersCount,
    };
    const store = this.controller.store;
    this.compactor = HeapCompactor.create();
    this.compactor?.schedule();
    store.onChange((state) => {
      this.compactor?.schedule();
      this.metrics.recordConfigReload({ result: 'applied', version: state.version, atMs: Date.now() });
      void this.proxy?.reconcile(state.snapshot).catch((e: unknown) => this.io.log(`error: ${(e as Error).message}`));
    });
    store.onReject(() => this.metrics.recordConfigReload({ result: 'rejected', atMs: Date.now() }));
    const v = this.controller.current()?.version;
    if (v !== undefined) this.metrics.setConfigVersion(v);
    if (this.opts.adminPort !== null) {
      // Admin first, as Envoy's: /ready answers 503 (rather than connection refused) until
      // every listener is bound. On a later failure the caller's close() shuts it.
      const dashboard = createDashboard(this.dashboardSources ?? [this.dashboardSource()]);
      this.admin = new AdminServer(this.adminSource(), { dashboard });
      this.adminPort = await this.admin.listen(this.opts.adminPort, '127.0.0.1');
      this.io.log(`admin listening on 127.0.0.1:${this.adminPort}`);
    }
    const bound = await this.proxy.start();
    this.live = true;
    return bound;
  }

  /** The data the admin endpoint serves for this process. */
  adminSource(): AdminSource {
    return {
      ready: () => this.ready(),
      configDump: async () => this.configDump(),
      clusters: async () => this.clusterStatuses(),
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: await this.renderMetrics() }),
    };
  }

  /** This proxy as a dashboard source (graph node, clusters, config, request metrics). */
  dashboardSource(opts?: DashboardSourceOptions): DashboardSource {
    return dashboardSource(this, opts);
  }

  /** Prometheus text of this process (gauges read from the data plane first). */
  renderMetrics(): Promise<string> {
    this.proxy?.clusters.syncStats();
    return this.metrics.render();
  }

  /** This process's metrics for the primary to merge (see MeshMetrics.snapshotForAggregation). */
  metricsSnapshot(): Promise<unknown> {
    this.proxy?.clusters.syncStats();
    return this.metrics.snapshotForAggregation();
  }

  ready(): boolean {
    return this.live && !this.draining;
  }

  configDump(): unknown {
    const st = this.controller.status();
    const cur = this.controller.current();
    return {
      version: st.version,
      appliedAt: st.appliedAt,
      inSync: st.inSync,
      sources: st.sources,
      watchedPaths: st.watchedPaths,
      counters: st.counters,
      lastRejected: st.lastRejected,
      proxy: { role: this.opts.role, namespace: this.opts.namespace, labels: this.opts.labels },
      listeners: this.proxy?.bound() ?? [],
      snapshot: cur ? snapshotToJson(cur.snapshot) : null,
    };
  }

  clusterStatuses(): ClusterStatus[] {
    return this.proxy ? clusterStatuses(this.proxy.clusters) : [];
  }

  private record(i: StreamInfo): void {
    const dest = i.destination ?? { service: i.destinationService || 'unknown' };
    this.metrics.recordRequest({
      destination: dest,
      protocol: i.grpc ? 'grpc' : 'http',
      responseCode: i.responseCode,
      grpcStatus: i.grpcStatus === '' ? null : Number(i.grpcStatus),
      flags: i.flags,
      durationMs: i.durationMs,
      requestBytes: i.bytesReceived,
      responseBytes: i.bytesSent,
    });
    // Envoy cluster stats (envoy_cluster_*) are counted by the data plane as things happen.
    this.accessLog?.log({
      startTime: i.startTime,
      method: i.method,
      path: i.path,
      protocol: i.protocol,
      responseCode: i.responseCode,
      flags: i.flags,
      responseCodeDetails: i.details,
      upstreamTransportFailureReason: i.upstreamTransportFailure,
      bytesReceived: i.bytesReceived,
      bytesSent: i.bytesSent,
      durationMs: i.durationMs,
      upstreamServiceTime: i.upstreamServiceTime >= 0 ? i.upstreamServiceTime : undefined,
      xForwardedFor: i.forwardedFor,
      userAgent: i.userAgent,
      requestId: i.requestId,
      authority: i.authority,
      upstreamHost: i.upstreamHost,
      upstreamCluster: i.upstreamCluster,
      downstreamLocalAddress: i.downstreamLocal,
      downstreamRemoteAddress: i.downstreamRemote && i.downstreamRemotePort ? hostPort(i.downstreamRemote, i.downstreamRemotePort) : i.downstreamRemote,
      routeName: i.routeName,
    });
  }

  /** Graceful drain: /ready turns 503, listeners stop, in-flight requests finish (bounded). */
  async drain(): Promise<boolean> {
    this.draining = true;
    const ok = this.proxy ? await this.proxy.drain(this.opts.drainTimeoutMs) : true;
    await this.close();
    return ok;
  }

  async close(): Promise<void> {
    this.live = false;
    this.controller.close();
    this.compactor?.close();
    await this.proxy?.close();
    await this.admin?.close();
    await this.accessLog?.close();
  }
}

/** `ip:port`, IPv6 in brackets (Envoy's address format in access logs). */
function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
