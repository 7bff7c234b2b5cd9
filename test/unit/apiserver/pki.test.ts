// The cluster PKI: a CA that signs serving and client certificates with the fields kubectl and the apiserver read.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import t from 'tap';
import { createCA, createClientCert, createServingCert, kubeconfig } from '../../../control/pki/index.ts';
import { parse } from 'yaml';

t.test('CA, serving and client certificates', async (t) => {
  const ca = await createCA('test-ca');
  const caCert = new X509Certificate(ca.certPem);
  t.ok(caCert.ca, 'the CA is a CA');
  const serving = await createServingCert(ca, { ips: ['10.1.2.3'], dnsNames: ['api.example'] });
  const sc = new X509Certificate(serving.certPem);
  t.ok(sc.checkIssued(caCert) && sc.verify(caCert.publicKey), 'serving cert signed by the CA');
  t.match(sc.subjectAltName, /IP Address:127\.0\.0\.1/);
  t.match(sc.subjectAltName, /IP Address:10\.1\.2\.3/);
  t.match(sc.subjectAltName, /DNS:api\.example/);
  t.ok(sc.checkIP('127.0.0.1') && sc.checkHost('localhost'));
  t.ok(createPrivateKey(serving.keyPem), 'the key is a usable PKCS#8 key');
  const client = await createClientCert(ca, 'alice', ['system:masters', 'dev']);
  const cc = new X509Certificate(client.certPem);
  t.ok(cc.verify(caCert.publicKey));
  t.match(cc.subject, /CN=alice/);
  t.match(cc.subject, /O=system:masters/);
  t.match(cc.subject, /O=dev/);
  t.notOk(cc.ca);
  const kc = parse(kubeconfig({ server: 'https://127.0.0.1:6443', caPem: ca.certPem, user: 'alice', client }));
  t.equal(kc.clusters[0].cluster.server, 'https://127.0.0.1:6443');
  t.equal(Buffer.from(kc.users[0].user['client-certificate-data'], 'base64').toString(), client.certPem);
  t.equal(kc['current-context'], 'alice@kts');
});
