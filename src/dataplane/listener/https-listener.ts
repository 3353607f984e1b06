/**
 * A TLS-terminating Gateway listener (servers with `tls.mode` SIMPLE, MUTUAL or
 * OPTIONAL_MUTUAL on one port): the certificate is chosen by SNI among the servers' hosts,
 * ALPN offers h2 and http/1.1, and decrypted connections go to the same HTTP/1.1 and HTTP/2
 * servers as plain ones. `minProtocolVersion` (default TLS 1.2), `maxProtocolVersion` and
 * `cipherSuites` apply per server, also when servers on one port differ in them. Client certificates: MUTUAL requires one signed by the server's
 * `caCertificates`; OPTIONAL_MUTUAL asks but admits clients without one. A certificate that is
 * presented must chain to the CA, not be revoked by `caCrl`, and pass `subjectAltNames`,
 * `verifyCertificateSpki`/`verifyCertificateHash` (Envoy's CertificateValidationContext);
 * otherwise the connection is closed before any request is read.
 */
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { ServerTls } from '../../snapshot/types.js';
import { readSni } from './sni.js';

export interface TlsServerEntry {
  hosts: readonly string[];
  tls: ServerTls;
}

interface Compiled {
  hosts: readonly string[];
  mode: string;
  tls: ServerTls;
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

/** The files a terminating server reads (absolute or relative paths). */
interface CertFiles {
  cert: string;
  key: string;
  ca: string | null;
  crl: string | null;
}

/**
 * `credentialName` resolved as Kubernetes mounts a TLS secret: `<dir>/<name>/tls.crt`,
 * `tls.key`, and `ca.crt` (or Istio's separate `<name>-cacert/ca.crt`) for client CAs.
 */
function fromCredentials(t: ServerTls, dir: string | null): CertFiles {
  const name = t.credentialName as string;
  if (!dir) throw new Error(`credentialName "${name}" needs --credentials-dir (a folder with ${name}/tls.crt and ${name}/tls.key)`);
  const base = join(dir, name);
  const ca = [join(base, 'ca.crt'), join(dir, `${name}-cacert`, 'ca.crt')].find((f) => existsSync(f)) ?? null;
  // Istio reads a CRL from the secret's `ca.crl` key (gateway `caCrl` is refused with credentialName).
  const crl = [join(base, 'ca.crl'), join(dir, `${name}-cacert`, 'ca.crl')].find((f) => existsSync(f)) ?? null;
  return { cert: join(base, 'tls.crt'), key: join(base, 'tls.key'), ca, crl };
}

/** The certificate files a server uses (for building its context and for watching). */
function filesFor(t: ServerTls, credentialsDir: string | null): CertFiles {
  if (t.certificates.length > 0) return { cert: t.certificates[0].certificate, key: t.certificates[0].privateKey, ca: t.caCertificates, crl: t.caCrl };
  if (t.credentialName) return fromCredentials(t, credentialsDir);
  throw new Error('no server certificate');
}

function optionsFor(t: ServerTls, files: CertFiles): tls.SecureContextOptions {
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ...(files.ca ? { ca: readFileSync(files.ca) } : {}),
    // Node turns on CRL checking for the whole chain when a CRL is given (as Envoy does by default).
    ...(files.crl ? { crl: readFileSync(files.crl) } : {}),
    // Istio's default minimum is TLS 1.2.
    minVersion: VERSIONS[t.minProtocolVersion ?? ''] ?? 'TLSv1.2',
    ...(VERSIONS[t.maxProtocolVersion ?? ''] ? { maxVersion: VERSIONS[t.maxProtocolVersion ?? ''] } : {}),
    ...cipherOptions(t),
  };
}

/**
 * `cipherSuites` as an OpenSSL list (TLS 1.2 and below; TLS 1.3 suites are not configurable, as
 * in Envoy). OpenSSL 3 refuses TLS 1.0/1.1 at its default security level: when the minimum is
 * set below 1.2 the level is lowered so those clients are actually served, as Envoy serves them.
 */
