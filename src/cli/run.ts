/** `isthmus run`: one proxy (sidecar or gateway) until SIGTERM/SIGINT, then a graceful drain. */
import { availableParallelism } from 'node:os';
import { ProxyRuntime, type RunOptions } from '../runtime/proxy-runtime.js';
import { runPrimary } from '../runtime/multi.js';
import { UsageError, parseLabels, parsePort } from './args.js';
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
