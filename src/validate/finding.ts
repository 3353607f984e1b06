/** What a per-kind validator returns: a field path inside the resource plus a message. */
import type { FieldPath, Severity } from '../core/diagnostics.js';

export interface Finding {
  /** Path from the resource root, e.g. ['spec', 'http', 0, 'route']. */
  path: FieldPath;
  message: string;
  /** Defaults to 'error' (the resource is rejected); 'warning' admits it. */
  severity?: Severity;
  /** Stable code when the finding has an Istio analyzer twin (e.g. IST0130). */
  code?: string;
}

export interface ValidateContext {
  /** DNS domain suffix for short-name expansion (default `cluster.local`). */
  domain: string;
}

/** Small helper used by every validator: collects findings under a base path. */
export class Findings {
  readonly list: Finding[] = [];
  error(path: FieldPath, message: string, code?: string): void {
    this.list.push({ path, message, severity: 'error', ...(code ? { code } : {}) });
  }
  warn(path: FieldPath, message: string, code?: string): void {
    this.list.push({ path, message, severity: 'warning', ...(code ? { code } : {}) });
  }
}
