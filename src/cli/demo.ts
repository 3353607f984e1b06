/**
 * `isthmus demo` (`npm start`): the Bookinfo demo mesh (src/demo/) until SIGINT/SIGTERM, then
 * a graceful drain and exit 0. Prints what runs where, readiness per listener, the dashboard
 * URL and the commands that show each feature (src/demo/guide.ts); afterwards, the mesh's
 * operational lines (reloads, rejected config with file:line, ejections).
 */
import { isAbsolute, relative } from 'node:path';
import { UsageError, parsePort } from './args.js';
import type { Output } from './output.js';
import { DemoMesh, DemoStartError, DEFAULT_ADMIN_PORT, DEFAULT_SIDECAR_PORT, EXAMPLE_GATEWAY_PORT, EXAMPLE_SERVICE_PORT } from '../demo/mesh.js';
import { bundledConfigDir } from '../demo/config.js';
import { renderGuide, type GuideInfo } from '../demo/guide.js';

/** The demo's flags as commander hands them over (strings). */
export interface DemoFlags {
  gatewayPort: string;
  adminPort: string;
  sidecarPorts: string;
  servicePorts: string;
  workdir?: string;
  drainTimeout: string;
  load: string;
}

/** Flag defaults, shown in `--help`. */
export const DEMO_DEFAULTS = Object.freeze({
  gatewayPort: String(EXAMPLE_GATEWAY_PORT),
  adminPort: String(DEFAULT_ADMIN_PORT),
  sidecarPorts: String(DEFAULT_SIDECAR_PORT),
  servicePorts: String(EXAMPLE_SERVICE_PORT),
  drainTimeout: '5',
  load: '0',
});

/** Runs the demo until a signal; resolves with the exit code (0 after Ctrl-C, 1 if it cannot start). */
export async function runDemo(f: DemoFlags, out: Output): Promise<number> {
  const drain = Number(f.drainTimeout);
  if (!Number.isFinite(drain) || drain < 0) throw new UsageError(`--drain-timeout must be a number of seconds, not "${f.drainTimeout}"`);
  const load = Number(f.load);
  if (!Number.isFinite(load) || load < 0 || load > 1000) throw new UsageError(`--load must be a number of requests per second from 0 to 1000, not "${f.load}"`);
  const mesh = new DemoMesh({
    gatewayPort: parsePort(f.gatewayPort, '--gateway-port'),
    adminPort: parsePort(f.adminPort, '--admin-port'),
    sidecarPorts: rangeStart(f.sidecarPorts, '--sidecar-ports', 6),
    servicePorts: rangeStart(f.servicePorts, '--service-ports', 7),
    workdir: f.workdir ?? null,
    drainTimeoutMs: drain * 1000,
    load,
    log: (l) => out.stdout(l),
  });

  // A signal during start-up waits for start to settle, then stops.
  let signalled: string | null = null;
  let wake: (() => void) | null = null;
  const onSignal = (sig: string): void => {
    if (signalled) {
      // A second Ctrl-C: the user does not want to wait for the drain.
      out.stderr(`${sig} again: exiting without waiting for the drain`);
      process.exit(1);
    }
    signalled = sig;
    wake?.();
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    out.stdout('Starting the demo mesh...');
    try {
      await mesh.start();
    } catch (e) {
      out.stderr(`error: ${(e as Error).message}`);
      if (!(e instanceof DemoStartError)) out.stderr('(the demo stopped what it had started)');
      return 1;
    }
    if (!signalled) {
      out.stdout(renderGuide(guideInfo(mesh), await mesh.listeners()));
      out.stdout('');
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (signalled) resolve();
      });
    }
    out.stdout(`${signalled ?? 'signal'}: draining (up to ${drain}s for in-flight requests)...`);
    await mesh.stop();
    out.stdout('demo stopped');
    return 0;
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  }
}

/** Ports and paths of a started mesh, for the guide. */
export function guideInfo(mesh: DemoMesh): GuideInfo {
  const sidecars: Record<string, number> = {};
  const apps: Record<string, number> = {};
  for (const a of mesh.apps) {
    apps[`${a.app}-${a.version}`] = a.service.port;
    if (a.sidecarPort !== null) sidecars[`${a.app}-${a.version}`] = a.sidecarPort;
  }
  return {
    gatewayPort: mesh.gatewayPort,
    adminPort: mesh.adminPort,
    sidecars,
    apps,
    configPath: mesh.configPath,
    accessLogPath: mesh.accessLogPath,
    sourceDir: shortPath(mesh.opts.configDir ?? bundledConfigDir()),
    load: mesh.opts.load ?? 0,
  };
}

/** A path relative to the current folder when inside it (`examples/bookinfo`), else as it is. */
function shortPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r.replace(/\/$/, '') : p;
}

/** First port of a range of `count` consecutive ports (0 = free ports). */
function rangeStart(s: string, flag: string, count: number): number {
  const p = parsePort(s, flag);
  if (p !== 0 && p + count - 1 > 65535) throw new UsageError(`${flag}: ${p} leaves no room for ${count} consecutive ports`);
  return p;
}
