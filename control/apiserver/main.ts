// kts apiserver: the Kubernetes REST and watch API over etcd, with upstream flag names.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ensureServiceAccountKeys, pkiPaths, writePki } from '../pki/index.ts';
import { parseSigningKey, parseVerificationKeys } from './auth/keys.ts';
import type { ServiceAccountTokenOptions } from './auth/serviceaccount-tokens.ts';
import { startApiServer } from './index.ts';

/** Go-style durations as upstream flags take them: "5m0s", "300s", "1h", "0". */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = '';
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0];
  }
  if (!consumed || consumed !== text) throw new Error(`invalid duration "${text}": want something like 5m0s`);
  return total;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Service-account token flags -> options: keys from files, or sa.key/sa.pub in the PKI directory (made if missing). */
export function serviceAccountOptions(o: Record<string, unknown>, pkiDir: string | undefined): ServiceAccountTokenOptions {
  let signingFile = o.serviceAccountSigningKeyFile as string | undefined;
  const keyFiles = [...((o.serviceAccountKeyFile as string[] | undefined) ?? [])];
  if (!signingFile && pkiDir) {
    const p = ensureServiceAccountKeys(pkiDir);
    if (p.created) console.error(`kts apiserver: wrote a new service account key pair ${p.key}, ${p.pub}`);
    signingFile = p.key;
    if (!keyFiles.length) keyFiles.push(p.pub);
  }
  const issuers = (o.serviceAccountIssuer as string[] | undefined) ?? [];
  const audiences = typeof o.apiAudiences === 'string' ? o.apiAudiences.split(',').map((a) => a.trim()).filter(Boolean) : [];
  const max = typeof o.serviceAccountMaxTokenExpiration === 'string' ? parseDuration(o.serviceAccountMaxTokenExpiration) / 1000 : 0;
  if (max && max < 3600) throw new Error('--service-account-max-token-expiration: must be at least 1h');
  return {
    signingKey: signingFile ? parseSigningKey(readFileSync(signingFile), signingFile) : undefined,
    verificationKeys: keyFiles.flatMap((f) => parseVerificationKeys(readFileSync(f), f)),
    issuers, apiAudiences: audiences, maxTokenExpirationSeconds: max,
    jwksUri: typeof o.serviceAccountJwksUri === 'string' ? o.serviceAccountJwksUri : undefined,
  };
}

