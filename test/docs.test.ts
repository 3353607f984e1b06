/**
 * Every command shown in the docs runs, and prints what the docs say it prints.
 *
 * Scans README.md, docs/**\/*.md and examples/**\/*.md for code blocks: fenced (`console`,
 * `sh`, `bash`, `shell`, `text` or no language) and indented. In a block, a command is a line
 * starting with `npx isthmus`, `isthmus <subcommand>`, `curl`, `node`, `kill`, `printf`,
 * `echo`, or a `for` loop over those — after an optional `$ ` prompt and `VAR=value`
 * prefixes; when a block uses `$ ` prompts, only prompted lines are commands. A trailing `\`
 * continues a command on the next line. The lines after a command, up to the next one, are
 * its output as the docs show it. Each page is one session: what it starts in the background
 * lives until a `kill` line or the end of the page.
 *
 * How each command runs, from the repository root and with no build (`npx isthmus` and
 * `isthmus` mean `node --import tsx src/cli/main.ts`):
 * - `isthmus validate|analyze|explain|--help|--version`: in-process through `buildProgram`,
 *   as test/cli.test.ts does (through bash when the line has pipes or redirects).
 * - `isthmus run ...`, with or without `&`: a process, started once it prints `ready`.
 *   `--outbound-port` and `--admin-port` are moved to free ports; a gateway keeps its
 *   `--port-offset` when those ports are free (config may point at them, as an egress
 *   gateway's ServiceEntry does), else gets another. Later commands and expected output are
 *   rewritten to match (`:15001` becomes `:<actual>`). `--concurrency 1` is added when the
 *   docs give none (faster; the output shown does not depend on it). A page may start a new
 *   proxy on the ports of one it ran in the foreground (the reader pressed Ctrl-C, as the
 *   page says); the old one is stopped first. Its shown output is checked when it stops.
 * - `node ... &`: a background process, started once it prints `ready`
 *   (examples/guides/backends.mjs does).
 * - anything else (`curl`, `for` loops, pipes, `printf ... | isthmus`): `bash -c`, with
 *   `isthmus` and `npx isthmus` as shell functions and no `*_proxy` variables of this machine.
 *   A request to a loopback port on a page that started nothing fails: it would test
 *   whatever happens to listen on this machine.
 *
 * Every command must exit 0, or the code a trailing `# exit N` comment names. Each line of
 * the shown output must appear, in order, among the actual output lines (compared trimmed,
 * runs of spaces equal; `...` inside a line matches anything; a line that is only `...`
 * marks an elision).
 *
 * Markers, an HTML comment on the line(s) just before a block:
 * - `<!-- test: skip REASON -->`: the block is not run; skipped blocks are counted and listed
 *   (in the summary test's diagnostics).
 * - `<!-- test: numbers-vary -->`: digits in the shown output match any number (the counts
 *   of a random split).
 * A command the test cannot run (a long-running subcommand other than `run`, e.g. `demo`)
 * fails with a message asking for a skip marker, so nothing in the docs goes unexercised
 * silently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { CommanderError } from 'commander';
import { buildProgram } from '../src/cli/program.js';
import { memoryOutput } from '../src/cli/output.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
const FENCE_LANGS = new Set(['', 'sh', 'bash', 'shell', 'console', 'text', 'shell-session', 'sh-session', 'terminal']);
const IN_PROCESS = new Set(['validate', 'analyze', 'explain', 'help', '--help', '-h', '--version', '-v']);
const SHELL_SYNTAX = /[|<>;`]|&&|\$\(/;
const COMMAND_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 25_000;
const BUSY_WAIT_MS = 30_000;

/** The program's subcommand names: `isthmus <word>` is a command only for these (and flags). */
const SUBCOMMANDS = new Set(buildProgram(memoryOutput(), () => undefined).commands.map((c) => c.name()));

interface Block {
  line: number;
  lines: Array<{ text: string; line: number }>;
  markers: string[];
}

