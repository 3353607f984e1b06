/**
 * `isthmus demo` end to end: the real CLI as a child process on free ports; every `$` command
 * it prints is run as printed (with `sh -c`; curl when installed, else a small Node stand-in
 * for the curl flags the demo uses) and must show what its step says. Then Ctrl-C must stop
 * it cleanly (exit 0, temp folder gone), and a busy port must give a message naming the port
 * and the flag. docs/demo.md's commands must be the demo's own (with the default ports).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, waitFor, withTimeout } from './support/harness.js';
import { guideSteps } from '../src/demo/guide.js';

const cleanup: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const hasSh = spawnSync('sh', ['-c', 'command -v seq && command -v sort && command -v uniq && command -v grep && command -v sed'], { encoding: 'utf8' }).status === 0;
const hasCurl = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).status === 0;

/** A stand-in for the curl flags the demo prints (-s -o -w -H -x -X), for machines without curl. */
const CURL_SHIM = `#!${process.execPath}
const http = require('http');
const fs = require('fs');
const args = process.argv.slice(2);
let method = 'GET', out = null, fmt = null, proxy = null, url = null;
const headers = {};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '-s') continue;
  else if (a === '-o') out = args[++i];
  else if (a === '-w') fmt = args[++i];
  else if (a === '-x') proxy = args[++i];
  else if (a === '-X') method = args[++i];
  else if (a === '-H') { const h = args[++i]; const k = h.indexOf(':'); headers[h.slice(0, k).trim().toLowerCase()] = h.slice(k + 1).trim(); }
  else if (a.startsWith('-')) { process.stderr.write('curl stand-in: unsupported flag ' + a + '\\n'); process.exit(2); }
  else url = a;
}
const u = new URL(url);
const via = proxy ? new URL(proxy) : u;
const start = process.hrtime.bigint();
const write = (code) => { if (fmt) process.stdout.write(fmt.replace(/%\\{http_code\\}/g, String(code)).replace(/%\\{time_total\\}/g, (Number(process.hrtime.bigint() - start) / 1e9).toFixed(6)).replace(/\\\\n/g, '\\n')); };
const req = http.request({ host: via.hostname, port: via.port || 80, method, path: proxy ? u.href : u.pathname + u.search, headers: { host: u.host, 'user-agent': 'curl-stand-in', accept: '*/*', ...headers } }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    if (out === null) process.stdout.write(body); else if (out !== '/dev/null') fs.writeFileSync(out, body);
    write(res.statusCode);
  });
});
req.on('error', () => { write('000'); process.exit(7); });
req.end();
`;

/**
 * The commands' environment: no proxy settings (curl would send 127.0.0.1 requests to a
 * corporate proxy), and the curl stand-in first in PATH when there is no curl (or when
 * ISTHMUS_TEST_CURL_STANDIN asks to test the stand-in).
 */
function commandEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY']) delete env[k];
  if (hasCurl && !process.env.ISTHMUS_TEST_CURL_STANDIN) return env;
  const bin = mkdtempSync(join(tmpdir(), 'isthmus-curl-'));
  cleanup.push(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, 'curl'), CURL_SHIM);
  chmodSync(join(bin, 'curl'), 0o755);
  return { ...env, PATH: `${bin}:${env.PATH ?? ''}` };
}

interface Demo {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function startDemo(args: string[]): Demo {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, out: () => out, err: () => err, exited };
}

/** The numbered steps as printed: title and `$` commands. */
function parseSteps(text: string): Array<{ n: number; title: string; commands: string[] }> {
  const steps: Array<{ n: number; title: string; commands: string[] }> = [];
  for (const line of text.split('\n')) {
    const h = /^\s*(\d+)\. (.+)$/.exec(line);
    if (h) steps.push({ n: Number(h[1]), title: h[2]!, commands: [] });
    const c = /^\s+\$ (.+)$/.exec(line);
    if (c && steps.length > 0) steps[steps.length - 1]!.commands.push(c[1]!);
  }
  return steps;
}

function sh(cmd: string, env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; out: string; err: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile('sh', ['-c', cmd], { env, cwd, timeout: 20_000, maxBuffer: 4 << 20 }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: stdout, err: stderr, ms: Date.now() - started });
    });
  });
}

/** `uniq -c` output -> counts by line text. */
function counts(out: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const l of out.trim().split('\n')) {
    const m = /^\s*(\d+) (.+)$/.exec(l);
    if (m) r[m[2]!] = Number(m[1]);
  }
  return r;
}

