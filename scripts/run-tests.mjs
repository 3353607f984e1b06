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
// --test-timeout: a stuck test or hook fails after 2 min instead of stalling the run (with
// files run as child processes, Node 20 applies it to each whole file as well).
// --test-force-exit (Node >= 20.14): a file whose tests are all done exits even if a handle
// it leaked (a server, socket or timer left open) would keep its process alive; otherwise
// that file sits until the timeout and is reported as cancelled, which is a test-hygiene
// bug, not a product failure. Leaks are still worth fixing: run a file alone without this
// flag (`node --import tsx --test FILE`) to see whether it exits by itself.
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-timeout=120000', '--test-force-exit', ...flags, ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