interface Command {
  line: number;
  text: string;
  background: boolean;
  expectExit: number;
  output: string[];
}

// ------------------------------------------------------------------ finding blocks

function markdownFiles(): string[] {
  const out = ['README.md'];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(join(ROOT, dir)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (statSync(join(ROOT, p)).isDirectory()) walk(p);
      else if (n.endsWith('.md')) out.push(p);
    }
  };
  walk('docs');
  walk('examples');
  return out;
}

/** Code blocks of one markdown text, with the `<!-- test: ... -->` markers just above each. */
function parseBlocks(text: string): Block[] {
  const src = text.split('\n');
  const blocks: Block[] = [];
  let pending: string[] = [];
  for (let i = 0; i < src.length; i++) {
    const l = src[i];
    const marker = /^\s*<!--\s*test:\s*(.*?)\s*-->\s*$/.exec(l);
    if (marker) {
      pending.push(marker[1]);
      continue;
    }
    const fence = /^(\s*)(```+|~~~+)\s*([\w-]*)/.exec(l);
    if (fence) {
      const close = fence[2];
      const body: Block['lines'] = [];
      let j = i + 1;
      for (; j < src.length && !src[j].trimStart().startsWith(close); j++) body.push({ text: src[j].slice(Math.min(fence[1].length, src[j].length - src[j].trimStart().length)), line: j + 1 });
      if (FENCE_LANGS.has(fence[3].toLowerCase())) blocks.push({ line: i + 1, lines: body, markers: pending });
      pending = [];
      i = j;
      continue;
    }
    if (/^ {4}/.test(l) && (i === 0 || src[i - 1].trim() === '') && l.trim() !== '') {
      const body: Block['lines'] = [];
      let j = i;
      for (; j < src.length && (/^ {4}/.test(src[j]) || (src[j].trim() === '' && /^ {4}/.test(src[j + 1] ?? ''))); j++) body.push({ text: src[j].slice(4), line: j + 1 });
      blocks.push({ line: i + 1, lines: body, markers: pending });
      pending = [];
      i = j - 1;
      continue;
    }
    if (l.trim() !== '') pending = [];
  }
  return blocks;
}

/** The command a line starts, if any: the part after `$ ` and `VAR=value` prefixes. */
function commandWord(line: string): string | null {
  const s = line.replace(/^(\w+=("[^"]*"|'[^']*'|\S*)\s+)+/, '');
  if (/^npx\s+isthmus\b/.test(s)) return 'isthmus';
  const m = /^isthmus\s(\S+)/.exec(s);
  if (m) return SUBCOMMANDS.has(m[1]) || m[1].startsWith('-') ? 'isthmus' : null;
  if (/^(curl|node|kill|printf|echo)\s/.test(s)) return s.split(/\s/, 1)[0];
  if (/^for\s.*\b(curl|isthmus|node)\b/.test(s)) return 'for';
  return null;
}

/** Commands and their shown output in one block. */
function parseCommands(block: Block): Command[] {
  const prompted = block.lines.some((l) => /^\$ /.test(l.text));
  const cmds: Command[] = [];
  const ls = block.lines;
  for (let i = 0; i < ls.length; i++) {
    const raw = ls[i].text;
    const isPrompt = /^\$ /.test(raw);
    const body = isPrompt ? raw.slice(2) : raw;
    if ((!prompted || isPrompt) && commandWord(body.trim()) !== null) {
      let text = body.trim();
      const line = ls[i].line;
      while (text.endsWith('\\') && i + 1 < ls.length) text = `${text.slice(0, -1).trimEnd()} ${ls[++i].text.trim()}`;
      const exit = /\s#\s*exits?\s+(\d+)\s*$/.exec(text);
      const background = /(^|[^&])&\s*(#.*)?$/.test(text);
      cmds.push({ line, text, background, expectExit: exit ? Number(exit[1]) : 0, output: [] });
    } else if (cmds.length) cmds[cmds.length - 1].output.push(raw);
  }
  return cmds;
}

// ------------------------------------------------------------------ running

/** Shell-like words (quotes, backslashes); stops at an unquoted `#` comment. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      cur += s.slice(i + 1, j < 0 ? s.length : j);
      i = j < 0 ? s.length : j;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) cur += s[j] === '\\' && /["\\$`]/.test(s[j + 1] ?? '') ? s[++j] : s[j];
      i = j;
      has = true;
    } else if (c === '\\') {
      cur += s[++i] ?? '';
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else if (c === '#' && !has) break;
    else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** Everything after `isthmus` in a command line. */
function isthmusArgs(text: string): string[] {
  const w = words(text.replace(/&\s*$/, ''));
  const at = w.indexOf('isthmus');
  return w.slice(at + 1);
}

async function runInProcess(args: string[]): Promise<{ code: number; out: string }> {
  const o = memoryOutput();
  let code = 0;
  const program = buildProgram(o, (c) => (code = c));
  try {
    await program.parseAsync(['node', 'isthmus', ...args]);
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 2;
    else {
      o.stderr(`isthmus: ${(e as Error).message}`);
      code = 2;
    }
  }
  return { code, out: [...o.out, ...o.err].join('\n') };
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/_proxy$/i.test(k) && !k.startsWith('NODE_TEST')) env[k] = v;
  env.PATH = `${resolve(process.execPath, '..')}:${env.PATH ?? ''}`;
  return env;
}

const SHELL_PRELUDE = [
  `isthmus() { node ${CLI.map((a) => `'${a}'`).join(' ')} "$@"; }`,
  'npx() { if [ "$1" = isthmus ]; then shift; isthmus "$@"; else echo "docs test: only npx isthmus is run" >&2; return 127; fi; }',
].join('\n');

interface Proc {
  child: ChildProcess;
  out: string;
  exited: Promise<number>;
  code: number | null;
}

function startProc(cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { cwd: ROOT, env: childEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '', code: null, exited: Promise.resolve(0) };
  child.stdout?.on('data', (d: Buffer) => (p.out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (p.out += d.toString()));
  p.exited = new Promise((r) => child.on('close', (code, sig) => r((p.code = code ?? (sig ? 128 : 1)))));
  return p;
}

/** Signals the process group (the process and whatever it forked). */
function signal(p: Proc, sig: NodeJS.Signals): void {
  if (p.code !== null || p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, sig);
  } catch {
    /* already gone */
  }
}

async function stopProc(p: Proc): Promise<void> {
  signal(p, 'SIGTERM');
  const t = setTimeout(() => signal(p, 'SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

async function runShell(cmd: string): Promise<{ code: number; out: string }> {
  const p = startProc('bash', ['-c', `${SHELL_PRELUDE}\n${cmd}`]);
  const t = setTimeout(() => signal(p, 'SIGKILL'), COMMAND_TIMEOUT_MS);
  const code = await p.exited;
  clearTimeout(t);
  return { code, out: p.out };
}

/** Resolves once `ready` is printed (true) or the process ends (false); rejects on timeout. */
async function whenReady(p: Proc, what: string): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (/^ready\b/m.test(p.out)) return true;
    if (p.code !== null) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not ready after ${START_TIMEOUT_MS} ms; output:\n${p.out}`);
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

/** One markdown file's running state: background processes and the port rewrites. */
class Session {
  procs: Array<{ proc: Proc; cmd: Command; numbersVary: boolean; docPorts: number[] }> = [];
  ports = new Map<number, number>();

  rewrite(s: string): string {
    if (this.ports.size === 0) return s;
    return s.replace(/:(\d{2,5})(?!\d)/g, (m, n: string) => {
      const to = this.ports.get(Number(n));
      return to === undefined ? m : `:${to}`;
    });
  }

  /** `isthmus run`: free ports, --concurrency 1, wait for `ready`. */
  async startProxy(c: Command, numbersVary: boolean): Promise<Proc> {
    const args = isthmusArgs(c.text);
    const flag = (name: string, def: string): string => {
      const i = args.indexOf(name);
      return i >= 0 ? args[i + 1] : def;
    };
    const set = (a: string[], name: string, v: string): void => {
      const i = a.indexOf(name);
      if (i >= 0) a[i + 1] = v;
      else a.push(name, v);
    };
    const gateway = flag('--role', 'sidecar') === 'gateway';
    const docOutbound = Number(flag('--outbound-port', '15001'));
    const docAdmin = Number(flag('--admin-port', '15000'));
    const docOffset = Number(flag('--port-offset', '0'));
    // A proxy the page ran in the foreground was stopped with Ctrl-C before this one (the
    // page says so in prose); one it sent to the background (`&`) needed a `kill` line.
    for (const d of gateway ? [docAdmin] : [docOutbound, docAdmin]) {
      const holder = this.procs.find((x) => x.docPorts.includes(d));
      if (!holder) continue;
      if (holder.cmd.background) throw new Error(`port ${d} is still used by \`${holder.cmd.text}\`, started earlier on this page (a missing kill?)`);
      await this.stop([holder]);
    }
    let lastError = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const a = [...args];
      const outbound = await freePort();
      const admin = await freePort();
      // A gateway keeps the page's ports when they are free (config may point at them, as
      // an egress gateway's ServiceEntry does); else another offset.
      const offset = attempt === 0 ? docOffset : 20000 + Math.floor(Math.random() * 10000);
      set(a, '--outbound-port', String(outbound));
      set(a, '--admin-port', String(admin));
      if (gateway) set(a, '--port-offset', String(offset));
      if (!a.includes('--concurrency')) a.push('--concurrency', '1');
      const p = startProc(process.execPath, [...CLI, ...a]);
      if (await whenReady(p, c.text)) {
        const docPorts = gateway ? [docAdmin] : [docOutbound, docAdmin];
        if (!gateway) this.ports.set(docOutbound, outbound);
        this.ports.set(docAdmin, admin);
        if (gateway)
          for (const m of p.out.matchAll(/listening on [^\s]+:(\d+) \(gateway/g)) {
            this.ports.set(Number(m[1]) - offset + docOffset, Number(m[1]));
            docPorts.push(Number(m[1]) - offset + docOffset);
          }
        this.procs.push({ proc: p, cmd: c, numbersVary, docPorts });
        return p;
      }
      lastError = p.out;
      if (!/already in use/.test(p.out)) return p; // exited for a reason of its own: the caller checks it
    }
    throw new Error(`could not find free ports for ${c.text}:\n${lastError}`);
  }

  /**
   * A background command such as the guides' backends, whose ports are fixed by the
   * examples' YAML. When they are busy (another run of this test holds them) it waits for
   * them, up to BUSY_WAIT_MS, rather than testing someone else's servers.
   */
  async startBackground(c: Command, numbersVary: boolean): Promise<Proc> {
    const deadline = Date.now() + BUSY_WAIT_MS;
    for (;;) {
      const p = startProc('bash', ['-c', `${SHELL_PRELUDE}\nexec ${this.rewrite(c.text.replace(/&\s*(#.*)?$/, ''))}`]);
      if (await whenReady(p, c.text)) {
        this.procs.push({ proc: p, cmd: c, numbersVary, docPorts: [] });
        return p;
      }
      if (!/already in use/i.test(p.out) || Date.now() > deadline) return p;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * Stops every process this page started, then checks the output the docs show for each
   * (its exit code after SIGTERM is not checked: a drained proxy exits 0, a killed one not).
   */
  async stopAll(): Promise<void> {
    await this.stop(this.procs);
  }

  private async stop(which: Session['procs']): Promise<void> {
    const all = [...which];
    this.procs = this.procs.filter((x) => !all.includes(x));
    await Promise.all(all.map((x) => stopProc(x.proc)));
    try {
      for (const x of all) check({ ...x.cmd, expectExit: 0 }, 0, x.proc.out, this, x.numbersVary);
    } finally {
      for (const x of all) for (const d of x.docPorts) this.ports.delete(d);
    }
  }
}

// ------------------------------------------------------------------ checking output

function lineMatcher(expected: string, numbersVary: boolean): RegExp {
  const esc = (s: string): string => {
    const e = s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return numbersVary ? e.replace(/\d+/g, '\\d+') : e;
  };
  const pattern = expected.trim().split('...').map(esc).join('.*').replace(/\s+/g, '\\s+');
  return new RegExp(`^${pattern}$`);
}

/** The shown lines that do not appear, in order, in the actual output. */
function missingLines(shown: readonly string[], actual: string, numbersVary = false): string[] {
  const have = actual.replace(/\r/g, '').split('\n').map((l) => l.trim());
  const missing: string[] = [];
  let at = 0;
  for (const s of shown) {
    if (s.trim() === '' || s.trim() === '...') continue;
    const re = lineMatcher(s, numbersVary);
    const i = have.findIndex((h, k) => k >= at && re.test(h));
    if (i < 0) missing.push(s.trim());
    else at = i + 1;
  }
  return missing;
}

function check(c: Command, code: number, out: string, session: Session, numbersVary: boolean): void {
  const show = `${c.text}\n--- actual output (exit ${code}) ---\n${out.length > 4000 ? `${out.slice(0, 4000)}\n[...]` : out}`;
  assert.equal(code, c.expectExit, `exit code ${code}, docs expect ${c.expectExit}: ${show}`);
  const missing = missingLines(c.output.map((l) => session.rewrite(l)), out, numbersVary);
  assert.deepEqual(missing, [], `shown output not printed: ${show}`);
}

// ------------------------------------------------------------------ the tests

test('docs test machinery: blocks, commands, markers and output matching', () => {
  const md = [
    'Text.',
    '<!-- test: skip needs a cluster -->',
    '```console',
    '$ npx isthmus validate -f x   # exit 1',
    'x.yaml:1:1: error ...',
    '$ curl -s http://127.0.0.1:15001/ \\',
    "    -H 'a: b'",
    '```',
    '',
    '```yaml',
    'kind: VirtualService',
    '```',
    '',
    '    node examples/guides/backends.mjs &',
    '    isthmus           h1-sat     12240',
  ].join('\n');
  const blocks = parseBlocks(md);
  assert.equal(blocks.length, 2, 'the yaml block is not a command block');
  assert.deepEqual(blocks[0].markers, ['skip needs a cluster']);
  const cmds = parseCommands(blocks[0]);
  assert.deepEqual(
    cmds.map((c) => [c.line, c.text, c.expectExit, c.background, c.output]),
    [
      [4, 'npx isthmus validate -f x   # exit 1', 1, false, ['x.yaml:1:1: error ...']],
      [6, "curl -s http://127.0.0.1:15001/ -H 'a: b'", 0, false, []],
    ],
  );
  const indented = parseCommands(blocks[1]);
  assert.deepEqual(indented.map((c) => [c.text, c.background]), [['node examples/guides/backends.mjs &', true]], 'a table row starting with "isthmus" is not a command');
  assert.deepEqual(missingLines(['a ... c', '...', 'd'], 'a b c\nd'), []);
  assert.deepEqual(missingLines(['d', 'a ... c'], 'a b c\nd'), ['a ... c'], 'order matters');
  assert.deepEqual(missingLines(['12 v1'], '  9 v1'), ['12 v1']);
  assert.deepEqual(missingLines(['12 v1'], '  9 v1', true), [], 'numbers-vary');
  assert.deepEqual(words(`a 'b c' "d \\" e" f\\ g # h`), ['a', 'b c', 'd " e', 'f g']);
});

const skipped: string[] = [];
const counts = { files: 0, commands: 0, proxies: 0, perFile: new Map<string, number>() };

/** Runs one command of a page, in the page's session. */
async function runCommand(file: string, c: Command, session: Session, numbersVary: boolean): Promise<void> {
  counts.commands++;
  counts.perFile.set(file, (counts.perFile.get(file) ?? 0) + 1);
  const word = commandWord(c.text)!;
  if (word === 'kill') return session.stopAll();
  if (word === 'isthmus' && !SHELL_SYNTAX.test(c.text.replace(/#.*$/, '').replace(/&\s*$/, ''))) {
    const args = isthmusArgs(c.text);
    const sub = args.find((a) => !a.startsWith('-')) ?? args[0] ?? '--help';
    if (sub === 'run') {
      counts.proxies++;
      const p = await session.startProxy(c, numbersVary);
      // Started: its shown output is checked when it stops. Exited: check it now.
      if (p.code !== null) check(c, p.code, p.out, session, numbersVary);
      return;
    }
    if (IN_PROCESS.has(args[0] ?? '--help') || IN_PROCESS.has(sub)) {
      const r = await runInProcess(args);
      return check(c, r.code, r.out, session, numbersVary);
    }
    assert.fail(`${file}:${c.line}: the docs test cannot run \`${c.text}\`; mark its block with <!-- test: skip REASON --> (e.g. where another test exercises it)`);
  }
  // Without a server started by this page, a request to loopback would test whatever
  // happens to listen on this machine (another test, a demo), not the docs.
  if (session.procs.length === 0 && !c.background && /(127\.0\.0\.1|localhost|\[::1\]):\d+/.test(c.text))
    assert.fail(`${file}:${c.line}: \`${c.text}\` needs a server this page starts earlier (e.g. \`npx isthmus run ... &\`), or a <!-- test: skip REASON --> marker on its block`);
  if (c.background) {
    const p = await session.startBackground(c, numbersVary);
    if (p.code !== null) check(c, p.code, p.out, session, numbersVary);
    return;
  }
  const r = await runShell(session.rewrite(c.text));
  check(c, r.code, r.out, session, numbersVary);
}

const pages = markdownFiles()
  .map((file) => ({
    file,
    blocks: parseBlocks(readFileSync(join(ROOT, file), 'utf8'))
      .map((b) => ({ b, cmds: parseCommands(b) }))
      .filter((x) => x.cmds.length > 0),
  }))
  .filter((p) => p.blocks.length > 0);

for (const { file, blocks } of pages) {
  test(`docs: ${file}`, async (t) => {
    counts.files++;
    const session = new Session();
    try {
      for (const { b, cmds } of blocks) {
        const skip = b.markers.find((m) => /^skip\b/.test(m));
        if (skip !== undefined) {
          const reason = skip.replace(/^skip\s*/, '');
          assert.ok(reason, `${file}:${b.line}: a skip marker needs a reason`);
          skipped.push(`${file}:${b.line}: ${reason}`);
          continue;
        }
        const numbersVary = b.markers.includes('numbers-vary');
        for (const c of cmds) await t.test(`${file}:${c.line}: ${c.text.slice(0, 100)}`, () => runCommand(file, c, session, numbersVary));
      }
    } finally {
      if (session.procs.length) await t.test(`${file}: processes left running at the end of the page`, () => session.stopAll());
    }
  });
}

test('docs: summary (every guide has commands that ran; skipped blocks listed)', (t) => {
  const guides = pages.filter((p) => p.file.startsWith('docs/guides/')).map((p) => p.file);
  t.diagnostic(`${counts.commands} commands run from ${counts.files} files (${counts.proxies} proxies started); ${skipped.length} block(s) skipped`);
  for (const s of skipped) t.diagnostic(`skipped: ${s}`);
  if (counts.files === 0) return; // filtered out with --test-name-pattern
  assert.ok(guides.length >= 6, `guides with commands: ${guides.join(', ')}`);
  for (const g of guides) if (counts.files === pages.length) assert.ok((counts.perFile.get(g) ?? 0) > 0, `${g}: no command ran`);
});