function cipherOptions(t: ServerTls): Pick<tls.SecureContextOptions, 'ciphers'> {
  const old = t.minProtocolVersion === 'TLSV1_0' || t.minProtocolVersion === 'TLSV1_1';
  const list = t.cipherSuites.length ? t.cipherSuites.join(':') : old ? tls.DEFAULT_CIPHERS : null;
  if (list === null) return {};
  return { ciphers: old ? `${list}:@SECLEVEL=0` : list };
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

/** Handshake settings that a certificate swap by SNI cannot change (OpenSSL fixes them first). */
function handshakeKey(c: Compiled): string {
  const o = c.options;
  return JSON.stringify([o.minVersion, o.maxVersion ?? null, o.ciphers ?? null, c.mode === 'MUTUAL' || c.mode === 'OPTIONAL_MUTUAL']);
}

/**
 * Builds the TLS server. Files are read here: a missing or bad certificate throws, and the
 * caller reports it (the listener is not served) instead of crashing.
 *
 * The SNI callback can swap certificates but not protocol versions, cipher suites or the
 * client-certificate request: OpenSSL settles those before it. When the servers on a port
 * differ in them, the ClientHello's SNI is read first (as Envoy's tls_inspector picks a filter
 * chain) and the connection handed to a TLS server with that server's settings.
 */
export function createTlsServer(
  entries: readonly TlsServerEntry[],
  onSecure: (socket: tls.TLSSocket) => void,
  credentialsDir: string | null = null,
  hooks: TlsServerHooks = {},
): net.Server {
  const files = entries.map((e) => filesFor(e.tls, credentialsDir));
  const build = (): Compiled[] =>
    entries.map((e, i) => {
      const options = optionsFor(e.tls, files[i]);
      return { hosts: e.hosts, mode: e.tls.mode, tls: e.tls, options, context: tls.createSecureContext(options) };
    });
  let compiled = build();
  /** Index of the server a server name selects (no match: the first server). */
  const pickIndex = (servername: string | undefined): number => {
    const name = (servername ?? '').toLowerCase();
    let best = 0;
    let bestRank = -1;
    compiled.forEach((c, i) => {
      for (const h of c.hosts) {
        const r = rank(h, name);
        if (r > bestRank) {
          bestRank = r;
          best = i;
        }
      }
    });
    return best;
  };
  const pick = (servername: string | undefined): Compiled => compiled[pickIndex(servername)];
  // Servers with the same handshake settings share one tls.Server (the key is fixed by config).
  const keys = compiled.map(handshakeKey);
  const groupKeys = [...new Set(keys)];
  const makeServer = (members: readonly number[]): tls.Server => {
    const first = members[0];
    const server = tls.createServer({
      SNICallback: (name, cb) => cb(null, pick(name).context),
      // The default context (clients without SNI) is the group's first server's.
      ...compiled[first].options,
      ALPNProtocols: ['h2', 'http/1.1'],
      requestCert: members.some((i) => compiled[i].mode === 'MUTUAL' || compiled[i].mode === 'OPTIONAL_MUTUAL'),
      // Enforced per server after the handshake (MUTUAL vs OPTIONAL_MUTUAL on one port).
      rejectUnauthorized: false,
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.on('error', () => socket.destroy());
      const chosen = pick((socket as tls.TLSSocket & { servername?: string }).servername || undefined);
      if (!clientAdmitted(chosen, socket)) {
        socket.destroy();
        return;
      }
      onSecure(socket);
    });
    server.on('tlsClientError', (_e, socket) => socket.destroy());
    server.on('error', () => undefined);
    return server;
  };
  const groups = groupKeys.map((k) => {
    const members = keys.flatMap((x, i) => (x === k ? [i] : []));
    return { members, server: makeServer(members) };
  });
  const groupOf = (i: number): tls.Server => groups.find((g) => g.members.includes(i))!.server;
  const outer = groups.length === 1 ? groups[0].server : dispatchBySni((name) => groupOf(pickIndex(name ?? undefined)));
  watchCertificates(outer, files, () => {
    // New handshakes use the new certificates; established connections are not touched.
    try {
      const next = build();
      compiled = next;
      for (const g of groups) g.server.setSecureContext(next[g.members[0]].options);
      hooks.onReload?.();
    } catch (e) {
      hooks.onReloadError?.(e as Error);
    }
  });
  return outer;
}

/**
 * Does the server admit this client after the handshake? MUTUAL needs a certificate,
 * OPTIONAL_MUTUAL admits none; a certificate that is presented must verify (CA chain and CRL,
 * checked by OpenSSL) and pass the server's SAN / SPKI / hash pins.
 */
function clientAdmitted(c: Compiled, socket: tls.TLSSocket): boolean {
  if (c.mode !== 'MUTUAL' && c.mode !== 'OPTIONAL_MUTUAL') return true;
  const peer = socket.getPeerCertificate();
  const presented = peer !== null && typeof peer === 'object' && Buffer.isBuffer(peer.raw);
  if (!presented) return c.mode === 'OPTIONAL_MUTUAL';
  return socket.authorized && clientCertificateRejection(c.tls, peer.raw) === null;
}

/** The SAN values of a certificate (DNS, URI, IP, email), as Envoy matches them. */
function subjectAltNamesOf(x: X509Certificate): string[] {
  const out: string[] = [];
  // Node prints `TYPE:value` joined by ", "; values with special characters are JSON-quoted.
  for (const m of (x.subjectAltName ?? '').matchAll(/(?:^|, )(DNS|URI|IP Address|email):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    out.push(m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2]);
  }
  return out;
}

/** Envoy's DNS SAN match: exact (case-insensitive), or a `*.suffix` SAN covering one label. */
function sanMatches(wanted: string, san: string): boolean {
  const w = wanted.toLowerCase();
  const v = san.toLowerCase();
  if (w === v) return true;
  if (!v.startsWith('*.')) return false;
  const dot = w.indexOf('.');
  return dot > 0 && w.slice(dot) === v.slice(1);
}

/**
 * Why a (CA-verified) client certificate fails the server's pins, or null when it passes.
 * Envoy's semantics: one of `subjectAltNames` must be among the certificate's SANs; when
 * `verifyCertificateSpki` or `verifyCertificateHash` are set, the certificate must match any
 * one value of either list (SPKI: base64 SHA-256 of the DER SubjectPublicKeyInfo; hash: hex
 * SHA-256 of the DER certificate, case and colons ignored). Pure.
 */
export function clientCertificateRejection(t: Pick<ServerTls, 'subjectAltNames' | 'verifyCertificateSpki' | 'verifyCertificateHash'>, der: Buffer): string | null {
  const x = new X509Certificate(der);
  if (t.subjectAltNames.length > 0) {
    const sans = subjectAltNamesOf(x);
    if (!t.subjectAltNames.some((w) => sans.some((v) => sanMatches(w, v)))) {
      return `no subjectAltName of [${t.subjectAltNames.join(', ')}] in the certificate (has [${sans.join(', ')}])`;
    }
  }
  if (t.verifyCertificateSpki.length > 0 || t.verifyCertificateHash.length > 0) {
    const hash = createHash('sha256').update(der).digest('hex');
    const spki = createHash('sha256').update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const hashOk = t.verifyCertificateHash.some((h) => h.replace(/:/g, '').toLowerCase() === hash);
    const spkiOk = t.verifyCertificateSpki.some((k) => k.trim() === spki);
    if (!hashOk && !spkiOk) return 'the certificate matches no verifyCertificateSpki / verifyCertificateHash value';
  }
  return null;
}

/** The longest ClientHello read before choosing anyway, and how long a client may take to send it. */
const MAX_HELLO_BYTES = 16 * 1024;
const HELLO_TIMEOUT_MS = 10_000;

/**
 * A plain listener that reads the ClientHello's SNI without consuming it, then hands the
 * connection (bytes pushed back) to the TLS server `route` chooses. Non-TLS bytes go to the
 * server for no name, whose handshake then fails.
 */
function dispatchBySni(route: (sni: string | null) => tls.Server): net.Server {
  const outer = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const r = readSni(buf);
      if (r.kind === 'need-more' && buf.length < MAX_HELLO_BYTES) return;
      socket.removeListener('data', onData);
      clearTimeout(timer);
      socket.pause();
      socket.unshift(buf);
      // The TLS socket feeds itself the bytes still buffered in `socket` first.
      route(r.kind === 'sni' ? r.name : null).emit('connection', socket);
    };
    socket.on('data', onData);
    socket.once('close', () => clearTimeout(timer));
  });
  outer.on('error', () => undefined);
  return outer;
}

/**
 * Re-reads certificates when their files change: watches each file's folder (editors and
 * Kubernetes replace files by rename / symlink swap), debounced; stops with the server.
 */
function watchCertificates(server: net.Server, files: ReadonlyArray<CertFiles>, reload: () => void): void {
  const dirs = new Set<string>();
  for (const f of files) for (const p of [f.cert, f.key, f.ca, f.crl]) if (p) dirs.add(dirname(p));
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
