/**
 * Every YAML file under examples/ passes `isthmus validate` and `isthmus analyze`, applied
 * the way the docs tell users to apply it:
 *
 * - `examples/bookinfo/` as one folder (what `isthmus demo` loads);
 * - each `examples/guides/<topic>/` folder on its own (`isthmus validate -f examples/guides/<topic>`
 *   in docs/guides/);
 * - each `examples/tasks/<task>/` folder on its own for `validate` (examples/tasks/README.md:
 *   "each validates on its own"), and for both `validate` and `analyze` together with the
 *   Bookinfo files and namespace that the README's `isthmus run` command combines it with (a
 *   task alone references Bookinfo's hosts and subsets, so analyzing it alone must report them
 *   missing, which is Istio's behaviour too).
 *
 * The CLI runs in-process (as in test/cli.test.ts). A last test checks that these sets cover
 * every YAML file in examples/, so a new example folder cannot escape validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CommanderError } from 'commander';
import { buildProgram } from '../src/cli/program.js';
import { memoryOutput } from '../src/cli/output.js';
import { REPO_ROOT } from './support/harness.js';

/** Runs the CLI in-process from the repository root (paths as users type them). */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = memoryOutput();
  let code = 0;
  const program = buildProgram(o, (c) => (code = c));
  const cwd = process.cwd();
  process.chdir(REPO_ROOT);
  try {
    await program.parseAsync(['node', 'isthmus', ...args]);
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 2;
    else {
      o.stderr(`isthmus: ${(e as Error).message}`);
      code = 2;
    }
  } finally {
    process.chdir(cwd);
  }
  return { code, out: o.out.join('\n'), err: o.err.join('\n') };
}

interface Finding {
  file: string;
  line: number;
  column: number;
  severity: string;
  message: string;
}

/** `<command> --json` over `args`: exit 0, parseable output, and no error-severity finding. */
async function assertClean(command: 'validate' | 'analyze', args: string[]): Promise<Finding[]> {
  const r = await cli(command, '--json', ...args);
  const shown = `isthmus ${command} ${args.join(' ')}\n${r.out}\n${r.err}`;
  let findings: Finding[];
  try {
    findings = JSON.parse(r.out) as Finding[];
  } catch {
    assert.fail(`not JSON from ${shown}`);
  }
  const errors = findings.filter((f) => f.severity === 'error').map((f) => `${f.file}:${f.line}:${f.column}: ${f.message}`);
  assert.deepEqual(errors, [], shown);
  assert.equal(r.code, 0, shown);
  return findings;
}

const EXAMPLES = join(REPO_ROOT, 'examples');
const rel = (p: string): string => relative(REPO_ROOT, p);

/** YAML files under `dir`, recursively, as repository-relative paths. */
function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(rel(p));
  }
  return out.sort();
}

/** Sub-folders of `dir` that hold at least one YAML file (e.g. not guides/certs). */
function yamlFolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isDirectory() && yamlFiles(p).length > 0)
    .map(rel)
    .sort();
}

/**
 * What examples/tasks/README.md says a task is run with: the `-f` files other than the task
 * folder and the `--namespace` of its `isthmus run` command (continuation lines joined).
 */
function taskCompanions(): { files: string[]; namespace: string } {
  const readme = readFileSync(join(EXAMPLES, 'tasks', 'README.md'), 'utf8').replace(/\\\n\s*/g, ' ');
  const cmd = /isthmus run ([^\n]+)/.exec(readme)?.[1];
  assert.ok(cmd, 'examples/tasks/README.md shows the `isthmus run` command a task is run with');
  const words = cmd.trim().split(/\s+/);
  const files: string[] = [];
  let namespace = 'default';
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '-f' && !words[i + 1]!.startsWith('examples/tasks/')) files.push(words[i + 1]!);
    if (words[i] === '--namespace') namespace = words[i + 1]!;
  }
  assert.ok(files.length > 0, `the README's run command names the Bookinfo files: ${cmd}`);
  for (const f of files) assert.ok(existsSync(join(REPO_ROOT, f)), `${f} (named in examples/tasks/README.md) exists`);
  return { files, namespace };
}

const GUIDES = yamlFolders(join(EXAMPLES, 'guides'));
const TASKS = yamlFolders(join(EXAMPLES, 'tasks'));
const covered = new Set<string>();

test('examples/bookinfo (the demo config) validates and analyzes clean', async () => {
  await assertClean('validate', ['-f', 'examples/bookinfo']);
  await assertClean('analyze', ['-f', 'examples/bookinfo']);
  for (const f of yamlFiles(join(EXAMPLES, 'bookinfo'))) covered.add(f);
});

test('there are guide and task example folders to check', () => {
  assert.ok(GUIDES.length >= 5, `guides: ${GUIDES.join(', ')}`);
  assert.ok(TASKS.length >= 3, `tasks: ${TASKS.join(', ')}`);
});

for (const folder of GUIDES) {
  test(`${folder} validates and analyzes clean on its own (as docs/guides/ apply it)`, async () => {
    await assertClean('validate', ['-f', folder]);
    await assertClean('analyze', ['-f', folder]);
    for (const f of yamlFiles(join(REPO_ROOT, folder))) covered.add(f);
  });
}

for (const folder of TASKS) {
  test(`${folder} validates on its own, and validates and analyzes clean with the Bookinfo files the README runs it with`, async () => {
    await assertClean('validate', ['-f', folder]);
    const { files, namespace } = taskCompanions();
    const args = [...files.flatMap((f) => ['-f', f]), '-f', folder, '--namespace', namespace];
    await assertClean('validate', args);
    await assertClean('analyze', args);
    for (const f of yamlFiles(join(REPO_ROOT, folder))) covered.add(f);
  });
}

test('the checks above covered every YAML file in examples/', () => {
  const missed = yamlFiles(EXAMPLES).filter((f) => !covered.has(f));
  assert.deepEqual(missed, [], 'YAML in examples/ that no test validated (add its folder to test/examples.test.ts)');
});
