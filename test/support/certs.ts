/** Test certificates made with the openssl CLI (tests skip where it is missing). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface TestCerts {
  dir: string;
  /** Absolute paths. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  cleanup(): void;
}

/** A CA; a server certificate for `serverNames` (SANs) and a client certificate, both signed by it. */
export function makeCerts(serverNames: readonly string[]): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-certs-'));
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  for (const [name, cn, san] of [
    ['server', serverNames[0], serverNames.map((n) => `DNS:${n}`).join(',')],
    ['client', 'client', 'URI:spiffe://cluster.local/ns/default/sa/client'],
  ]) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  }
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** One more client certificate signed by the `makeCerts` CA (`san` in openssl form, e.g. `DNS:a.example`). */
export function addClientCert(certs: TestCerts, name: string, san: string): { cert: string; key: string } {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: certs.dir, stdio: 'ignore' });
  };
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(join(certs.dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  return { cert: join(certs.dir, `${name}.pem`), key: join(certs.dir, `${name}.key`) };
}

/**
 * A PEM CRL signed by the `makeCerts` CA that revokes the given certificates (paths); with
 * none, an empty but valid CRL. Written to `<dir>/<file>`; returns its path.
 */
export function makeCrl(certs: TestCerts, revoked: readonly string[], file = 'ca.crl'): string {
  const ca = join(certs.dir, 'crl-ca');
  rmSync(ca, { recursive: true, force: true });
  mkdirSync(ca);
  writeFileSync(join(ca, 'index.txt'), '');
  writeFileSync(join(ca, 'crlnumber'), '01\n');
  writeFileSync(
    join(ca, 'ca.cnf'),
    `[ca]\ndefault_ca = test\n[test]\ndatabase = ${join(ca, 'index.txt')}\ncrlnumber = ${join(ca, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 2\n`,
  );
  const base = ['-config', join(ca, 'ca.cnf'), '-keyfile', certs.ca.replace(/ca\.pem$/, 'ca.key'), '-cert', certs.ca];
  for (const r of revoked) execFileSync('openssl', ['ca', ...base, '-revoke', r], { cwd: certs.dir, stdio: 'ignore' });
  const out = join(certs.dir, file);
  execFileSync('openssl', ['ca', ...base, '-gencrl', '-out', out], { cwd: certs.dir, stdio: 'ignore' });
  return out;
}
