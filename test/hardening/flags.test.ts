/**
 * The `isthmus run` flags of the hardening limits (docs/security.md): defaults are
 * Envoy-like and left to the runtime, given flags reach RunOptions in the right units, and
 * bad values are usage errors with the flag's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../src/cli/program.js';
import { runOptions, type RunFlags } from '../../src/cli/run.js';
import { UsageError } from '../../src/cli/args.js';
import { memoryOutput } from '../../src/cli/output.js';
import { DEFAULT_LIMITS } from '../../src/dataplane/listener/http-listener.js';

const BASE: RunFlags = {
  file: ['x.yaml'], role: 'sidecar', namespace: 'default', domain: 'cluster.local', outboundPort: '15001', portOffset: '0',
  adminPort: '15000', bind: '127.0.0.1', concurrency: '1', logFormat: 'text', accessLog: true, drainTimeout: '30',
};

test('Envoy-like defaults: 60 KiB / 100 headers, 60 s headers, 300 s request and stream idle, 100 streams, 64 KiB / 1 MiB windows, no connection cap', () => {
  assert.deepEqual({ ...DEFAULT_LIMITS }, {
    maxHeaderSize: 61_440, maxHeadersCount: 100, keepAliveTimeoutMs: 60_000, headersTimeoutMs: 60_000, requestTimeoutMs: 300_000,
    idleTimeoutMs: 300_000, maxConnections: 0, maxConcurrentStreams: 100, h2StreamWindow: 65_536, h2ConnectionWindow: 1_048_576,
  });
  const { opts } = runOptions(BASE);
  assert.deepEqual(opts.limits, {});
  assert.equal(opts.pathNormalization, undefined);
  assert.equal(opts.numTrustedProxies, undefined);
});

test('every limit flag reaches RunOptions in the runtime units', () => {
  const { opts } = runOptions({
    ...BASE,
    maxRequestHeadersKb: '16', maxHeadersCount: '50', requestHeadersTimeout: '2.5', requestTimeout: '0', idleTimeout: '90',
    streamIdleTimeout: '600', maxConnections: '1000', maxConcurrentStreams: '64', numTrustedProxies: '2', pathNormalization: 'merge_slashes',
  });
  assert.deepEqual(opts.limits, {
    maxHeaderSize: 16_384, maxHeadersCount: 50, headersTimeoutMs: 2500, requestTimeoutMs: 0, keepAliveTimeoutMs: 90_000,
    idleTimeoutMs: 600_000, maxConnections: 1000, maxConcurrentStreams: 64,
  });
  assert.equal(opts.pathNormalization, 'MERGE_SLASHES');
  assert.equal(opts.numTrustedProxies, 2);
});

test('bad values are usage errors naming the flag', () => {
  for (const [flag, value, key] of [
    ['--max-request-headers-kb', '0', 'maxRequestHeadersKb'],
    ['--max-request-headers-kb', '9000', 'maxRequestHeadersKb'],
    ['--max-headers-count', '1.5', 'maxHeadersCount'],
    ['--request-timeout', '-1', 'requestTimeout'],
    ['--stream-idle-timeout', 'soon', 'streamIdleTimeout'],
    ['--max-connections', '', 'maxConnections'],
    ['--num-trusted-proxies', '-2', 'numTrustedProxies'],
    ['--path-normalization', 'RFC', 'pathNormalization'],
  ] as const) {
    assert.throws(() => runOptions({ ...BASE, [key]: value }), (e: unknown) => e instanceof UsageError && e.message.startsWith(flag), `${flag} ${value}`);
  }
});

test('`isthmus run --help` lists the limit flags with their defaults', () => {
  const program = buildProgram(memoryOutput(), () => undefined);
  const help = program.commands.find((c) => c.name() === 'run')!.helpInformation();
  for (const f of ['--max-request-headers-kb <n>', '--max-headers-count <n>', '--request-headers-timeout', '--request-timeout', '--idle-timeout', '--stream-idle-timeout', '--max-connections', '--max-concurrent-streams', '--num-trusted-proxies', '--path-normalization']) {
    assert.ok(help.includes(f), `${f} missing from run --help`);
  }
  assert.match(help.replace(/\s+/g, ' '), /--path-normalization <mode> [^-]*\(default: "BASE"\)/);
});
