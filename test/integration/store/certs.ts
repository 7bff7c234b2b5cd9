// A throwaway CA and one certificate for 127.0.0.1 (server and client auth), made with openssl, for the TLS tests.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Certs { dir: string; ca: string; cert: string; key: string }

export function makeCerts(dir: string): Certs {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=store-test-ca');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('member.key'), '-out', f('member.csr'), '-subj', '/CN=store-test-member');
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  ssl('x509', '-req', '-in', f('member.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('member.crt'), '-days', '2', '-extfile', f('ext.cnf'));
  return { dir, ca: f('ca.crt'), cert: f('member.crt'), key: f('member.key') };
}

/** etcd flags for client and peer TLS with client certificate authentication. */
export function tlsFlags(c: Certs): string[] {
  return [
    '--cert-file', c.cert, '--key-file', c.key, '--trusted-ca-file', c.ca, '--client-cert-auth',
    '--peer-cert-file', c.cert, '--peer-key-file', c.key, '--peer-trusted-ca-file', c.ca, '--peer-client-cert-auth',
  ];
}
