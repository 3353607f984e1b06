/**
 * Semantic (webhook) validation of a Gateway (istio-semantics.md §4.3, G2–G21; G1, the
 * name rule, runs with the metadata checks in index.ts). Also exports the
 * ServerTLSSettings checks that Sidecar ingress listeners share.
 */
import type { FieldPath } from '../core/diagnostics.js';
import { validatePortNumber } from '../core/names.js';
import type { Resource, Server, ServerPort, ServerTLSSettings } from '../api/types.js';
import {
  UNIX_PREFIX,
  ipAddressError,
  isHTTPProtocol,
  isTLSProtocol,
  namespaceSlashHostErrors,
  parseProtocol,
  unixAddressError,
} from './common.js';
import { Findings, type Finding, type ValidateContext } from './finding.js';

/** Validates one Gateway; paths are from the resource root. */
export function validateGateway(r: Resource<'Gateway'>, _ctx: ValidateContext): Finding[] {
  const f = new Findings();
  const servers = r.spec.servers ?? [];
  if (servers.length === 0) {
    f.error(['spec', 'servers'], 'gateway must have at least one server');
    return f.list;
  }
  servers.forEach((s, i) => f.list.push(...validateServer(s, ['spec', 'servers', i])));

  // G8: port names identify servers (route config names), so they must be unique; numbers may repeat.
  const portNames = new Set<string>();
  servers.forEach((s, i) => {
    const name = s.port.name ?? '';
    if (portNames.has(name)) f.error(['spec', 'servers', i, 'port', 'name'], `port names in servers must be unique: duplicate name ${name}`);
    portNames.add(name);
    // G19: a redirect to HTTPS only makes sense where plain HTTP arrives.
    if (!isHTTPProtocol(parseProtocol(s.port.protocol)) && s.tls?.httpsRedirect) {
      f.warn(['spec', 'servers', i, 'tls', 'httpsRedirect'], 'tls.httpsRedirect should only be used with http servers');
    }
  });
  return f.list;
}

function validateServer(s: Server, path: FieldPath): Finding[] {
  const f = new Findings();
  // G3–G6: hosts.
  if (s.hosts.length === 0) f.error([...path, 'hosts'], 'server config must contain at least one host');
  s.hosts.forEach((h, j) => {
    for (const msg of namespaceSlashHostErrors(h, true)) f.error([...path, 'hosts', j], msg);
  });

  // G7, G9: port.
  const bind = s.bind ?? '';
  const portFindings = validateServerPort(s.port, bind, [...path, 'port']);
  f.list.push(...portFindings);

  // G20: bind address.
  if (bind.startsWith(UNIX_PREFIX)) {
    const err = unixAddressError(bind.slice(UNIX_PREFIX.length));
    if (err) f.error([...path, 'bind'], err);
    if ((s.port.number ?? 0) !== 0) {
      f.error([...path, 'port', 'number'], `port number must be 0 for unix domain socket: ${formatPort(s.port)}`);
    }
  } else if (bind !== '') {
    const err = ipAddressError(bind);
    if (err) f.error([...path, 'bind'], err);
  }

  f.list.push(...validateServerTLS(s.tls, [...path, 'tls']));

  // G10–G12: which protocols may carry TLS settings (only judged when the port itself is sound).
  if (portFindings.length === 0) {
    const p = parseProtocol(s.port.protocol);
    if (isTLSProtocol(p) && !s.tls) {
      f.error([...path, 'tls'], 'server must have TLS settings for HTTPS/TLS protocols');
    } else if (!isTLSProtocol(p) && s.tls) {
      if (isHTTPProtocol(p)) {
        // A plain HTTP server may carry only `httpsRedirect` (pass-through mode, no certificates).
        const passthrough = (s.tls.mode ?? 'PASSTHROUGH') === 'PASSTHROUGH' || s.tls.mode === 'AUTO_PASSTHROUGH';
        if (!passthrough || s.tls.caCertificates || s.tls.privateKey || s.tls.serverCertificate) {
          f.error([...path, 'tls'], 'server cannot have TLS settings for plain text HTTP ports');
        }
      } else {
        f.error([...path, 'tls'], 'server cannot have TLS settings for non HTTPS/TLS ports');
      }
    }
  }
  return f.list;
}

function validateServerPort(port: ServerPort, bind: string, path: FieldPath): Finding[] {
  const f = new Findings();
  if (parseProtocol(port.protocol) === 'UNSUPPORTED') {
    f.error(
      [...path, 'protocol'],
      `invalid protocol ${JSON.stringify(port.protocol ?? '')}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`,
    );
  }
  // Port 0 is the marker of a unix-socket server; anything else must be a real port.
  const num = port.number ?? 0;
  if (num > 0 || !bind.startsWith(UNIX_PREFIX)) {
    const err = validatePortNumber(num);
    if (err) f.error([...path, 'number'], err);
  }
  if ((port.targetPort ?? 0) > 0) f.error([...path, 'targetPort'], 'targetPort has no impact on Gateways');
  if (!port.name) f.error([...path, 'name'], `port name must be set: ${formatPort(port)}`);
  return f.list;
}

