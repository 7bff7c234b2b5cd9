// Captures the protobuf bodies the real kubectl 1.32 sends (through a throwaway HTTPS server on loopback) and
// decodes them live.
import t from 'tap';
import { startCaptureServer, type CapturedRequest } from './fixtures/kubectl-capture.ts';
import { decodeProtobufBody } from '../../../control/apiserver/protobuf/index.ts';

const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n-uid', resourceVersion: '5' }, spec: {} };
const pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'p1', namespace: 'default', uid: 'p-uid', resourceVersion: '7',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid', controller: true }] },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] }, status: { phase: 'Running' },
};

const server = await startCaptureServer((req) => {
  const path = req.url.split('?')[0];
  if (path === '/api/v1/nodes/n1') return { status: 200, body: node };
  if (req.method === 'GET' && path === '/api/v1/pods') return { status: 200, body: { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '9' }, items: [pod] } };
  if (req.method === 'DELETE') return { status: 200, body: pod };
  if (req.method !== 'POST') return undefined;
  // echo the decoded object, as the real server would answer with the stored one
  const obj = decodeProtobufBody(req.body) as { kind: string; metadata?: { name?: string }; status?: unknown };
  if (obj.kind === 'TokenRequest') obj.status = { token: 'captured-token', expirationTimestamp: '2030-01-01T00:00:00Z' };
  if (obj.kind === 'SelfSubjectAccessReview') obj.status = { allowed: true };
  return { status: 201, body: obj };
});
t.teardown(() => server.close());

async function capture(args: string[]): Promise<CapturedRequest> {
  const before = server.requests.length;
  const res = await server.kubectl(args);
  t.equal(res.code, 0, `kubectl ${args.join(' ')} succeeds: ${res.stderr}`);
  const sent = server.requests.slice(before).filter((r) => r.contentType === 'application/vnd.kubernetes.protobuf');
  t.equal(sent.length, 1, `kubectl ${args.join(' ')} sent one protobuf body`);
  return sent[0];
}

t.test('create namespace', async (t) => {
  const req = await capture(['create', 'namespace', 'team-a']);
  t.equal(req.body.subarray(0, 4).toString('latin1'), 'k8s\0');
  t.same(decodeProtobufBody(req.body), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' }, spec: {}, status: {} });
});

t.test('create deployment with replicas and a port', async (t) => {
  const req = await capture(['create', 'deployment', 'web', '--image=busybox:1.36', '--replicas=2', '--port=8080']);
  t.match(req.url, /^\/apis\/apps\/v1\/namespaces\/default\/deployments\?fieldManager=kubectl-create/);
  t.same(decodeProtobufBody(req.body), {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { app: 'web' } },
    spec: {
      replicas: 2, selector: { matchLabels: { app: 'web' } }, strategy: {},
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'busybox', image: 'busybox:1.36', ports: [{ containerPort: 8080 }], resources: {} }] } },
    },
    status: {},
  });
});

t.test('replicas=0 is kept (a pointer field set to zero)', async (t) => {
  const req = await capture(['create', 'deployment', 'zero', '--image=busybox', '--replicas=0']);
  t.equal((decodeProtobufBody(req.body) as { spec: { replicas: number } }).spec.replicas, 0);
});

t.test('create configmap and secret', async (t) => {
  const cm = await capture(['create', 'configmap', 'settings', '--from-literal=a=b', '--from-literal=mode=fast']);
  t.same(decodeProtobufBody(cm.body), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { a: 'b', mode: 'fast' } });
  const secret = await capture(['create', 'secret', 'generic', 'creds', '--from-literal=user=admin', '--from-literal=pass=s3cr3t!']);
  t.same(decodeProtobufBody(secret.body), {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' },
    data: { user: Buffer.from('admin').toString('base64'), pass: Buffer.from('s3cr3t!').toString('base64') },
  });
  const typed = await capture(['create', 'secret', 'docker-registry', 'reg', '--docker-server=r.example', '--docker-username=u', '--docker-password=p']);
  const decoded = decodeProtobufBody(typed.body) as { type: string; data: Record<string, string> };
  t.equal(decoded.type, 'kubernetes.io/dockerconfigjson');
  t.match(JSON.parse(Buffer.from(decoded.data['.dockerconfigjson'], 'base64').toString()), { auths: { 'r.example': { username: 'u', password: 'p' } } });
});

t.test('create service with int-or-string target ports', async (t) => {
  const req = await capture(['create', 'service', 'clusterip', 'svc', '--tcp=80:8080', '--tcp=443:https']);
  t.same(decodeProtobufBody(req.body), {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', labels: { app: 'svc' } },
    spec: {
      ports: [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080 }, { name: '443-https', protocol: 'TCP', port: 443, targetPort: 'https' }],
      selector: { app: 'svc' }, type: 'ClusterIP',
    },
    status: { loadBalancer: {} },
  });
});

t.test('create serviceaccount, job, token', async (t) => {
  t.same(decodeProtobufBody((await capture(['create', 'serviceaccount', 'robot'])).body),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
  t.same(decodeProtobufBody((await capture(['create', 'job', 'once', '--image=busybox', '--', 'echo', 'hi'])).body), {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'once' },
    spec: { template: { metadata: {}, spec: { containers: [{ name: 'once', image: 'busybox', command: ['echo', 'hi'], resources: {} }], restartPolicy: 'Never' } } },
    status: {},
  });
  const token = await capture(['create', 'token', 'robot', '--duration=10m', '--audience=api', '--audience=vault']);
  t.equal(token.url, '/api/v1/namespaces/default/serviceaccounts/robot/token');
  t.same(decodeProtobufBody(token.body), {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: {}, spec: { audiences: ['api', 'vault'], expirationSeconds: 600 }, status: {},
  });
});

t.test('auth can-i', async (t) => {
  t.same(decodeProtobufBody((await capture(['auth', 'can-i', 'delete', 'deployments.apps', '-n', 'prod'])).body), {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {},
    spec: { resourceAttributes: { namespace: 'prod', verb: 'delete', group: 'apps', resource: 'deployments' } }, status: {},
  });
  t.same(decodeProtobufBody((await capture(['auth', 'can-i', 'get', '/healthz'])).body), {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {},
    spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } }, status: {},
  });
});

t.test('drain without eviction sends DeleteOptions as protobuf; gracePeriodSeconds=0 is kept', async (t) => {
  const req = await capture(['drain', 'n1', '--timeout=20s', '--disable-eviction', '--grace-period=0']);
  t.equal(req.method, 'DELETE');
  t.same(decodeProtobufBody(req.body), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
});
