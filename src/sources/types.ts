/**
 * What a config source hands to the control plane: the full current set of config texts
 * (never a delta), so the consumer can rebuild from scratch and a lost event can never
 * leave it half-updated. Shared by the file source now and a Kubernetes source later.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../core/diagnostics.js';

/** One config text as read from its source. */
export interface SourceFile {
  /** Path as shown in diagnostics (relative to cwd when inside it; `<stdin>` for stdin). */
  readonly path: string;
  readonly text: string;
  /** sha256 of `text` (hex); computed by the consumer when absent. */
  readonly hash?: string;
}

/** The complete state of one source at one moment. */
export interface SourceUpdate {
  /** Every config file, in load order (argument order; sorted within folders). */
  readonly files: readonly SourceFile[];
  /** Problems reading the source (missing path, unreadable file): always `error` severity. */
  readonly diagnostics: readonly Diagnostic[];
  /** Fingerprint of files + diagnostics; equal fingerprints mean nothing changed. */
  readonly fingerprint: string;
}

/** sha256 hex of a text. */
export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Fingerprint of a whole input set: file paths and content hashes in order, plus read
 * diagnostics (a file turning unreadable is a change even though no text changed).
 */
export function fingerprintOf(files: readonly SourceFile[], diagnostics: readonly Diagnostic[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`f\0${f.path}\0${f.hash ?? hashText(f.text)}\n`);
  for (const d of diagnostics) h.update(`d\0${d.file}\0${d.line}\0${d.column}\0${d.severity}\0${d.message}\n`);
  return h.digest('hex');
}
