/**
 * A TLS-terminating Gateway listener (servers with `tls.mode` SIMPLE, MUTUAL or
 * OPTIONAL_MUTUAL on one port): the certificate is chosen by SNI among the servers' hosts,
 * ALPN offers h2 and http/1.1, and decrypted connections go to the same HTTP/1.1 and HTTP/2
 * servers as plain ones. Client certificates: MUTUAL requires one signed by the server's
 * `caCertificates`; OPTIONAL_MUTUAL asks but admits clients without one.
 */
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import type { ServerTls } from '../../snapshot/types.js';

export interface TlsServerEntry {
  hosts: readonly string[];
  tls: ServerTls;
}

interface Compiled {
  hosts: readonly string[];
  mode: string;
  options: tls.SecureContextOptions;
  context: tls.SecureContext;
}

export interface TlsServerHooks {
  /** Certificates were re-read after a file change. */
  onReload?: () => void;
  /** A changed file could not be used; the previous certificates keep serving. */
  onReloadError?: (e: Error) => void;
}

const VERSIONS: Record<string, tls.SecureVersion | undefined> = {
  TLSV1_0: 'TLSv1',
  TLSV1_1: 'TLSv1.1',
  TLSV1_2: 'TLSv1.2',
  TLSV1_3: 'TLSv1.3',
};

/**
 * `credentialName` resolved as Kubernetes mounts a TLS secret: `<dir>/<name>/tls.crt`,
 * `tls.key`, and `ca.crt` (or Istio's separate `<name>-cacert/ca.crt`) for client CAs.
 */
function fromCredentials(t: ServerTls, dir: string | null): { cert: string; key: string; ca: string | null } {
  const name = t.credentialName as string;
  if (!dir) throw new Error(`credentialName "${name}" needs --credentials-dir (a folder with ${name}/tls.crt and ${name}/tls.key)`);
  const base = join(dir, name);
  const ca = [join(base, 'ca.crt'), join(dir, `${name}-cacert`, 'ca.crt')].find((f) => existsSync(f)) ?? null;
  return { cert: join(base, 'tls.crt'), key: join(base, 'tls.key'), ca };
}

/** The certificate files a server uses (for building its context and for watching). */
function filesFor(t: ServerTls, credentialsDir: string | null): { cert: string; key: string; ca: string | null } {
  if (t.certificates.length > 0) return { cert: t.certificates[0].certificate, key: t.certificates[0].privateKey, ca: t.caCertificates };
  if (t.credentialName) return fromCredentials(t, credentialsDir);
  throw new Error('no server certificate');
}

function optionsFor(t: ServerTls, files: { cert: string; key: string; ca: string | null }): tls.SecureContextOptions {
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ...(files.ca ? { ca: readFileSync(files.ca) } : {}),
    // Istio's default minimum is TLS 1.2.
    minVersion: VERSIONS[t.minProtocolVersion ?? ''] ?? 'TLSv1.2',
    ...(VERSIONS[t.maxProtocolVersion ?? ''] ? { maxVersion: VERSIONS[t.maxProtocolVersion ?? ''] } : {}),
    ...(t.cipherSuites.length ? { ciphers: t.cipherSuites.join(':') } : {}),
  };
}

/** Envoy's server-name precedence: exact, then longest `*.suffix`, then `*`. */
function rank(pattern: string, host: string): number {
  if (pattern === host) return 1e9;
  if (pattern === '*') return 0;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    return host.length > suffix.length && host.endsWith(suffix) ? suffix.length : -1;
  }
  return -1;
}

/**
 * Builds the TLS server. Files are read here: a missing or bad certificate throws, and the
 * caller reports it (the listener is not served) instead of crashing.
 */
export function createTlsServer(
  entries: readonly TlsServerEntry[],
  onSecure: (socket: tls.TLSSocket) => void,
  credentialsDir: string | null = null,
  hooks: TlsServerHooks = {},
): tls.Server {
  const files = entries.map((e) => filesFor(e.tls, credentialsDir));
  const build = (): Compiled[] =>
    entries.map((e, i) => {
      const options = optionsFor(e.tls, files[i]);
      return { hosts: e.hosts, mode: e.tls.mode, options, context: tls.createSecureContext(options) };
    });
  let compiled = build();
  const pick = (servername: string | undefined): Compiled => {
    const name = (servername ?? '').toLowerCase();
    let best = compiled[0];
    let bestRank = -1;
    for (const c of compiled) for (const h of c.hosts) {
      const r = rank(h, name);
      if (r > bestRank) {
        bestRank = r;
        best = c;
      }
    }
    return best;
  };
  const wantsClientCert = compiled.some((c) => c.mode === 'MUTUAL' || c.mode === 'OPTIONAL_MUTUAL');
  const server = tls.createServer({
    SNICallback: (name, cb) => cb(null, pick(name).context),
    // The default context (clients without SNI) is the first server's.
    ...compiled[0].options,
    ALPNProtocols: ['h2', 'http/1.1'],
    requestCert: wantsClientCert,
    // Enforced per server after the handshake (MUTUAL vs OPTIONAL_MUTUAL on one port).
    rejectUnauthorized: false,
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    socket.on('error', () => socket.destroy());
    const chosen = pick((socket as tls.TLSSocket & { servername?: string }).servername || undefined);
    if (chosen.mode === 'MUTUAL' && !socket.authorized) {
      socket.destroy();
      return;
    }
    onSecure(socket);
  });
  server.on('tlsClientError', (_e, socket) => socket.destroy());
  server.on('error', () => undefined);
  watchCertificates(server, files, () => {
    // New handshakes use the new certificates; established connections are not touched.
    try {
      const next = build();
      compiled = next;
      server.setSecureContext(next[0].options);
      hooks.onReload?.();
    } catch (e) {
      hooks.onReloadError?.(e as Error);
    }
  });
  return server;
}

/**
 * Re-reads certificates when their files change: watches each file's folder (editors and
 * Kubernetes replace files by rename / symlink swap), debounced; stops with the server.
 */
function watchCertificates(server: tls.Server, files: ReadonlyArray<{ cert: string; key: string; ca: string | null }>, reload: () => void): void {
  const dirs = new Set<string>();
  for (const f of files) for (const p of [f.cert, f.key, f.ca]) if (p) dirs.add(dirname(p));
  let timer: NodeJS.Timeout | null = null;
  const watchers: FSWatcher[] = [];
  for (const d of dirs) {
    try {
      const w = watch(d, () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(reload, 100);
        timer.unref();
      });
      w.on('error', () => w.close());
      w.unref();
      watchers.push(w);
    } catch {
      /* a folder that cannot be watched: certificates are simply not reloaded */
    }
  }
  server.once('close', () => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  });
}
