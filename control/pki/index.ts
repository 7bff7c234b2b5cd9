// A small PKI for the cluster (what `kts pki` writes): a self-signed CA, serving certificates for the apiserver
// (127.0.0.1, localhost and any extra names), client certificates (CN = user, O = groups) and kubeconfig files.
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import 'reflect-metadata'; // @peculiar/x509 needs a Reflect metadata polyfill loaded first
import * as x509 from '@peculiar/x509';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
x509.cryptoProvider.set(webcrypto as any);

type CryptoKey = webcrypto.CryptoKey;
interface CryptoKeyPair { privateKey: CryptoKey; publicKey: CryptoKey }

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface KeyPairPem { certPem: string; keyPem: string }
export interface CertAuthority extends KeyPairPem { cert: x509.X509Certificate; keys: CryptoKeyPair }

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

async function keyPem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000); // an hour of slack for clock skew
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 86400_000) };
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

export async function createCA(commonName = 'kts-ca', days = 3650): Promise<CertAuthority> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: `CN=${commonName}`, keys, signingAlgorithm: alg, ...validity(days),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** Escapes a value for an X.500 name string. */
function dnValue(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1');
}

async function issue(ca: CertAuthority, subject: string, extensions: x509.Extension[], days: number): Promise<KeyPairPem> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject, issuer: ca.cert.subject, signingKey: ca.keys.privateKey, publicKey: keys.publicKey,
    signingAlgorithm: alg, ...validity(days),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ...extensions,
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** A serving certificate for the given DNS names and IP addresses (127.0.0.1 and localhost are always included). */
export async function createServingCert(ca: CertAuthority, opts: { commonName?: string; dnsNames?: string[]; ips?: string[]; days?: number } = {}): Promise<KeyPairPem> {
  const dns = [...new Set(['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', ...(opts.dnsNames ?? [])])];
  const ips = [...new Set(['127.0.0.1', ...(opts.ips ?? [])])];
  return issue(ca, `CN=${dnValue(opts.commonName ?? 'kube-apiserver')}`, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: 'dns' as const, value })), ...ips.map((value) => ({ type: 'ip' as const, value }))]),
  ], opts.days ?? 365);
}

/** A client certificate: CN = user name, one O per group (e.g. system:masters for admins). */
export async function createClientCert(ca: CertAuthority, user: string, groups: string[] = [], days = 365): Promise<KeyPairPem> {
  const subject = [...groups.map((g) => `O=${dnValue(g)}`), `CN=${dnValue(user)}`].join(', ');
  return issue(ca, subject, [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])], days);
}

/** A kubeconfig with embedded credentials (client certificate or bearer token). */
export function kubeconfig(opts: { server: string; caPem: string; user: string; client?: KeyPairPem; token?: string; cluster?: string; namespace?: string }): string {
  const cluster = opts.cluster ?? 'kts';
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const user: Record<string, string> = {};
  if (opts.client) { user['client-certificate-data'] = b64(opts.client.certPem); user['client-key-data'] = b64(opts.client.keyPem); }
  if (opts.token) user.token = opts.token;
  const context: Record<string, string> = { cluster, user: opts.user };
  if (opts.namespace) context.namespace = opts.namespace;
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': `${opts.user}@${cluster}`,
    clusters: [{ name: cluster, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caPem) } }],
    users: [{ name: opts.user, user }],
    contexts: [{ name: `${opts.user}@${cluster}`, context }],
    preferences: {},
  }, null, 2) + '\n';
}

export interface PkiFiles { dir: string; caCert: string; caKey: string; servingCert: string; servingKey: string; adminCert: string; adminKey: string; adminKubeconfig: string }

export function pkiPaths(dir: string): PkiFiles {
  return {
    dir, caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), servingCert: join(dir, 'apiserver.crt'), servingKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'), adminKey: join(dir, 'admin.key'), adminKubeconfig: join(dir, 'admin.kubeconfig'),
  };
}

/** Writes a CA, an apiserver serving pair and an admin (system:masters) client pair plus kubeconfig into dir. */
export async function writePki(dir: string, opts: { server: string; dnsNames?: string[]; ips?: string[] }): Promise<PkiFiles> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = pkiPaths(dir);
  const ca = await createCA();
  const serving = await createServingCert(ca, { dnsNames: opts.dnsNames, ips: opts.ips });
  const admin = await createClientCert(ca, 'kubernetes-admin', ['system:masters']);
  writeFileSync(p.caCert, ca.certPem);
  writeFileSync(p.caKey, ca.keyPem, { mode: 0o600 });
  writeFileSync(p.servingCert, serving.certPem);
  writeFileSync(p.servingKey, serving.keyPem, { mode: 0o600 });
  writeFileSync(p.adminCert, admin.certPem);
  writeFileSync(p.adminKey, admin.keyPem, { mode: 0o600 });
  writeFileSync(p.adminKubeconfig, kubeconfig({ server: opts.server, caPem: ca.certPem, user: 'kubernetes-admin', client: admin }), { mode: 0o600 });
  return p;
}

/** Loads a CA written by writePki (to issue more certificates). */
export async function loadCA(dir: string): Promise<CertAuthority> {
  const p = pkiPaths(dir);
  if (!existsSync(p.caCert)) throw new Error(`no CA at ${p.caCert}`);
  const cert = new x509.X509Certificate(readFileSync(p.caCert, 'utf8'));
  const keyDer = Buffer.from(readFileSync(p.caKey, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', keyDer, alg, true, ['sign']);
  const publicKey = (await cert.publicKey.export(alg, ['verify'])) as unknown as CryptoKey;
  return { cert, keys: { privateKey, publicKey } as CryptoKeyPair, certPem: readFileSync(p.caCert, 'utf8'), keyPem: readFileSync(p.caKey, 'utf8') };
}

export interface ServiceAccountKeyFiles { key: string; pub: string }

export function serviceAccountKeyPaths(dir: string): ServiceAccountKeyFiles {
  return { key: join(dir, 'sa.key'), pub: join(dir, 'sa.pub') };
}

/** The service-account token signing pair (RSA 2048, as kubeadm makes it): sa.key (PKCS#1) and sa.pub (PKIX).
 *  Kept if both files exist, so tokens stay valid across restarts and across apiservers sharing the directory. */
export function ensureServiceAccountKeys(dir: string): ServiceAccountKeyFiles & { created: boolean } {
  const p = serviceAccountKeyPaths(dir);
  if (existsSync(p.key) && existsSync(p.pub)) return { ...p, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(p.key, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(p.pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { ...p, created: true };
}
