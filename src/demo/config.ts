/**
 * The demo's working config: a copy of the bundled `examples/bookinfo/` in a folder the demo
 * watches, so the "edit this file" steps never touch the repository's examples. Endpoints on
 * loopback at the examples' well-known ports (19080-19086) are moved to the ports the demo
 * services really got (`--service-ports`); nothing else changes, comments included.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';

/** `examples/bookinfo/` of this installation (the same from `src/demo` and `dist/demo`). */
export function bundledConfigDir(): string {
  return fileURLToPath(new URL('../../examples/bookinfo/', import.meta.url));
}

const CONFIG_FILE = /\.(ya?ml|json)$/i;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Config files under `dir` (recursively), as paths relative to it, sorted. */
export function listConfigFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (CONFIG_FILE.test(name)) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

/**
 * Writes the config of `fromDir` into `toDir` with loopback endpoint ports mapped by `ports`
 * (example port -> real port). Returns the files written (absolute paths).
 */
export function writeWorkingConfig(fromDir: string, toDir: string, ports: ReadonlyMap<number, number>): string[] {
  const files = listConfigFiles(fromDir);
  if (files.length === 0) throw new Error(`no config files (*.yaml, *.yml, *.json) in ${fromDir}`);
  const identity = [...ports].every(([a, b]) => a === b);
  const written: string[] = [];
  for (const rel of files) {
    const text = readFileSync(join(fromDir, rel), 'utf8');
    const out = join(toDir, rel);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, identity || !/\.ya?ml$/i.test(rel) ? text : remapEndpointPorts(text, ports));
    written.push(out);
  }
  return written;
}

/**
 * Moves loopback endpoint ports of ServiceEntries (`spec.endpoints[].ports`) and
 * WorkloadEntries (`spec.ports`) per `ports`. YAML text in, YAML text out; a document that
 * does not parse is left as it is (validation reports it with its line later).
 */
export function remapEndpointPorts(text: string, ports: ReadonlyMap<number, number>): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.some((d) => d.errors.length > 0)) return text;
  // Edits in place, by source offsets, so the file keeps its layout and comments exactly.
  const edits: Edit[] = [];
  for (const doc of docs) {
    const kind = doc.get('kind');
    if (kind === 'ServiceEntry') {
      const eps = doc.getIn(['spec', 'endpoints']);
      if (isSeq(eps)) for (const ep of eps.items) if (isMap(ep)) portEdits(ep.get('address'), ep.get('ports'), ports, edits);
    } else if (kind === 'WorkloadEntry') {
      portEdits(doc.getIn(['spec', 'address']), doc.getIn(['spec', 'ports']), ports, edits);
    }
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function portEdits(address: unknown, map: unknown, ports: ReadonlyMap<number, number>, edits: Edit[]): void {
  if (typeof address !== 'string' || !LOOPBACK.has(address) || !isMap(map)) return;
  for (const pair of map.items) {
    const v = pair.value;
    if (!isScalar(v) || typeof v.value !== 'number' || !v.range) continue;
    const to = ports.get(v.value);
    if (to !== undefined && to !== v.value) edits.push({ start: v.range[0], end: v.range[1], text: String(to) });
  }
}
