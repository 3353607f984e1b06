/**
 * Fixtures for the dashboard's unit tests (not shipped: tsconfig.build.json leaves out
 * testkit.ts): a small Bookinfo-like mesh compiled for any proxy, and in-memory sources.
 */
import http from 'node:http';
import type { ConfigStatus } from '../../controlplane/controller.js';
import { SnapshotStore, type ConfigState } from '../../controlplane/store.js';
import { MeshMetrics } from '../../observability/metrics.js';
import { readEdgeFamilies } from '../../observability/edges.js';
import type { ClusterStatus } from '../server.js';
import type { DashboardSource, DashboardState } from './types.js';

function se(name: string, eps: Array<{ port: number; version: string }>): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints:
${eps.map((e) => `  - {address: 127.0.0.1, ports: {http: ${e.port}}, labels: {app: ${name}, version: ${e.version}}}`).join('\n')}
---
`;
}

/** productpage, details and reviews v1/v2/v3; `reviews` VS: jason -> v2, else 75/25 v1/v3. */
export const MESH_YAML =
  se('productpage', [{ port: 19080, version: 'v1' }]) +
  se('details', [{ port: 19081, version: 'v1' }]) +
  se('reviews', [{ port: 19082, version: 'v1' }, { port: 19083, version: 'v2' }, { port: 19084, version: 'v3' }]) +
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - name: canary
    route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v3}, weight: 25}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ['*']}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: ['*']
  gateways: [web]
  http: [{route: [{destination: {host: productpage, port: {number: 9080}}}]}]
`;

/** The mesh compiled for a sidecar with these labels (namespace default). */
export function meshState(labels: Record<string, string>, role: 'sidecar' | 'gateway' = 'sidecar', yaml = MESH_YAML): ConfigState {
  const store = new SnapshotStore({ proxy: { role, namespace: 'default', labels }, clock: () => 1_700_000_000_000 });
  const r = store.apply([{ path: 'mesh.yaml', text: yaml }]);
  if (r.status !== 'applied') throw new Error(`test mesh rejected: ${JSON.stringify(r.status === 'rejected' ? r.rejected.diagnostics : r)}`);
  return r.state;
}

export function statusOf(state: ConfigState): ConfigStatus {
  return {
    version: state.version,
    appliedAt: new Date(state.appliedAt).toISOString(),
    mode: 'all-or-nothing',
    inSync: true,
    sources: state.sources,
    watchedPaths: ['mesh.yaml'],
    watchedDirectories: [],
    lastRejected: null,
    counters: { applied: state.version, rejected: 0 },
  };
}

/** An in-memory source: a compiled state, live MeshMetrics, fixed clusters. */
export interface FakeSource extends DashboardSource {
  metrics: MeshMetrics;
  clusterList: ClusterStatus[];
}

export function fakeSource(id: string, labels: Record<string, string>, opts: { role?: 'sidecar' | 'gateway'; state?: ConfigState } = {}): FakeSource {
  const role = opts.role ?? 'sidecar';
  const state = opts.state ?? meshState(labels, role);
  const metrics = new MeshMetrics({ source: { namespace: 'default', labels } });
  const src: FakeSource = {
    id,
    title: `${id} (${role})`,
    metrics,
    clusterList: [],
    identity: () => ({ role, namespace: 'default', labels }),
    ready: () => true,
    configStatus: () => statusOf(state),
    configState: () => state,
    clusters: () => src.clusterList,
    requestMetrics: () => readEdgeFamilies(metrics),
  };
  return src;
}

/** Destination labels for requests to `app` `version` (what the data plane records). */
export function dest(app: string, version: string): { service: string; workload: string; workloadNamespace: string; app: string; version: string } {
  return { service: `${app}.default.svc.cluster.local`, workload: `${app}-${version}`, workloadNamespace: 'default', app, version };
}

/** A `/ui/events` subscriber that parses Server-Sent Events frames. */
export interface EventStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed `state` events received so far. */
  states: DashboardState[];
  /** Resolves with the first state (received or future) that satisfies `pred`; rejects after `timeoutMs`. */
  waitFor(pred: (s: DashboardState) => boolean, timeoutMs?: number, what?: string): Promise<DashboardState>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export function openEvents(port: number, path = '/ui/events', headers: Record<string, string> = {}): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers }, (res) => {
      const states: DashboardState[] = [];
      const waiters: Array<{ pred: (s: DashboardState) => boolean; done: (s: DashboardState) => void }> = [];
      let buf = '';
      let onEnd!: () => void;
      const ended = new Promise<void>((r) => (onEnd = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const lines = block.split('\n');
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
          const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (event !== 'state') continue;
          const s = JSON.parse(data) as DashboardState;
          states.push(s);
          for (const w of [...waiters]) if (w.pred(s)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.done(s);
          }
        }
      });
      res.on('end', () => onEnd());
      res.on('close', () => onEnd());
      res.on('error', () => onEnd());
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        states,
        ended,
        close: () => req.destroy(),
        waitFor(pred, timeoutMs = 8000, what = 'a matching dashboard state') {
          const hit = states.find(pred);
          if (hit) return Promise.resolve(hit);
          return new Promise<DashboardState>((ok, fail) => {
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(w), 1);
              fail(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${states.length} states seen)`));
            }, timeoutMs);
            const w = { pred, done: (s: DashboardState) => (clearTimeout(timer), ok(s)) };
            waiters.push(w);
          });
        },
      });
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('event stream timed out')));
  });
}
