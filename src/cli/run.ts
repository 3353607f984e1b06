/** `isthmus run`: one proxy (sidecar or gateway) until SIGTERM/SIGINT, then a graceful drain. */
import { availableParallelism } from 'node:os';
import { ProxyRuntime, type RunOptions } from '../runtime/proxy-runtime.js';
import { runPrimary } from '../runtime/multi.js';
import { UsageError, parseLabels, parsePort } from './args.js';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../dataplane/http/normalize.js';
import type { Output } from './output.js';

export interface RunFlags {
  file: string[];
  role: string;
  namespace: string;
  labels?: string;
  domain: string;
  outboundPort: string;
  portOffset: string;
  adminPort: string;
  bind: string;
  concurrency?: string;
  logFormat: string;
  accessLog: boolean;
  drainTimeout: string;
  credentialsDir?: string;
  /** Downstream limits (docs/security.md); absent = the default. */
  maxRequestHeadersKb?: string;
  maxHeadersCount?: string;
  requestHeadersTimeout?: string;
  requestTimeout?: string;
  idleTimeout?: string;
  streamIdleTimeout?: string;
  maxConnections?: string;
  maxConcurrentStreams?: string;
  numTrustedProxies?: string;
  pathNormalization?: string;
}

/** A whole number in [min, max] from a flag, or undefined when the flag is absent. */
function intFlag(v: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, not "${v}"`);
  return n;
}

/** Seconds (fractions allowed, 0 = off) from a flag, as ms; undefined when absent. */
function secondsFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 86_400 * 365) throw new UsageError(`${flag} must be a number of seconds (0 turns it off), not "${v}"`);
  return Math.round(n * 1000);
}

/** The limit flags that were given (ProxyRuntime fills in the defaults for the others). */
function limitOptions(f: RunFlags): Pick<RunOptions, 'limits' | 'pathNormalization' | 'numTrustedProxies'> {
  const limits: NonNullable<RunOptions['limits']> = {};
  const set = <K extends keyof typeof limits>(k: K, v: (typeof limits)[K] | undefined): void => {
    if (v !== undefined) limits[k] = v;
  };
  const kb = intFlag(f.maxRequestHeadersKb, '--max-request-headers-kb', 1, 8192);
  set('maxHeaderSize', kb === undefined ? undefined : kb * 1024);
  set('maxHeadersCount', intFlag(f.maxHeadersCount, '--max-headers-count', 1, 10_000));
  set('headersTimeoutMs', secondsFlag(f.requestHeadersTimeout, '--request-headers-timeout'));
  set('requestTimeoutMs', secondsFlag(f.requestTimeout, '--request-timeout'));
  set('keepAliveTimeoutMs', secondsFlag(f.idleTimeout, '--idle-timeout'));
  set('idleTimeoutMs', secondsFlag(f.streamIdleTimeout, '--stream-idle-timeout'));
  set('maxConnections', intFlag(f.maxConnections, '--max-connections', 0, 10_000_000));
  set('maxConcurrentStreams', intFlag(f.maxConcurrentStreams, '--max-concurrent-streams', 1, 2_147_483_647));
  const mode = f.pathNormalization?.toUpperCase();
  if (mode !== undefined && !PATH_NORMALIZATIONS.includes(mode as PathNormalization)) {
    throw new UsageError(`--path-normalization must be one of ${PATH_NORMALIZATIONS.join(', ')}, not "${f.pathNormalization}"`);
  }
  return {
    limits,
    ...(mode !== undefined ? { pathNormalization: mode as PathNormalization } : {}),
    ...(f.numTrustedProxies !== undefined ? { numTrustedProxies: intFlag(f.numTrustedProxies, '--num-trusted-proxies', 0, 64) } : {}),
  };
}

export function runOptions(f: RunFlags): { opts: RunOptions; concurrency: number } {
  if (f.file.length === 0) throw new UsageError('no config given: pass -f PATH (a file, a folder, or - for stdin)');
  if (f.role !== 'sidecar' && f.role !== 'gateway') throw new UsageError(`--role must be sidecar or gateway, not "${f.role}"`);
  if (f.logFormat !== 'text' && f.logFormat !== 'json') throw new UsageError(`--log-format must be text or json, not "${f.logFormat}"`);
  const concurrency = f.concurrency === undefined ? availableParallelism() : Number(f.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new UsageError(`--concurrency must be a whole number from 1 to 256, not "${f.concurrency}"`);
  const drain = Number(f.drainTimeout);
  if (!Number.isFinite(drain) || drain < 0) throw new UsageError(`--drain-timeout must be a number of seconds, not "${f.drainTimeout}"`);
  const portOffset = Number(f.portOffset);
  if (!Number.isInteger(portOffset) || portOffset < -65535 || portOffset > 65535) throw new UsageError(`--port-offset must be a whole number, not "${f.portOffset}"`);
  return {
    concurrency,
    opts: {
      files: f.file,
      role: f.role,
      namespace: f.namespace,
      labels: parseLabels(f.labels),
      domain: f.domain,
      outboundPort: parsePort(f.outboundPort, '--outbound-port'),
      portOffset,
      bindAddress: f.bind,
      adminPort: parsePort(f.adminPort, '--admin-port'),
      logFormat: f.logFormat,
      accessLog: f.accessLog,
      drainTimeoutMs: drain * 1000,
      credentialsDir: f.credentialsDir ?? null,
      ...limitOptions(f),
    },
  };
}

/** Runs until a signal; resolves with the process exit code. */
export async function runRun(f: RunFlags, out: Output): Promise<number> {
  const { opts, concurrency } = runOptions(f);
  if (f.file.includes('-') && concurrency > 1) throw new UsageError('-f - (stdin) needs --concurrency 1: workers cannot share stdin');
  if (concurrency > 1) return runPrimary(opts, concurrency, (l) => out.stderr(l));
  const rt = new ProxyRuntime(opts, { log: (l) => out.stderr(l) });
  try {
    await rt.start();
  } catch (e) {
    out.stderr(`error: ${(e as Error).message}`);
    await rt.close();
    return 1;
  }
  out.stderr('ready');
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      out.stderr(`${sig}: draining (up to ${opts.drainTimeoutMs / 1000}s for in-flight requests)`);
      void rt.drain().then((ok) => {
        out.stderr(ok ? 'drained: all requests completed' : 'drain timeout: remaining requests were cut');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
