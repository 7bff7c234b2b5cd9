import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inClusterConfig, loadConfig, loadKubeconfigFile, parseKubeconfig } from '../../../client/kubeconfig.ts';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kts-kubeconfig-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

const twoContexts = `
apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: ${b64('CA PEM')}
    tls-server-name: kubernetes
- name: plain
  cluster:
    server: http://127.0.0.1:8080
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: ${b64('CERT PEM')}
    client-key-data: ${b64('KEY PEM')}
- name: robot
  user:
    token: abc123
    as: someone
    as-groups: [g1, g2]
contexts:
- name: admin
  context: { cluster: local, user: admin }
- name: robot
  context: { cluster: plain, user: robot, namespace: kube-system }
`;

t.test('current-context: cluster, inline CA and client cert', async (t) => {
  const c = parseKubeconfig(twoContexts);
  t.equal(c.server, 'https://127.0.0.1:6443', 'trailing slash dropped');
  t.equal(c.ca?.toString(), 'CA PEM');
  t.equal(c.cert?.toString(), 'CERT PEM');
  t.equal(c.key?.toString(), 'KEY PEM');
  t.equal(c.tlsServerName, 'kubernetes');
  t.equal(c.namespace, 'default');
  t.notOk('token' in c);
});

t.test('a named context: token, impersonation, insecure, namespace', async (t) => {
  const c = parseKubeconfig(twoContexts, { context: 'robot' });
  t.same(c, {
    server: 'http://127.0.0.1:8080', insecureSkipTLSVerify: true, token: 'abc123',
    impersonateUser: 'someone', impersonateGroups: ['g1', 'g2'], namespace: 'kube-system',
  });
});

t.test('file paths are read relative to the kubeconfig folder; tokenFile is kept as a path', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'pki'));
  writeFileSync(join(dir, 'pki', 'ca.crt'), 'FILE CA');
  writeFileSync(join(dir, 'pki', 'admin.crt'), 'FILE CERT');
  writeFileSync(join(dir, 'pki', 'admin.key'), 'FILE KEY');
  writeFileSync(join(dir, 'config'), `
current-context: c
clusters: [{ name: k, cluster: { server: "https://10.0.0.1:6443", certificate-authority: pki/ca.crt } }]
users: [{ name: u, user: { client-certificate: pki/admin.crt, client-key: ${join(dir, 'pki', 'admin.key')}, tokenFile: tok } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
`);
  const c = loadKubeconfigFile(join(dir, 'config'));
  t.equal(c.ca?.toString(), 'FILE CA');
  t.equal(c.cert?.toString(), 'FILE CERT');
  t.equal(c.key?.toString(), 'FILE KEY');
  t.equal(c.tokenFile, join(dir, 'tok'));
});

t.test('bad kubeconfigs get errors naming what is wrong', async (t) => {
  t.throws(() => parseKubeconfig('a: [', { source: 'x.yaml' }), /kubeconfig x.yaml: not valid YAML/);
  t.throws(() => parseKubeconfig('clusters: []'), /no current-context/);
  t.throws(() => parseKubeconfig(twoContexts, { context: 'nope' }), /context "nope" not found/);
  t.throws(() => parseKubeconfig(twoContexts.replace('cluster: local', 'cluster: gone')), /cluster "gone" not found/);
  t.throws(() => parseKubeconfig(twoContexts.replace('https://127.0.0.1:6443/', 'not a url')), /is not a URL/);
  t.throws(() => parseKubeconfig(twoContexts.replace('https://127.0.0.1:6443/', 'ftp://x')), /must be http/);
  t.throws(() => parseKubeconfig(twoContexts.replace(/client-key-data: .*/, '')), /needs both client-certificate and client-key/);
  t.throws(() => parseKubeconfig(twoContexts.replace('token: abc123', 'exec: { command: x }'), { context: 'robot' }), /exec or auth-provider/);
  t.throws(() => parseKubeconfig(twoContexts.replace('token: abc123', 'token: 42'), { context: 'robot' }), /"token" must be a string/);
  t.throws(() => loadKubeconfigFile('/nonexistent/kubeconfig'), /kubeconfig \/nonexistent\/kubeconfig: cannot read/);
  t.throws(() => parseKubeconfig(`
current-context: c
clusters: [{ name: k, cluster: { server: "https://x", certificate-authority: missing.crt } }]
contexts: [{ name: c, context: { cluster: k } }]`, { baseDir: '/nonexistent' }), /cannot read certificate-authority \/nonexistent\/missing.crt/);
});

t.test('in-cluster config from the service-account folder and env', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'token'), 'sa-token');
  writeFileSync(join(dir, 'ca.crt'), 'SA CA');
  writeFileSync(join(dir, 'namespace'), 'team-a\n');
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  t.same(inClusterConfig({ env, dir }), { server: 'https://10.96.0.1:443', ca: Buffer.from('SA CA'), tokenFile: join(dir, 'token'), namespace: 'team-a' });
  t.equal(inClusterConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir }).server, 'https://[fd00::1]:443');
  t.throws(() => inClusterConfig({ env: {}, dir }), /KUBERNETES_SERVICE_HOST/);
  t.throws(() => inClusterConfig({ env, dir: join(dir, 'missing') }), /cannot read the service account/);
});

t.test('loadConfig order: explicit path, $KUBECONFIG, master, ~/.kube/config', async (t) => {
  const dir = tempDir(t);
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  writeFileSync(a, twoContexts);
  writeFileSync(b, twoContexts.replace('https://127.0.0.1:6443/', 'https://10.1.1.1:6443'));
  t.equal(loadConfig({ kubeconfig: b, env: { KUBECONFIG: a } }).server, 'https://10.1.1.1:6443');
  t.equal(loadConfig({ env: { KUBECONFIG: `${join(dir, 'missing')}:${a}` } }).server, 'https://127.0.0.1:6443', 'first existing KUBECONFIG entry');
  t.equal(loadConfig({ kubeconfig: a, master: 'https://override:1/', env: {} }).server, 'https://override:1');
  t.same(loadConfig({ master: 'http://127.0.0.1:8080', env: { HOME: dir } }), { server: 'http://127.0.0.1:8080', namespace: 'default' });
  mkdirSync(join(dir, '.kube'));
  writeFileSync(join(dir, '.kube', 'config'), twoContexts);
  t.equal(loadConfig({ env: { HOME: dir }, context: 'robot' }).token, 'abc123');
  t.throws(() => loadConfig({ env: { HOME: join(dir, 'nohome') } }), /no kubeconfig/);
});
