/**
 * A TLS-terminating Gateway listener (servers with `tls.mode` SIMPLE, MUTUAL or
 * OPTIONAL_MUTUAL on one port): the certificate is chosen by SNI among the servers' hosts,
 * ALPN offers h2 and http/1.1, and decrypted connections go to the same HTTP/1.1 and HTTP/2
 * servers as plain ones. Client certificates: MUTUAL requires one signed by the server's
 * `caCertificates`; OPTIONAL_MUTUAL asks but admits clients without one.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ServerTls } from '../../snapshot/types.js';

export interface TlsServerEntry {
  hosts: readonly string[];
  tls: ServerTls;
}

interface Compiled {
  hosts: readonly string[];
  mode: string;
  context: tls.SecureContext;
}

const VERSIONS: Record<string, tls.SecureVersion | undefined> = {
  TLSV1_0: 'TLSv1',
  TLSV1_1: 'TLSv1.1',
  TLSV1_2: 'TLSv1.2',
  TLSV1_3: 'TLSv1.3',
};

function contextFor(t: ServerTls): tls.SecureContext {
  if (t.certificates.length === 0) {
    throw new Error(t.credentialName ? `credentialName "${t.credentialName}" is not supported yet: give serverCertificate and privateKey file paths` : 'no server certificate');
  }
  const c = t.certificates[0];
  return tls.createSecureContext({
    cert: readFileSync(c.certificate),
    key: readFileSync(c.privateKey),
    ...(t.caCertificates ? { ca: readFileSync(t.caCertificates) } : {}),
    // Istio's default minimum is TLS 1.2.
    minVersion: VERSIONS[t.minProtocolVersion ?? ''] ?? 'TLSv1.2',
    ...(VERSIONS[t.maxProtocolVersion ?? ''] ? { maxVersion: VERSIONS[t.maxProtocolVersion ?? ''] } : {}),
    ...(t.cipherSuites.length ? { ciphers: t.cipherSuites.join(':') } : {}),
  });
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
export function createTlsServer(entries: readonly TlsServerEntry[], onSecure: (socket: tls.TLSSocket) => void): tls.Server {
  const compiled: Compiled[] = entries.map((e) => ({ hosts: e.hosts, mode: e.tls.mode, context: contextFor(e.tls) }));
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
    secureContext: compiled[0].context,
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
  return server;
}
