/**
 * Workload identity -> Istio metric label values, with Istio's defaulting rules.
 *
 * Istio derives `*_app`, `*_version`, `*_canonical_service` and `*_canonical_revision` from pod
 * labels; a missing value is the literal `unknown`, except the canonical revision, which Istio
 * reports as `latest` when nothing names a revision (its stats filter and its injector both
 * default it that way, and Kiali expects it).
 */

/** Istio's value for a label that nothing provides. */
export const UNKNOWN = 'unknown';
/** Istio's value for a canonical revision that nothing provides. */
export const LATEST = 'latest';

/** One side (source or destination) of an Istio metric, fully resolved. */
export interface WorkloadLabels {
  workload: string;
  namespace: string;
  principal: string;
  app: string;
  version: string;
  cluster: string;
  canonicalService: string;
  canonicalRevision: string;
}

/** What the proxy knows about a workload (its own, or an endpoint's). */
export interface WorkloadInfo {
  /** Workload name (Deployment name in Kubernetes). Default: see {@link workloadLabels}. */
  workload?: string;
  namespace?: string;
  /** Pod/endpoint labels: `app`, `version`, `service.istio.io/canonical-name`, ... */
  labels?: Readonly<Record<string, string>>;
  /** SPIFFE identity, e.g. `spiffe://cluster.local/ns/default/sa/bookinfo-productpage`. */
  principal?: string;
  /** Cluster ID (Istio's default is `Kubernetes`). */
  cluster?: string;
}

function pick(labels: Readonly<Record<string, string>>, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = labels[k];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/**
 * Resolves label values for one workload.
 * - app: `app`, else `app.kubernetes.io/name`; version: `version`, else `app.kubernetes.io/version`.
 * - workload: explicit, else `<app>-<version>` / `<app>` (the Deployment naming the Bookinfo and
 *   most Istio samples use, so Kiali's workload graph lines up), else `unknown`.
 * - canonical service: `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app`, else
 *   the workload name; canonical revision: `service.istio.io/canonical-revision`,
 *   `app.kubernetes.io/version`, `version`, else `latest` (Istio's injector rules).
 */
export function workloadLabels(info: WorkloadInfo, defaultCluster = UNKNOWN): WorkloadLabels {
  const labels = info.labels ?? {};
  const app = pick(labels, ['app', 'app.kubernetes.io/name']);
  const version = pick(labels, ['version', 'app.kubernetes.io/version']);
  const workload = info.workload || (app ? (version ? `${app}-${version}` : app) : UNKNOWN);
  return {
    workload,
    namespace: info.namespace || UNKNOWN,
    principal: info.principal || UNKNOWN,
    app: app ?? UNKNOWN,
    version: version ?? UNKNOWN,
    cluster: info.cluster || defaultCluster,
    canonicalService:
      pick(labels, ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app']) ??
      (workload !== UNKNOWN ? workload : UNKNOWN),
    canonicalRevision:
      pick(labels, ['service.istio.io/canonical-revision', 'app.kubernetes.io/version', 'version']) ?? LATEST,
  };
}

/**
 * The destination of a request as metrics see it. Only `service` is required; every other
 * field defaults (`unknown`, or `latest` for the canonical revision). Pass the same object for
 * every request to the same destination (e.g. one per cluster or endpoint, built with the
 * snapshot): MeshMetrics caches its series by object identity.
 */
export interface DestinationLabels {
  /** Service FQDN (`reviews.default.svc.cluster.local`), or the Host header for passthrough. */
  service: string;
  /** Default: `service` up to its first dot. */
  serviceName?: string;
  /** Default: `service`'s second DNS label when it looks like `<name>.<ns>.svc...`, else `unknown`. */
  serviceNamespace?: string;
  workload?: string;
  workloadNamespace?: string;
  principal?: string;
  app?: string;
  version?: string;
  cluster?: string;
  canonicalService?: string;
  canonicalRevision?: string;
}

/** Fills a destination's defaults. Pure; called once per distinct destination. */
export function resolveDestination(d: DestinationLabels): Required<DestinationLabels> {
  const service = d.service || UNKNOWN;
  const dot = service.indexOf('.');
  const parts = service.split('.');
  const looksLikeSvc = parts.length >= 3 && parts[2] === 'svc';
  return {
    service,
    serviceName: d.serviceName || (dot > 0 ? service.slice(0, dot) : service),
    serviceNamespace: d.serviceNamespace || (looksLikeSvc ? parts[1] : UNKNOWN),
    workload: d.workload || UNKNOWN,
    workloadNamespace: d.workloadNamespace || UNKNOWN,
    principal: d.principal || UNKNOWN,
    app: d.app || UNKNOWN,
    version: d.version || UNKNOWN,
    cluster: d.cluster || UNKNOWN,
    // Same fallbacks as a pod's canonical labels: the app, then the workload; the version.
    canonicalService: d.canonicalService || d.app || d.workload || UNKNOWN,
    canonicalRevision: d.canonicalRevision || d.version || LATEST,
  };
}

/**
 * Destination labels for a request to `service` served by a known endpoint (its WorkloadEntry
 * or ServiceEntry endpoint labels), so Kiali's versioned-app and workload graphs resolve even
 * though a source report normally learns the peer only through metadata exchange. Without an
 * endpoint everything but the service is `unknown`, as Istio reports an unknown peer.
 */
export function destinationFor(service: string, serviceNamespace?: string, endpoint?: WorkloadInfo): DestinationLabels {
  if (endpoint === undefined) return { service, serviceNamespace };
  const w = workloadLabels(endpoint);
  return {
    service,
    serviceNamespace,
    workload: w.workload,
    workloadNamespace: w.namespace,
    principal: w.principal,
    app: w.app,
    version: w.version,
    cluster: w.cluster,
    canonicalService: w.canonicalService,
    canonicalRevision: w.canonicalRevision,
  };
}
