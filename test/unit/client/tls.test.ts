// The client over HTTPS: trusting the kubeconfig's CA, presenting a client certificate, TLS server name,
// insecure-skip-tls-verify, and a clear failure against an untrusted server. Certificates come from openssl.
import t from 'tap';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { RestClient } from '../../../client/rest.ts';
import { parseKubeconfig } from '../../../client/kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'kts-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function makeCa(name: string): void {
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
}
function issue(ca: string, name: string, subj: string, ext: string): void {
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subj, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1',
    '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}
makeCa('ca');
makeCa('other-ca');
issue('ca', 'server', '/CN=kube-apiserver', 'subjectAltName=DNS:kubernetes,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
issue('ca', 'admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth\n');
const pem = (f: string) => readFileSync(join(dir, f));

const seen: { cn?: string | string[]; org?: string | string[]; authorized: boolean; auth?: string }[] = [];
const server = https.createServer({ key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: true, rejectUnauthorized: false },
  (req, res) => {
    const sock = req.socket as TLSSocket;
    const peer = sock.getPeerCertificate();
    seen.push({ cn: peer?.subject?.CN, org: peer?.subject?.O, authorized: sock.authorized, auth: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'default' } }));
  });
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
t.teardown(() => {
  server.closeAllConnections();
  server.close();
});
const ns = { version: 'v1', resource: 'namespaces', name: 'default' };

t.test('kubeconfig CA and client certificate: the server sees an authorized client with CN and O', async (t) => {
  const cfg = parseKubeconfig(`
current-context: c
clusters: [{ name: k, cluster: { server: "${url}", certificate-authority: ca.crt } }]
users: [{ name: u, user: { client-certificate: admin.crt, client-key: admin.key } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
`, { baseDir: dir });
  const client = new RestClient(cfg);
  t.teardown(() => client.close());
  const got = await client.get<{ metadata: { name: string } }>(ns);
  t.equal(got.metadata.name, 'default');
  t.same(seen.at(-1), { cn: 'admin', org: 'system:masters', authorized: true, auth: undefined });
});

t.test('bearer token over TLS and a TLS server name different from the host', async (t) => {
  const client = new RestClient({ server: url, ca: pem('ca.crt'), token: 't0k', tlsServerName: 'kubernetes' });
  t.teardown(() => client.close());
  await client.get(ns);
  t.equal(seen.at(-1)!.auth, 'Bearer t0k');
  t.equal(seen.at(-1)!.authorized, false, 'no client certificate');
});

t.test('an untrusted server is refused, unless insecure-skip-tls-verify', async (t) => {
  const strict = new RestClient({ server: url, ca: pem('other-ca.crt') });
  const loose = new RestClient({ server: url, insecureSkipTLSVerify: true });
  t.teardown(() => {
    strict.close();
    loose.close();
  });
  const err = await strict.get(ns).catch((e: unknown) => e);
  t.ok(err instanceof Error);
  t.match((err as Error).message, /^GET \/api\/v1\/namespaces\/default: .*(certificate|self.signed)/i);
  const got = await loose.get<{ metadata: { name: string } }>(ns);
  t.equal(got.metadata.name, 'default');
});
