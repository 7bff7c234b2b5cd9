// Client and peer TLS with client certificate auth, on a 3-member etcd 3.4 and a 3-member kts etcd:
// etcdctl with the CA and a client cert works; without a client cert the member refuses it.
import t from 'tap';
import { startCluster } from './fixtures/clusters.ts';
import { etcdctl } from './fixtures/suite.ts';
import { makeCerts } from './fixtures/certs.ts';

const certs = makeCerts(t.testdir());

for (const kind of ['etcd', 'kts'] as const) {
  t.test(`${kind}: TLS clients and peers`, async (t) => {
    const c = await startCluster(kind, 3, [], certs);
    t.teardown(() => c.stop());
    const auth = [`--cacert=${certs.ca}`, `--cert=${certs.cert}`, `--key=${certs.key}`];
    t.equal((await etcdctl(c.endpoints, [...auth, 'put', '/tls/k', 'v'])).stdout.trim(), 'OK');
    const got = await etcdctl([c.endpoints[2]], [...auth, 'get', '/tls/k', '--print-value-only']);
    t.equal(got.stdout, 'v\n', 'replicated over TLS peers and read back over TLS');
    const list = await etcdctl(c.endpoints, [...auth, 'member', 'list']);
    t.equal(list.stdout.trim().split('\n').length, 3);
    // per-endpoint calls send "https://host:port" as the HTTP/2 :authority
    const status = await etcdctl(c.endpoints, [...auth, 'endpoint', 'status', '-w', 'json']);
    t.equal(status.code, 0, status.stderr);
    t.same((JSON.parse(status.stdout) as Array<{ Endpoint: string }>).map((s) => s.Endpoint).sort(), [...c.endpoints].sort());
    const noCert = await etcdctl(c.endpoints, [`--cacert=${certs.ca}`, '--dial-timeout=2s', '--command-timeout=3s', 'get', '/tls/k']);
    t.not(noCert.code, 0, 'a client without a certificate is refused');
  });
}