test('isthmus demo: every printed command, run as printed, shows what it says; Ctrl-C stops it cleanly', { skip: !hasSh && 'no POSIX sh with seq/sort/uniq/grep/sed here', timeout: 90_000 }, async () => {
  const demo = startDemo(['--gateway-port', '0', '--admin-port', '0', '--sidecar-ports', '0', '--service-ports', '0']);
  await waitFor('the demo to print its guide', () => demo.out().includes('Ctrl-C stops everything.') || demo.child.exitCode !== null, 40_000, 50);
  const text = demo.out();
  assert.match(text, /Listeners \(all ready\):/, text + demo.err());
  assert.equal((text.match(/^ {2}\S.* 127\.0\.0\.1:\d+ +ready$/gm) ?? []).length, 15, 'gateway + 7 applications + 6 sidecars + admin, each ready');
  const admin = /Dashboard: +http:\/\/127\.0\.0\.1:(\d+)\/ui/.exec(text);
  assert.ok(admin, 'the dashboard URL is printed');
  const workdir = /Config: +(\S+)\/config /.exec(text)?.[1];
  assert.ok(workdir && existsSync(join(workdir, 'config', 'virtual-services.yaml')), 'the working copy of the config exists');

  const steps = parseSteps(text);
  assert.deepEqual(steps.map((s) => s.n), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const env = commandEnv();
  const cwd = mkdtempSync(join(tmpdir(), 'isthmus-demo-cmds-'));
  cleanup.push(() => rmSync(cwd, { recursive: true, force: true }));
  const run = async (step: number, i: number): Promise<string> => {
    const cmd = steps[step - 1]!.commands[i]!;
    const r = await sh(cmd, env, cwd);
    assert.equal(r.code, 0, `step ${step} command ${i + 1} failed: ${cmd}\n${r.err}`);
    return r.out;
  };

  // 1. Routing by header: jason always gets reviews v2 with black stars.
  assert.match(steps[0]!.title, /jason/);
  for (let k = 0; k < 3; k++) {
    const page = await run(1, 0);
    assert.match(page, /reviews v2: black stars \(from ratings v1\)/, page);
    assert.match(page, /★★★★★/);
  }

  // 2. Canary 75/25 over 100 requests (±4 sigma).
  const before = counts(await run(2, 0));
  assert.equal((before['reviews v1'] ?? 0) + (before['reviews v3'] ?? 0), 100, JSON.stringify(before));
  assert.equal(before['reviews v2'], undefined);
  assert.ok(before['reviews v3']! >= 8 && before['reviews v3']! <= 45, `25% canary: ${JSON.stringify(before)}`);

  // 3. Hot reload by editing the working copy; the repository's examples stay as they are.
  await run(3, 0);
  await waitFor('the reload line', () => /^config v2 applied: 1 VirtualService changed$/m.test(demo.out()), 10_000);
  const shifted = counts(await run(2, 0));
  assert.ok(shifted['reviews v3']! >= 30 && shifted['reviews v3']! <= 70, `50/50 after the edit: ${JSON.stringify(shifted)}`);
  assert.match(readFileSync(join(REPO_ROOT, 'examples', 'bookinfo', 'virtual-services.yaml'), 'utf8'), /weight: 75/);

  // 4. Fault injection for tester only.
  const faulted = await run(4, 0);
  assert.match(faulted, /details: unavailable \(500 fault filter abort/, faulted);
  assert.match(await sh(steps[3]!.commands[0]!.replace(/ -H 'end-user: tester'/, ''), env, cwd).then((r) => r.out), /^details v1: The Comedy of Errors/m);

  // 5. Timeout: 504 after about 1 s (details was asked to take 3 s).
  const timed = /^504 after (\d+\.\d+) s$/.exec((await run(5, 0)).trim());
  assert.ok(timed, 'a 504');
  assert.ok(Number(timed[1]) >= 0.9 && Number(timed[1]) < 2.5, `after ~1 s, not ${timed[1]}`);

  // 6. Retries hide the flaky ratings; ratings itself failed every second request.
  assert.match(await run(6, 0), /"fail": 0\.5/);
  assert.equal((await run(6, 1)).trim(), Array(10).fill('200').join(' '));
  const state = JSON.parse(await run(6, 2)) as { served: number; failed: number };
  assert.deepEqual([state.served, state.failed], [19, 9]);
  assert.match(await run(6, 3), /"fail": 0,/);

  // 7. The circuit breaker: some 200s, the rest 503 at once; the overflow counter counts them.
  // The six background curls overlap only when the shell starts them within the 200 ms the
  // first one takes; a busy machine may start them too far apart and then more of them get
  // through. So the printed command gets up to 3 tries before the breaker is called broken,
  // and the counter must cover every overflow of every try.
  let codes: string[] = [];
  let ok = 0;
  let overflowed = 0;
  for (let attempt = 1; attempt <= 3; attempt++) {
    codes = (await run(7, 0)).trim().split('\n').sort();
    assert.equal(codes.length, 6, codes.join(' '));
    assert.ok(codes.every((c) => c === '200' || c === '503'), codes.join(' '));
    ok = codes.filter((c) => c === '200').length;
    overflowed += 6 - ok;
    if (ok <= 4) break;
  }
  assert.ok(ok >= 1 && ok <= 4, `the breaker tripped on none of 3 tries: ${codes.join(' ')}`);
  const overflow = /envoy_cluster_upstream_rq_pending_overflow\{cluster_name="outbound\|9080\|v1\|ratings\.bookinfo\.svc\.cluster\.local"\} (\d+)/.exec(await run(7, 1));
  assert.ok(overflow && Number(overflow[1]) >= overflowed, `the overflow counter (${overflow?.[1]}) counts the ${overflowed} overflows`);

  // 8. ServiceEntry: the external host through details' sidecar.
  const books = JSON.parse(await run(8, 0)) as { service: string };
  assert.equal(books.service, 'books.example.com');

  // 9. Sidecar egress: blocked from details, allowed from productpage.
  assert.equal((await run(9, 0)).trim(), '502');
  assert.equal((await run(9, 1)).trim(), '200');

  // One admin endpoint for the whole mesh: metrics from the gateway and the sidecars.
  const prom = await sh(`curl -s http://127.0.0.1:${admin[1]}/stats/prometheus`, env, cwd);
  for (const w of ['istio-ingressgateway', 'productpage-v1', 'reviews-v2', 'details-v1']) assert.match(prom.out, new RegExp(`istio_requests_total\\{[^}]*source_workload="${w}"`), w);

  // ... and the dashboard it prints answers.
  assert.equal((await sh(`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${admin[1]}/ui`, env, cwd)).out, '200');

  // Ctrl-C: drain, exit 0, the temp folder removed.
  demo.child.kill('SIGINT');
  assert.equal(await withTimeout(demo.exited, 15_000, 'the demo to exit after SIGINT'), 0, demo.err());
  assert.match(demo.out(), /demo stopped/);
  assert.equal(existsSync(workdir), false, 'the temp folder is removed');
});

test('isthmus demo: a busy port is named with the flag that moves it (exit 1)', { timeout: 60_000 }, async () => {
  const holder = net.createServer();
  const port = await new Promise<number>((r) => holder.listen(0, '127.0.0.1', () => r((holder.address() as net.AddressInfo).port)));
  cleanup.push(() => new Promise<void>((r) => holder.close(() => r())));
  const demo = startDemo(['--gateway-port', '0', '--admin-port', String(port), '--sidecar-ports', '0', '--service-ports', '0']);
  assert.equal(await withTimeout(demo.exited, 40_000, 'the demo to give up'), 1);
  assert.match(demo.err(), new RegExp(`error: port ${port} is already in use \\(the admin endpoint and dashboard\\): start the demo with --admin-port <another port>`));
  assert.doesNotMatch(demo.out(), /Try it/);
});

test('docs/demo.md: its commands are the demo\'s, with the default ports', { skip: !existsSync(join(REPO_ROOT, 'docs', 'demo.md')) && 'docs/demo.md not written yet' }, () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'demo.md'), 'utf8');
  const printed = new Set(
    guideSteps({
      gatewayPort: 8080,
      adminPort: 15000,
      sidecars: { 'productpage-v1': 15001, 'details-v1': 15002, 'reviews-v1': 15003, 'reviews-v2': 15004, 'reviews-v3': 15005, 'ratings-v1': 15006 },
      apps: { 'productpage-v1': 19080, 'details-v1': 19081, 'reviews-v1': 19082, 'reviews-v2': 19083, 'reviews-v3': 19084, 'ratings-v1': 19085, 'books-external': 19086 },
      configPath: '/tmp/isthmus-demo-XXXXXX/config',
      accessLogPath: '/tmp/isthmus-demo-XXXXXX/access.log',
      sourceDir: 'examples/bookinfo',
    }).flatMap((s) => s.lines.filter((l) => l.startsWith('$ ')).map((l) => l.slice(2))),
  );
  const blocks = [...doc.matchAll(/```(?:sh|bash|console)?\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n'));
  const commands = blocks.filter((l) => l.startsWith('$ ')).map((l) => l.slice(2));
  const ours = commands.filter((c) => !/^(npm |npx |isthmus )/.test(c));
  assert.ok(ours.length >= printed.size, `docs/demo.md shows every step's commands (${ours.length} of ${printed.size})`);
  for (const c of ours) assert.ok(printed.has(c), `docs/demo.md command not printed by the demo: ${c}`);
});
