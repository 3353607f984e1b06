/**
 * Merging metrics from N worker processes into one `/stats/prometheus`.
 *
 * prom-client's own route (`getMetricsAsJSON` in each worker, `AggregatorRegistry.aggregate`
 * in the primary) spells every label out on every histogram bucket row. With Istio's 25 labels
 * and 3 histograms x 22 rows per series, 300 series become ~20k labelled rows and ~17 MB of
 * JSON per worker; measured on the dev box: ~0.7 s to build in the worker (a stall on the
 * request path) and ~1 s to merge. So the cell-backed families travel in compact form — one
 * label object and one number array per series — and are merged here by label set, with
 * each family's prom-client aggregator (`sum`, `max`, `min`, `first`, `average`, `omit`).
 * Metrics that prom-client owns natively (the optional Node process metrics) still go through
 * `AggregatorRegistry.aggregate`, and prom-client renders the merged result.
 */
import { AggregatorRegistry, Registry } from 'prom-client';
import {
  HistogramFamily,
  MetricFamily,
  ScalarFamily,
  cellFromCompact,
  type CompactFamily,
  type HistogramCell,
  type Labels,
} from './exposition.js';

const FORMAT = 'isthmus-metrics/1';

/** What a worker sends to the primary (JSON-serialisable, fits node:cluster IPC). */
export interface MetricsSnapshot {
  format: typeof FORMAT;
  /** Cell-backed families, compact. */
  families: CompactFamily[];
  /** prom-client JSON (`getMetricsAsJSON` shape) of the registry's native prom-client metrics. */
  native: unknown[];
}

/** Snapshots a registry: compact form for cell-backed families, prom-client JSON for the rest. */
export async function snapshotRegistry(registry: Registry): Promise<MetricsSnapshot> {
  const families: CompactFamily[] = [];
  const native: Array<Promise<unknown>> = [];
  for (const m of registry.getMetricsAsArray() as unknown[]) {
    if (m instanceof MetricFamily) families.push(m.compact());
    else native.push((m as { get(): Promise<unknown> }).get());
  }
  return { format: FORMAT, families, native: await Promise.all(native) };
}

function isSnapshot(p: unknown): p is MetricsSnapshot {
  return typeof p === 'object' && p !== null && (p as { format?: unknown }).format === FORMAT;
}

interface MergedSeries {
  labels: Labels;
  v: number[];
  n: number;
  cell?: HistogramCell;
}

interface MergedFamily {
  head: CompactFamily;
  series: Map<string, MergedSeries>;
}

function seriesKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  let k = '';
  for (const name of keys) k += `${name}\u0000${labels[name]}\u0001`;
  return k;
}

function combine(aggregator: string, into: number[], from: readonly number[]): void {
  for (let i = 0; i < into.length; i++) {
    const a = into[i];
    const b = from[i] ?? 0;
    if (aggregator === 'max') into[i] = Math.max(a, b);
    else if (aggregator === 'min') into[i] = Math.min(a, b);
    else if (aggregator !== 'first') into[i] = a + b; // sum, average (divided at the end)
  }
}

/** Merges compact families from several processes (same name + same label set = one series). */
export function mergeCompact(parts: ReadonlyArray<readonly CompactFamily[]>): Registry {
  const byName = new Map<string, MergedFamily>();
  for (const families of parts) {
    for (const f of families) {
      if (f.aggregator === 'omit') continue;
      let m = byName.get(f.name);
      if (m === undefined) {
        m = { head: f, series: new Map() };
        byName.set(f.name, m);
      }
      // Histograms always sum: buckets, sum and count are all additive.
      const aggregator = f.type === 'histogram' ? 'sum' : m.head.aggregator;
      for (const s of f.series) {
        const key = seriesKey(s.labels);
        const e = m.series.get(key);
        if (e === undefined) m.series.set(key, { labels: s.labels, v: [...s.v], n: 1 });
        else if (e.v.length === s.v.length) {
          combine(aggregator, e.v, s.v);
          e.n++;
        }
      }
    }
  }
  const registry = new Registry();
  for (const { head, series } of byName.values()) {
    const list = [...series.values()];
    if (head.type === 'histogram') {
      const bounds = Float64Array.from(head.bounds ?? []);
      for (const s of list) s.cell = cellFromCompact(bounds, s.v);
      new HistogramFamily<MergedSeries>({
        name: head.name, help: head.help, series: () => list, labels: (s) => s.labels, cell: (s) => s.cell ?? null,
      }).register(registry);
    } else {
      if (head.aggregator === 'average') for (const s of list) s.v[0] /= s.n;
      new ScalarFamily<MergedSeries>(head.type, {
        name: head.name, help: head.help, aggregator: head.aggregator, series: () => list, labels: (s) => s.labels, value: (s) => s.v[0],
      }).register(registry);
    }
  }
  return registry;
}

/**
 * Merges worker snapshots into one Prometheus text. Accepts `MetricsSnapshot`s and plain
 * prom-client `getMetricsAsJSON()` arrays (those go through `AggregatorRegistry.aggregate`).
 */
export function aggregateSnapshots(parts: readonly unknown[]): Promise<string> {
  const compact: CompactFamily[][] = [];
  const native: object[][] = [];
  for (const p of parts) {
    if (isSnapshot(p)) {
      compact.push(p.families);
      if (p.native.length > 0) native.push(p.native as object[]);
    } else if (Array.isArray(p)) native.push(p as object[]);
  }
  const merged = mergeCompact(compact);
  if (native.length > 0) {
    for (const m of AggregatorRegistry.aggregate(native).getMetricsAsArray()) {
      // A name the compact path already merged wins (a worker mixing both forms).
      if (merged.getSingleMetric(m.name) === undefined) merged.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
    }
  }
  return merged.metrics();
}
