/**
 * Metric families that read plain in-memory cells and present themselves to a prom-client
 * `Registry` at scrape time.
 *
 * Why not prom-client's own Counter/Histogram on the request path: every `inc`/`observe`,
 * even through a `labels(...)` child, re-validates and re-hashes all label values (25 for Istio
 * metrics), which costs microseconds per request. Here the request path bumps numbers in a
 * cached cell; the label object is built once per series, and prom-client does the text
 * rendering (`Registry.metrics()`) and JSON (`getMetricsAsJSON()`). The families follow the
 * duck-typed contract prom-client itself uses for aggregated metrics: `name`, `help`, `type`,
 * `aggregator`, `get()`, `reset()`, plus `getForPromString()` for text rendering.
 *
 * For cross-process merging they also offer `compact()`: one label object and one number
 * array per series (see aggregation.ts), instead of prom-client's one labelled row per bucket.
 */
import type { Aggregator, Registry } from 'prom-client';

/** Label set of one series; built once, never mutated (prom-client caches its rendering). */
export type Labels = Readonly<Record<string, string>>;

/** A value row as prom-client's registry consumes it. */
interface ValueRow {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  sharedLabels?: Labels;
}

interface FamilyData {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: ValueRow[];
  aggregator: Aggregator;
}

/** One series in compact form: scalar `[value]`; histogram `[...bucketCounts, +Inf, sum, count]`. */
export interface CompactSeries {
  labels: Labels;
  v: number[];
}

/** One family in compact form (what a worker sends to the primary). */
export interface CompactFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: Aggregator;
  /** Histogram upper bounds (finite ones). */
  bounds?: number[];
  series: CompactSeries[];
}

/**
 * Fixed-bucket histogram storage: non-cumulative counts per bucket (+Inf last), sum, count.
 * `observe` is a short linear scan: with latency-ordered buckets most values stop early.
 * Bounds are a Float64Array shared by all cells of a family: V8 indexes a frozen JS array
 * several times slower than a typed (or unfrozen) one, and this loop runs 3x per request.
 */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

interface FamilyOptions<S> {
  name: string;
  help: string;
  /** How series from several worker processes merge: `sum` (default), `max`, `min`, ... */
  aggregator?: Aggregator;
  /** The live series; read at scrape time only. */
  series: () => Iterable<S>;
  labels: (s: S) => Labels;
  /** Leave out series whose value is 0 (families that share series with others). */
  skipZero?: boolean;
}

const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Base of the cell-backed families. */
export abstract class MetricFamily<S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator: Aggregator;
  protected readonly opts: FamilyOptions<S>;
  constructor(opts: FamilyOptions<S>) {
    this.name = opts.name;
    this.help = opts.help;
    this.aggregator = opts.aggregator ?? 'sum';
    this.opts = opts;
  }
  abstract readonly type: FamilyData['type'];
  /** Text rendering: series labels go in `sharedLabels` so prom-client formats them once. */
  abstract getForPromString(): Promise<FamilyData>;
  /** prom-client JSON (`getMetricsAsJSON`): labels spelled out on every row. */
  abstract get(): Promise<FamilyData>;
  /** Compact snapshot for cross-process merging. */
  abstract compact(): CompactFamily;
  /** Registry.resetMetrics() hook: a no-op, the cells belong to their owner. */
  reset(): void {}
  /** Registers the family with a prom-client registry (duck-typed like prom-client's own wrappers). */
  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
    return this;
  }
  protected data(values: ValueRow[]): FamilyData {
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
  protected header(): Omit<CompactFamily, 'series'> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator };
  }
}

/** A counter or gauge whose value per series comes from `value(s)`. */
export class ScalarFamily<S> extends MetricFamily<S> {
  readonly type: 'counter' | 'gauge';
  private readonly value: (s: S) => number;
  constructor(type: 'counter' | 'gauge', opts: FamilyOptions<S> & { value: (s: S) => number }) {
    super(opts);
    this.type = type;
    this.value = opts.value;
  }
  private each(f: (s: S, value: number) => void): void {
    const skipZero = this.opts.skipZero === true;
    for (const s of this.opts.series()) {
      const value = this.value(s);
      if (!(skipZero && value === 0)) f(s, value);
    }
  }
  getForPromString(): Promise<FamilyData> {
    const rows: ValueRow[] = [];
    this.each((s, value) => rows.push({ value, labels: NO_LABELS, sharedLabels: this.opts.labels(s) }));
    return Promise.resolve(this.data(rows));
  }
  get(): Promise<FamilyData> {
    const rows: ValueRow[] = [];
    this.each((s, value) => rows.push({ value, labels: { ...this.opts.labels(s) } }));
    return Promise.resolve(this.data(rows));
  }
  compact(): CompactFamily {
    const series: CompactSeries[] = [];
    this.each((s, value) => series.push({ labels: this.opts.labels(s), v: [value] }));
    return { ...this.header(), series };
  }
}

/** A histogram whose cell per series comes from `cell(s)` (null: series has no data for it). */
export class HistogramFamily<S> extends MetricFamily<S> {
  readonly type = 'histogram' as const;
  private readonly cell: (s: S) => HistogramCell | null;
  constructor(opts: FamilyOptions<S> & { cell: (s: S) => HistogramCell | null }) {
    super(opts);
    this.cell = opts.cell;
  }
  private each(f: (shared: Labels, c: HistogramCell) => void): void {
    for (const s of this.opts.series()) {
      const c = this.cell(s);
      if (c !== null && c.count > 0) f(this.opts.labels(s), c);
    }
  }
  /** `split`: labels spelled out per row (JSON) instead of shared (text rendering). */
  private rows(split: boolean): ValueRow[] {
    const rows: ValueRow[] = [];
    const bucket = `${this.name}_bucket`;
    const sum = `${this.name}_sum`;
    const count = `${this.name}_count`;
    const push = (shared: Labels, metricName: string, value: number, extra: Record<string, string | number>): void => {
      rows.push(split ? { value, metricName, labels: { ...extra, ...shared } } : { value, metricName, labels: extra, sharedLabels: shared });
    };
    this.each((shared, c) => {
      let acc = 0;
      for (let i = 0; i < c.bounds.length; i++) {
        acc += c.counts[i];
        push(shared, bucket, acc, { le: c.bounds[i] });
      }
      push(shared, bucket, c.count, { le: '+Inf' });
      push(shared, sum, c.sum, {});
      push(shared, count, c.count, {});
    });
    return rows;
  }
  getForPromString(): Promise<FamilyData> {
    return Promise.resolve(this.data(this.rows(false)));
  }
  get(): Promise<FamilyData> {
    return Promise.resolve(this.data(this.rows(true)));
  }
  compact(): CompactFamily {
    const series: CompactSeries[] = [];
    let bounds: number[] | undefined;
    this.each((labels, c) => {
      bounds ??= Array.from(c.bounds);
      series.push({ labels, v: [...c.counts, c.sum, c.count] });
    });
    return { ...this.header(), bounds: bounds ?? [], series };
  }
}

/** Cell for a merged histogram series (aggregation.ts): counts, then sum, then count. */
export function cellFromCompact(bounds: Float64Array, v: readonly number[]): HistogramCell {
  const c = new HistogramCell(bounds);
  for (let i = 0; i < c.counts.length; i++) c.counts[i] = v[i];
  c.sum = v[c.counts.length];
  c.count = v[c.counts.length + 1];
  return c;
}
