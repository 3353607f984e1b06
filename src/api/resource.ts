/**
 * The loaded, not-yet-validated form of one Istio resource: its raw JSON value plus
 * where it came from, so every later diagnostic can point at `file:line:col`.
 */
import type { FieldPath, SourcePos } from '../core/diagnostics.js';

export const KINDS = [
  'VirtualService',
  'DestinationRule',
  'Gateway',
  'ServiceEntry',
  'Sidecar',
  'WorkloadEntry',
] as const;
export type Kind = (typeof KINDS)[number];

export const API_GROUP = 'networking.istio.io';
export const API_VERSIONS = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'];

export function isKind(k: unknown): k is Kind {
  return typeof k === 'string' && (KINDS as readonly string[]).includes(k);
}

/** Maps a field path inside a resource to a position in its source file. */
export interface SourceLocator {
  readonly file: string;
  /** Position of the deepest existing node on `path` (the key when the last segment is a map key). */
  locate(path: FieldPath): SourcePos;
}

export interface ResourceMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** metadata.creationTimestamp if given (RFC 3339), else undefined. */
  creationTimestamp?: string;
}

/** A resource as loaded: shape unchecked beyond `apiVersion`/`kind`/`metadata.name`. */
export interface RawResource {
  readonly apiVersion: string;
  readonly kind: Kind;
  readonly meta: ResourceMeta;
  /** The whole document as plain JSON (apiVersion, kind, metadata, spec, status...). */
  readonly raw: Record<string, unknown>;
  readonly source: SourceLocator;
  /**
   * Load order across all inputs. Istio orders same-host config by creationTimestamp,
   * then name, then namespace; in file mode the order of appearance stands in for time.
   */
  readonly seq: number;
}

/** `ns/name` — how resources are referred to in messages and in `explain` output. */
export function resourceKey(r: { kind: string; meta: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.meta.namespace}/${r.meta.name}`;
}
