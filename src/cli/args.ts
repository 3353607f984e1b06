/** Small argument parsers shared by the commands. */

/** A user mistake in flags or arguments: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

/** `k=v,k2=v2` -> record. */
export function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const part of s.split(',')) {
    if (!part.trim()) continue;
    const i = part.indexOf('=');
    if (i <= 0) throw new UsageError(`invalid label "${part}": use key=value[,key=value...]`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** `-H 'Name: value'` list -> lower-cased header record (repeated names joined with ','). */
export function parseHeaders(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const i = h.indexOf(':');
    if (i <= 0) throw new UsageError(`invalid header "${h}": use -H 'Name: value'`);
    const name = h.slice(0, i).trim().toLowerCase();
    const value = h.slice(i + 1).trim();
    out[name] = name in out ? `${out[name]},${value}` : value;
  }
  return out;
}

export function parsePort(s: string, flag: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag}: "${s}" is not a port number (0-65535)`);
  return n;
}