export async function main(argv: string[]): Promise<void> {
  const cmd = new Command('kts apiserver')
    .description('Kubernetes REST and watch API over etcd')
    .option('--etcd-servers <urls>', 'comma-separated etcd client URLs', 'http://127.0.0.1:2379')
    .option('--bind-address <ip>', 'address to listen on', '0.0.0.0')
    .option('--secure-port <port>', 'HTTPS port', '6443')
    .option('--advertise-address <ip>', 'address published in the default/kubernetes endpoints')
    .option('--service-cluster-ip-range <cidr>', 'ClusterIP range for Services', '10.96.0.0/12')
    .option('--service-node-port-range <range>', 'NodePort range for Services', '30000-32767')
    .option('--tls-cert-file <file>', 'serving certificate (PEM)')
    .option('--tls-private-key-file <file>', 'serving key (PEM)')
    .option('--client-ca-file <file>', 'CA that signs client certificates (CN = user, O = groups)')
    .option('--kubelet-client-certificate <file>', 'client certificate for talking to kubelets')
    .option('--kubelet-client-key <file>', 'client key for talking to kubelets')
    .option('--kubelet-certificate-authority <file>', 'CA that signs kubelet serving certificates (unverified without it)')
    .option('--etcd-compaction-interval <duration>', 'how often to compact etcd history, e.g. 5m0s (0 disables)', '5m0s')
    .option('--pki-dir <dir>', 'generate (if missing) and use a CA, serving and admin certificates here, with admin.kubeconfig')
    .option('--insecure-http', 'serve plain HTTP (kubectl sends no credentials over HTTP)', false)
    .option('--anonymous-auth <bool>', 'treat requests without credentials as system:anonymous', 'true')
    .option('--service-account-signing-key-file <file>', 'private key (PEM, RSA or EC) that signs service account tokens; default: sa.key in --pki-dir, generated if missing')
    .option('--service-account-key-file <file>', 'PEM public keys, certificates or private keys that verify service account tokens (repeatable)', collect, [])
    .option('--service-account-issuer <url>', 'issuer of service account tokens; repeat to also accept older issuers (first one signs)', collect, [])
    .option('--api-audiences <list>', 'comma-separated audiences a token must name to be accepted by this apiserver (default: the issuers)')
    .option('--service-account-max-token-expiration <duration>', 'longest token lifetime TokenRequest grants, e.g. 24h (default: no cap)')
    .option('--service-account-jwks-uri <url>', 'jwks_uri in /.well-known/openid-configuration (default: https://<advertise address>:<port>/openid/v1/jwks)')
    .exitOverride();
  cmd.parse(argv, { from: 'user' });
  const o = cmd.opts<Record<string, string | boolean | undefined>>();
  const port = Number(o.securePort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--secure-port: invalid port "${o.securePort}"`);
  let tls: { cert: Buffer; key: Buffer; clientCA?: Buffer } | undefined;
  let pkiDirUsed = o.pkiDir as string | undefined;
  if (!o.insecureHttp) {
    let certFile = o.tlsCertFile as string | undefined;
    let keyFile = o.tlsPrivateKeyFile as string | undefined;
    let caFile = o.clientCaFile as string | undefined;
    if (!certFile || !keyFile) {
      const dir = (o.pkiDir as string | undefined) ?? '/var/lib/kts/pki';
      pkiDirUsed = dir;
      const p = pkiPaths(dir);
      let exists = true;
      try { readFileSync(p.servingCert); } catch { exists = false; }
      if (!exists) {
        const host = o.advertiseAddress as string | undefined;
        await writePki(dir, { server: `https://${host ?? '127.0.0.1'}:${port}`, ips: host ? [host] : [] });
        console.error(`kts apiserver: wrote a new CA, serving certificate and ${p.adminKubeconfig}`);
      }
      certFile = p.servingCert;
      keyFile = p.servingKey;
      caFile ??= p.caCert;
    }
    tls = { cert: readFileSync(certFile), key: readFileSync(keyFile), clientCA: caFile ? readFileSync(caFile) : undefined };
  }
  const compaction = parseDuration(String(o.etcdCompactionInterval));
  const serviceAccount = serviceAccountOptions(o, pkiDirUsed);
  const server = await startApiServer({
    etcdCompactionIntervalMs: compaction,
    etcdServers: String(o.etcdServers).split(',').map((s) => s.trim()).filter(Boolean),
    bindAddress: o.bindAddress as string, securePort: port, tls,
    serviceClusterIPRange: o.serviceClusterIpRange as string, serviceNodePortRange: o.serviceNodePortRange as string,
    advertiseAddress: o.advertiseAddress as string | undefined,
    anonymousAuth: String(o.anonymousAuth) !== 'false',
    serviceAccount,
    kubeletClient: {
      cert: o.kubeletClientCertificate ? readFileSync(o.kubeletClientCertificate as string) : undefined,
      key: o.kubeletClientKey ? readFileSync(o.kubeletClientKey as string) : undefined,
      ca: o.kubeletCertificateAuthority ? readFileSync(o.kubeletCertificateAuthority as string) : undefined,
    },
    log: (msg, extra) => console.error(JSON.stringify({ time: new Date().toISOString(), msg, ...extra })),
  });
  console.error(`kts apiserver: serving on ${server.url}`);
  // a stray rejection in one request's background work must not take the API down for everyone
  process.on('unhandledRejection', (err) => {
    console.error(JSON.stringify({ time: new Date().toISOString(), msg: 'unhandled rejection', err: err instanceof Error ? err.stack : String(err) }));
  });
  const stop = async () => { await server.close(); process.exit(0); };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
