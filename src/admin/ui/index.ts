/**
 * The live dashboard at the admin endpoint's `/ui`: a graph of workloads and versions with
 * request rate, error rate and p99 per edge and the weights of every weighted route; endpoint
 * health and ejections per cluster; the serving config with its diagnostics; and an "explain a
 * request" form running `isthmus explain`'s code on a proxy's live config. Updates are pushed
 * over Server-Sent Events (`/ui/events`) every second. Endpoints: docs/admin-api.md.
 *
 * For `isthmus demo` (one dashboard for the whole mesh): give the dashboard every proxy.
 *
 *     import { createDashboard } from '../admin/ui/index.js';
 *     // one ProxyRuntime per proxy; ids must be unique (default: the workload, e.g. reviews-v2)
 *     const gateway = new ProxyRuntime({ ...opts, role: 'gateway', adminPort: 15000 }, io);
 *     gateway.dashboardSources = () => runtimes.map((rt) => rt.dashboardSource());
 *     // gateway.start() then serves the mesh-wide dashboard on 127.0.0.1:15000/ui
 *
 * or, on a port of its own (the runtimes then need no admin port):
 *
 *     const dashboard = createDashboard(() => runtimes.map((rt) => rt.dashboardSource()));
 *     const admin = new AdminServer(gateway.adminSource(), { dashboard });
 *     await admin.listen(15000);              // loopback; admin.close() closes the dashboard
 *     // or: http.createServer(dashboard.listener).listen(port, '127.0.0.1')
 *
 * Nodes are workloads named from the `app` and `version` labels, as Istio names them: give the
 * gateway `app: istio-ingressgateway` (as Istio's gateway pods have) so it gets its own node.
 * Two proxies with the same labels need explicit ids: `rt.dashboardSource({ id: 'x' })`.
 * A source's edges are the requests its proxy sent (Istio's source reporter), so in a mesh
 * each call is counted once, by the caller's sidecar or the gateway.
 */
export { createDashboard, isLoopbackHost, type Dashboard, type DashboardOptions, type DashboardSources } from './dashboard.js';
export { dashboardSource, defaultSourceId, primaryDashboardSource, type DashboardRuntime, type DashboardSourceOptions, type PrimaryDashboardInputs } from './source.js';
export { ExplainInputError, explainOnSources, parseExplainRequest, type UiExplainRequest, type UiExplainResponse } from './explain.js';
export { buildDashboardState, type ModelLimits, type SourceReading } from './model.js';
export type {
  ClustersView,
  ConfigGroupView,
  DashboardSource,
  DashboardState,
  EdgeWeight,
  GraphEdge,
  GraphNode,
  SourceView,
  SplitView,
} from './types.js';
