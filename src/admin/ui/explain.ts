/**
 * The dashboard's "explain a request" form: the same `explain()` and `formatExplain()` as
 * `isthmus explain`, run on a proxy's *serving* snapshot (what its data plane routes with
 * right now), or, with `gateway`, on a snapshot compiled for that Gateway from the serving
 * config. Nothing is mutated; compiled gateway snapshots are cached per config version.
 */
import { compileSnapshot } from '../../compile/index.js';
import type { ConfigState } from '../../controlplane/store.js';
import { explain, type ExplainResult } from '../../explain/explain.js';
import { formatExplain } from '../../explain/format.js';
import type { ProxyIdentity, Snapshot } from '../../snapshot/types.js';
import type { DashboardSource } from './types.js';

/** What the form (or a script) posts to `/ui/explain`. */
export interface UiExplainRequest {
  /** `http://host[:port]/path?query` (as `isthmus explain URL`). */
  url: string;
  /** Default GET. */
  method: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** `ns/name` (or `name` in the proxy's namespace): explain as that Gateway would route. */
  gateway: string | null;
  /** The dashboard source (proxy) to explain for; default the first one with a serving config. */
  source: string | null;
}

export interface UiExplainResponse {
  source: string;
  gateway: string | null;
  configVersion: number;
  result: ExplainResult;
  /** `isthmus explain`'s text output for the same request. */
  text: string;
}

/** A bad explain request: the message is for the user (HTTP 400). */
export class ExplainInputError extends Error {}

const MAX_HEADERS = 64;

function str(v: unknown, field: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw new ExplainInputError(`${field} must be a string`);
  return v;
}

/** Parses `Name: value` lines (or an object) into lower-cased headers; repeated names join with `,`. */
export function parseHeaderInput(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (name: string, value: string): void => {
    const n = name.trim().toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(n)) throw new ExplainInputError(`invalid header name "${name}"`);
    out[n] = n in out ? `${out[n]},${value.trim()}` : value.trim();
  };
  if (v === undefined || v === null || v === '') return out;
  const lines = typeof v === 'string' ? v.split(/\r?\n/) : Array.isArray(v) ? v : null;
  if (lines) {
    for (const line of lines) {
      if (typeof line !== 'string') throw new ExplainInputError('headers must be strings like "Name: value"');
      if (!line.trim()) continue;
      const i = line.indexOf(':');
      if (i <= 0) throw new ExplainInputError(`invalid header "${line}": use "Name: value"`);
      add(line.slice(0, i), line.slice(i + 1));
    }
  } else if (typeof v === 'object') {
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (typeof val !== 'string') throw new ExplainInputError(`header ${k} must have a string value`);
      add(k, val);
    }
  } else throw new ExplainInputError('headers must be an object, a list of "Name: value" strings, or one per line');
  if (Object.keys(out).length > MAX_HEADERS) throw new ExplainInputError(`at most ${MAX_HEADERS} headers`);
  return out;
}

/** Validates a JSON body (or query parameters turned into one). */
export function parseExplainRequest(body: unknown): UiExplainRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ExplainInputError('expected a JSON object like {"url": "http://reviews:9080/", "headers": {"end-user": "jason"}}');
  const b = body as Record<string, unknown>;
  const url = str(b.url, 'url');
  if (!url) throw new ExplainInputError('url is required, e.g. http://reviews:9080/');
  const method = (str(b.method, 'method') ?? 'GET').toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new ExplainInputError(`invalid method "${method}"`);
  return { url, method, headers: parseHeaderInput(b.headers), gateway: str(b.gateway, 'gateway'), source: str(b.source, 'source') };
}

const gatewaySnapshots = new WeakMap<ConfigState, Map<string, Snapshot>>();

/** A snapshot compiled for one Gateway from a serving config (as `isthmus explain --gateway`). */
function gatewaySnapshot(state: ConfigState, gateway: string, defaultNs: string): { snap: Snapshot; name: string } {
  const [ns, name] = gateway.includes('/') ? gateway.split('/', 2) : [defaultNs, gateway];
  const key = `${ns}/${name}`;
  let byName = gatewaySnapshots.get(state);
  const hit = byName?.get(key);
  if (hit) return { snap: hit, name: key };
  const gw = state.config.gateways.find((g) => g.meta.namespace === ns && g.meta.name === name);
  if (!gw) {
    const known = state.config.gateways.map((g) => `${g.meta.namespace}/${g.meta.name}`).join(', ') || 'none';
    throw new ExplainInputError(`gateway ${key} not found in the serving config (Gateways: ${known})`);
  }
  const proxy: ProxyIdentity = { role: 'gateway', namespace: ns, labels: { ...(gw.spec.selector ?? {}) }, gateways: [key] };
  const snap = compileSnapshot(state.config, state.registry, proxy, state.snapshot.options);
  if (!byName) {
    byName = new Map();
    gatewaySnapshots.set(state, byName);
  }
  byName.set(key, snap);
  return { snap, name: key };
}

/** Runs explain for a parsed request against the chosen source's serving config. */
export function explainOnSources(sources: readonly DashboardSource[], req: UiExplainRequest): UiExplainResponse {
  let src: DashboardSource | undefined;
  if (req.source !== null) {
    src = sources.find((s) => s.id === req.source);
    if (!src) throw new ExplainInputError(`unknown proxy "${req.source}" (proxies: ${sources.map((s) => s.id).join(', ') || 'none'})`);
  } else src = sources.find((s) => s.configState() !== null);
  const state = src?.configState() ?? null;
  if (!src || !state) throw new ExplainInputError('no config is serving yet');
  let snap = state.snapshot;
  let gateway: string | null = null;
  if (req.gateway !== null) ({ snap, name: gateway } = gatewaySnapshot(state, req.gateway, src.identity().namespace));
  let result: ExplainResult;
  try {
    result = explain(snap, { method: req.method, url: req.url, headers: req.headers });
  } catch (e) {
    throw new ExplainInputError((e as Error).message);
  }
  return { source: src.id, gateway, configVersion: state.version, result, text: formatExplain(result) };
}