/** Renders a port the way Istio's messages print the proto (`number:80 protocol:"HTTP"`). */
function formatPort(p: ServerPort): string {
  const parts: string[] = [];
  if (p.number) parts.push(`number:${p.number}`);
  if (p.protocol) parts.push(`protocol:${JSON.stringify(p.protocol)}`);
  if (p.name) parts.push(`name:${JSON.stringify(p.name)}`);
  if (p.targetPort) parts.push(`target_port:${p.targetPort}`);
  return parts.join(' ');
}

/** Cipher suites Envoy (BoringSSL) accepts in `cipherSuites`, PSK suites excluded. */
const VALID_CIPHER_SUITES: ReadonlySet<string> = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA', 'AES256-SHA', 'DES-CBC3-SHA',
]);

/** Empty, `ALL` and operator expressions (`-X`, `+X`, `!X`, `[..]`) are passed through unchecked. */
function isValidCipherSuite(cs: string): boolean {
  if (cs === '' || cs === 'ALL') return true;
  if (!/^[\p{L}\p{N}]/u.test(cs)) return true;
  return VALID_CIPHER_SUITES.has(cs);
}

/**
 * G13–G18, G21: server-side TLS settings (Gateway servers and Sidecar ingress listeners).
 * `path` is the `tls` block.
 */
export function validateServerTLS(tls: ServerTLSSettings | undefined, path: FieldPath): Finding[] {
  if (!tls) return [];
  const f = new Findings();
  const mode = tls.mode ?? 'PASSTHROUGH';

  // G21: weak protocol versions and cipher lists only warn; Envoy drops what it does not know.
  if ((tls.minProtocolVersion === 'TLSV1_0' || tls.minProtocolVersion === 'TLSV1_1') && (tls.cipherSuites?.length ?? 0) === 0) {
    f.warn(
      [...path, 'minProtocolVersion'],
      'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.',
    );
  }
  const invalid = new Set<string>();
  const valid = new Set<string>();
  const dup = new Set<string>();
  for (const cs of tls.cipherSuites ?? []) {
    if (!isValidCipherSuite(cs)) invalid.add(cs);
    else if (valid.has(cs)) dup.add(cs);
    else valid.add(cs);
  }
  if (invalid.size > 0) f.warn([...path, 'cipherSuites'], `ignoring invalid cipher suites: [${[...invalid].sort().join(' ')}]`);
  if (dup.size > 0) f.warn([...path, 'cipherSuites'], `ignoring duplicate cipher suites: [${[...dup].sort().join(' ')}]`);

  // G15: ISTIO_MUTUAL uses the mesh certificates; any other source is a mistake.
  if (mode === 'ISTIO_MUTUAL') {
    const banned: Array<[keyof ServerTLSSettings, string]> = [
      ['serverCertificate', 'server certificate'],
      ['privateKey', 'private key'],
      ['caCertificates', 'CA bundle'],
      ['tlsCertificates', 'tlsCertificates'],
      ['credentialName', 'credentialName'],
      ['credentialNames', 'credentialNames'],
    ];
    for (const [key, what] of banned) {
      if (isSet(tls[key])) f.error([...path, key], `ISTIO_MUTUAL TLS cannot have associated ${what}`);
    }
    return f.list;
  }

  // G18
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    const keys = ['caCrl', 'serverCertificate', 'privateKey', 'caCertificates', 'tlsCertificates', 'credentialName', 'credentialNames'] as const;
    if (keys.some((k) => isSet(tls[k]))) f.warn(path, `${mode} mode does not use certificates, they will be ignored`);
  }

  // G16: the schema already rejects pairs among credentialName(s)/tlsCertificates; this adds the cert+key pair.
  const sources = [
    !!tls.serverCertificate && !!tls.privateKey,
    !!tls.credentialName,
    isSet(tls.credentialNames),
    isSet(tls.tlsCertificates),
  ].filter(Boolean).length;
  if (sources > 1) {
    f.error(path, 'only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified');
  }

  const terminating = mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  // With a credential the certificates come from the secret, so no file fields are required.
  if (terminating && (tls.credentialName || isSet(tls.credentialNames))) return f.list;

  // G13/G14
  if (terminating) {
    const prefix = mode === 'SIMPLE' ? 'SIMPLE TLS' : 'MUTUAL TLS';
    if (mode !== 'SIMPLE' && !tls.caCertificates) f.error([...path, 'caCertificates'], `${prefix} requires a client CA bundle`);
    const certs = isSet(tls.tlsCertificates)
      ? (tls.tlsCertificates ?? []).map((c, i) => ({ c, at: [...path, 'tlsCertificates', i] as FieldPath }))
      : [{ c: { serverCertificate: tls.serverCertificate, privateKey: tls.privateKey }, at: path }];
    for (const { c, at } of certs) {
      if (!c.serverCertificate) f.error([...at, 'serverCertificate'], `${prefix} requires a server certificate`);
      if (!c.privateKey) f.error([...at, 'privateKey'], `${prefix} requires a private key`);
    }
  }

  // G17
  if (tls.caCrl) {
    if (tls.credentialName) {
      f.error([...path, 'caCrl'], 'CRL is not supported with credentialName. CRL has to be specified in the credential');
    }
    if (mode === 'SIMPLE') f.error([...path, 'caCrl'], 'CRL is not supported with SIMPLE TLS');
  }
  return f.list;
}

function isSet(v: unknown): boolean {
  if (v === undefined || v === '' || v === false) return false;
  return !Array.isArray(v) || v.length > 0;
}
