#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node's built-in runner (Node 20's
// `--test` does not expand globs, so the files are listed here). Extra args are
// passed through, e.g. `npm test -- --test-name-pattern=gateway`.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const explicit = args.filter((a) => !a.startsWith('--'));
const flags = args.filter((a) => a.startsWith('--'));
const files = explicit.length ? explicit : [...collect('src', []), ...collect('test', [])].sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-timeout=120000', ...flags, ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
