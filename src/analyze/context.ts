/**
 * What every analyzer receives: the valid config, the registry built from it, the
 * options, and a sink for findings. Analyzers are pure functions of this context.
 */
import type { Diagnostic, FieldPath } from '../core/diagnostics.js';
import type { RawResource } from '../api/resource.js';
import type { ConfigSet } from '../api/types.js';
import type { Registry } from '../registry/types.js';
import { toDiagnostic } from '../validate/index.js';
import type { MessageType } from './messages.js';

export interface AnalyzeOptions {
  /** DNS domain suffix, e.g. `cluster.local` (short names become `name.ns.svc.<domain>`). */
  domain: string;
  /** Mesh root namespace (DestinationRule/Sidecar fallbacks), e.g. `istio-system`. */
  rootNamespace: string;
}

export interface AnalyzeContext extends AnalyzeOptions {
  readonly config: ConfigSet;
  readonly registry: Registry;
}

/** Collects findings; each one points at a field of the resource it is reported on. */
export class Report {
  readonly list: Diagnostic[] = [];

  add(r: RawResource, path: FieldPath, m: MessageType, message: string): void {
    this.list.push({ ...toDiagnostic(r, { path, message, severity: m.severity }), code: m.code });
  }
}

/** An analyzer: reads the context, reports into `out`. */
export type Analyzer = (ctx: AnalyzeContext, out: Report) => void;

/** `ns/name`, the way Istio names resources in analyzer messages. */
export function fullName(r: { meta: { namespace: string; name: string } }): string {
  return `${r.meta.namespace}/${r.meta.name}`;
}
